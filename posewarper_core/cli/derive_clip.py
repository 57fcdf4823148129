"""`posewarper derive-clip`: write a derived copy of a densely labelled PoseTrack18 clip (frames and
labels) into a new folder, as a stress check for `bench` and `bench-suggest`.

    posewarper derive-clip --gt ../shared/data/dev/jhmdb_goal_keeping/posetrack18.json --out /tmp/jhmdb_pair --mirror-pair
    posewarper derive-clip --gt GT.json --out /tmp/every2 --every 2

--every N keeps the frames 0, N, 2N, ... (faster motion); --mirror-pair puts each frame side by side
with its horizontal mirror, overlapping so that the people stand close, the mirrored people new
tracks with left and right swapped (posewarper_core/derived_clips.py says how the seam is made).
The folder must be new or hold no frames yet, and may not lie inside the source clip's folder.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("derive-clip", help="write a faster or two-people-close copy of a labelled clip",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gt", type=Path, required=True, help="PoseTrack18 file, file_names relative to it")
    p.add_argument("--out", type=Path, required=True, help="a new folder for posetrack18.json and frames/")
    p.add_argument("--every", type=int, default=1, metavar="N", help="keep every N-th frame (default 1: all)")
    p.add_argument("--mirror-pair", action="store_true", help="each frame beside its mirror image, people close")
    p.set_defaults(run=run)


def run(args) -> int:
    from tqdm import tqdm
    from .progress import bar_progress

    from ..derived_clips import write_derived_clip

    bar = tqdm(desc="frames", unit="frame", leave=False)
    progress = bar_progress(bar)

    try:
        r = write_derived_clip(args.gt, args.out, every=args.every, mirror_pair=args.mirror_pair, progress=progress)
    finally:
        bar.close()
    line = f"wrote {r['path']}: {r['frames']} frames of {r['width']}x{r['height']}, {r['tracks']} tracks"
    if r["mirror_side"]:
        line += (f"; mirror on the {r['mirror_side']}, overlapping by {r['overlap']} px; an original and a mirrored "
                 f"person touch on {r['touching_frames']} of {r['frames']} frames")
    print(line)
    return 0
