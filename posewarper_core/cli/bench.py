"""`posewarper bench`: measure auto-fill on a densely labelled video.

    posewarper bench --gt ../shared/data/dev/bonn_060470979/posetrack18.json --k 7 --method linear,flow
    posewarper bench --gt GT.json --k 15 --method posewarper --model M.pt --adapt --json out.json

Keeps frames 0, k, 2k, ... and the last frame as keyframes, auto-fills the rest and scores every
other frame's joints that are labelled there and in both neighbouring keyframes: accuracy at
alpha = 0.5 and 0.2 of the head size (0.6 x head-box diagonal; the longer side of the pose's
joint extent when the file has no head boxes) per joint group, Mean over all scored joints,
the median error in pixels, the AUROC of the filled joints' confidence for the joints off by
more than alpha = 0.5, filled person-frames per second and the seconds of one-off work before
the fill (posewarper: tuning on the keyframes).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..atomic_file import replacing
from ..autofill.engine import FUSIONS
from ..errors import PoseWarperError


def register(subparsers) -> None:
    p = subparsers.add_parser("bench", help="score auto-fill methods against dense ground truth",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gt", type=Path, required=True, help="PoseTrack18 file, file_names relative to it")
    p.add_argument("--k", type=int, required=True, help="keyframe interval (2 or more)")
    p.add_argument("--method", default="linear,flow,posewarper",
                   help="comma-separated: linear, flow, flow-farneback, posewarper, detector (default: linear,flow,posewarper)")
    p.add_argument("--model", type=Path, default=None, help="model file for posewarper (default: the shipped resources/models/posewarper_default.pt)")
    p.add_argument("--adapt", action="store_true",
                   help="let learned methods first fine-tune on the kept keyframes (never on scored frames)")
    p.add_argument("--ablation", action="store_true",
                   help="with posewarper, also score it with one part fewer per row: unsmoothed (the pose "
                        "model's correction weighed frame by frame), nomodel (no pose model step), untuned (the "
                        "shipped matcher), unlearned (no matcher), nofallback (no fall-back to interpolation either), "
                        "wholedrift (each chain's drift taken out whole, not weighed per frame against the raw chains)")
    p.add_argument("--unflagged", action="store_true",
                   help="score only the ground-truth labels `posewarper check` leaves unflagged")
    p.add_argument("--each-person", action="store_true",
                   help="fill one person at a time, each fill written before the next (as G per person in the app)")
    p.add_argument("--refine", action="store_true", help="also score each method followed by temporal refinement")
    p.add_argument("--fusion", default="distance", choices=FUSIONS,
                   help="how the two keyframes' sides are fused: by temporal distance (the reference), by "
                        "confidence, or by distance after taking out each chain's drift (default: distance)")
    p.add_argument("--device", default=None, help="cpu, cuda (default: CUDA when available)")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    p.set_defaults(run=run)


def run(args) -> int:
    from tqdm import tqdm
    from .progress import bar_progress

    from ..evaluation import format_table, label_check_line, run_bench

    methods = [m.strip() for m in args.method.split(",") if m.strip()]
    if not methods:
        raise PoseWarperError("--method names no method")
    bars = []

    def progress_factory(name):
        for old in bars:  # one bar at a time: the previous method is done
            old.close()
        bar = tqdm(desc=name, unit="pf", leave=False)
        bars.append(bar)
        return bar_progress(bar)

    try:
        results = run_bench(args.gt, args.k, methods, model_path=args.model, adapt=args.adapt, refine=args.refine, ablation=args.ablation,
                            fusion=args.fusion, unflagged=args.unflagged, each_person=args.each_person,
                            device=args.device, progress_factory=progress_factory)
    finally:
        for bar in bars:
            bar.close()
    if args.adapt and "posewarper" not in methods:
        print("note: --adapt only affects learned methods (posewarper)")
    print(format_table(results, title=f"{args.gt} k={args.k}"))
    print(label_check_line(args.gt, args.k))
    if args.json:
        write_json(args.json, results)
    return 0


def write_json(path: Path, data) -> None:
    """Write JSON through a temporary file, so a failure leaves no half-written file."""
    with replacing(path) as out:
        json.dump(data, out, indent=2)
