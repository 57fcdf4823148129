"""`posewarper bench-video PATH`: how fast frame access is on this machine, for the GUI's needs.

Measures, each on a freshly opened source:
- a baseline: plain PyAV decoding of the same frames without RGB conversion (video files only),
  so that the other numbers can be read as multiples of one frame's decode time on a busy machine;
- sequential decoding (frame 0, 1, 2, ... as playback and stepping do): frames/s and per-step latency;
- random seeks with the cache off (every request decodes): latency median / p95 / max and the
  frames decoded per seek;
- stepping back after a jump (the cache holds what the jump decoded on its way);
- reading frames that are already cached, and the cache's memory after the sequential pass.
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

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
    p.set_defaults(run=run)


def run(args) -> int:
    if args.seeks < 1:
        raise VideoError(f"--seeks must be at least 1, got {args.seeks}")
    results = bench(args.path, seeks=args.seeks, frames=args.frames,
                    cache_bytes=int(args.cache_mb * 2**20), seed=args.seed)
    print(format_table(results))
    if args.json:
        tmp = args.json.with_name(args.json.name + ".tmp")
        tmp.write_text(json.dumps(results, indent=2) + "\n")
        tmp.replace(args.json)
        print(f"wrote {args.json}")
    return 0


def _ms(seconds: list[float]) -> dict:
    a = np.asarray(seconds) * 1000.0
    return {"median_ms": float(np.median(a)), "p95_ms": float(np.percentile(a, 95)), "max_ms": float(a.max())}


def _timed(source: VideoSource, i: int) -> float:
    t = time.perf_counter()
    source.frame(i)
    return time.perf_counter() - t


def bench(path: Path, *, seeks: int = 200, frames: int | None = None,
          cache_bytes: int = DEFAULT_CACHE_BYTES, seed: int = 0) -> dict:
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

    # Random seeks with no cache: every request decodes.
    with open_video(path, max_cache_bytes=0) as source:
        decoded0 = getattr(source, "decoded_count", 0)
        times, cpu = [], []
        for _ in tqdm(range(seeks), desc="random seeks", unit="seek", leave=False):
            c = time.process_time()
            times.append(_timed(source, rng.randrange(source.num_frames)))
            cpu.append(time.process_time() - c)
        # CPU time (all threads) depends little on what else runs on the machine: it is about
        # the latency on one idle core (less where frame threads run in parallel).
        out["random_seek"] = {"seeks": seeks, **_ms(times), "cpu_median_ms": float(np.median(cpu) * 1000),
                              "cpu_p95_ms": float(np.percentile(cpu, 95) * 1000)}
        if isinstance(source, PyAVSource):
            out["random_seek"]["frames_decoded_per_seek"] = (source.decoded_count - decoded0) / seeks

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
