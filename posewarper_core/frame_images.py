"""The frames of a video written as the image files an export names, so that a COCO or PoseTrack
export of a video project is a dataset other tools can train on: they read images, not videos."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .annotation import Video
from .atomic_file import replacing
from .errors import PoseWarperError
from .formats.common import PoseFrames, frame_file_names, placeholder_file_name, poses_in_memory
from .safe_output import path_inside, why_not_written
from .video import open_frames

WHICH = ("labelled", "all")
JPEG_QUALITY = 95


def frames_to_write(video: Video, which: str, pose_frames: PoseFrames = poses_in_memory) -> list[int]:
    """"labelled": the frames with a labelled joint or declared labelled; "all": every frame.
    `pose_frames` reads the video's poses (default: the Video's own)."""
    if which == "all":
        return list(range(video.num_frames))
    if which == "labelled":
        with_joints = {f for f, by_track in pose_frames(video) if any(p.labelled().any() for p in by_track.values())}
        return sorted(with_joints | set(video.labelled_frames))
    raise PoseWarperError(f"which frames: {which!r}; choose from {', '.join(WHICH)}")


def listed_frames(summary: dict, video: Video) -> list[int]:
    """The frames of `video` an export's file names (its summary): every frame for PoseTrack (a
    sequence lists all its frames), those a COCO file listed otherwise. Frame images are written
    for each of them, so the JSON names no image left unwritten (a trial's PoseTrack export "with
    the labelled frames" listed 230 images and wrote 221; a COCO file lists every frame of a video
    with no pose in it)."""
    listed = summary.get("listed_frames")
    if summary.get("format") == "coco" and listed is not None:
        return list(listed.get(int(video.video_id), []))
    return list(range(video.num_frames))


def write_jpeg(rgb, target: Path, what: str) -> None:
    """One RGB frame as a JPEG file at `target`, written whole (`what` names it in an error)."""
    ok, jpeg = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise PoseWarperError(f"{what}: could not encode it as JPEG")
    with replacing(target, binary=True) as out:
        out.write(jpeg.tobytes())


def write_frame_images(video: Video, base_dir, root: str | Path, which: str = "labelled", *,
                       progress: Callable[[int, int], None] | None = None,
                       pose_frames: PoseFrames = poses_in_memory, listed=()) -> int:
    """Decode `which` frames and the `listed` ones (the frames the export's file names,
    listed_frames) frame-exactly and write them as JPEG under `root` at the file names the
    exports give them (formats.common.placeholder_file_name); returns how many were written.
    A video whose frames are image files already (an imported dataset, a folder of images) is
    skipped: its exports name those files. Each file is written whole; one of the same name is
    replaced."""
    if frame_file_names(video, base_dir) is not None:
        return 0
    listed = set(listed)
    # the file lists every frame (PoseTrack): no need to read the poses again for `which`
    frames = (list(range(video.num_frames)) if len(listed) >= video.num_frames
              else sorted(set(frames_to_write(video, which, pose_frames)) | listed))
    root = Path(root)
    with open_frames(video, base_dir) as source:
        for done, f in enumerate(frames, 1):
            target = path_inside(root, placeholder_file_name(video, f))
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                write_jpeg(source.frame(f), target, f"frame {f} of {video.name or video.source}")
            except OSError as exc:
                raise PoseWarperError(f"{target}: {why_not_written(target, exc)}") from None
            if progress is not None:
                progress(done, len(frames))
    return len(frames)
