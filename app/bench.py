"""GUI benchmarks (not tests: numbers depend on the machine). Prints a table, can write JSON.

    python -m app.bench seek [--video V ...] [--synthetic-1080p] [--seeks 20] [--json out.json]
        random seeks through FrameLoader: time from the request to the exact frame in hand, reading
        the original video, then its seek proxy (whose build is timed too). --synthetic-1080p adds
        a generated 1920x1080 H.264 video (600 frames, keyframe every 60, B-frames).
    python -m app.bench step [--steps 60] [--json out.json]
        next-frame key presses in the main window (demo project, 1366x768) on frames the loader
        has decoded already: time from the key press to the repainted window, while the seek
        proxy is built and once it is ready.
    python -m app.bench ui [--method flow] [--json out.json]
        auto-fill of the whole demo in the main window while a 10 ms QTimer measures the longest
        gap between its ticks (the UI thread's worst stall).
    python -m app.bench open [--video V ...] [--synthetic-1080p] [--repeat 3] [--json out.json]
        opening a video as a new project in the main window: time until it is shown, and the
        longest gap between 10 ms timer ticks meanwhile; beside it, how long the same open takes
        when called directly (what the UI thread would freeze for if it opened the video itself).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from posewarper_core.resources import DEMO_DIR

DEMO_VIDEO = DEMO_DIR / "sports2d_demo.mp4"


def _app():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication(sys.argv[:1])


def _spin_until(app, done, timeout_s: float) -> bool:
    end = time.perf_counter() + timeout_s
    while not done():
        if time.perf_counter() > end:
            return False
        app.processEvents()
        time.sleep(0.001)
    return True


def _open(app, window, path) -> float:
    """Open `path` in `window` and wait until it is shown; the seconds that took."""
    done: list = []
    window.projectOpened.connect(lambda p: done.append(p))
    window.openFailed.connect(lambda m: done.append(None))
    t0 = time.perf_counter()
    if not window.open_path(path):
        raise SystemExit(f"could not open {path}")
    _spin_until(app, lambda: bool(done), 600)
    if not done or done[0] is None:
        raise SystemExit(f"could not open {path}: {getattr(window, 'last_error', 'timed out')}")
    return time.perf_counter() - t0


def _tick_gaps(ticks: list[float], start: float, end: float) -> list[float]:
    """Gaps (ms) between the timer ticks that fall in [start, end] (the first gap ends after start)."""
    gaps = [(b - a) * 1000 for a, b in zip(ticks, ticks[1:]) if b >= start and a <= end]
    return gaps or [0.0]


def _stats(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {"median_ms": round(statistics.median(ms), 1), "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 1),
            "max_ms": round(ms[-1], 1)}


def bench_seek(video: Path, seeks: int, seed: int = 0) -> list[dict]:
    """Random seeks through FrameLoader as the window sets it up, reading the original video and
    then its seek proxy (built here, in a temporary folder, and timed)."""
    from posewarper_core.proxy import PROXY_CACHE_BYTES
    from posewarper_core.video import open_video

    from .window import DECODER_CACHE_BYTES
    from .workers import FrameLoader

    app = _app()
    rows = []
    with tempfile.TemporaryDirectory() as proxy_dir:
        for config in ("original", "proxy"):
            source = open_video(video, max_cache_bytes=DECODER_CACHE_BYTES)
            loader = FrameLoader(source)
            build = {}
            if config == "proxy":
                ready: list[str] = []
                loader.proxyReady.connect(ready.append)
                loader.proxyFailed.connect(lambda msg: ready.append("failed: " + msg))
                t0 = time.perf_counter()
                if not loader.start_proxy(proxy_dir):
                    loader.stop()
                    rows.append({"config": config, "seek to": "(the video needs no proxy)"})
                    continue
                _spin_until(app, lambda: bool(ready), 3600)
                seconds = time.perf_counter() - t0
                if not ready or ready[0].startswith("failed"):
                    raise SystemExit(f"proxy build {ready[0] if ready else 'timed out'}")
                size = Path(ready[0]).stat().st_size
                build = {"proxy_build_s": round(seconds, 1), "proxy_frames_per_s": round(len(source) / seconds, 1),
                         "proxy_MB": round(size / 2**20, 1), "proxy_KB_per_frame": round(size / 1024 / len(source))}
            decoder_bytes = PROXY_CACHE_BYTES if config == "proxy" else DECODER_CACHE_BYTES
            cache_mb = (loader.cache.max_bytes + loader.slots.max_bytes + decoder_bytes) // 2**20
            got: dict[int, float] = {}
            filled: list[float] = []
            # Default arguments bind this run's lists (a stopped loader may still deliver a signal).
            loader.frameReady.connect(lambda i, _img, got=got: got.setdefault(i, time.perf_counter()))
            loader.slotsFilled.connect(lambda filled=filled: filled.append(time.perf_counter()))
            t0 = time.perf_counter()
            loader.request(0)
            _spin_until(app, lambda: 0 in got, 30)
            _spin_until(app, lambda: bool(filled), 120)
            warm_s = (filled[0] - t0) if filled else float("nan")
            rng = random.Random(seed)
            n, k = len(loader.source), loader.stride
            for kind in ("keyframe slot", "any frame"):
                times, misses, hits = [], [], 0
                for _ in range(seeks):
                    f = rng.randrange(0, n, k) if kind == "keyframe slot" else rng.randrange(n)
                    got.clear()
                    start = time.perf_counter()
                    img = loader.request(f)
                    if img is not None:
                        hits += 1
                        times.append((time.perf_counter() - start) * 1000)
                    else:
                        _spin_until(app, lambda: f in got, 30)
                        times.append((got.get(f, time.perf_counter()) - start) * 1000)
                        misses.append(times[-1])
                    # The user looks at the frame for a moment: the loader reads ahead and goes idle.
                    filled.clear()
                    _spin_until(app, lambda: bool(filled), 0.6)
                rows.append({"video": video.name, "config": config, "seek to": kind, "seeks": seeks, "cached": hits,
                             **_stats(times),
                             "uncached_median_ms": round(statistics.median(misses), 1) if misses else "-",
                             "idle_warmup_s": round(warm_s, 2), "cache_limit_MB": cache_mb, **build})
            loader.stop()
            app.processEvents()
    return rows


class _PaintCounter:
    """Counts the paint events a widget receives (an event filter sees each before it runs)."""

    def __init__(self, widget):
        from PySide6.QtCore import QEvent, QObject

        counter = self

        class Filter(QObject):
            def eventFilter(self, obj, event):
                if event.type() == QEvent.Paint:
                    counter.count += 1
                return False

        self.count = 0
        self._filter = Filter()
        widget.installEventFilter(self._filter)


def bench_step(steps: int, start: int = 40) -> list[dict]:
    """Next-frame presses on cached frames: key press to the repainted window, as the user sees
    it; first while the seek proxy is built in the background, then once it is ready."""
    from PySide6.QtCore import QSettings

    from .demo import build_demo
    from .window import MainWindow

    app = _app()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        QSettings.setDefaultFormat(QSettings.IniFormat)
        QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, tmp)
        old_dir = os.environ.get("POSEWARPER_PROXY_DIR")
        os.environ["POSEWARPER_PROXY_DIR"] = str(Path(tmp) / "proxies")  # a fresh build, not the user's cache
        try:
            window = MainWindow()
            window.quiet = True
            window.resize(1366, 768)
            window.show()
            _open(app, window, build_demo(Path(tmp) / "demo.pwproj"))
            loader = window.loader
            window.editor.seek(start)
            window.editor.select_track(min(window.session.video.tracks))  # the joints panel shows a pose
            _spin_until(app, lambda: False, 1.0)  # the read-ahead and the idle keyframe decoding settle
            building = getattr(loader, "_builder", None) is not None and loader.proxy_path is None
            state = "building (paused while the user moves)" if building else "none"
            rows.append({"what": "next frame, cached", "proxy": state, **_steps(app, window, steps)})
            if building:
                _spin_until(app, lambda: loader.proxy_path is not None, 600)
                _spin_until(app, lambda: False, 1.0)
                rows.append({"what": "next frame, cached", "proxy": "ready", **_steps(app, window, steps)})
            # After an auto-fill every frame has poses to draw (dashed, for auto-filled joints).
            done = []
            window.fill_panel.method.setCurrentText("linear")
            window.runner.finished.connect(lambda *_: done.append(1))
            window.start_fill("video")
            _spin_until(app, lambda: bool(done), 120)
            window.editor.seek(start)
            _spin_until(app, lambda: False, 1.0)
            rows.append({"what": "next frame, cached, poses on every frame (linear auto-fill)",
                         "proxy": "ready" if getattr(loader, "proxy_path", None) else "none",
                         **_steps(app, window, steps)})
            window.close()
        finally:
            if old_dir is None:
                os.environ.pop("POSEWARPER_PROXY_DIR", None)
            else:
                os.environ["POSEWARPER_PROXY_DIR"] = old_dir
    return rows


def _steps(app, window, steps: int) -> dict:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    loader = window.loader
    painted = _PaintCounter(window.canvas.viewport())
    window.canvas.setFocus()
    times, misses = [], 0
    first = window.editor.frame
    for _ in range(steps):
        # The user holds the key at about its repeat rate; the read-ahead keeps up.
        _spin_until(app, lambda: False, 0.04)
        _spin_until(app, lambda: loader.cached(window.editor.frame + 1) is not None, 5)
        before = painted.count
        cached = loader.cached(window.editor.frame + 1) is not None
        t0 = time.perf_counter()
        QTest.keyClick(window.canvas, Qt.Key_Right)
        while painted.count == before and time.perf_counter() - t0 < 5:
            app.processEvents()
        if cached:
            times.append((time.perf_counter() - t0) * 1000)
        misses += not cached
    return {"frames": f"{first}-{window.editor.frame}", "steps": steps, "not_cached": misses, **_stats(times)}


def bench_ui(method: str) -> dict:
    """Longest gap between 10 ms timer ticks while auto-fill runs over the whole demo."""
    from PySide6.QtCore import QSettings, QTimer

    from .demo import build_demo
    from .window import MainWindow

    app = _app()
    with tempfile.TemporaryDirectory() as tmp:
        QSettings.setDefaultFormat(QSettings.IniFormat)
        QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, tmp)
        window = MainWindow()
        window.quiet = True
        window.resize(1366, 768)
        window.show()
        _open(app, window, build_demo(Path(tmp) / "demo.pwproj"))
        _spin_until(app, lambda: False, 1.0)  # the first frame and the idle decoding settle
        window.fill_panel.method.setCurrentText(method)
        ticks: list[float] = []
        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        finished = []
        window.runner.finished.connect(lambda status, msg: finished.append((status, msg)))
        timer.start()
        _spin_until(app, lambda: len(ticks) > 20, 5)  # a baseline before the run
        start = time.perf_counter()
        window.start_fill("video")
        _spin_until(app, lambda: bool(finished), 600)
        end = time.perf_counter()
        timer.stop()
        gaps = _tick_gaps(ticks, start, end)
        poses = window.session.video.pose_count()
        window.close()
    return {"method": method, "status": finished[0][0] if finished else "timeout", "fill_s": round(end - start, 2),
            "poses_after": poses, "ticks": len(gaps), "max_gap_ms": round(max(gaps), 1),
            "p99_gap_ms": round(sorted(gaps)[int(0.99 * (len(gaps) - 1))], 1),
            "gaps_over_50ms": sum(g > 50 for g in gaps), "gaps_over_100ms": sum(g > 100 for g in gaps)}


def bench_open(video: Path, repeat: int) -> list[dict]:
    """Open `video` as a new project in the main window, `repeat` times (a new project each time)."""
    from PySide6.QtCore import QSettings, QTimer

    from . import opening
    from .window import DECODER_CACHE_BYTES, MainWindow

    app = _app()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        QSettings.setDefaultFormat(QSettings.IniFormat)
        QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, tmp)
        os.environ["POSEWARPER_PROXY_DIR"] = str(Path(tmp) / "proxies")
        direct = []
        for n in range(repeat):
            t0 = time.perf_counter()
            opening.discard(opening.open_with_frames(video, Path(tmp) / f"direct{n}.pwproj", DECODER_CACHE_BYTES))
            direct.append((time.perf_counter() - t0) * 1000)
        window = MainWindow()
        window.quiet = True
        window.resize(1366, 768)
        window.show()
        ticks: list[float] = []
        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        timer.start()
        for n in range(repeat):
            window.close_project()
            _spin_until(app, lambda: False, 0.3)
            start = time.perf_counter()
            window.open_path(video, Path(tmp) / f"window{n}.pwproj")
            done = []
            window.projectOpened.connect(lambda p, done=done: done.append(p))
            _spin_until(app, lambda: bool(done) or window.files.job is None, 600)
            end = time.perf_counter()
            gaps = _tick_gaps(ticks, start, end)
            rows.append({"video": video.name, "run": n + 1, "direct_open_ms": round(direct[n], 1),
                         "window_open_ms": round((end - start) * 1000, 1), "max_gap_ms": round(max(gaps), 1)})
        timer.stop()
        window.close()
    return rows


def _print_table(rows: list[dict]) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    cells = [[str(r.get(k, "-")) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[n]) for c in cells)) for n, k in enumerate(keys)]
    print("  ".join(k.ljust(w) for k, w in zip(keys, widths)))
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    seek = sub.add_parser("seek", help="random seek latency through the frame loader")
    seek.add_argument("--video", type=Path, action="append", help="(repeatable; default: the demo video)")
    seek.add_argument("--synthetic-1080p", action="store_true", help="also a generated 1080p H.264 video")
    seek.add_argument("--seeks", type=int, default=20)
    step = sub.add_parser("step", help="next-frame presses on cached frames in the main window")
    step.add_argument("--steps", type=int, default=60)
    ui = sub.add_parser("ui", help="UI stall while auto-fill runs")
    ui.add_argument("--method", default="flow")
    opn = sub.add_parser("open", help="opening a video: time, and the UI stall meanwhile")
    opn.add_argument("--video", type=Path, action="append", help="(repeatable; default: the demo video)")
    opn.add_argument("--synthetic-1080p", action="store_true", help="also a generated 1080p H.264 video")
    opn.add_argument("--repeat", type=int, default=3)
    for p in (seek, step, ui, opn):
        p.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.what in ("seek", "open"):
        videos = list(args.video or ([] if args.synthetic_1080p else [DEMO_VIDEO]))
        with tempfile.TemporaryDirectory() as tmp:
            if args.synthetic_1080p:
                from posewarper_core.cli.bench_video import synthetic_video

                print("making a 1080p test video…", file=sys.stderr)
                videos.append(synthetic_video(Path(tmp) / "synthetic_1080p_gop60.mp4"))
            if args.what == "seek":
                rows = [row for v in videos for row in bench_seek(v, args.seeks)]
            else:
                rows = [row for v in videos for row in bench_open(v, args.repeat)]
    elif args.what == "step":
        rows = bench_step(args.steps)
    else:
        rows = [bench_ui(args.method)]
    _print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
