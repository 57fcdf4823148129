"""`posewarper convert IN -o OUT --format posetrack18|coco`: annotation file to annotation file.

    posewarper convert 000342_mpii_test.json -o 000342_coco.json --format coco
    posewarper convert person_keypoints.json -o posetrack/ --format posetrack18   several videos: a folder

Frames need not be on disk (label files convert alone); where they are, the image size is read
from them when the file does not state it.
"""
from __future__ import annotations

import argparse
from pathlib import Path


from .export import add_auto_arguments


def register(subparsers) -> None:
    p = subparsers.add_parser("convert", help="convert between PoseTrack 2018 and COCO keypoints files",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", type=Path, help="PoseTrack 2018 or COCO keypoints .json file")
    p.add_argument("-o", "--output", type=Path, required=True, help="output file (folder for several PoseTrack videos)")
    p.add_argument("--format", choices=("posetrack18", "coco"), required=True, help="format to write")
    p.add_argument("--from", dest="input_format", choices=("auto", "posetrack18", "coco"), default="auto",
                   help="format of the input (default: detected)")
    add_auto_arguments(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from ..formats import export_videos, import_file
    from .export import describe

    skeleton, videos = import_file(args.input, None if args.input_format == "auto" else args.input_format,
                                   check_frames=False)
    summary = export_videos(skeleton, videos, args.output, args.format, include_auto=args.include_auto)
    print(describe(summary))
    return 0
