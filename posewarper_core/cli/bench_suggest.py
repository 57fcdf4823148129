"""`posewarper bench-suggest`: score keyframe suggestions as an annotator labelling forward.

    posewarper bench-suggest --gt ../shared/data/dev/bonn_060470979/posetrack18.json --k 7 --json out.json

On the keyframes 0, k, 2k, ... and the last frame, every person is suggested from the keyframes
before it only (their labels, and the pose model's offsets learned from them); on a person's first
keyframe from the box of its labelled joints, as if the user dragged it. Prints accuracy at
alpha = 0.5 and 0.2 of the reference length (as `bench`) per joint group for the suggestion
and for each source alone (carried: the previous keyframe's pose moved by DIS flow; blazepose:
the pose model on a crop around the person; quick: the window's first guess before the flow is
there, the model alone on the previous keyframe's crop), the median error and seconds per person
(the quick one untimed).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import PoseWarperError


def register(subparsers) -> None:
    p = subparsers.add_parser("bench-suggest", help="score keyframe suggestions against dense ground truth",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gt", type=Path, required=True, help="PoseTrack18 file, file_names relative to it")
    p.add_argument("--k", type=int, required=True, help="keyframe interval (2 or more)")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    p.add_argument("--loco", type=Path, nargs="+", default=None, metavar="GT",
                   help="also choose the fusion's constants by leave-one-clip-out between --gt and these clips "
                        "and print both directions (written under 'leave_one_clip_out')")
    p.set_defaults(run=run)


def run(args) -> int:
    from tqdm import tqdm
    from .progress import bar_progress

    from ..suggest import runtime_missing
    from ..suggest.bench import collect, format_table, leave_one_clip_out, summary
    from .bench import write_json

    if args.k < 2:
        raise PoseWarperError(f"the keyframe interval k must be at least 2, got {args.k}")
    missing = runtime_missing()
    if missing:
        raise PoseWarperError(missing)
    bar = tqdm(desc="keyframes", unit="kf", leave=False)
    progress = bar_progress(bar)

    try:
        records, info = collect(args.gt, args.k, progress=progress)
        others = {str(p): collect(p, args.k) for p in (args.loco or [])}
    finally:
        bar.close()
    result = summary(records, info)
    print(format_table(result, title=f"{args.gt} k={args.k}"))
    print(f"seconds per person: {result['seconds_per_person']:.3f}")
    for message in result["messages"]:
        print(f"note: {message}")
    if others:
        result["leave_one_clip_out"] = leave_one_clip_out({str(args.gt): (records, info), **others})
        for row in result["leave_one_clip_out"]:
            there = ", ".join(f"{a:.1f}/{b:.1f}" for a, b in row["chosen_there"])
            print(f"leave-one-clip-out: chosen on {', '.join(row['chosen_on'])} (there {there}): agreement "
                  f"{row['agreement']}, min confidence {row['min_confidence']} -> {row['report_on']}: "
                  f"{row['at_0.5']:.1f} / {row['at_0.2']:.1f} at alpha 0.5 / 0.2")
    if args.json:
        write_json(args.json, result)
    return 0
