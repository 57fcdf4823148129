"""Pose templates: a whole pose dropped at a click, to drag into place joint by joint (as CVAT
and SLEAP start an instance). Its joints are SUGGESTED until the annotator accepts or drags them.

- `from_keyframe`: the person's nearest labelled keyframe pose, moved so that its centre lands on
  the click;
- `average`: the mean shape of the video's labelled keyframe poses (each centred and scaled by its
  height), at their median height; with nothing labelled yet, a standing person (STANDING) the
  height of a fifth of the frame.
"""
from __future__ import annotations

import numpy as np

from ..annotation import Pose, Provenance, Video
from ..skeleton import Skeleton
from .carry import source_keyframe

# A standing person, facing the camera, in units of body height (x right, y down, origin between
# the hips), from common body proportions (head an eighth of the height, shoulders a quarter wide).
STANDING = {
    "nose": (0.0, -0.40), "head_bottom": (0.0, -0.33), "head_top": (0.0, -0.48),
    "left_eye": (0.02, -0.42), "right_eye": (-0.02, -0.42), "left_ear": (0.05, -0.41), "right_ear": (-0.05, -0.41),
    "left_shoulder": (0.11, -0.30), "right_shoulder": (-0.11, -0.30),
    "left_elbow": (0.14, -0.14), "right_elbow": (-0.14, -0.14),
    "left_wrist": (0.15, 0.0), "right_wrist": (-0.15, 0.0),
    "left_hip": (0.07, 0.0), "right_hip": (-0.07, 0.0),
    "left_knee": (0.07, 0.25), "right_knee": (-0.07, 0.25),
    "left_ankle": (0.07, 0.48), "right_ankle": (-0.07, 0.48),
}
DEFAULT_HEIGHT = 0.2  # of the frame's height, for STANDING when nothing is labelled


def suggested(xy: np.ndarray, labelled: np.ndarray, visibility: np.ndarray | None = None) -> Pose:
    """A pose whose labelled joints are SUGGESTED (not yet accepted), visible unless `visibility`
    says otherwise."""
    vis = np.where(labelled, 2 if visibility is None else visibility, 0)
    return Pose(xy=np.where(labelled[:, None], xy, 0.0), visibility=vis,
                provenance=np.where(labelled, Provenance.SUGGESTED, Provenance.NONE),
                confidence=np.zeros(len(xy), np.float32), method="template")


def _centre(pose: Pose) -> np.ndarray:
    x, y, w, h = pose.joint_extent()
    return np.array([x + w / 2, y + h / 2])


def from_keyframe(video: Video, track_id: int, frame: int, at) -> Pose | None:
    """The track's nearest keyframe pose (before `frame`, else after) centred on `at`; None if the
    track has no keyframe."""
    key = source_keyframe(video, track_id, frame)
    if key is None:
        return None
    pose = video.pose(key, track_id)
    m = pose.labelled()
    # occluded joints stay occluded (a trial marked two joints occluded and the template showed them visible)
    return suggested(pose.xy - _centre(pose) + np.asarray(at, float), m, pose.visibility)


def average(video: Video, skeleton: Skeleton, at) -> Pose:
    """The mean shape of the video's labelled keyframe poses centred on `at` (see module doc)."""
    n = skeleton.num_joints
    total, count, heights = np.zeros((n, 2)), np.zeros(n), []
    for by_track in video.poses.values():
        for pose in by_track.values():
            if not pose.keyframe or pose.labelled().sum() < 3:
                continue
            ext = pose.joint_extent()
            height = max(ext[3], ext[2], 1.0)
            m = pose.labelled()
            total[m] += (pose.xy[m] - _centre(pose)) / height
            count[m] += 1
            heights.append(height)
    if heights:
        shape = total / np.maximum(count, 1)[:, None]
        labelled = count > 0
        height = float(np.median(heights))
    else:
        shape = np.array([STANDING.get(j, (0.0, 0.0)) for j in skeleton.joints])
        labelled = np.array([j in STANDING for j in skeleton.joints])
        height = DEFAULT_HEIGHT * float(video.height or 500)
    return suggested(shape * height + np.asarray(at, float), labelled)
