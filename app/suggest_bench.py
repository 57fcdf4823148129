"""How long a keyframe suggestion takes in the main window (not a test: numbers depend on the machine).

    python -m app.suggest_bench [--frames 7 3 13 17 27 33] [--dwell 2.0] [--json out.json]

On the demo project (1366 x 768 window): the walker (person 1) selected on a frame between two of
her keyframes, not labelled there, then E pressed; the time from the key press to the suggestion
drawn on the canvas (the pose layer painted with it), the worker's own seconds, and the longest gap
between the ticks of a 5 ms QTimer on the UI thread meanwhile (its worst stall). The first request
also loads the pose model; the rest have it loaded, the worker's frames decoded and the walker's
offsets learned from all her keyframes (so that no row pays for what another row did first). Each frame is measured four ways (after an
undo, from frame 1; the two cold ways frame by frame, taking turns to go first):
- `cold`: E pressed at once after jumping there with nothing done ahead (the worker's flow chains
  dropped), the quick first suggestion switched off: the whole chain from the keyframe on request,
  then the suggestion, the baseline of the same run;
- `cold+quick`: the same with the quick first suggestion (the pose model alone, drawn before the
  chain is there; `first drawn` is then its time, `key→drawn` the full one's);
- `from key`: --dwell seconds on the person's previous keyframe first (as after labelling it: the
  worker extends the chains ahead meanwhile), then a jump to the frame and E pressed at once;
- `on frame`: E pressed after --dwell seconds on the frame (its suggestion computed ahead);
- `opened` (with --opened): E pressed at once on arrival with the worker as just after opening the
  project (nothing decoded, the model has looked at no keyframe, no chains; the model loaded):
  what the first suggestion after a jump deep into a video costs (`first drawn`: the quick one).
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


REST_FRAME = 1  # between two rows (not a keyframe: going to one from here is a frame change)
MODES = ("cold", "cold+quick", "from key", "on frame", "opened")


def run(frames: list[int], dwell: float, opened: bool = False) -> dict:
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
    # The two cold modes frame by frame, in turns first (whichever ran first on a frame was the slower,
    # by up to 1.6x, the window's own frame decoding then competing for the cores), then the rest.
    plan = [(f, m) for i, f in enumerate(frames) for m in (MODES[:2] if i % 2 == 0 else MODES[1::-1])]
    plan += [(f, m) for m in MODES[2:4] for f in frames]
    plan += [(f, "opened") for f in frames] if opened else []
    for n, (frame, mode) in enumerate(plan):
        ed.seek(REST_FRAME)
        w.suggestions.ahead_timer.stop()
        _spin_until(app, lambda: w.suggestions.job is None, 30)  # nothing computing ahead meanwhile
        w.suggestions.kept.clear()
        w.suggestions.quick_first = mode != "cold"
        if mode == "opened":  # the worker as a project leaves it on opening, its pose model kept loaded
            w.suggestions.reset(model=w.suggestions.engine.model)
            _spin_until(app, lambda: False, 0.01)
            w.suggestions.engine.use(ed.video.video_id, ed.video)  # the video's frames opened, nothing decoded
        if mode.startswith("cold"):
            w.suggestions.reached.clear()
            if w.suggestions.engine.suggester is not None:
                w.suggestions.engine.suggester.forget_chains()
        key = max(k for k in ed.video.keyframes(1) if k < frame)
        if mode == "from key":
            ed.seek(key)
            ed.select_track(1)
            _spin_until(app, lambda: False, dwell)
        ready = any(name[1:3] == (1, key) and last >= frame for name, last in w.suggestions.reached.items())
        ed.seek(frame)
        ed.select_track(1)
        if ed.video.pose(frame, 1) is not None:
            raise SystemExit(f"frame {frame} has a pose of person 1: pick a frame between keyframes")
        _spin_until(app, lambda: ed.frame in w.loader.cache if w.loader else True, 10)
        if mode == "on frame":
            _spin_until(app, lambda: False, dwell)
        else:
            w.suggestions.ahead_timer.stop()  # asked at once: nothing computed ahead on this frame
        ticks = []
        timer = QTimer()
        timer.setInterval(5)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        done = []
        w.suggestions.applied.connect(lambda r: done.append((r, time.perf_counter())))
        painted.clear()
        timer.start()
        app.processEvents()
        t0 = time.perf_counter()
        ticks.append(t0)
        w.actions["suggest_pose"].trigger()  # what the E key runs
        _spin_until(app, lambda: done and any(p >= done[0][1] for p in painted), 60)
        first = painted[0] if painted else float("nan")
        t1 = next((p for p in painted if done and p >= done[0][1]), float("nan"))
        _spin_until(app, lambda: False, 0.05)
        timer.stop()
        w.suggestions.applied.disconnect()
        result = done[0][0] if done else None
        pose = ed.video.pose(frame, 1)
        joints = int((pose.provenance == Provenance.SUGGESTED).sum()) if pose is not None else 0
        gaps = [b - a for a, b in zip(ticks, ticks[1:])]
        rows.append({"frame": frame, "mode": mode, "model_load": n == 0, "key_to_drawn_s": round(t1 - t0, 3),
                     "key_to_first_drawn_s": round(first - t0, 3),
                     "worker_s": round(result.seconds, 3) if result else None, "chain_ready": ready,
                     "longest_ui_gap_ms": round(1000 * max(gaps), 1) if gaps else None,
                     "suggested_joints": joints, "message": result.message if result else "no result"})
        w.actions["undo"].trigger()
        if n == 0:  # what a first request leaves warm, for every row alike (so no row pays for another's):
            engine = w.suggestions.engine  # the worker's frames decoded (its cache holds them) and the
            for i in range(min(max(frames) + 2, ed.video.num_frames)):  # person's offsets learned (the
                engine.frames.frame(i)  # model on their earlier keyframes): every row times flow and model
            for f in frames:
                engine.suggester.learn(ed.video, engine.frames, 1, f)
    w.close()
    modes = {}
    for mode in MODES:
        for what, name in (("key_to_drawn_s", mode), ("key_to_first_drawn_s", f"{mode}, first")):
            times = [r[what] for r in rows if r["mode"] == mode and not r["model_load"]]
            if times and (what == "key_to_drawn_s" or mode in ("cold+quick", "opened")):
                modes[name] = {"min_s": min(times), "median_s": round(statistics.median(times), 3), "max_s": max(times)}
    base = modes.get("cold", {}).get("median_s")
    for m in modes.values():
        m["median_vs_cold"] = round(m["median_s"] / base, 3) if base else None
    return {
        "video": "resources/demo/sports2d_demo.mp4 (1768 x 994)", "window": "1366 x 768", "dwell_s": dwell,
        "pose_model": runtime_missing() or "BlazePose (ai-edge-litert)",
        "rows": rows,
        "key_to_drawn_by_mode": modes,
        "longest_ui_gap_ms": max(r["longest_ui_gap_ms"] or 0 for r in rows),
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, nargs="+", default=[7, 3, 13, 17, 27, 33])
    p.add_argument("--dwell", type=float, default=2.0)
    p.add_argument("--opened", action="store_true", help="also the `opened` mode (see above)")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    out = run(args.frames, args.dwell, args.opened)
    print(f"{out['video']}, window {out['window']}, {out['pose_model']}")
    print(f"{'frame':>5} {'mode':>10} {'model load':>10} {'chain ready':>11} {'first drawn':>11} {'key→drawn s':>12} {'worker s':>9} "
          f"{'UI gap ms':>10} {'joints':>7}")
    for r in out["rows"]:
        print(f"{r['frame']:>5} {r['mode']:>10} {str(r['model_load']):>10} {str(r['chain_ready']):>11} "
              f"{r['key_to_first_drawn_s']:>11.3f} {r['key_to_drawn_s']:>12.3f} "
              f"{r['worker_s'] if r['worker_s'] is not None else float('nan'):>9.3f} "
              f"{r['longest_ui_gap_ms'] or float('nan'):>10.1f} {r['suggested_joints']:>7}")
    print(f"key→drawn without the model load (dwell {out['dwell_s']} s), min / median / max, median vs cold:")
    for mode, m in out["key_to_drawn_by_mode"].items():
        print(f"  {mode:>17}: {m['min_s']:.3f} / {m['median_s']:.3f} / {m['max_s']:.3f} s   x{m['median_vs_cold']}")
    print(f"longest UI gap {out['longest_ui_gap_ms']} ms")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
