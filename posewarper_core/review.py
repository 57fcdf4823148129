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

`posewarper bench-effort` calls these; the GUI (R, N and the timeline's marker, app/session.py)
walks the same order over a per-frame cache of the highest predicted error, for speed on long
videos. Nothing here knows the ground truth.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .annotation import Pose, Video

# Review stops when every unreviewed filled pose's predicted error is below this. Chosen by
# leave-one-clip-out with `posewarper bench-effort --stop-from` (README, "Effort"), on today's
# fill (posewarper, no tuning): the highest threshold at which uniform and guided finish a dev
# clip at <= 2 % residual error at every k was 1.25 on JHMDB (then on Bonn: guided 134, uniform
# 217, cvat-like 411 clicks + looks at their best k) and 1.5 on Bonn (then on JHMDB: 18, 36,
# 73). The lower one is kept: the confidence is not calibrated across footage, and stopping late
# costs looks, early costs errors. (On the fill before issue 17's confidence: 1.75 and 5.25.)
REVIEW_DONE_BELOW = 1.25

# A filled joint is doubtful when its confidence is below this: its predicted error (1 -
# confidence) is over half a joint, the fill holds it more likely off than right. Accepting a
# pose with such joints asks once (the GUI's A). The midpoint of the scale, not a tuned value:
# it only decides when to ask, not what is exported.
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


def review_queue(video: Video, track_ids=None) -> list[ReviewItem]:
    """Every pose that needs review, highest predicted error first (ties: earlier frame, lower id)."""
    items = []
    for f, by_track in video.poses.items():
        for tid, p in by_track.items():
            if track_ids is None or tid in track_ids:
                e = _error_if_to_review(p)
                if e is not None:
                    items.append(ReviewItem(f, tid, e))
    items.sort(key=lambda it: (-it.predicted_error, it.frame, it.track_id))
    return items


def next_to_review(video: Video, skip=frozenset(), threshold: float = 0.0) -> ReviewItem | None:
    """The unreviewed pose with the highest predicted error, not in `skip` ({(frame, track)}),
    if its predicted error reaches `threshold`; else None."""
    for item in review_queue(video):
        if (item.frame, item.track_id) in skip:
            continue
        return item if item.predicted_error >= threshold else None
    return None


def review_done(video: Video, threshold: float = REVIEW_DONE_BELOW) -> bool:
    """True when no unreviewed pose's predicted error reaches `threshold`."""
    return next_to_review(video, threshold=threshold) is None


def suggest_keyframe(video: Video, threshold: float = REVIEW_DONE_BELOW) -> ReviewItem | None:
    """The person-frame to label next as a keyframe: the pose where the fill expects the most
    error, or None once review is done (no pose left whose predicted error reaches `threshold`).
    A person at a time: the others in that frame may be filled well already."""
    return next_to_review(video, threshold=threshold)
