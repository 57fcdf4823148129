"""Where the navigation keys go, computed from the per-frame status array, and where a person
is to look at (no Qt)."""
from __future__ import annotations

import numpy as np

KEYFRAME = 3


def next_keyframe(status: np.ndarray, frame: int, step: int = 1) -> int | None:
    """The next (step=1) or previous (step=-1) labelled keyframe, or None."""
    idx = np.flatnonzero(status == KEYFRAME)
    if step > 0:
        later = idx[idx > frame]
        return int(later[0]) if later.size else None
    earlier = idx[idx < frame]
    return int(earlier[-1]) if earlier.size else None


def is_slot(frame: int, num_frames: int, stride: int) -> bool:
    """A keyframe slot: frames 0, k, 2k, ... and the last frame, as the bench keeps them (the fill
    stops at a person's last keyframe: a trial labelled 0-30 at k = 10 and frames 31-39 stayed
    empty, with every slot said to be labelled)."""
    return frame % max(1, stride) == 0 or frame == num_frames - 1


def slots(num_frames: int, stride: int) -> list[int]:
    """Every keyframe slot (is_slot) of a video, in order."""
    k = max(1, stride)
    return list(range(0, num_frames, k)) + ([num_frames - 1] if num_frames and (num_frames - 1) % k else [])


def unlabelled_slots(status: np.ndarray, stride: int) -> list[int]:
    """The keyframe slots with no labelled keyframe."""
    return [f for f in slots(len(status), stride) if status[f] != KEYFRAME]


def next_of(frames, frame: int) -> int | None:
    """The first of `frames` after `frame`, wrapping round to the start; None if there is none."""
    frames = sorted(frames)
    later = [f for f in frames if f > frame]
    return later[0] if later else (frames[0] if frames else None)


def gap_around(keyframes: list[int], frame: int, num_frames: int) -> tuple[int, int]:
    """The frame range (inclusive) between the keyframes either side of `frame`; on a keyframe,
    both gaps it bounds (a keyframe just made inside an old gap changes the fill on both sides)."""
    before = [k for k in keyframes if k <= frame]
    after = [k for k in keyframes if k > frame]
    lo = before[-1] if before else 0
    hi = after[0] if after else num_frames - 1
    if lo == frame and before[:-1]:
        lo = before[-2]
    return lo, hi


def clamp(frame: int, num_frames: int) -> int:
    return int(min(max(frame, 0), max(num_frames - 1, 0)))


def person_box(video, track_id: int, frame: int) -> tuple[float, float, float, float] | None:
    """(x0, y0, x1, y1) of the person's labelled joints in `frame`, or in the nearest frame where
    they have a pose (a keyframe still to label has none yet: the view goes where they were)."""
    pose = video.pose(frame, track_id)  # nearly always there: no scan of the person's frames
    if pose is None:
        frames = video.track_frames(track_id)
        if not frames:
            return None
        pose = video.pose(min(frames, key=lambda f: (abs(f - frame), f > frame)), track_id)
    xy = pose.xy[pose.labelled()]
    if not len(xy):
        return None
    return float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max())
