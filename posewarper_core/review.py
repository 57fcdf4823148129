"""Where the annotator's time goes next: review order, the "review is done" rule, and the
suggested next keyframe, all read from the per-joint confidence the auto-fill writes.

A filled joint's predicted error is 1 - its confidence (0 for joints an annotator placed,
corrected or accepted); a filled pose's predicted error is the sum over its joints, an
(uncalibrated) count of the joints expected to be off. Keyframes and reviewed poses have none.

- review order: unreviewed filled poses, highest predicted error first;
- review is done when no unreviewed pose's predicted error reaches `REVIEW_DONE_BELOW`;
- the suggested next keyframe: the person-frame with the highest predicted error, while review
  is not done (the same pose the review order starts at: what differs is what the annotator
  does there, correction.confirm_pose and a re-fill rather than correction.accept_pose).

`posewarper bench-effort` and the GUI (R, N and the timeline's marker, app/session.py) call the
same next_to_review; the GUI hands it its per-frame cache (frame_errors, kept up to date after
each edit), so a long video is not walked pose by pose. Nothing here knows the ground truth.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .annotation import Pose, Video

# Review stops when every unreviewed filled pose's predicted error is below this. Chosen by
# leave-one-clip-out with `posewarper bench-effort --stop-from` (README, "Effort"), on the fill of
# 2026-12-07 round 6 (posewarper, no tuning, the drift weighed per frame): the highest threshold at
# which uniform and guided finish a dev clip at <= 2 % residual error at every k is 1.25 on JHMDB
# (then on Bonn: guided 136, uniform 221 clicks + looks at their best k) and 2.0 on Bonn (then on
# JHMDB: 39, 34). The lower one is kept: the confidence is not calibrated across footage, and
# stopping late costs looks, early costs errors. (Round 4's fill chose 1.5 and 2.25; at the same
# threshold 1.25 the two fills cost the same within 6: Bonn guided 136 / 136, uniform 215 / 221,
# JHMDB 42 / 45, 38 / 40. With the model step's whole disagreement in the confidence: 1.0 and
# 3.0; before the model step: 1.25 and 1.5.)
REVIEW_DONE_BELOW = 1.25

# A filled joint is doubtful when its confidence is below this (its predicted error, 1 -
# confidence, is over half a joint); accepting a pose with such joints asks once (the GUI's A).
# Leave-one-clip-out over 0.1..0.8, F1 of "doubtful" against "off by more than alpha = 0.2"
# (default fill, k = 7 and 15 pooled): Bonn picks 0.6 (F1 0.388; JHMDB then 0.355), JHMDB picks
# 0.5 (0.385; Bonn then 0.356). 0.5, the scale's midpoint, is kept. At alpha = 0.5 too few joints
# are off (Bonn 25, JHMDB 12) for a choice: F1 at most 0.17 / 0.03. Again on the fill of round 4
# (untuned): Bonn picks 0.6 (0.432; JHMDB then 0.275), JHMDB 0.5 (0.306; Bonn then 0.420): 0.5.
DOUBTFUL_BELOW = 0.5


@dataclass(frozen=True)
class ReviewItem:
    frame: int
    track_id: int
    predicted_error: float


def needs_review(pose: Pose) -> bool:
    """A filled pose nobody has confirmed: not a keyframe, not reviewed, with auto-filled joints."""
    return _error_if_to_review(pose) is not None


def doubtful_joints(pose: Pose, below: float = DOUBTFUL_BELOW) -> list[int]:
    """The filled joints of a pose that needs review whose confidence is below `below`."""
    if not needs_review(pose):
        return []
    return np.flatnonzero(pose.auto_joints() & (pose.confidence < below)).tolist()


def _error_if_to_review(pose: Pose) -> float | None:
    """predicted_error, or None when the pose needs no review (one pass: the queue asks it of
    every pose of the video)."""
    if pose.keyframe or pose.reviewed:
        return None
    auto = pose.auto_joints()
    if not auto.any():
        return None
    return float((1.0 - pose.confidence[auto].astype(np.float64)).sum())


def predicted_error(pose: Pose) -> float:
    """The pose's predicted error (see the module doc); 0 when it needs no review."""
    return _error_if_to_review(pose) or 0.0


# frame_errors' value for a frame with no pose to review (one to review can have a predicted error of 0)
NONE_TO_REVIEW = -1.0


def frame_error(video: Video, frame: int) -> float:
    """The highest predicted error of a pose to review in `frame`; NONE_TO_REVIEW if none."""
    return frame_review(video, frame)[0]


def frame_review(video: Video, frame: int) -> tuple[float, int, int]:
    """In one pass over `frame`'s poses: frame_error, and how many poses there are to review with a
    predicted error of REVIEW_DONE_BELOW or more, and below it (optional)."""
    errors = [e for p in video.poses.get(frame, {}).values() if (e := _error_if_to_review(p)) is not None]
    above = sum(e >= REVIEW_DONE_BELOW for e in errors)
    return max(errors, default=NONE_TO_REVIEW), above, len(errors) - above


def frame_errors(video: Video) -> np.ndarray:
    """frame_error of every frame of `video` (a cache a caller can update frame by frame)."""
    errors = np.full(video.num_frames, NONE_TO_REVIEW)
    for f in video.poses:
        errors[f] = frame_error(video, f)
    return errors


def _order(item: ReviewItem) -> tuple:
    """The review order: highest predicted error first; ties: earlier frame, then lower track id."""
    return -item.predicted_error, item.frame, item.track_id


def review_queue(video: Video, track_ids=None) -> list[ReviewItem]:
    """Every pose that needs review, in the review order."""
    items = []
    for f, by_track in video.poses.items():
        for tid, p in by_track.items():
            if track_ids is None or tid in track_ids:
                e = _error_if_to_review(p)
                if e is not None:
                    items.append(ReviewItem(f, tid, e))
    items.sort(key=_order)
    return items


def next_to_review(video: Video, skip=frozenset(), threshold: float = 0.0,
                   errors: np.ndarray | None = None) -> ReviewItem | None:
    """The first pose of the review order not in `skip` ({(frame, track)}), if its predicted error
    reaches `threshold`; else None.

    `errors` is frame_errors(video), if the caller keeps it (the GUI does); frames are visited
    from the highest error down, only until no later frame can hold a pose that comes first."""
    if errors is None:
        errors = frame_errors(video)
    frames = np.flatnonzero(errors >= max(threshold, 0.0))
    best = None
    for f in frames[np.argsort(-errors[frames], kind="stable")].tolist():
        if best is not None and errors[f] < best.predicted_error:
            break
        for tid, p in video.poses[f].items():
            e = _error_if_to_review(p)
            if e is not None and e >= threshold and (f, tid) not in skip:
                item = ReviewItem(f, tid, e)
                if best is None or _order(item) < _order(best):
                    best = item
    return best


def review_done(video: Video, threshold: float = REVIEW_DONE_BELOW) -> bool:
    """True when no unreviewed pose's predicted error reaches `threshold`."""
    return next_to_review(video, threshold=threshold) is None


def suggest_keyframe(video: Video, threshold: float = REVIEW_DONE_BELOW,
                     errors: np.ndarray | None = None) -> ReviewItem | None:
    """The person-frame to label next as a keyframe: the pose where the fill expects the most
    error, or None once review is done (no pose left whose predicted error reaches `threshold`).
    A person at a time: the others in that frame may be filled well already."""
    return next_to_review(video, threshold=threshold, errors=errors)
