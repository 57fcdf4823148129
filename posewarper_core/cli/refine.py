"""`posewarper refine`: the paper's temporal aggregation applied to auto-filled joints, through
the project store.

    posewarper refine P.pwproj [--video ID] [--track T]
    posewarper refine P.pwproj --model M.pt

Without --model, positions of auto-filled joints are smoothed over five frames with the paper's
weights (0.3 / 0.25 / 0.1); with --model, the network's own aggregation mode moves them (only
where its heatmap peak is confident, and only a little). Keyframes and joints an annotator placed
or corrected never move.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("refine", help="temporal aggregation of auto-filled joints of a project",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("project", type=Path, help="project file (.pwproj)")
    p.add_argument("--video", type=int, action="append", default=None, help="video id (repeatable; default all)")
    p.add_argument("--track", type=int, action="append", default=None, help="track id (repeatable; default all)")
    p.add_argument("--frames", type=int, nargs=2, default=None, metavar=("FIRST", "LAST"),
                   help="only refine frames in this range (0-based, inclusive)")
    p.add_argument("--model", type=Path, default=None, help="use this PoseWarper model's aggregation mode")
    p.add_argument("--device", default=None, help="cpu, cuda (default: CUDA when available)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..autofill.refine import refine_poses
    from ..store import ProjectStore
    from ..video import open_frames

    method = None
    if args.model is not None:
        from ..autofill.posewarper_method import PoseWarperMethod

        method = PoseWarperMethod(args.model, device=args.device)
    with ProjectStore.open(args.project) as store:
        total = 0
        for vid in args.video or sorted(store.project.videos):
            video = store.project.video(vid)
            frames = open_frames(video, base_dir=store.base_dir) if method is not None else None
            try:
                changes = refine_poses(video, track_ids=args.track, frame_range=args.frames,
                                       method=method, frames=frames)
            finally:
                if frames is not None:
                    frames.close()
            store.apply(changes)
            total += len(changes)
        print(f"{total} poses refined in {args.project}")
    return 0
