"""Step 5 of the default fill: the pose model (BlazePose, suggest/) looks at each filled frame, and
per joint the carried position (flow chains, drift removal, fall-back, matcher) and the model's are
weighed by the error each is expected to make.

1. The model runs top-down on a crop turned and sized from the carried pose (suggest's roi), two
   passes; its landmarks are mapped to the skeleton and corrected by the person's offsets learned
   on the span's two keyframes (suggest.mapping.PersonOffsets: what the labels' convention adds to
   the model's joints). A keyframe's model output is kept, so a keyframe shared by two spans is
   looked at once.
2. The model's pose counts only when it agrees with the carried pose as a whole (median joint
   distance within suggest's AGREEMENT crop sides: it found the same person, not a neighbour);
   a model joint nearer another person's than this person's carried joint is theirs and not used
   (suggest/others.py). The others: the span's other people (their filled pose, their keyframe
   label) and everyone else on the frame (engine.PeopleAround: their pose in the video, or where
   their keyframes put them when nobody filled them yet, as when the GUI fills one person).
3. Per joint, each guess is weighted by the other's expected squared error (inverse variance):
   - the carried joint's, u = -ln(confidence) x 0.1 x person size (confidence.joint_confidence read
     backwards: the chains' disagreement plus a part of their drift, in pixels);
   - the model's, e = hypot(MODEL_ERROR x person size, k), k measured on this person: the model
     with its offsets taken from one keyframe, checked on the other (the keyframes' residuals
     apart). Where the model missed this joint on the keyframes, it gets little say.
   The model's weight is u^2 / (u^2 + e^2); none for its joints below suggest's MIN_CONFIDENCE,
   nor past the last keyframe (k needs two keyframes; there the model only moves the confidence).
   Where the chains agree the carried joint stands; where they lost it the model decides.
   What is weighed is the model's correction (model - carried) averaged over the filled frames
   within WINDOW frames of this one (where the model is used for that joint): the model errs
   afresh on every frame while the carried error changes smoothly along the span, so the mean
   keeps the correction and cuts the model's frame-to-frame noise.
4. Confidence: the carried confidence x exp(-excess / (0.1 x person size)), excess the distance
   between the two guesses beyond the model's own expected error e (its floor alone past the
   last keyframe): the model's disagreement counts like the chains' own (a signal flow cannot
   give: two chains that agree on the wrong limb are caught by a model that looks at the frame),
   but not the part of it the model's usual miss on this person explains. Counting the whole
   distance (until 2026-12-07) marked nearly every filled pose for review (bench-effort: the
   annotator's effort; the model card, round 4).

Needs the optional package ai-edge-litert; without it the default fill runs without this step
and says so once (the method's `notice`). How the constants were chosen: below and the model card.
"""
from __future__ import annotations

import numpy as np

from ..annotation import Pose
from ..skeleton import POSETRACK17, Skeleton
from .confidence import CONFIDENCE_SCALE

# The model's error floor, in person sizes, added (hypot) to the error measured on the keyframes.
# Mean alpha=0.2 of k=7 and 15, the measured error taken as it is, floor 0 / 0.02 / 0.05 / 0.08 /
# 0.12: Bonn 92.73 / 93.00 / 93.13 / 93.10 / 93.05 (without the step 93.0), JHMDB 87.98 / 87.98 /
# 87.77 / 87.66 / 87.66 (86.45). Bonn picks 0.05 (JHMDB then 87.77), JHMDB ties 0 and 0.02 (Bonn
# then 92.73 / 93.00): 0.02. A factor on the measured error (0.5 / 2 instead of 1, with the floor
# and the mask): Bonn picks 2 and 0, unmasked (JHMDB then 84.2 / 90.5 at k=7 / 15), JHMDB picks 0.5
# and 0.02, masked (Bonn then 96.5 / 88.7, below the fill without the step): none (factor 1).
MODEL_ERROR = 0.02
# Show the model only the carried pose's extent grown by suggest's MASK_MARGIN (a neighbour in the
# crop). With the floor 0.02: Bonn 93.20 masked vs 93.00, JHMDB 87.99 vs 87.98 (a tie); on the faster
# copies (every 2nd / 3rd frame, k=7) unmasked is better on all four (Bonn 88.7 / 80.4 vs 88.4 /
# 80.2, JHMDB 83.9 / 92.2 vs 83.9 / 91.6), and it costs a full-frame copy per look: off.
MASK = False
# The model's correction (model - carried) is averaged over the filled frames within WINDOW
# frames of each one (step 3). Offline on the recorded fills and model outputs (the replay of
# WINDOW = 0 gives the bench's numbers exactly), alpha=0.2, mean of k=7 and 15, WINDOW 0 / 1 / 2
# / 3 / 4 / the whole span: Bonn 93.00 / 93.20 / 93.42 / 93.40 / 93.42 / 93.28, JHMDB 87.98 /
# 87.88 / 88.19 / 88.19 / 88.09 / 88.09. Bonn picks 2 or 4 (JHMDB then 88.19 / 88.09), JHMDB
# picks 2 or 3 (Bonn then 93.42 / 93.40): 2. The faster copies (every 2nd / 3rd frame, k=7),
# 0 against 2: Bonn 88.7 / 80.4 -> 88.8 / 81.0, JHMDB 83.9 / 92.2 -> 84.4 / 93.5. Counting the
# mean as n independent looks (model error / sqrt(n)) was chosen by JHMDB (88.74) and cost Bonn
# (92.59, below WINDOW = 0): the model's error is mostly not independent from frame to frame.
WINDOW = 2


class PoseModelFusion:
    """BlazePose on the filled frames of a span; one object per method (keeps keyframe outputs)."""

    def __init__(self, skeleton: Skeleton = POSETRACK17, model_error: float = MODEL_ERROR, mask: bool = MASK,
                 model=None, window: int = WINDOW, others: bool = True):
        """`model`: an object with BlazePose's `landmarks` (default: BlazePose, one thread);
        `window`: frames each side over which the model's correction is averaged (0: none);
        `others`: leave out model joints that lie on another person (False: the bench's ablation)."""
        if model is None:
            from ..suggest.blazepose import BlazePose

            model = BlazePose()
        self.skeleton = skeleton
        self.mask = bool(mask)
        self.model = model
        self.model_error = float(model_error)
        self.window = max(0, int(window))
        self.others = bool(others)
        self._keyframes: dict[tuple[int, bytes], tuple[np.ndarray, np.ndarray, object]] = {}

    def applies_to(self, pose: Pose) -> bool:
        return pose.num_joints == self.skeleton.num_joints

    def _run(self, rgb, pose: Pose):
        """(model joints (J, 2), confidence (J,), roi) for `pose`'s person, or None."""
        from ..suggest.mapping import roi_from_pose, skeleton_from_landmarks
        from ..suggest.suggest import MODEL_PASSES

        labelled = pose.labelled()
        roi = roi_from_pose(Pose.manual(np.where(labelled[:, None], pose.xy, 0.0), labelled * 2), self.skeleton)
        if roi is None:
            return None
        mask = None
        if self.mask:
            from ..suggest.suggest import person_mask

            mask = person_mask(rgb.shape[:2], pose.xy[labelled])
        lm = self.model.landmarks(rgb, roi, mask=mask, passes=MODEL_PASSES)
        xy, conf = skeleton_from_landmarks(lm, self.skeleton)
        return xy, conf, roi

    def _theirs_out(self, found, pose: Pose, others):
        """`found` (_run's) with the confidence of model joints nearer another person's than this
        one's set to 0: they are theirs, not used (suggest.others)."""
        from ..suggest.others import nearer_someone_else

        if found is None or not len(others):
            return found
        xy, conf, roi = found
        theirs = nearer_someone_else(xy, pose.labelled_xy(), list(others), self.skeleton.flip_permutation())
        return xy, np.where(theirs, 0.0, conf), roi

    def keyframe_output(self, frames, frame: int, pose: Pose, others=()):
        """_run on a keyframe, once per keyframe pose (a keyframe shared by two spans is looked at
        once, whoever else each span holds), then _theirs_out with `others`."""
        key = (frame, pose.xy.tobytes() + pose.visibility.tobytes())
        if key not in self._keyframes:
            self._keyframes[key] = self._run(frames.frame(frame), pose)
            if len(self._keyframes) > 4096:  # bounded: the oldest go first
                self._keyframes.pop(next(iter(self._keyframes)))
        return self._theirs_out(self._keyframes[key], pose, others)

    def model_poses(self, frames, span, before, after, filled: dict[tuple[int, int], Pose], check,
                    around=lambda frame: []) -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """{(pose index, frame): (offset-corrected model joints (J, 2), confidence (J,), the model's
        expected error per joint in pixels (J,))} for the filled poses whose model pose agrees with
        them as a whole (step 2); `around(frame)`: the people on the frame outside the span."""
        from ..suggest.mapping import PersonOffsets
        from ..suggest.suggest import AGREEMENT, MIN_CONFIDENCE

        offsets: dict[int, PersonOffsets] = {}
        checked: dict[int, np.ndarray] = {}
        out = {}
        on_frame: dict[int, list[tuple[int, np.ndarray]]] = {}  # frame -> (pose index, joints): the others
        if self.others:
            for (i, frame), pose in filled.items():
                on_frame.setdefault(frame, []).append((i, pose.labelled_xy()))
        for (i, frame), pose in sorted(filled.items(), key=lambda item: (item[0][1], item[0][0])):
            check()
            if not self.applies_to(pose):
                continue
            if i not in offsets:
                offsets[i], checked[i] = self._learn(frames, span, before[i] if before else None,
                                                     after[i] if after else None, MIN_CONFIDENCE, before, after,
                                                     around)
            m = pose.labelled()
            others = [xy for j, xy in on_frame.get(frame, ()) if j != i]  # the span's other people here
            if self.others:
                others += around(frame)
            found = self._theirs_out(self._run(frames.frame(frame), pose), pose, others)
            if found is None:
                continue
            xy, conf, roi = found
            xy = offsets[i].apply(xy, roi)
            dist = np.linalg.norm(xy - pose.xy, axis=1)[m] / roi.side
            if not len(dist) or np.median(dist) > AGREEMENT:
                continue  # someone else, or the model lost the person: the carried pose stands
            out[(i, frame)] = (xy, conf, checked[i])
        return out

    def _learn(self, frames, span, a: Pose | None, b: Pose | None, min_confidence: float, before=None, after=None,
               around=lambda frame: []):
        """The person's offsets from the span's two keyframes, and the model's error per joint in
        pixels when its offsets come from one keyframe and it is checked on the other: the two
        keyframes' residuals (label - model, in crop sides) apart, times the mean crop side
        (inf where a keyframe has no model output or the joint unlabelled, and everywhere past the
        last keyframe: one keyframe cannot check the model)."""
        from ..suggest.mapping import PersonOffsets

        off = PersonOffsets((a or b).num_joints)
        residuals, sides = [], []
        for key, pose, everyone in ((span.before, a, before), (span.after, b, after)):
            if pose is None:
                continue
            others = [p.labelled_xy() for p in everyone or ()
                      if p is not None and p is not pose] + around(key) if self.others else []
            found = self.keyframe_output(frames, key, pose, others)
            if found is None:
                continue
            xy, conf, roi = found
            off.learn(pose, xy, conf, roi, min_confidence)
            residuals.append(np.where(pose.labelled()[:, None], (pose.xy - xy) @ roi.axes().T / roi.side, np.nan))
            sides.append(roi.side)
        if len(residuals) < 2:
            return off, np.full((a or b).num_joints, np.inf)
        err = np.linalg.norm(residuals[0] - residuals[1], axis=1) * float(np.mean(sides))
        return off, np.nan_to_num(err, nan=np.inf)

    def correct(self, frames, span, before, after, filled: dict[tuple[int, int], Pose], sizes, check,
                around=lambda frame: []) -> dict[tuple[int, int], Pose]:
        """`filled` with each joint weighed against the model's (step 3) and its confidence
        lowered by their distance beyond the model's expected error (step 4); `sizes[i]`: pose i's
        size in pixels."""
        from ..suggest.suggest import MIN_CONFIDENCE

        found = self.model_poses(frames, span, before, after, filled, check, around)
        used = {key: filled[key].labelled() & (mconf >= MIN_CONFIDENCE) for key, (_, mconf, _) in found.items()}
        corrections = averaged_corrections({key: mxy - filled[key].xy for key, (mxy, _, _) in found.items()},
                                           used, self.window)
        out = dict(filled)
        for (i, frame), (mxy, mconf, error) in found.items():
            pose = filled[(i, frame)]
            use = used[(i, frame)]
            carried = carried_error(pose.confidence, sizes[i])
            model = np.hypot(self.model_error * sizes[i], error)
            w = np.where(use, carried ** 2 / np.maximum(carried ** 2 + model ** 2, 1e-12), 0.0)[:, None]
            new = pose.copy()
            new.xy = np.where(use[:, None], pose.xy + w * corrections[(i, frame)], pose.xy)
            usual = np.where(np.isfinite(model), model, self.model_error * sizes[i])
            excess = np.where(use, np.maximum(np.linalg.norm(mxy - pose.xy, axis=1) - usual, 0.0), 0.0)
            new.confidence = (pose.confidence * np.exp(-excess / (CONFIDENCE_SCALE * sizes[i]))).astype(pose.confidence.dtype)
            out[(i, frame)] = new
        return out


def averaged_corrections(corrections: dict[tuple[int, int], np.ndarray], used: dict[tuple[int, int], np.ndarray],
                         window: int) -> dict[tuple[int, int], np.ndarray]:
    """{(pose index, frame): (J, 2)} each joint's correction averaged over the same pose's frames
    within `window` frames where that joint is `used` (its own frame included; zero where unused)."""
    out = {}
    for i in {key[0] for key in corrections}:
        keys = sorted(key for key in corrections if key[0] == i)
        frames = np.array([f for _, f in keys])
        near = (np.abs(frames[:, None] - frames[None, :]) <= window).astype(float)  # (n, n)
        use = np.stack([used[key] for key in keys]).astype(float)  # (n, J)
        c = np.nan_to_num(np.stack([corrections[key] for key in keys]))  # (n, J, 2); an unused joint's NaN must not spread
        total = np.einsum("nm,mj,mjc->njc", near, use, c)
        count = near @ use  # (n, J)
        mean = total / np.maximum(count, 1.0)[..., None]
        for n, key in enumerate(keys):
            out[key] = np.where(use[n][:, None] > 0, mean[n], 0.0)
    return out


def carried_error(confidence: np.ndarray, size: float) -> np.ndarray:
    """The carried joints' expected error in pixels from their confidence (joint_confidence's
    exp(-u / (CONFIDENCE_SCALE x size)) read backwards)."""
    return -np.log(np.clip(confidence, 1e-6, 1.0)) * CONFIDENCE_SCALE * size
