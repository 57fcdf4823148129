"""Turn what the user opens (video, image folder, PoseTrack18/COCO file, project) into an
open ProjectStore. Only the core's public functions are used."""
from __future__ import annotations

import os
from pathlib import Path

from posewarper_core.annotation import Video
from posewarper_core.errors import PoseWarperError
from posewarper_core.store import PROJECT_SUFFIX, ProjectStore
from posewarper_core.video import open_video

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".ts")
ANNOTATION_SUFFIXES = (".json",)


def default_project_path(path: Path) -> Path:
    """Where a project for `path` goes by default: beside it, named after it."""
    path = Path(path)
    if path.is_dir():
        return path.parent / (path.name + PROJECT_SUFFIX)
    return path.with_suffix(PROJECT_SUFFIX)


def _relative_source(source: Path, project: Path) -> str:
    """Relative to the project when they share a drive, so the pair can move together."""
    try:
        return os.path.relpath(source.resolve(), project.resolve().parent)
    except ValueError:
        return str(source.resolve())


def video_from_media(path: Path, project_path: Path) -> Video:
    with open_video(path) as frames:
        return Video(
            source=_relative_source(path, project_path), num_frames=frames.num_frames,
            width=frames.width, height=frames.height, fps=frames.fps, name=path.stem or path.name,
        )


def import_videos(path: Path):
    """(skeleton, videos) from a PoseTrack18 or COCO file."""
    from posewarper_core.formats import import_file

    return import_file(path)


def open_path(path, project_path=None) -> ProjectStore:
    """Open a project, or create one for a video / image folder / annotation file.

    A new project goes to `project_path` (default: beside the input). If that project already
    exists it is opened instead, so reopening a video brings its labels back.
    """
    path = Path(path)
    if path.suffix == PROJECT_SUFFIX:
        return ProjectStore.open(path)
    if not path.exists():
        raise PoseWarperError(f"{path}: no such file or folder")
    target = Path(project_path) if project_path else default_project_path(path)
    if target.exists():
        return ProjectStore.open(target)
    if path.suffix.lower() in ANNOTATION_SUFFIXES:
        skeleton, videos = import_videos(path)  # raises before anything is created
        store = ProjectStore.create(target, skeleton=skeleton, name=path.stem)
        try:
            for v in videos:
                store.add_video(v)
        except PoseWarperError:
            store.close()
            target.unlink(missing_ok=True)
            raise
        return store
    video = video_from_media(path, target)  # raises VideoError naming the file
    store = ProjectStore.create(target, name=path.stem)
    store.add_video(video)
    return store
