"""Turn what the user opens (video, image folder, PoseTrack18/COCO file, project) into an
open ProjectStore. Only the core's public functions are used."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from posewarper_core.annotation import Video
from posewarper_core.errors import PoseWarperError
from posewarper_core.store import PROJECT_SUFFIX, ProjectStore
from posewarper_core.video import VideoSource, open_frames, open_video

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".ts")
ANNOTATION_SUFFIXES = (".json",)


def writable_folder(folder: Path) -> str:
    """"" if a project can be made in `folder`, else why not (naming it)."""
    folder = Path(folder)
    if not folder.is_dir():
        return f"{folder}: no such folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"{folder}: this folder is read-only for you; save the project somewhere else"
    return ""


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


def import_into(store: ProjectStore, paths: list[Path]) -> tuple[list[int], int]:
    """Add the videos of PoseTrack18 / COCO files (PoseTrack has one per sequence) to an open
    project, all of them or none: every file is read and checked first. Returns (their video
    ids, their pose count). Meant for a worker thread: the store takes writes from any thread,
    and the window only reads the videos it shows."""
    videos = []
    for path in paths:
        skeleton, found = import_videos(path)
        if skeleton.joints != store.skeleton.joints:
            raise PoseWarperError(f"{path}: its skeleton {skeleton.name!r} differs from the project's "
                                  f"{store.skeleton.name!r}")
        videos += found
    ids: list[int] = []
    try:
        for v in videos:
            ids.append(store.add_video(v))
    except Exception:
        remove_videos(store, ids)
        raise
    return ids, sum(v.pose_count() for v in videos)


def shown_frames(video: Video, base_dir) -> tuple[str, ...]:
    """What a video shows, as absolute paths: its frame images in order (an imported dataset's, or
    a folder's opened as it is: formats.common.frame_file_names), or its video file (or folder)."""
    from posewarper_core.formats.common import absolute_source, frame_file_names

    root = absolute_source(video, base_dir)
    names = frame_file_names(video, base_dir)
    return (str(root),) if names is None else tuple(os.path.normpath(root / n) for n in names)


def same_frames(store: ProjectStore, new_ids: list[int]) -> dict[int, list[int]]:
    """For each video just imported, the videos before it (the project's, then those imported
    before it) that show the same frames (a trial opened a folder of frames, then imported its
    labels, and had two videos)."""
    videos = store.project.videos
    earlier = {vid: shown_frames(v, store.base_dir) for vid, v in videos.items() if vid not in new_ids}
    out = {}
    for vid in new_ids:
        frames = shown_frames(videos[vid], store.base_dir)
        same = [old for old, theirs in earlier.items() if theirs == frames]
        if same:
            out[vid] = same
        earlier[vid] = frames
    return out


def remove_videos(store: ProjectStore, video_ids) -> None:
    """Take back an import (it was cancelled, or one of its videos was refused)."""
    for video_id in video_ids:
        store.remove_video(video_id)


def prepare_export(project_path: Path, target: Path, fmt: str, video_ids: list[int] | None, include_auto: bool | str,
                   images: str = "with-poses"):
    """Build an export from the project file itself (read only: every edit is already in it, and
    the window's copy stays the UI thread's; the poses streamed). Meant for a worker thread;
    write() it after, or discard() it. `images`: which frames a COCO file lists ("with-poses" or "all")."""
    from posewarper_core.formats import prepare_project_export
    from posewarper_core.project_snapshot import ProjectSnapshot

    with ProjectSnapshot(project_path) as snap:
        return prepare_project_export(snap.project, target, fmt, video_ids, include_auto, snap.base_dir,
                                      pose_frames=snap.pose_frames, images=images)


def check_annotations(path) -> tuple:
    """Read and check a PoseTrack18 / COCO file before anything is created for it: (skeleton,
    videos), or a FormatError naming the file and the field."""
    return import_videos(Path(path))


def write_export_frames(project_path: Path, video_ids, root: Path, which: str, cancelled, summary: dict) -> int:
    """Write the frames an export names (its `summary`: frame_images.listed_frames) and `which`
    frames as JPEG files under `root` (the core's frame_images.write_frame_images, as `posewarper
    export --frames`); stops once `cancelled()`. Returns how many were written. Meant for a
    worker thread."""
    from posewarper_core.frame_images import listed_frames, write_frame_images

    def stop_if_cancelled(done, total):
        if cancelled():
            raise PoseWarperError(f"writing the frames under {root} cancelled after {done} of {total}")

    written = 0
    with ProjectStore.open(project_path, read_only=True) as store:
        for vid in video_ids or sorted(store.project.videos):
            video = store.project.video(vid)
            written += write_frame_images(video, store.base_dir, root, which, progress=stop_if_cancelled,
                                          listed=listed_frames(summary, video))
    return written


def open_path(path, project_path=None, checked=None) -> ProjectStore:
    """Open a project, or create one for a video / image folder / annotation file.

    A new project goes to `project_path` (default: beside the input). If that project already
    exists it is opened instead, so reopening a video brings its labels back. `checked` is what
    check_annotations gave for an annotation file (not read again).
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
        skeleton, videos = checked or import_videos(path)  # raises before anything is created
        store = ProjectStore.create(target, skeleton=skeleton, name=path.stem)
    else:
        videos = [video_from_media(path, target)]  # raises VideoError naming the file
        store = ProjectStore.create(target, name=path.stem)
    try:
        for v in videos:
            store.add_video(v)
    except BaseException:  # whatever failed, no empty project (and lock) is left to reopen silently
        store.close_and_remove()
        raise
    return store


@dataclass
class Opened:
    """What opening gives the window: the project and the frames of its first video."""

    store: ProjectStore
    frames: VideoSource | None  # None if the project has no video or its frames cannot be read
    frames_error: str  # why the frames cannot be read ("" when they can, or there is no video)
    created: bool  # the project file was made by this open (removed again if the user cancels)
    note: str = ""  # something to tell the user once it is open (the demo's refresh)


def project_target(path, project_path=None) -> Path:
    """The project file that opening `path` opens or creates."""
    path = Path(path)
    if path.suffix == PROJECT_SUFFIX:
        return path
    return Path(project_path) if project_path else default_project_path(path)


def open_with_frames(path, project_path=None, max_cache_bytes: int | None = None, checked=None) -> Opened:
    """open_path, then open the frames of the project's first video. Both can take a while
    (opening a video indexes the whole file), so the GUI calls this on a worker thread.

    A project that opens but whose frames do not is still returned (its labels can be worked on
    over a blank frame); `frames_error` says why."""
    created = not project_target(path, project_path).exists()
    store = open_path(path, project_path, checked)
    frames, frames_error = None, ""
    try:
        video = store.project.videos.get(min(store.project.videos, default=0))
        if video is not None:
            kw = {} if max_cache_bytes is None else {"max_cache_bytes": max_cache_bytes}
            try:
                frames = open_frames(video, store.base_dir, **kw)
            except PoseWarperError as exc:
                frames_error = str(exc)
    except BaseException:
        discard(Opened(store, frames, frames_error, created))
        raise
    return Opened(store, frames, frames_error, created)


def discard(opened: Opened) -> None:
    """Undo an open the user no longer wants: close everything, and remove a project file that
    this open created (it holds nothing of theirs yet)."""
    if opened.frames is not None:
        opened.frames.close()
    path = Path(opened.store.path)
    opened.store.close()
    if opened.created:
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            p.unlink(missing_ok=True)
