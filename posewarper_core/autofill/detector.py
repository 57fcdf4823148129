"""The `detector` auto-fill method: the pose model (BlazePose, suggest/) on every frame between the
keyframes, as pseudo-labelling does (PoseWarper paper's "detector" baseline).

Each track is matched to its detection top-down: the crop comes from the track's keyframe poses
linearly interpolated to the frame, and the model's pose is kept only when it agrees with that
interpolated pose as a whole (median joint distance within suggest's AGREEMENT: the same person,
not a neighbour). Its confident joints,
corrected by the person's offsets learned on the span's keyframes, are used; every other joint
falls back to the interpolation. Needs the optional package ai-edge-litert.

The suggestions' mask (suggest.MASK_MARGIN) is not used here: around the interpolated pose it
helped Bonn (k=7/15, alpha 0.5/0.2: 97.5/82.3, 94.9/66.8 vs 96.8/81.5, 94.8/64.4) and hurt JHMDB
(97.8/87.7, 97.8/88.5 vs 97.8/88.3, 98.4/88.9), where the interpolation misses the fast limbs.
"""
from __future__ import annotations

import numpy as np

from ..annotation import Pose, Provenance
from ..errors import ModelError
from ..skeleton import POSETRACK17, Skeleton
from .engine import Method, Side, Span


class DetectorMethod(Method):
    name = "detector"
    provenance = Provenance.PROPAGATED
    half_life = 15.0
    needs_frames = True
    tunable = False  # no tuning on the keyframes before a fill
    uses_torch = False  # ai-edge-litert, one thread

    def __init__(self, skeleton: Skeleton = POSETRACK17):
        from ..suggest.blazepose import BlazePose, runtime_missing

        missing = runtime_missing()
        if missing:
            raise ModelError(f"the detector method: {missing}")
        self.skeleton = skeleton
        self.model = BlazePose()
        # The model on each keyframe, kept: an interior keyframe serves the spans on both sides of it.
        self._keyframes: dict[tuple[int, bytes], tuple] = {}

    def propagate(self, frames, span: Span, before: list[Pose] | None, after: list[Pose] | None, check):
        from ..suggest.mapping import PersonOffsets, roi_from_pose, skeleton_from_landmarks
        from ..suggest.suggest import AGREEMENT, MIN_CONFIDENCE, MODEL_PASSES

        anchors = before or after
        n_frames = len(span.frames)
        xy = np.zeros((len(anchors), n_frames, anchors[0].num_joints, 2))
        quality = np.ones(xy.shape[:3])
        offsets = []
        for i in range(len(anchors)):  # the person's offsets from the span's keyframes
            off = PersonOffsets(anchors[0].num_joints)
            for side_poses, key in ((before, span.before), (after, span.after)):
                if side_poses is None:
                    continue
                label = side_poses[i]
                cache_key = (key, label.xy.tobytes() + label.visibility.tobytes())
                if cache_key not in self._keyframes:
                    roi = roi_from_pose(label, self.skeleton)
                    found = None
                    if roi is not None:
                        lm = self.model.landmarks(frames.frame(key), roi, passes=MODEL_PASSES)
                        found = (*skeleton_from_landmarks(lm, self.skeleton), roi)
                    if len(self._keyframes) >= 4096:  # bounded: the oldest go first
                        self._keyframes.pop(next(iter(self._keyframes)))
                    self._keyframes[cache_key] = found
                if self._keyframes[cache_key] is not None:
                    mxy, conf, roi = self._keyframes[cache_key]
                    off.learn(label, mxy, conf, roi, MIN_CONFIDENCE)
            offsets.append(off)
        for ti, frame in enumerate(span.frames):
            check()
            rgb = frames.frame(frame)
            for i in range(len(anchors)):
                guess = _interpolated(before[i] if before else None, after[i] if after else None, span, frame)
                xy[i, ti] = np.nan_to_num(guess)
                roi = roi_from_pose(Pose.manual(np.nan_to_num(guess), np.isfinite(guess[:, 0]) * 2), self.skeleton)
                if roi is None:
                    continue
                lm = self.model.landmarks(rgb, roi, passes=MODEL_PASSES)
                mxy, conf = skeleton_from_landmarks(lm, self.skeleton)
                mxy = offsets[i].apply(mxy, roi)
                dist = np.linalg.norm(mxy - guess, axis=1) / roi.side
                known = np.isfinite(dist)
                if not known.any() or np.median(dist[known]) > AGREEMENT:
                    continue  # the model found someone else here: the interpolation stands
                use = conf >= MIN_CONFIDENCE
                xy[i, ti][use] = mxy[use]
                quality[i, ti] = np.where(use, conf, 0.5)
        side = Side(xy=xy, quality=quality)
        return (side if before else None), (side if after else None)


def _interpolated(pa: Pose | None, pb: Pose | None, span: Span, frame: int) -> np.ndarray:
    """The keyframe poses' per-joint lerp at `frame` (J, 2); NaN where neither has the joint."""
    if pa is None or pb is None:
        p = pa or pb
        return p.labelled_xy()
    w = (frame - span.before) / (span.after - span.before)
    a = pa.labelled_xy()
    b = pb.labelled_xy()
    out = (1 - w) * a + w * b
    out = np.where(np.isnan(out), np.where(np.isnan(a), b, a), out)
    return out
