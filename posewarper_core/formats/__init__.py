"""PoseTrack 2018 and COCO keypoints files: read them into the annotation model, write it back.

    read_posetrack18(path) -> (Skeleton, Video)        write_posetrack18(path, skeleton, video)
    read_coco(path) -> (Skeleton, [Video])              write_coco(path, skeleton, videos)
    import_file(path) -> (Skeleton, [Video])            (detects the format)
    export_project(project, path, format=...)           (one file, or a folder of PoseTrack files)
    prepare_project_export(...).write()                 (the same in two steps: build, then write)

`include_auto` says which auto-filled joints an export writes (AUTO_CHOICES): "all" (or True, the
default), "reviewed" (those of poses an annotator reviewed) or "none" (or False); poses left with no
joint are left out, and the summary counts them ("left_out_auto") and says which was asked ("auto").

Every reader and writer raises FormatError(path, message, entry) on bad input and writes nothing
then. Files are written atomically (a temporary file in the same folder, then os.replace).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..annotation import Project, Video
from ..errors import FormatError
from ..safe_output import why_not_written
from ..skeleton import Skeleton
from ..atomic_file import discard, put_in_place
from .coco import IMAGES, coco_stream, read_coco, write_coco
from .common import AUTO_CHOICES, META_KEY, PoseFrames, auto_choice, load_json, poses_in_memory, staged_export
from .posetrack18 import posetrack18_stream, read_posetrack18, write_posetrack18

FORMATS = ("posetrack18", "coco")

__all__ = [
    "AUTO_CHOICES", "FORMATS", "IMAGES", "PreparedExport", "detect_format", "export_project", "export_videos",
    "import_file", "load_json",
    "prepare_export", "prepare_project_export", "read_coco", "read_posetrack18", "write_coco",
    "write_posetrack18",
]


def detect_format(path: str | os.PathLike, doc=None) -> str:
    """"posetrack18" or "coco" for an annotation file.

    Our own exports say which they are. Otherwise a file is PoseTrack 2018 when its images carry
    one `vid_id` and a `frame_id` each and no annotation has COCO's `iscrowd`/`area`; else COCO
    (which also reads PoseTrack-style files holding several videos).
    """
    path = Path(path)
    doc = load_json(path) if doc is None else doc
    if not isinstance(doc, dict):
        raise FormatError(path, "the document must be a JSON object")
    meta = doc.get(META_KEY)
    if isinstance(meta, dict) and meta.get("format") in FORMATS:
        return meta["format"]
    images = doc.get("images")
    if not isinstance(images, list) or not images:
        raise FormatError(path, "not a PoseTrack 2018 or COCO keypoints file: no 'images' list")
    images = [i for i in images if isinstance(i, dict)]
    vids = {str(i.get("vid_id")) for i in images}
    annotations = doc.get("annotations") if isinstance(doc.get("annotations"), list) else []
    coco_fields = any(isinstance(a, dict) and ("iscrowd" in a or "area" in a) for a in annotations)
    if len(vids) == 1 and "None" not in vids and all("frame_id" in i for i in images) and not coco_fields:
        return "posetrack18"
    return "coco"


def import_file(path: str | os.PathLike, format: str | None = None,
                check_frames: bool = True, *, doc=None) -> tuple[Skeleton, list[Video]]:
    """Read a PoseTrack 2018 or COCO keypoints file (format detected unless given). The file is
    parsed once (`doc`: already parsed), for detecting and reading alike: a 24 MB file takes ~1 s."""
    if format not in (None, *FORMATS):
        raise FormatError(path, f"unknown format {format!r}; known: {', '.join(FORMATS)}")
    doc = load_json(Path(path)) if doc is None else doc
    fmt = format or detect_format(path, doc)
    if fmt == "posetrack18":
        skeleton, video = read_posetrack18(path, check_frames=check_frames, doc=doc)
        return skeleton, [video]
    return read_coco(path, check_frames=check_frames, doc=doc)


def _file_stem(video: Video) -> str:
    return re.sub(r"[^\w.-]+", "_", video.name).strip("._") or f"video_{video.video_id}"


@dataclass
class PreparedExport:
    """Documents written and checked, not yet in place: (target file, finished temporary file
    beside it) pairs and what they hold. Writing is the slow part (30,000 poses: ~3.4 s), done
    streaming (memory does not grow with the poses); write() only renames, so an app can build
    on a worker thread and put the files in place if the user did not cancel (else discard())."""

    files: list[tuple[Path, Path]]
    summary: dict

    def write(self) -> dict:
        """Put every file in place (each whole or not at all); returns the summary."""
        try:
            for target, tmp in self.files:
                try:
                    put_in_place(tmp, target)
                except OSError as exc:
                    raise FormatError(target, why_not_written(target, exc)) from None
        finally:
            self.discard()
        return self.summary

    def discard(self) -> None:
        """Remove what was not put in place (cancelled, or failed)."""
        for _, tmp in self.files:
            discard(tmp)


def prepare_export(skeleton: Skeleton, videos: list[Video], path: str | os.PathLike, format: str = "posetrack18",
                   include_auto: bool | str = True, base_dir=None, *, pose_frames: PoseFrames = poses_in_memory,
                   images: str = "with-poses") -> PreparedExport:
    """Write videos as one COCO document, or PoseTrack 2018 documents, to temporary files: `path`
    is the file for a single video (or a folder to write it in) and a folder (one `<video
    name>.json` per video) for several. A bad pose raises FormatError and leaves nothing behind.
    `pose_frames` reads each video's poses (default: from the Video objects); `images` says which
    frames a COCO export lists ("with-poses", the default, or "all"; PoseTrack lists every frame).
    """
    path = Path(path)
    if format not in FORMATS:
        raise FormatError(path, f"unknown format {format!r}; known: {', '.join(FORMATS)}")
    if not videos:
        raise FormatError(path, "there is no video to export")
    try:
        auto = auto_choice(include_auto)
    except ValueError as exc:
        raise FormatError(path, str(exc)) from None
    if format == "coco":
        if path.is_dir():
            raise FormatError(path, "a COCO export is one file: this is a folder")
        tmp, summary = staged_export(path, lambda out: coco_stream(out, skeleton, list(videos), include_auto, base_dir,
                                                                  path, pose_frames, images))
        return PreparedExport([(path, tmp)], {"path": str(path), "files": [str(path)], "auto": auto, **summary})
    if len(videos) == 1 and not path.is_dir():
        targets = [path]
    else:
        if path.exists() and not path.is_dir():
            raise FormatError(path, f"{len(videos)} videos make one PoseTrack file each: give a folder, not a file")
        if not path.exists() and path.suffix.lower() == ".json":  # a trial got a folder named e_after_E.json
            raise FormatError(path, f"{len(videos)} videos make one PoseTrack file each: give a folder (this name "
                                    "ends in .json), or export one video (--video ID)")
        stems = [_file_stem(v) for v in videos]
        targets = [path / (f"{s}.json" if stems.count(s) == 1 else f"{s}_{v.video_id}.json")
                   for s, v in zip(stems, videos)]
    prepared = PreparedExport([], {})
    total = {"format": "posetrack18", "videos": 0, "images": 0, "annotations": 0, "auto_poses": 0, "left_out_auto": 0}
    try:
        for video, target in zip(videos, targets):
            tmp, summary = staged_export(target, lambda out: posetrack18_stream(out, skeleton, video, include_auto,
                                                                               base_dir, target, pose_frames))
            prepared.files.append((target, tmp))
            for key, value in summary.items():
                if key != "format":
                    total[key] = total.get(key, 0) + value
    except BaseException:
        prepared.discard()
        raise
    prepared.summary = {"path": str(path), "files": [str(t) for t in targets], "auto": auto, **total}
    return prepared


def export_videos(skeleton: Skeleton, videos: list[Video], path: str | os.PathLike, format: str = "posetrack18",
                  include_auto: bool | str = True, base_dir=None, *, pose_frames: PoseFrames = poses_in_memory,
                  images: str = "with-poses") -> dict:
    """Write (prepare_export, then put in place); returns the summary."""
    return prepare_export(skeleton, videos, path, format, include_auto, base_dir, pose_frames=pose_frames,
                          images=images).write()


def prepare_project_export(project: Project, path: str | os.PathLike, format: str = "posetrack18",
                           video_ids: list[int] | None = None, include_auto: bool | str = True,
                           base_dir=None, *, pose_frames: PoseFrames = poses_in_memory,
                           images: str = "with-poses") -> PreparedExport:
    """Write a project's videos (all, or those in `video_ids`). See prepare_export."""
    if video_ids is None:
        videos = [project.videos[k] for k in sorted(project.videos)]
    else:
        missing = [v for v in video_ids if v not in project.videos]
        if missing:
            known = ", ".join(str(k) for k in sorted(project.videos)) or "none"
            raise FormatError(path, f"no video with id {missing[0]} in the project (ids: {known})")
        videos = [project.videos[k] for k in video_ids]
    return prepare_export(project.skeleton, videos, path, format, include_auto, base_dir, pose_frames=pose_frames,
                          images=images)


def export_project(project: Project, path: str | os.PathLike, format: str = "posetrack18",
                   video_ids: list[int] | None = None, include_auto: bool | str = True, base_dir=None, *,
                   pose_frames: PoseFrames = poses_in_memory, images: str = "with-poses") -> dict:
    """Export a project's videos (all, or those in `video_ids`); returns the summary."""
    return prepare_project_export(project, path, format, video_ids, include_auto, base_dir, pose_frames=pose_frames,
                                  images=images).write()
