"""The annotation model: a project holds videos; a video holds tracks (one per person) and poses.

Plain data with numpy arrays and no I/O. The project store persists it; the formats read and
write it; the auto-fill engine adds poses to it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum
from typing import NamedTuple

import numpy as np

from .errors import PoseWarperError
from .skeleton import POSETRACK17, Skeleton

Box = tuple[float, float, float, float]  # x, y, width, height in pixels


class Visibility(IntEnum):
    NOT_LABELLED = 0
    OCCLUDED = 1  # labelled, but hidden behind something
    VISIBLE = 2


class Provenance(IntEnum):
    NONE = 0  # joint not labelled
    MANUAL = 1  # placed by an annotator
    CORRECTED = 2  # auto-filled, then moved or re-flagged by an annotator
    PROPAGATED = 3  # written by a learned or flow method (Pose.method says which)
    INTERPOLATED = 4  # written by linear interpolation
    SUGGESTED = 5  # proposed on a keyframe (suggest/), not yet accepted: never exported as a label


USER_PROVENANCE = (Provenance.MANUAL, Provenance.CORRECTED)
AUTO_PROVENANCE = (Provenance.PROPAGATED, Provenance.INTERPOLATED)
# Look-up tables by provenance value: np.isin costs ~30 µs a call, and reading, drawing and
# exporting ask it of every pose.
_IS_USER = np.isin(np.arange(256), USER_PROVENANCE)
_IS_AUTO = np.isin(np.arange(256), AUTO_PROVENANCE)


def is_user(provenance: np.ndarray) -> np.ndarray:
    """Per joint: placed or corrected by an annotator (provenance values 0-255)."""
    return _IS_USER[provenance]


def is_auto(provenance: np.ndarray) -> np.ndarray:
    """Per joint: written by auto-fill (provenance values 0-255)."""
    return _IS_AUTO[provenance]


@dataclass(eq=False)
class Pose:
    """One person's pose in one frame.

    Per joint: position (xy), visibility, provenance and confidence in [0, 1].
    `keyframe` marks a pose that anchors auto-fill (labelled by hand or promoted).
    `method` names the auto-fill method that wrote its auto joints, if any.
    `reviewed` marks a filled pose an annotator looked at and accepted as it is (review.py); a
    pose the tool changes afterwards is a new pose, not reviewed.
    """

    xy: np.ndarray
    visibility: np.ndarray
    provenance: np.ndarray
    confidence: np.ndarray
    keyframe: bool = False
    method: str | None = None
    bbox: Box | None = None
    head_box: Box | None = None
    reviewed: bool = False

    def __post_init__(self):
        self.xy = np.asarray(self.xy, dtype=np.float64).reshape(-1, 2)
        n = len(self.xy)
        self.visibility = np.asarray(self.visibility, dtype=np.uint8).reshape(n)
        self.provenance = np.asarray(self.provenance, dtype=np.uint8).reshape(n)
        self.confidence = np.asarray(self.confidence, dtype=np.float32).reshape(n)
        if self.bbox is not None:
            self.bbox = tuple(float(v) for v in self.bbox)
        if self.head_box is not None:
            self.head_box = tuple(float(v) for v in self.head_box)

    @classmethod
    def empty(cls, num_joints: int, keyframe: bool = False) -> "Pose":
        return cls(
            xy=np.zeros((num_joints, 2)),
            visibility=np.zeros(num_joints, np.uint8),
            provenance=np.zeros(num_joints, np.uint8),
            confidence=np.zeros(num_joints, np.float32),
            keyframe=keyframe,
        )

    @classmethod
    def manual(cls, xy, visibility, keyframe: bool = True, **kw) -> "Pose":
        """A pose placed by hand: labelled joints get MANUAL provenance and confidence 1."""
        vis = np.asarray(visibility, dtype=np.uint8)
        labelled = vis > 0
        return cls(
            xy=np.where(labelled[:, None], np.asarray(xy, dtype=np.float64), 0.0),
            visibility=vis,
            provenance=np.where(labelled, Provenance.MANUAL, Provenance.NONE),
            confidence=labelled.astype(np.float32),
            keyframe=keyframe,
            **kw,
        )

    @property
    def num_joints(self) -> int:
        return len(self.xy)

    def copy(self) -> "Pose":
        return Pose(
            self.xy.copy(), self.visibility.copy(), self.provenance.copy(), self.confidence.copy(),
            self.keyframe, self.method, self.bbox, self.head_box, self.reviewed,
        )

    def labelled(self) -> np.ndarray:
        return self.visibility > 0

    def labelled_xy(self) -> np.ndarray:
        """(J, 2) float: the labelled joints' positions, NaN where a joint is not labelled."""
        return np.where(self.labelled()[:, None], self.xy, np.nan)

    def user_joints(self) -> np.ndarray:
        """Joints an annotator placed or corrected: auto-fill must never overwrite these."""
        return is_user(self.provenance) & self.labelled()

    def auto_joints(self) -> np.ndarray:
        return is_auto(self.provenance) & self.labelled()

    def suggested_joints(self) -> np.ndarray:
        """Joints suggested (E, a template) that the annotator has not accepted: no labels yet."""
        return (self.provenance == Provenance.SUGGESTED) & self.labelled()

    def labels(self) -> np.ndarray:
        """Joints labelled and not merely suggested: what an export writes of a keyframe."""
        return self.labelled() & (self.provenance != Provenance.SUGGESTED)

    def is_empty(self) -> bool:
        return not self.labelled().any()

    def clear(self, joints) -> None:
        """Unlabel `joints` (an index or a mask) in place: no position, provenance or confidence."""
        self.xy[joints], self.visibility[joints] = 0.0, Visibility.NOT_LABELLED
        self.provenance[joints], self.confidence[joints] = Provenance.NONE, 0.0

    @classmethod
    def absent_mark(cls, num_joints: int) -> "Pose":
        """The mark "this person is not in view on this frame" (see is_absent_mark)."""
        return cls.empty(num_joints, keyframe=True)

    def is_absent_mark(self) -> bool:
        """A keyframe with no joint and no box: the annotator marked the person not in view here.
        Auto-fill neither fills towards nor away from it, and exports leave it out. (A keyframe
        with a box but no joint, as other tools' files hold, is a person there whose joints
        nobody labelled: not a mark.)"""
        return self.keyframe and self.bbox is None and self.head_box is None and not self.visibility.any()

    def joint_extent(self) -> Box | None:
        """Tight box around the labelled joints, or None if none is labelled."""
        m = self.labelled()
        if not m.any():
            return None
        lo = self.xy[m].min(axis=0)
        hi = self.xy[m].max(axis=0)
        return (float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))

    def box_or_extent(self, pad: float = 0.1) -> Box | None:
        """The pose's box, else its joint extent grown by `pad` on each side."""
        if self.bbox is not None:
            return self.bbox
        ext = self.joint_extent()
        if ext is None:
            return None
        x, y, w, h = ext
        size = max(w, h, 1.0)
        return (x - pad * size, y - pad * size, w + 2 * pad * size, h + 2 * pad * size)

    def same_as(self, other: "Pose", atol: float = 1e-6) -> bool:
        """Equal in everything an export carries (positions compared where labelled)."""
        if self.num_joints != other.num_joints:
            return False
        m = self.labelled()
        return (
            np.array_equal(self.visibility, other.visibility)
            and np.array_equal(self.provenance, other.provenance)
            and np.allclose(self.xy[m], other.xy[m], atol=atol)
            and np.allclose(self.confidence, other.confidence, atol=1e-4)
            and self.keyframe == other.keyframe
            and self.reviewed == other.reviewed
            and self.method == other.method
            and _boxes_close(self.bbox, other.bbox, atol)
            and _boxes_close(self.head_box, other.head_box, atol)
        )

    def validate(self, width: int | None = None, height: int | None = None, margin: float = 0.5) -> None:
        """Raise PoseWarperError if any labelled joint is not finite or lies far outside the image.

        `margin` is a fraction of the image size that joints may lie beyond its border
        (annotators label joints just outside the frame).
        """
        m = self.labelled()
        if not np.isfinite(self.xy[m]).all():
            bad = int(np.flatnonzero(m & ~np.isfinite(self.xy).all(axis=1))[0])
            raise PoseWarperError(f"joint {bad} has a non-finite coordinate")
        if not np.isfinite(self.confidence).all():
            raise PoseWarperError("a confidence is not finite")
        if np.any(self.visibility > 2):
            raise PoseWarperError(f"visibility must be 0, 1 or 2, got {int(self.visibility.max())}")
        for name, box in (("bbox", self.bbox), ("head box", self.head_box)):
            if box is not None and not all(math.isfinite(v) for v in box):
                raise PoseWarperError(f"{name} has a non-finite number")
        if width and height:
            lo = np.array([-margin * width, -margin * height])
            hi = np.array([(1 + margin) * width, (1 + margin) * height])
            outside = m & ((self.xy < lo) | (self.xy > hi)).any(axis=1)
            if outside.any():
                j = int(np.flatnonzero(outside)[0])
                x, y = self.xy[j]
                raise PoseWarperError(
                    f"joint {j} at ({x:.1f}, {y:.1f}) is far outside the {width}x{height} image"
                )


# Which auto-filled joints an export writes: all of them; only those of poses an annotator
# reviewed (accepted as they are, Pose.reviewed); or none (the labels made by hand only). Here, not
# in formats/, so that the command line's parser (every command builds it) loads no format code.
AUTO_CHOICES = ("all", "reviewed", "none")


class LabellingProgress(NamedTuple):
    """Video.labelling_progress(): counts of frames."""

    keyframes: int  # frames with a labelled keyframe
    absent_marks: int  # frames with a "not in view" mark
    frames_with_poses: int


def is_labelled_keyframe(pose: Pose) -> bool:
    """A keyframe the counts shown to the user count as one (the video list, `posewarper info`):
    a "not in view" mark is a keyframe slot done but no label, so it is counted apart."""
    return bool(pose.keyframe) and not pose.is_absent_mark()


def suggestion_only(pose: Pose) -> bool:
    """Every labelled joint of the pose is a suggestion nobody accepted yet (E, a template): such
    a keyframe anchors no fill and teaches the matcher's tuning nothing."""
    labelled = pose.labelled()
    return bool(labelled.any()) and bool((pose.provenance[labelled] == Provenance.SUGGESTED).all())


def on_picture(xy: np.ndarray, width: int, height: int) -> np.ndarray:
    """Which points (N, 2) lie on a width x height picture (all of them when its size is unknown):
    a joint past the picture's edge is no label, as no click can place one there."""
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    if not width or not height:
        return np.ones(len(xy), bool)
    return (xy[:, 0] >= 0) & (xy[:, 0] < width) & (xy[:, 1] >= 0) & (xy[:, 1] < height)


def inside_picture(pose: Pose, width: int, height: int) -> Pose | None:
    """The pose less its auto-filled joints outside the picture (None when none is left): a chain
    carried past the frame's edge is no label, as no click can place one there (a trial's walker
    leaving the picture was exported with joints at x = -92, visible). The fill and a correction's
    carry both end with it, once per pose: a joint two carries move is judged where both put it.
    Joints an annotator placed stay as they are. Unknown size: as it is."""
    outside = pose.auto_joints() & ~on_picture(pose.xy, width, height)
    if not outside.any():
        return pose
    out = pose.copy()
    out.clear(outside)
    return None if out.is_empty() else out


def pose_status(pose: Pose) -> int:
    """0 empty, 1 auto-filled, 2 corrected (some joint), 3 keyframe: what the timeline shows. A
    keyframe of suggestions only is shown as filled: machine-made, no label until accepted (a
    trial took such frames for labelled ones; exports and `info` do not count them)."""
    if pose.keyframe and not suggestion_only(pose):
        return 3
    if (pose.provenance == Provenance.CORRECTED).any():
        return 2
    return 1 if pose.labelled().any() else 0


def _boxes_close(a: Box | None, b: Box | None, atol: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(np.allclose(a, b, atol=atol))


@dataclass
class Track:
    """One person through a video. `track_id` is the id written to PoseTrack/COCO files."""

    track_id: int
    name: str = ""


@dataclass
class FrameRef:
    """Where a frame came from in an imported file, kept so exports can write it back."""

    file_name: str
    image_id: int | None = None
    frame_id: int | None = None


@dataclass
class Video:
    """A video file or image folder with its tracks and poses.

    `source` is a video file or a folder of images (absolute, or relative to the project).
    Poses are keyed by frame index (0-based, decode order) and track id.
    """

    source: str
    num_frames: int
    width: int
    height: int
    fps: float | None = None
    name: str = ""
    video_id: int = 0
    keyframe_stride: int = 10
    vid_id: str | None = None  # PoseTrack's video id, kept for export
    frames: list[FrameRef] | None = None  # per-frame file names/ids from an imported file
    labelled_frames: set[int] = field(default_factory=set)  # frames declared labelled (is_labeled)
    ignore_regions: dict[int, list[np.ndarray]] = field(default_factory=dict)  # frame -> polygons (N, 2)
    tracks: dict[int, Track] = field(default_factory=dict)
    poses: dict[int, dict[int, Pose]] = field(default_factory=dict)  # frame -> track id -> pose

    def pose(self, frame: int, track_id: int) -> Pose | None:
        return self.poses.get(frame, {}).get(track_id)

    def set_pose(self, frame: int, track_id: int, pose: Pose) -> None:
        self.check_frame(frame)
        if track_id not in self.tracks:
            self.tracks[track_id] = Track(track_id)
        self.poses.setdefault(frame, {})[track_id] = pose

    def remove_pose(self, frame: int, track_id: int) -> Pose | None:
        by_track = self.poses.get(frame)
        if not by_track:
            return None
        pose = by_track.pop(track_id, None)
        if not by_track:
            del self.poses[frame]
        return pose

    def check_frame(self, frame: int) -> None:
        if not (0 <= frame < self.num_frames):
            raise PoseWarperError(f"frame {frame} is outside 0..{self.num_frames - 1} of {self.name or self.source}")

    def track_frames(self, track_id: int) -> list[int]:
        """Frames where the track has a pose, in order."""
        return sorted(f for f, by_track in self.poses.items() if track_id in by_track)

    def keyframes(self, track_id: int) -> list[int]:
        """Frames where the track's pose is a keyframe (an auto-fill anchor), in order."""
        return sorted(
            f for f, by_track in self.poses.items()
            if track_id in by_track and by_track[track_id].keyframe
        )

    def gap_keyframes(self, track_id: int) -> list[int]:
        """The keyframes that bound the track's fill gaps: all but those of suggestions only
        (suggestion_only), which a gap runs across."""
        return [f for f in self.keyframes(track_id) if not suggestion_only(self.poses[f][track_id])]

    def incomplete_keyframes(self, track_id: int) -> dict[int, np.ndarray]:
        """{keyframe: the joints it lacks} for the track's keyframes that lack joints both their
        neighbouring keyframes have labelled (the fill then carries those from one side only; a
        trial found the demo's keyframes 160 and 190 with 6 of 15 joints only by counting the
        export's keypoints). A person's first and last keyframes, and those next to a "not in
        view" mark, have nothing to compare with."""
        keys = self.gap_keyframes(track_id)
        out = {}
        for before, here, after in zip(keys, keys[1:], keys[2:]):
            a, p, b = (self.poses[f][track_id] for f in (before, here, after))
            if a.is_absent_mark() or p.is_absent_mark() or b.is_absent_mark():
                continue
            missing = a.labels() & b.labels() & ~p.labels()  # a suggestion is no label until accepted
            if missing.any():
                out[here] = np.flatnonzero(missing)
        return out

    def frame_status(self) -> np.ndarray:
        """Per frame, the strongest status of its poses: 0 empty, 1 auto-filled, 2 corrected, 3 keyframe."""
        status = np.zeros(self.num_frames, np.uint8)
        for f in self.poses:
            status[f] = self.status_of_frame(f)
        return status

    def status_of_frame(self, frame: int, track_ids=None) -> int:
        """One frame's entry of frame_status(); of these tracks' poses only, if given."""
        s = 0
        for tid, p in self.poses.get(frame, {}).items():
            if track_ids is None or tid in track_ids:
                s = max(s, pose_status(p))
                if s == 3:
                    break
        return s

    def labelling_progress(self) -> "LabellingProgress":
        """Frames with a labelled keyframe, frames with a "not in view" mark (counted apart: a
        mark is no label, is_labelled_keyframe), frames with any pose: cheap enough to list for
        every video of a big project (a per-joint look at keyframes only, unlike frame_status)."""
        keyframes = marks = 0
        for by_track in self.poses.values():
            # The joints looked at only on keyframes: 8 ms against 2 ms before marks were counted
            # apart, at 30,000 poses with 3,000 keyframes (the Video box's line, after each edit).
            absent = [p.is_absent_mark() for p in by_track.values() if p.keyframe]
            keyframes += bool(absent) and not all(absent)  # some is_labelled_keyframe
            marks += any(absent)
        return LabellingProgress(keyframes, marks, len(self.poses))

    def pose_count(self) -> int:
        return sum(len(by_track) for by_track in self.poses.values())


@dataclass
class Project:
    """Everything an annotator works on: a skeleton and one or more videos."""

    skeleton: Skeleton = POSETRACK17
    videos: dict[int, Video] = field(default_factory=dict)
    name: str = ""

    def video(self, video_id: int) -> Video:
        try:
            return self.videos[video_id]
        except KeyError:
            raise PoseWarperError(f"no video with id {video_id} in project {self.name!r}") from None

    def add_video(self, video: Video) -> Video:
        if video.video_id in self.videos or video.video_id <= 0:
            video.video_id = max(self.videos, default=0) + 1
        self.videos[video.video_id] = video
        return video


@dataclass(frozen=True)
class PoseChange:
    """Put (pose given) or remove (pose None) one track's pose in one frame of a video.

    The auto-fill engine returns these; the project store applies them in one transaction.
    """

    video_id: int
    frame: int
    track_id: int
    pose: Pose | None
