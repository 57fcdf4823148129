"""`posewarper import FILE... --project P.pwproj`: add videos to a project (created if missing).

    posewarper import posetrack18.json --project match.pwproj     one video per PoseTrack file
    posewarper import person_keypoints.json --project match.pwproj   COCO: videos by video_id/folder
    posewarper import clip.mp4 frames/ --project match.pwproj     unlabelled videos or image folders

Every file is read and checked before the project is touched: a bad file changes nothing and
the error names the file and the entry. A new project takes the skeleton of the first
annotation file (or --skeleton); an existing one accepts only files with its own joints.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ProjectError


def register(subparsers) -> None:
    p = subparsers.add_parser("import", help="add PoseTrack/COCO files, videos or image folders to a project",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", type=Path, nargs="+", metavar="FILE",
                   help="PoseTrack 2018 or COCO .json file, video file or image folder")
    p.add_argument("--project", "-p", type=Path, required=True, help="project file (.pwproj), created if missing")
    p.add_argument("--format", choices=("auto", "posetrack18", "coco"), default="auto",
                   help="format of the .json files (default: detected)")
    p.add_argument("--skeleton", choices=("posetrack17", "coco17"), default=None,
                   help="skeleton of a new project made from videos alone (default posetrack17)")
    p.set_defaults(run=run)


def read_inputs(files: list[Path], fmt: str):
    """(skeleton or None, [(file, Video)]) for annotation files, videos and image folders."""
    from ..annotation import Video
    from ..formats import import_file
    from ..video import open_video

    skeleton, items = None, []
    for file in files:
        if file.is_file() and file.suffix.lower() == ".json":
            file_skeleton, videos = import_file(file, None if fmt == "auto" else fmt)
            if skeleton is not None and file_skeleton.joints != skeleton.joints:
                raise ProjectError(f"{file}: its joints ({', '.join(file_skeleton.joints)}) differ from those of "
                                   f"{items[0][0]}; import them into separate projects")
            skeleton = skeleton or file_skeleton
            items += [(file, v) for v in videos]
        else:
            with open_video(file) as source:
                items.append((file, Video(source=str(file.resolve()), num_frames=source.num_frames,
                                          width=source.width, height=source.height, fps=source.fps,
                                          name=file.stem if file.is_file() else file.resolve().name)))
    return skeleton, items


def run(args) -> int:
    from ..skeleton import get_skeleton
    from ..store import ProjectStore

    file_skeleton, items = read_inputs(args.files, args.format)
    created = not args.project.exists()
    if not created:
        store = ProjectStore.open(args.project)
    else:
        skeleton = file_skeleton or get_skeleton(args.skeleton or "posetrack17")
        store = ProjectStore.create(args.project, skeleton=skeleton, name=args.project.stem)
    added = []
    try:
        ours = store.project.skeleton
        if file_skeleton is not None and file_skeleton.joints != ours.joints:
            raise ProjectError(
                f"{items[0][0]}: its joints ({', '.join(file_skeleton.joints)}) differ from those of the project's "
                f"skeleton {ours.name} ({', '.join(ours.joints)})")
        for file, video in items:
            added.append((store.add_video(video), file, video))
    except BaseException:  # all or nothing: a new project goes, an existing one loses what was added
        if created:
            store.close_and_remove()
        else:
            with store:
                for video_id, _, _ in reversed(added):
                    store.remove_video(video_id)
        raise
    store.close()
    if created:
        print(f"created {args.project} (skeleton {ours.name})")
    for video_id, file, video in added:
        print(f"added video {video_id} {video.name!r} from {file}: {video.num_frames} frames, "
              f"{len(video.tracks)} tracks, {video.pose_count()} poses")
    return 0
