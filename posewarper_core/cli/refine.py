"""`posewarper refine`: temporal refinement of auto-filled joints, through the project store.

    posewarper refine P.pwproj [--video ID] [--track T]

Applies the paper's 5-frame aggregation weights (0.3 / 0.25 / 0.1) to the positions of
auto-filled joints; keyframes and joints an annotator placed or corrected never move.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("refine", help="temporally smooth auto-filled joints of a project",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("project", type=Path, help="project file (.pwproj)")
    p.add_argument("--video", type=int, action="append", default=None, help="video id (repeatable; default all)")
    p.add_argument("--track", type=int, action="append", default=None, help="track id (repeatable; default all)")
    p.add_argument("--frames", type=int, nargs=2, default=None, metavar=("FIRST", "LAST"),
                   help="only refine frames in this range (0-based, inclusive)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..autofill.refine import refine_poses
    from ..store import ProjectStore

    with ProjectStore.open(args.project) as store:
        total = 0
        for vid in args.video or sorted(store.project.videos):
            video = store.project.video(vid)
            changes = refine_poses(video, track_ids=args.track, frame_range=args.frames)
            store.apply(changes)
            total += len(changes)
        print(f"{total} poses refined in {args.project}")
    return 0
