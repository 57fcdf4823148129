"""How long a keyframe suggestion takes in the main window (not a test: numbers depend on the machine).

    python -m app.suggest_bench [--frames 7 3 13 17 27 33] [--dwell 2.0] [--json out.json]

On the demo project (1366 x 768 window): the walker (person 1) selected on a frame between two of
her keyframes, not labelled there, then E pressed; the time from the key press to the suggestion
drawn on the canvas (the pose layer painted with it), the worker's own seconds, and the longest gap
between the ticks of a 5 ms QTimer on the UI thread meanwhile (its worst stall). The first request
also loads the pose model (cold); the rest are warm. Each frame is measured twice: E pressed at
once after arriving (computed on request), and, on the frame again after an undo and a move away,
E pressed after --dwell seconds on it (computed ahead while the user looks: suggestions.py).
Prints a table; --json writes it.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from .bench import _app, _open, _spin_until


def run(frames: list[int], dwell: float) -> dict:
    app = _app()
    from PySide6.QtCore import QSettings, QTimer

    from posewarper_core.annotation import Provenance
    from posewarper_core.suggest import runtime_missing

    from .demo import build_demo
    from .window import MainWindow

    tmp = Path(tempfile.mkdtemp(prefix="suggest-bench-"))
    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(tmp / "settings"))
    path = build_demo(tmp / "demo.pwproj")
    w = MainWindow()
    w.quiet = True
    w.resize(1366, 768)
    w.show()
    _open(app, w, path)
    ed = w.editor
    painted = []
    layer = w.canvas.layer
    paint = layer._paint_suggested
    layer._paint_suggested = lambda *a: (painted.append(time.perf_counter()), paint(*a))
    rows = []
    plan = [(f, 0.0) for f in frames] + [(f, dwell) for f in frames]
    for n, (frame, wait) in enumerate(plan):
        ed.seek(0)
        _spin_until(app, lambda: w.suggestions.job is None, 30)  # nothing computing ahead meanwhile
        w.suggestions.kept.clear()
        ed.seek(frame)
        ed.select_track(1)
        if ed.video.pose(frame, 1) is not None:
            raise SystemExit(f"frame {frame} has a pose of person 1: pick a frame between keyframes")
        _spin_until(app, lambda: ed.frame in w.loader.cache if w.loader else True, 10)
        if wait:
            _spin_until(app, lambda: False, wait)
        else:
            w.suggestions.ahead_timer.stop()  # asked at once: nothing computed ahead
        ticks = []
        timer = QTimer()
        timer.setInterval(5)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        done = []
        w.suggestions.applied.connect(lambda r: done.append(r))
        painted.clear()
        timer.start()
        app.processEvents()
        t0 = time.perf_counter()
        ticks.append(t0)
        w.actions["suggest_pose"].trigger()  # what the E key runs
        _spin_until(app, lambda: done and painted, 60)
        t1 = painted[0] if painted else float("nan")
        _spin_until(app, lambda: False, 0.05)
        timer.stop()
        w.suggestions.applied.disconnect()
        result = done[0] if done else None
        pose = ed.video.pose(frame, 1)
        joints = int((pose.provenance == Provenance.SUGGESTED).sum()) if pose is not None else 0
        gaps = [b - a for a, b in zip(ticks, ticks[1:])]
        rows.append({"frame": frame, "cold": n == 0, "dwell_s": wait, "key_to_drawn_s": round(t1 - t0, 3),
                     "worker_s": round(result.seconds, 3) if result else None,
                     "longest_ui_gap_ms": round(1000 * max(gaps), 1) if gaps else None,
                     "suggested_joints": joints, "message": result.message if result else "no result"})
        w.actions["undo"].trigger()
    w.close()
    warm = [r for r in rows if not r["cold"] and not r["dwell_s"]]
    ahead = [r for r in rows if r["dwell_s"]]
    return {
        "dwell_median_key_to_drawn_s": round(statistics.median(r["key_to_drawn_s"] for r in ahead), 3) if ahead else None,
        "video": "resources/demo/sports2d_demo.mp4 (1768 x 994)", "window": "1366 x 768",
        "pose_model": runtime_missing() or "BlazePose (ai-edge-litert)",
        "rows": rows,
        "warm_median_key_to_drawn_s": round(statistics.median(r["key_to_drawn_s"] for r in warm), 3) if warm else None,
        "warm_median_worker_s": round(statistics.median(r["worker_s"] for r in warm), 3) if warm else None,
        "longest_ui_gap_ms": max(r["longest_ui_gap_ms"] or 0 for r in rows),
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, nargs="+", default=[7, 3, 13, 17, 27, 33])
    p.add_argument("--dwell", type=float, default=2.0)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    out = run(args.frames, args.dwell)
    print(f"{out['video']}, window {out['window']}, {out['pose_model']}")
    print(f"{'frame':>5} {'cold':>5} {'dwell s':>7} {'key→drawn s':>12} {'worker s':>9} {'UI gap ms':>10} {'joints':>7}")
    for r in out["rows"]:
        print(f"{r['frame']:>5} {str(r['cold']):>5} {r['dwell_s']:>7.1f} {r['key_to_drawn_s']:>12.3f} {r['worker_s'] or float('nan'):>9.3f} "
              f"{r['longest_ui_gap_ms'] or float('nan'):>10.1f} {r['suggested_joints']:>7}")
    print(f"asked at once, warm median: key→drawn {out['warm_median_key_to_drawn_s']} s, worker "
          f"{out['warm_median_worker_s']} s; after dwelling: key→drawn {out['dwell_median_key_to_drawn_s']} s; "
          f"longest UI gap {out['longest_ui_gap_ms']} ms")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
