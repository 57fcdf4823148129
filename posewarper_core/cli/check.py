"""`posewarper check PATH`: labels that break the motion around them, to proofread.

    posewarper check posetrack18.json          suspect labels of a PoseTrack/COCO file
    posewarper check match.pwproj              the same for every video of a project (read only)
    posewarper check gt.json --threshold 0.3   flag only labels this far off (in track sizes)
    posewarper check gt.json --json            as JSON, for scripts

A label is suspect when it lies more than `--threshold` x the track's size off the straight line
between its labels in the frames before and after (a spike), when a left/right pair fits
those frames better the other way round (a swap), or when two or three labels in a row are off
the line between the labels just outside them, entered and left by jumps (a shift). Dense
labels (every frame, or every `--max-gap` frames) can be checked; keyframes far apart cannot,
and are counted as not checked.
The exit status is 1 when something is flagged, 0 when nothing is.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import PoseWarperError
from ..label_check import MAX_GAP, THRESHOLD, checkable_labels, suspect_labels


def register(subparsers) -> None:
    p = subparsers.add_parser("check", help="find labels that jump away from their neighbours, swap left/right, or shift for a few frames",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", type=Path, help="PoseTrack 2018 / COCO keypoints .json file or .pwproj project")
    p.add_argument("--threshold", type=float, default=THRESHOLD,
                   help=f"flag labels this far off, in track sizes (default {THRESHOLD})")
    p.add_argument("--max-gap", type=int, default=MAX_GAP,
                   help=f"the farthest neighbouring label to compare with, in frames (default {MAX_GAP})")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=run)


def run(args) -> int:
    if args.threshold <= 0:
        raise PoseWarperError(f"--threshold must be above 0, got {args.threshold}")
    if args.max_gap < 1:
        raise PoseWarperError(f"--max-gap must be at least 1 frame, got {args.max_gap}")
    skeleton, videos = _read(args.path)
    report = {"path": str(args.path.resolve()), "threshold": args.threshold, "max_gap": args.max_gap, "videos": []}
    for video in videos:
        found = suspect_labels(video, skeleton, threshold=args.threshold, max_gap=args.max_gap)
        report["videos"].append({
            "video_id": video.video_id, "name": video.name,
            "checked": checkable_labels(video, max_gap=args.max_gap),
            "labels": sum(int(p.labelled().sum()) for by_track in video.poses.values() for p in by_track.values()),
            "suspects": [{"frame": s.frame, "track_id": s.track_id, "joint": skeleton.joints[s.joint],
                          "other": None if s.other is None else skeleton.joints[s.other],
                          "kind": s.kind, "off": s.off} for s in found],
        })
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 1 if any(v["suspects"] for v in report["videos"]) else 0


def _read(path: Path):
    from .info import is_project_file

    if not path.exists():
        raise PoseWarperError(f"{path}: no such file")
    if is_project_file(path):
        from ..store import ProjectStore

        with ProjectStore.open(path, read_only=True) as store:
            project = store.project
            return project.skeleton, [project.videos[k] for k in sorted(project.videos)]
    from ..formats import import_file

    return import_file(path, check_frames=False)


def render(report: dict) -> str:
    lines = [f"{report['path']}: labels more than {report['threshold']:g} x the track's size off the line "
             f"between their neighbours (at most {report['max_gap']} frame(s) away)"]
    for v in report["videos"]:
        name = v["name"] or "(unnamed)"
        lines.append(f"video {v['video_id']}  {name}: {len(v['suspects'])} suspect of {v['checked']} checkable labels "
                     f"({v['labels'] - v['checked']} without neighbours close enough to check)")
        if v["suspects"]:
            lines.append(f"  {'frame':>6} {'track':>6}  {'kind':<6} {'off':>6}  joint")
            for s in v["suspects"]:
                joint = s["joint"] if s["other"] is None else f"{s['joint']} <-> {s['other']}"
                lines.append(f"  {s['frame']:>6} {s['track_id']:>6}  {s['kind']:<6} {s['off']:>6.2f}  {joint}")
    return "\n".join(lines)
