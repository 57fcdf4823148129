"""`posewarper bench-video PATH`: how fast frame access is on this machine, for the GUI's needs.

Measures, each on a freshly opened source:
- a baseline: plain PyAV decoding of the same frames without RGB conversion (video files only),
  so that the other numbers can be read as multiples of one frame's decode time on a busy machine;
- sequential decoding (frame 0, 1, 2, ... as playback and stepping do): frames/s and per-step latency;
- random seeks with the cache off (every request decodes): latency median / p95 / max and the
  frames decoded per seek;
- stepping back after a jump (the cache holds what the jump decoded on its way);
- reading frames that are already cached, and the cache's memory after the sequential pass;
- with --proxy, the seek proxy the GUI displays from (posewarper_core.proxy): its build time and
  size, and random seeks on it.

`synthetic_video()` writes camera-like 1080p test footage (H.264, keyframe every 60 frames,
B-frames) for when no long video is at hand.
"""
from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..atomic_file import replacing
from ..errors import VideoError
from ..video import DEFAULT_CACHE_BYTES, PyAVSource, VideoSource, open_video


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench-video",
        help="measure frame access speed (sequential, random seek, cache) on a video or image folder",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", type=Path, help="video file or folder of images")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the numbers to this JSON file")
    p.add_argument("--seeks", type=int, default=200, metavar="N", help="random seeks to time (default 200)")
    p.add_argument("--frames", type=int, default=None, metavar="N",
                   help="frames to read in the sequential pass (default: all)")
    p.add_argument("--cache-mb", type=float, default=DEFAULT_CACHE_BYTES / 2**20,
                   help=f"frame cache bound in MiB (default {DEFAULT_CACHE_BYTES // 2**20})")
    p.add_argument("--seed", type=int, default=0, help="random seed for the seek positions")
    p.add_argument("--proxy", action="store_true",
                   help="also build the seek proxy (in a temporary folder) and time seeks on it")
    p.set_defaults(run=run)


def run(args) -> int:
    if args.seeks < 1:
        raise VideoError(f"--seeks must be at least 1, got {args.seeks}")
    results = bench(args.path, seeks=args.seeks, frames=args.frames,
                    cache_bytes=int(args.cache_mb * 2**20), seed=args.seed, proxy=args.proxy)
    print(format_table(results))
    if args.json:
        with replacing(args.json) as out:
            out.write(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _ms(seconds: list[float]) -> dict:
    a = np.asarray(seconds) * 1000.0
    return {"median_ms": float(np.median(a)), "p95_ms": float(np.percentile(a, 95)), "max_ms": float(a.max())}


def _timed(source: VideoSource, i: int) -> float:
    t = time.perf_counter()
    source.frame(i)
    return time.perf_counter() - t


def _random_seeks(source: VideoSource, seeks: int, rng: random.Random) -> dict:
    """Random frames with no cache, so that every request decodes."""
    decoded0 = getattr(source, "decoded_count", 0)
    times, cpu = [], []
    for _ in tqdm(range(seeks), desc="random seeks", unit="seek", leave=False):
        c = time.process_time()
        times.append(_timed(source, rng.randrange(source.num_frames)))
        cpu.append(time.process_time() - c)
    # CPU time (all threads) depends little on what else runs on the machine: it is about
    # the latency on one idle core (less where frame threads run in parallel).
    out = {"seeks": seeks, **_ms(times), "cpu_median_ms": float(np.median(cpu) * 1000),
           "cpu_p95_ms": float(np.percentile(cpu, 95) * 1000)}
    if isinstance(source, PyAVSource):
        out["frames_decoded_per_seek"] = (source.decoded_count - decoded0) / seeks
    return out


def bench(path: Path, *, seeks: int = 200, frames: int | None = None,
          cache_bytes: int = DEFAULT_CACHE_BYTES, seed: int = 0, proxy: bool = False) -> dict:
    """Run the measurements and return them as a JSON-ready dict."""
    rng = random.Random(seed)
    t = time.perf_counter()
    source = open_video(path, max_cache_bytes=cache_bytes)
    open_s = time.perf_counter() - t
    out: dict = {
        "path": str(path),
        "kind": type(source).__name__,
        "codec": getattr(source, "codec", None),
        "width": source.width,
        "height": source.height,
        "num_frames": source.num_frames,
        "fps": source.fps,
        "open_ms": open_s * 1000.0,
    }
    n = source.num_frames if frames is None else max(1, min(frames, source.num_frames))
    if isinstance(source, PyAVSource):
        out["plain_decode_frames_per_s"] = _plain_decode_rate(path, n)

    # Sequential pass from frame 1 (frame 0 was decoded when opening).
    with source:
        steps = [_timed(source, i) for i in tqdm(range(1, n), desc="sequential", unit="frame", leave=False)]
        if steps:
            out["sequential"] = {"frames": len(steps), "frames_per_s": len(steps) / sum(steps), **_ms(steps)}
        cached = [i for i in range(n) if source.cached(i)]
        out["cache"] = {
            "bound_mb": source.max_cache_bytes / 2**20,
            "held_mb": source.cache_bytes / 2**20,
            "frames_held": len(cached),
            "mb_per_frame": source.cache_bytes / 2**20 / max(1, len(cached)),
        }
        hits = [_timed(source, rng.choice(cached)) for _ in range(min(200, 4 * len(cached)))] if cached else []
        if hits:
            out["cached_read"] = _ms(hits)

    # Random seeks with no cache: every request decodes. (The proxy gets the same frames.)
    with open_video(path, max_cache_bytes=0) as source:
        out["random_seek"] = _random_seeks(source, seeks, random.Random(seed + 1))
        if proxy and isinstance(source, PyAVSource):
            out["proxy"] = _bench_proxy(source, seeks, random.Random(seed + 1))

    # A jump, then three steps back, as an annotator checking the frames before a keyframe does.
    with open_video(path, max_cache_bytes=cache_bytes) as source:
        back = []
        for _ in tqdm(range(max(1, seeks // 4)), desc="jump + step back", unit="jump", leave=False):
            i = rng.randrange(3, source.num_frames) if source.num_frames > 3 else source.num_frames - 1
            source.frame(i)
            back += [_timed(source, j) for j in range(i - 1, max(-1, i - 4), -1)]
        if back:
            out["step_back_after_jump"] = _ms(back)
    return out


def _bench_proxy(source: PyAVSource, seeks: int, rng: random.Random) -> dict:
    """Build the seek proxy in a temporary folder; random seeks on it, as on the source."""
    from .. import proxy as proxies

    with tempfile.TemporaryDirectory() as folder:
        bar = tqdm(total=source.num_frames, desc="proxy build", unit="frame", leave=False)
        t = time.perf_counter()
        path = proxies.build_proxy(source.path, folder, progress=lambda done, _n: bar.update(done - bar.n))
        seconds = time.perf_counter() - t
        bar.close()
        size = path.stat().st_size
        with proxies.open_proxy(source, folder, max_cache_bytes=0) as proxy:
            return {"build_s": seconds, "build_frames_per_s": source.num_frames / seconds,
                    "mb": size / 2**20, "kb_per_frame": size / 1024 / source.num_frames,
                    "max_keyframe_gap": proxy.max_keyframe_gap, "random_seek": _random_seeks(proxy, seeks, rng)}


def synthetic_video(path: Path, frames: int = 600, width: int = 1920, height: int = 1080, *,
                    gop: int = 60, bframes: int = 3, seed: int = 0) -> Path:
    """Camera-like test footage: a blurred noise texture panning under moving discs, encoded as
    H.264 with a keyframe every `gop` frames and B-frames, as cameras and phones write it."""
    import av
    import cv2

    rng = np.random.default_rng(seed)
    pad = 64
    texture = cv2.GaussianBlur(rng.integers(0, 256, (height + 2 * pad, width + 2 * pad, 3), dtype=np.uint8),
                               (0, 0), 2.0)
    discs = [(rng.uniform(0, width), rng.uniform(0, height), rng.uniform(-9, 9), rng.uniform(-6, 6),
              int(rng.integers(30, 160)), tuple(int(c) for c in rng.integers(0, 256, 3))) for _ in range(12)]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast",
                          "x264-params": f"keyint={gop}:min-keyint={gop}:bframes={bframes}:b-adapt=0:scenecut=0"}
        for i in tqdm(range(frames), desc="synthetic video", unit="frame", leave=False):
            dx, dy = int(pad + pad * np.sin(i / 40.0)), int(pad + pad * np.cos(i / 55.0))
            img = texture[dy:dy + height, dx:dx + width].copy()
            for x, y, vx, vy, r, colour in discs:
                cv2.circle(img, (int((x + vx * i) % width), int((y + vy * i) % height)), r, colour, -1)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 30)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def _plain_decode_rate(path: Path, n: int) -> float:
    """Frames/s of PyAV decoding the first n frames with no conversion: the machine's baseline."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        t = time.perf_counter()
        count = 0
        for _ in tqdm(container.decode(stream), total=n, desc="plain decode", unit="frame", leave=False):
            count += 1
            if count >= n:
                break
        return count / (time.perf_counter() - t)


def format_table(r: dict) -> str:
    """The numbers as an aligned two-column table."""
    rows = [
        ("source", f"{r['path']} ({r['kind']}{', ' + r['codec'] if r.get('codec') else ''})"),
        ("size", f"{r['width']}x{r['height']}, {r['num_frames']} frames"
                 + (f", {r['fps']:.3f} fps" if r.get("fps") else "")),
        ("open (index + frame 0)", f"{r['open_ms']:.1f} ms"),
    ]
    base = r.get("plain_decode_frames_per_s")
    if base:
        rows.append(("plain PyAV decode (baseline)", f"{base:.1f} frames/s, no RGB conversion"))

    def in_frames(ms: float) -> str:  # latency as a multiple of one plain frame decode
        return f" = {ms * base / 1000:.1f} frame decodes" if base else ""

    if "sequential" in r:
        s = r["sequential"]
        rows += [
            ("sequential decode", f"{s['frames_per_s']:.1f} frames/s ({s['frames']} frames)"),
            ("sequential step", f"median {s['median_ms']:.2f} ms, p95 {s['p95_ms']:.2f} ms"),
        ]
    s = r["random_seek"]
    extra = f", {s['frames_decoded_per_seek']:.1f} frames decoded/seek" if "frames_decoded_per_seek" in s else ""
    rows.append(("random seek (no cache)",
                 f"median {s['median_ms']:.1f} ms{in_frames(s['median_ms'])}, p95 {s['p95_ms']:.1f} ms, "
                 f"max {s['max_ms']:.1f} ms ({s['seeks']} seeks{extra})"))
    rows.append(("random seek CPU time", f"median {s['cpu_median_ms']:.1f} ms, p95 {s['cpu_p95_ms']:.1f} ms "
                                         "(all threads: about the time on one idle core)"))
    if "proxy" in r:
        p = r["proxy"]
        s = p["random_seek"]
        rows.append(("seek proxy build", f"{p['build_s']:.1f} s = {p['build_frames_per_s']:.1f} frames/s, "
                                         f"{p['mb']:.1f} MB ({p['kb_per_frame']:.0f} KB/frame, "
                                         f"keyframe every {p['max_keyframe_gap']})"))
        rows.append(("random seek on the proxy", f"median {s['median_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms, "
                                                 f"max {s['max_ms']:.1f} ms, "
                                                 f"{s['frames_decoded_per_seek']:.1f} frames decoded/seek"))
    if "step_back_after_jump" in r:
        s = r["step_back_after_jump"]
        rows.append(("step back after a jump", f"median {s['median_ms']:.2f} ms, p95 {s['p95_ms']:.2f} ms"))
    if "cached_read" in r:
        s = r["cached_read"]
        rows.append(("cached frame read", f"median {s['median_ms']:.3f} ms, p95 {s['p95_ms']:.3f} ms"))
    c = r["cache"]
    rows.append(("cache memory", f"{c['held_mb']:.0f} MB of {c['bound_mb']:.0f} MB bound, "
                                 f"{c['frames_held']} frames ({c['mb_per_frame']:.2f} MB/frame)"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
