"""`posewarper bench-effort`: the annotator's effort to finish a clip, measured with a simulated
annotator on the tool's real code paths (posewarper_core/effort.py).

    posewarper bench-effort --gt GT.json --strategy cvat-like,uniform,guided --k 5,10,15,30 \\
        --json out.json --plot curve.png

For each strategy and k: clicks, looks, effort (clicks + looks) and the residual error (the share
of the ground truth's joints off by more than 0.5 x the reference length when the annotator
stops), as a table and JSON; the PNG plots residual error against effort as the work goes on.
The last lines read the bar: to reach a residual error <= 2 %, guided's effort at its best k
against cvat-like's and uniform's at theirs.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..atomic_file import replacing
from ..errors import PoseWarperError


def register(subparsers) -> None:
    from ..correction import CARRY_MODES, DEFAULT_CARRY
    from ..review import REVIEW_DONE_BELOW

    p = subparsers.add_parser("bench-effort", help="measure an annotator's clicks and looks to finish a clip",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gt", type=Path, required=True, help="PoseTrack18 file with dense labels, file_names relative to it")
    p.add_argument("--strategy", default="cvat-like,uniform,guided", help="comma-separated: cvat-like, uniform, guided, uniform-proposed, uniform-suggested")
    p.add_argument("--k", default="5,10,15,30", help="comma-separated keyframe strides (guided: the stride it starts from)")
    p.add_argument("--method", default=None, help="the fill method of uniform and guided (default: the default "
                   "method, posewarper, without its tuning); cvat-like always interpolates linearly")
    p.add_argument("--stop", type=float, default=REVIEW_DONE_BELOW,
                   help=f"review is done below this predicted error (default {REVIEW_DONE_BELOW})")
    p.add_argument("--stop-from", type=Path, default=None, metavar="OTHER.json",
                   help="choose the review-done threshold on another clip's bench-effort JSON (run there with a "
                        "low --stop): the highest at which uniform and guided finish that clip at <= 2 %% residual "
                        "error at every k (leave-one-clip-out)")
    p.add_argument("--carry", default=DEFAULT_CARRY, choices=CARRY_MODES,
                   help=f"how a correction re-fills its joint's chain (default {DEFAULT_CARRY})")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    p.add_argument("--plot", type=Path, default=None, help="write the residual-error-against-effort curve here (PNG)")
    p.set_defaults(run=run)


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise PoseWarperError(f"--k must be comma-separated whole numbers, got {text!r}") from None


def run(args) -> int:
    import cv2
    import torch

    from .. import autofill, effort
    from ..evaluation import load_ground_truth

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    strategies = [s.strip() for s in args.strategy.split(",") if s.strip()]
    bad = [s for s in strategies if s not in effort.STRATEGIES]
    if not strategies or bad:
        raise PoseWarperError(f"unknown strategy {', '.join(bad) or '(none)'}; choose from {', '.join(effort.STRATEGIES)}")
    ks = _ints(args.k)
    if not ks or min(ks) < 2:
        raise PoseWarperError(f"--k needs strides of 2 or more, got {args.k!r}")
    for out in (args.json, args.plot):
        if out is not None and not out.parent.is_dir():
            raise PoseWarperError(f"{out}: the folder {out.parent} does not exist")
    stop = args.stop
    if args.stop_from is not None:
        stop = effort.choose_stop(*_read_results(args.stop_from))
        print(f"review done below {stop} (chosen on {args.stop_from})")
    skeleton, gt, open_source = load_ground_truth(args.gt)
    if not gt.poses:
        raise PoseWarperError(f"{args.gt}: the ground truth has no labelled poses")
    method_name = args.method or autofill.DEFAULT_METHOD
    method = autofill.make_method(method_name, tune=False) if any(s != "cvat-like" for s in strategies) else None
    frames = open_source()
    results = []
    try:
        for strategy in strategies:
            for k in ks:
                t0 = time.perf_counter()
                run_ = effort.simulate(gt, frames, method, strategy, k, stop_below=stop, carry=args.carry,
                                       skeleton=skeleton)
                r = run_.result()
                r["seconds"] = round(time.perf_counter() - t0, 1)
                results.append(r)
                print(f"  {strategy} k={k}: effort {r['effort']}, residual {100 * r['residual_error']:.2f} % "
                      f"({r['seconds']} s)", flush=True)
    finally:
        close = getattr(frames, "close", None)
        if close:
            close()
    bar = effort.read_bar(results)
    print(effort.format_effort_table(results, title=f"{args.gt}  fill: {method_name} (no tuning), "
                                                    f"review done below {stop}, re-fill: {args.carry}"))
    print(_bar_line(bar))
    if args.json:
        with replacing(args.json) as out:
            json.dump({"gt": str(args.gt), "method": method_name, "stop_below": stop, "carry": args.carry,
                       "results": results, "bar": bar}, out, indent=1)
    if args.plot:
        from ..effort_plot import draw_curves

        draw_curves(results, args.plot, title=f"{args.gt.parent.name}: residual error against effort")
    return 0


def _read_results(path: Path) -> tuple[list[dict], float]:
    """(results, the review-done threshold they ran with) of a bench-effort JSON file."""
    try:
        data = json.loads(Path(path).read_text())
        results, ran_below = data["results"], float(data["stop_below"])
        for r in results:
            r["strategy"], r["curve"]
    except FileNotFoundError:
        raise PoseWarperError(f"{path}: no such file") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise PoseWarperError(f"{path}: not a bench-effort JSON file ({exc})") from None
    return results, ran_below


def _bar_line(bar: dict) -> str:
    def best(s):
        b = bar[f"best_{s}"]
        return "never reaches it" if b is None else f"{b['effort']} at k={b['k']}"

    lines = [f"to reach residual <= {100 * bar['bar_residual']:.0f} %: " + "; ".join(
        f"{s} {best(s)}" for s in ("cvat-like", "uniform", "guided"))]
    if bar["guided_vs_cvat"] is not None:
        lines.append(f"guided / cvat-like = {bar['guided_vs_cvat']:.2f} (bar <= 0.50); "
                     f"guided / uniform = {bar['guided_vs_uniform'] if bar['guided_vs_uniform'] is not None else '-'} "
                     f"(bar <= 0.80): {'passed' if bar['passed'] else 'not passed'}")
    return "\n".join(lines)
