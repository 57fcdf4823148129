"""GUI benchmarks (not tests: numbers depend on the machine). Prints a table, can write JSON.

    python -m app.bench seek [--video V] [--seeks 20] [--json out.json]
        random seeks through FrameLoader: time from the request to the exact frame in hand, with
        the idle keyframe-slot decoding off ("before") and on ("after").
    python -m app.bench ui [--method flow] [--json out.json]
        auto-fill of the whole demo in the main window while a 10 ms QTimer measures the longest
        gap between its ticks (the UI thread's worst stall).
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

DEMO_VIDEO = Path(__file__).resolve().parents[1] / "resources" / "demo" / "sports2d_demo.mp4"


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


def _stats(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {"median_ms": round(statistics.median(ms), 1), "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 1),
            "max_ms": round(ms[-1], 1)}


def bench_seek(video: Path, seeks: int, seed: int = 0) -> list[dict]:
    """Random seeks with the loader as the GUI uses it, before and after idle slot decoding."""
    from posewarper_core.video import open_video

    from .window import DECODER_CACHE_BYTES
    from .workers import FrameLoader

    app = _app()
    rows = []
    configs = [("before", dict(slot_bytes=0, cache_bytes=400 * 2**20), None),
               ("after", {}, DECODER_CACHE_BYTES)]
    for name, kw, decoder_bytes in configs:
        source = open_video(video) if decoder_bytes is None else open_video(video, max_cache_bytes=decoder_bytes)
        loader = FrameLoader(source, **kw)
        cache_mb = (loader.cache.max_bytes + loader.slots.max_bytes + source.max_cache_bytes) // 2**20
        got: dict[int, float] = {}
        filled: list[float] = []
        # Default arguments bind this run's lists (a stopped loader may still deliver a signal).
        loader.frameReady.connect(lambda i, _img, got=got: got.setdefault(i, time.perf_counter()))
        loader.slotsFilled.connect(lambda filled=filled: filled.append(time.perf_counter()))
        t0 = time.perf_counter()
        loader.request(0)
        _spin_until(app, lambda: 0 in got, 30)
        if kw.get("slot_bytes", 1):
            _spin_until(app, lambda: bool(filled), 120)
            warm_s = (filled[0] - t0) if filled else float("nan")
        else:
            _spin_until(app, lambda: False, 1.0)  # let the read-ahead finish
            warm_s = 0.0
        rng = random.Random(seed)
        n, k = len(source), loader.stride
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
                _spin_until(app, lambda: bool(filled), 0.6 if kw.get("slot_bytes", 1) else 0.3)
            rows.append({"config": name, "seek to": kind, "seeks": seeks, "cached": hits, **_stats(times),
                         "uncached_median_ms": round(statistics.median(misses), 1) if misses else "-",
                         "idle_warmup_s": round(warm_s, 2), "cache_limit_MB": cache_mb})
        loader.stop()
        app.processEvents()
        source.close()
    return rows


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
        window.resize(1366, 768)
        window.show()
        window.open_path(build_demo(Path(tmp) / "demo.pwproj"))
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
        gaps = [(b - a) * 1000 for a, b in zip(ticks, ticks[1:]) if b >= start]
        poses = window.session.video.pose_count()
        window.close()
    return {"method": method, "status": finished[0][0] if finished else "timeout", "fill_s": round(end - start, 2),
            "poses_after": poses, "ticks": len(gaps), "max_gap_ms": round(max(gaps), 1),
            "p99_gap_ms": round(sorted(gaps)[int(0.99 * (len(gaps) - 1))], 1),
            "gaps_over_50ms": sum(g > 50 for g in gaps), "gaps_over_100ms": sum(g > 100 for g in gaps)}


def _print_table(rows: list[dict]) -> None:
    keys = list(rows[0])
    widths = [max(len(k), *(len(str(r[k])) for r in rows)) for k in keys]
    print("  ".join(k.ljust(w) for k, w in zip(keys, widths)))
    for r in rows:
        print("  ".join(str(r[k]).ljust(w) for k, w in zip(keys, widths)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    seek = sub.add_parser("seek", help="random seek latency through the frame loader")
    seek.add_argument("--video", type=Path, default=DEMO_VIDEO)
    seek.add_argument("--seeks", type=int, default=20)
    ui = sub.add_parser("ui", help="UI stall while auto-fill runs")
    ui.add_argument("--method", default="flow")
    for p in (seek, ui):
        p.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    rows = bench_seek(args.video, args.seeks) if args.what == "seek" else [bench_ui(args.method)]
    _print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
