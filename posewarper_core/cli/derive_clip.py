"""`posewarper derive-clip`: write a derived copy of a densely labelled PoseTrack18 clip (frames and
labels) into a new folder, as a stress check for `bench` and `bench-suggest`.

    posewarper derive-clip --gt ../shared/data/dev/jhmdb_goal_keeping/posetrack18.json --out /tmp/jhmdb_pair --mirror-pair
    posewarper derive-clip --gt GT.json --out /tmp/every2 --every 2
    posewarper derive-clip --demo --out /tmp/demo_clip

--every N keeps the frames 0, N, 2N, ... (faster motion); --mirror-pair puts each frame side by side
with its horizontal mirror, overlapping so that the people stand close, the mirrored people new
tracks with left and right swapped (posewarper_core/derived_clips.py says how the seam is made).
--demo writes the bundled demo clip's frames with our hand labels of every 10th frame (head boxes
from head_top and head_bottom; posewarper_core/demo_clip.py): a clip no constant was chosen on,
for `bench --k 20` and `bench-suggest --k 10`.
The folder must be new or hold no frames yet, and may not lie inside the source clip's folder.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("derive-clip", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                              help="write a faster or two-people-close copy of a labelled clip, or the demo clip")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--gt", type=Path, help="PoseTrack18 file, file_names relative to it")
    source.add_argument("--demo", action="store_true",
                        help="the bundled demo clip with its hand labels (every 10th frame)")
    p.add_argument("--out", type=Path, required=True, help="a new folder for posetrack18.json and frames/")
    p.add_argument("--every", type=int, default=1, metavar="N", help="keep every N-th frame (default 1: all)")
    p.add_argument("--mirror-pair", action="store_true", help="each frame beside its mirror image, people close")
    p.set_defaults(run=run)


def run(args) -> int:
    from tqdm import tqdm
    from .progress import bar_progress

    from ..derived_clips import write_derived_clip
    from ..errors import PoseWarperError

    if args.demo and (args.every != 1 or args.mirror_pair):
        raise PoseWarperError("--demo writes the demo clip as it is: leave out --every and --mirror-pair")
    bar = tqdm(desc="frames", unit="frame", leave=False)
    progress = bar_progress(bar)

    if args.demo:
        from ..demo_clip import write_demo_clip

        try:
            r = write_demo_clip(args.out, progress=progress)
        finally:
            bar.close()
        print(f"wrote {r['path']}: {r['frames']} frames of {r['width']}x{r['height']}, {r['poses']} labelled poses")
        return 0
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
