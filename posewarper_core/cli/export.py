"""`posewarper export P.pwproj -o OUT --format posetrack18|coco`: write a project's annotations.

    posewarper export match.pwproj -o match_coco.json --format coco
    posewarper export match.pwproj -o gt/ --format posetrack18 --no-auto   one file per video
    posewarper export match.pwproj -o checked.json --auto reviewed   filled poses only once reviewed
    posewarper export match.pwproj -o clip.json --video 2
    posewarper export match.pwproj -o data/train.json --format coco --frames labelled   with the images

PoseTrack 2018 writes one file per video: OUT is the file for a single video and a folder for
several. A COCO export lists as images only the frames with poses (or ignore regions); --images
all lists every frame, as PoseTrack does. The poses are streamed from the project to the file, so
memory stays bounded however many there are. Auto-filled poses are marked ("propagated", "method", "keypoint_provenance", per-joint
confidence in "scores"); --auto reviewed writes the filled poses an annotator reviewed (accepted)
and leaves the others out whole, --auto none (or --no-auto) writes no auto-filled joint (those
corrected by hand on a filled pose are kept); poses left with no joint are left out.
Files are written whole or not at all. The project is only read, so it can stay open in the app
(every edit made there is already in the file).

A video project's export names its frames as images (<video name>/000123.jpg, relative to the
JSON's folder); --frames labelled|all also writes those frames there as JPEG files, decoded
frame-exactly, so other tools can train on the export. Videos imported from image files are
skipped: their exports name those files.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..annotation import AUTO_CHOICES


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="write a project as PoseTrack 2018 or COCO keypoints JSON",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("project", type=Path, help="project file (.pwproj)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output file, or folder for several PoseTrack files")
    p.add_argument("--format", choices=("posetrack18", "coco"), default="posetrack18")
    add_auto_arguments(p)
    p.add_argument("--video", type=int, action="append", default=None, metavar="ID",
                   help="export this video only (repeatable; default all)")
    p.add_argument("--images", choices=("with-poses", "all"), default="with-poses",
                   help="COCO: list as images only the frames with poses (default), or every frame")
    p.add_argument("--frames", choices=("labelled", "all"), default=None,
                   help="also write the frames as JPEG files where the JSON names them: the frames with "
                        "labels, or every frame")
    p.set_defaults(run=run)


def add_auto_arguments(p) -> None:
    """--auto all|reviewed|none and --no-auto (export, convert): which auto-filled poses to write."""
    p.add_argument("--auto", dest="include_auto", choices=AUTO_CHOICES, default="all",
                   help="which auto-filled joints to write: all (default), reviewed (the filled poses an "
                        "annotator reviewed; the others are left out whole), none; poses left with no joint are "
                        "left out")
    p.add_argument("--no-auto", dest="include_auto", action="store_const", const="none",
                   help="the same as --auto none: hand-made labels only")


def describe(summary: dict) -> str:
    """One line on what an export or conversion wrote."""
    files = summary["files"]
    where = files[0] if len(files) == 1 else f"{len(files)} files in {summary['path']}"
    why = " (not reviewed)" if summary.get("auto") == "reviewed" else ""
    left = f", {summary['left_out_auto']} auto-filled poses left out{why}" if summary.get("left_out_auto") else ""
    return (f"wrote {where}: {summary['videos']} video(s), {summary['images']} frames, "
            f"{summary['annotations']} poses ({summary['auto_poses']} auto-filled){left}")


def run(args) -> int:
    from ..formats import export_project
    from ..project_snapshot import ProjectSnapshot

    # Read-only, one consistent state, poses streamed: works while the app has the project open,
    # and a million poses export in bounded memory.
    with ProjectSnapshot(args.project) as snap:
        summary = export_project(snap.project, args.output, args.format, video_ids=args.video,
                                 include_auto=args.include_auto, base_dir=snap.base_dir,
                                 pose_frames=snap.pose_frames, images=args.images)
        print(describe(summary))
        if args.frames:
            videos = [snap.project.video(v) for v in (args.video or sorted(snap.project.videos))]
            root = Path(summary["files"][0]).parent  # every file of an export is in one folder
            _write_frames(videos, snap.pose_frames, snap.base_dir, root, args.frames, summary)
    return 0


def _write_frames(videos, pose_frames, base_dir, root: Path, which: str, summary: dict) -> None:
    from tqdm import tqdm
    from .progress import bar_progress

    from ..formats.common import frame_file_names
    from ..frame_images import listed_frames, write_frame_images

    written = 0
    for video in videos:
        if frame_file_names(video, base_dir) is not None:
            print(f"{video.name or video.video_id}: its frames are image files already; none written")
            continue
        with tqdm(desc=f"frames of {video.name or video.video_id}", unit="frame") as bar:
            written += write_frame_images(video, base_dir, root, which, progress=bar_progress(bar),
                                          pose_frames=pose_frames, listed=listed_frames(summary, video))
    print(f"wrote {written} frame images under {root}" + (
        " (every frame the file lists, labelled or not)" if which == "labelled" else ""))
