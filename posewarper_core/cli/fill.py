"""`posewarper fill`: auto-fill the frames between keyframes of a project, through its store.

    posewarper fill P.pwproj                  with the default method (see --method)
    posewarper fill P.pwproj --video 1 --track 3 --method posewarper --model M.pt --extrapolate 5

Joints an annotator placed or corrected are never overwritten. Results are saved as each span
between two keyframes is done, so Ctrl+C keeps what was filled so far.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..autofill import DEFAULT_METHOD, METHODS
from ..autofill.engine import FUSIONS


def register(subparsers) -> None:
    p = subparsers.add_parser("fill", help="auto-fill the frames between keyframes of a project",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("project", type=Path, help="project file (.pwproj)")
    p.add_argument("--video", type=int, action="append", default=None, help="video id (repeatable; default all)")
    p.add_argument("--track", type=int, action="append", default=None, help="track id (repeatable; default all)")
    p.add_argument("--method", default=DEFAULT_METHOD,
                   help=f"{', '.join(METHODS)} (default: {DEFAULT_METHOD})")
    p.add_argument("--model", type=Path, default=None, help="model file for posewarper (default: the shipped model)")
    p.add_argument("--extrapolate", type=int, default=0, metavar="N",
                   help="also fill up to N frames before the first and after the last keyframe")
    p.add_argument("--frames", type=int, nargs=2, default=None, metavar=("FIRST", "LAST"),
                   help="only fill frames in this range (0-based, inclusive)")
    p.add_argument("--fusion", default="distance", choices=FUSIONS,
                   help="how the two keyframes' sides are fused: by temporal distance (the reference), by "
                        "confidence, or by distance after taking out each chain's drift (default: distance)")
    p.add_argument("--device", default=None, help="cpu, cuda (default: CUDA when available)")
    p.add_argument("--no-tune", dest="tune", action="store_false",
                   help="posewarper: skip tuning the matcher on the video's keyframes first (20 steps, ~10-25 s "
                        "on 1 CPU thread; on the dev clips it moved alpha 0.2 by -0.2 to +0.7 points and "
                        "lowered the median error by 0.00-0.08 px)")
    p.set_defaults(run=run)


def run(args) -> int:
    from tqdm import tqdm
    from .progress import bar_progress

    from .. import autofill, fillrecord
    from ..store import ProjectStore
    from ..video import open_frames

    with ProjectStore.open(args.project) as store:
        method = autofill.make_method(args.method, model_path=args.model, device=args.device, tune=args.tune)
        if getattr(method, "notice", None):  # e.g. the default without ai-edge-litert: said once
            print(method.notice, file=sys.stderr)
        video_ids = args.video or sorted(store.project.videos)
        written = 0
        for vid in video_ids:
            video = store.project.video(vid)
            needs = method.needs_frames
            frames = open_frames(video, base_dir=store.base_dir) if needs else None
            bar = tqdm(desc=video.name or f"video {vid}", unit="pf")
            progress = bar_progress(bar)

            tuning = {}

            def setup_progress(step, steps, name=video.name or f"video {vid}"):
                # posewarper first tunes its matcher on this video's keyframes: a bar of its own
                if "bar" not in tuning:
                    tuning["bar"] = tqdm(desc=f"{name}: tuning on the keyframes", total=steps, unit="step")
                tuning["bar"].update(step - tuning["bar"].n)
                if step >= steps:
                    tuning["bar"].close()

            def save(changes):
                nonlocal written
                store.apply(changes)
                written += len(changes)

            fillrecord.record_start(store, vid, args.method, "frames" if args.frames else "video",
                                    args.track, args.frames)
            status = fillrecord.FAILED
            try:
                autofill.fill(video, frames, method, track_ids=args.track, frame_range=args.frames,
                              extrapolate=args.extrapolate, fusion=args.fusion, progress=progress,
                              on_changes=save, setup_progress=setup_progress,
                              resume_from=fillrecord.progress_noter(store, vid))
                status = fillrecord.DONE
            except KeyboardInterrupt:
                status = fillrecord.CANCELLED
                raise
            finally:
                fillrecord.record_end(store, vid, status)
                if "bar" in tuning:
                    tuning["bar"].close()
                bar.close()
                if frames is not None:
                    frames.close()
        print(f"{written} poses written to {args.project}")
    return 0
