"""BlazePose's 33 landmarks onto the project's skeletons, and the crop around a labelled pose.

Same-named joints map directly (nose, eyes, ears, shoulders, elbows, wrists, hips, knees,
ankles). PoseTrack's head_bottom and head_top have no landmark; they are derived from the face
and the shoulders (rule below). A person's systematic offsets (BlazePose's hips are not the
dataset's hips) are learned from that person's labelled keyframes (`PersonOffsets`).
"""
from __future__ import annotations

import numpy as np

from ..annotation import Pose
from ..skeleton import Skeleton
from .blazepose import LANDMARK_NAMES, Landmarks, Roi

# head_bottom / head_top on the line from the shoulder midpoint S through the head centre C (the
# mean of the ears and eyes): head_bottom = S + HEAD_BOTTOM * (C - S), head_top = C +
# HEAD_TOP * (C - S). Body proportions: the upper neck sits a little over halfway from the
# shoulders to the ears, the crown about as far above the ears as the ears are above the chin.
# The per-person offsets take out what a dataset's convention adds to this.
HEAD_BOTTOM = 0.55
HEAD_TOP = 0.75
RADIUS_MARGIN = 1.1  # the crop's circle: the farthest labelled joint from the hips, grown by this


def skeleton_from_landmarks(lm: Landmarks, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """(xy (J, 2), confidence (J,)) in the skeleton's joint order; confidence 0 where a joint has
    no landmark."""
    n = skeleton.num_joints
    xy = np.zeros((n, 2))
    conf = np.zeros(n)
    for j, name in enumerate(skeleton.joints):
        if name in LANDMARK_NAMES:
            i = LANDMARK_NAMES.index(name)
            xy[j], conf[j] = lm.xy[i], lm.confidence[i]
    face = [LANDMARK_NAMES.index(k) for k in ("left_ear", "right_ear", "left_eye", "right_eye")]
    shoulders = [LANDMARK_NAMES.index(k) for k in ("left_shoulder", "right_shoulder")]
    centre = lm.xy[face].mean(axis=0)
    neck = lm.xy[shoulders].mean(axis=0)
    c = float(min(lm.confidence[face].mean(), lm.confidence[shoulders].min()))
    if "head_bottom" in skeleton.joints:
        j = skeleton.index("head_bottom")
        xy[j], conf[j] = neck + HEAD_BOTTOM * (centre - neck), c
    if "head_top" in skeleton.joints:
        j = skeleton.index("head_top")
        xy[j], conf[j] = centre + HEAD_TOP * (centre - neck), c
    return xy, conf


def roi_from_pose(pose: Pose, skeleton: Skeleton) -> Roi | None:
    """The landmark model's crop around a labelled pose: centred on the hips (the labelled joints'
    middle without them), turned by the hips-to-shoulders line, holding every labelled joint."""
    m = pose.labelled()
    if not m.any():
        return None
    pts = pose.xy[m]
    centre = _mid(pose, skeleton, ("left_hip", "right_hip"))
    if centre is None:
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        centre = (lo + hi) / 2
    top = _mid(pose, skeleton, ("left_shoulder", "right_shoulder"))
    up = (top - centre) if top is not None else np.array([0.0, -1.0])
    if np.hypot(*up) < 1e-6:
        up = np.array([0.0, -1.0])
    radius = float(np.max(np.linalg.norm(pts - centre, axis=1))) * RADIUS_MARGIN
    return Roi.from_centre_and_up(centre, up, max(radius, 1.0))


def roi_from_box(box) -> Roi:
    """The crop for a box (x, y, w, h) a user dragged around a person: upright, the box's circle."""
    x, y, w, h = (float(v) for v in box)
    return Roi.from_centre_and_up((x + w / 2, y + h / 2), (0.0, -1.0), 0.5 * float(np.hypot(w, h)) / 1.0)


def _mid(pose: Pose, skeleton: Skeleton, names) -> np.ndarray | None:
    idx = [skeleton.index(n) for n in names if n in skeleton.joints]
    if len(idx) != len(names) or not pose.labelled()[idx].all():
        return None
    return pose.xy[idx].mean(axis=0)


OFFSET_OUTLIER = 0.1  # a keyframe residual above this (crop sides) is a model failure, not an offset


class PersonOffsets:
    """One person's systematic offset per joint between BlazePose and the labels: the median of
    (label - BlazePose) over the person's labelled keyframes, in the crop's turned frame and in
    units of the crop's side (so it follows the person's size and lean). Residuals larger than
    OFFSET_OUTLIER are the model missing the joint, and are left out."""

    def __init__(self, num_joints: int):
        self.residuals: list[list[np.ndarray]] = [[] for _ in range(num_joints)]

    def learn(self, label: Pose, xy: np.ndarray, conf: np.ndarray, roi: Roi, min_conf: float) -> None:
        m = label.labelled() & (conf >= min_conf)
        d = (label.xy - xy) @ roi.axes().T / roi.side
        for j in np.flatnonzero(m & (np.linalg.norm(d, axis=1) <= OFFSET_OUTLIER)):
            self.residuals[j].append(d[j])

    def apply(self, xy: np.ndarray, roi: Roi) -> np.ndarray:
        mean = np.array([np.median(r, axis=0) if r else np.zeros(2) for r in self.residuals])
        return xy + (mean * roi.side) @ roi.axes()
