"""Pose edits as pure functions: each takes poses and returns new ones (never mutates).

The canvas and the window turn user gestures into these; commands.py applies the resulting
PoseChanges through the project store, so every edit is undoable and saved at once.
"""
from __future__ import annotations

import numpy as np

from posewarper_core.annotation import AUTO_PROVENANCE, Pose, PoseChange, Provenance, Video, Visibility


def _user_provenance(pose: Pose, j: int) -> int:
    """An auto joint an annotator touches becomes CORRECTED; anything else becomes MANUAL."""
    return Provenance.CORRECTED if pose.provenance[j] in AUTO_PROVENANCE else Provenance.MANUAL


def place_joint(pose: Pose | None, num_joints: int, j: int, xy, visibility: int = Visibility.VISIBLE) -> Pose:
    """Put joint j at xy. A new pose is a keyframe (labelled by hand)."""
    new = pose.copy() if pose is not None else Pose.empty(num_joints, keyframe=True)
    new.provenance[j] = _user_provenance(new, j)
    new.xy[j] = xy
    new.visibility[j] = visibility
    new.confidence[j] = 1.0
    return new


def untouched_fill(pose: Pose | None) -> bool:
    """A pose auto-fill wrote that no annotator touched: every joint filled, not reviewed."""
    return (pose is not None and not pose.keyframe and not pose.reviewed and pose.labelled().any()
            and bool((pose.auto_joints() == pose.labelled()).all()))


def move_joint(pose: Pose, j: int, xy) -> Pose:
    new = pose.copy()
    new.xy[j] = xy
    if new.visibility[j] == Visibility.NOT_LABELLED:
        new.visibility[j] = Visibility.VISIBLE
    new.provenance[j] = _user_provenance(pose, j)
    new.confidence[j] = 1.0
    return new


def move_pose(pose: Pose, dxy) -> Pose:
    """Shift every labelled joint (and the boxes) by dxy."""
    new = pose.copy()
    m = new.labelled()
    new.xy[m] += np.asarray(dxy, dtype=np.float64)
    for j in np.flatnonzero(m):
        new.provenance[j] = _user_provenance(pose, j)
        new.confidence[j] = 1.0
    dx, dy = float(dxy[0]), float(dxy[1])
    if new.bbox is not None:
        new.bbox = (new.bbox[0] + dx, new.bbox[1] + dy, new.bbox[2], new.bbox[3])
    if new.head_box is not None:
        new.head_box = (new.head_box[0] + dx, new.head_box[1] + dy, new.head_box[2], new.head_box[3])
    return new


def turn_pose(pose: Pose, centre, angle: float, scale: float) -> Pose:
    """Rotate every labelled joint by `angle` (radians, clockwise on screen) and scale it by
    `scale` about `centre`; the boxes keep their centres' places in the turned pose and scale
    their sides (a box stays upright, as PoseTrack's boxes are)."""
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    turn = np.array([[c, -s], [s, c]])
    centre = np.asarray(centre, dtype=np.float64)

    def moved(xy):
        return (np.asarray(xy, dtype=np.float64) - centre) @ turn.T + centre

    new = pose.copy()
    m = new.labelled()
    new.xy[m] = moved(new.xy[m])
    for j in np.flatnonzero(m):
        new.provenance[j] = _user_provenance(pose, j)
        new.confidence[j] = 1.0
    for name in ("bbox", "head_box"):
        box = getattr(new, name)
        if box is not None:
            x, y, w, h = box
            cx, cy = moved((x + w / 2, y + h / 2))
            setattr(new, name, (cx - w * scale / 2, cy - h * scale / 2, w * scale, h * scale))
    return new


def set_visibility(pose: Pose, j: int, visibility: int) -> Pose:
    """Flag joint j occluded/visible, or unlabel it (visibility 0)."""
    new = pose.copy()
    if visibility == Visibility.NOT_LABELLED:
        new.visibility[j] = 0
        new.provenance[j] = Provenance.NONE
        new.confidence[j] = 0.0
        return new
    if new.visibility[j] == Visibility.NOT_LABELLED:
        return new  # nothing there to flag
    new.visibility[j] = visibility
    new.provenance[j] = _user_provenance(pose, j)
    new.confidence[j] = 1.0
    return new


def copy_as_keyframe(pose: Pose) -> Pose:
    """A pose copied from another frame, placed by hand: every labelled joint becomes MANUAL."""
    return Pose.manual(pose.xy, pose.visibility, keyframe=True, bbox=pose.bbox, head_box=pose.head_box)


def next_joint(pose: Pose | None, order: list[int], after: int | None = None) -> int | None:
    """The first joint of the click order `order` not labelled yet, from the one following
    joint `after` on (wrapping round); from the start when `after` is None or not in the order."""
    return _first_in_order(order, after, lambda j: pose is None or pose.visibility[j] == Visibility.NOT_LABELLED)


def next_suggested(pose: Pose | None, order: list[int], after: int | None = None,
                   free_too: bool = False) -> int | None:
    """The first joint of the click order still a suggestion (not the annotator's yet), or with
    `free_too` not labelled either, from the one following joint `after` on (wrapping round);
    None when there is none."""
    if pose is None:
        return None

    def wanted(j: int) -> bool:
        if pose.visibility[j] == Visibility.NOT_LABELLED:
            return free_too
        return pose.provenance[j] == Provenance.SUGGESTED

    return _first_in_order(order, after, wanted)


def _first_in_order(order: list[int], after: int | None, wanted) -> int | None:
    """The first joint j of `order` with wanted(j), from the one following `after` on, wrapping
    round (from the start when `after` is None or not in the order); None if none is."""
    start = order.index(after) + 1 if after in order else 0
    for k in range(len(order)):
        j = order[(start + k) % len(order)]
        if wanted(j):
            return j
    return None


def keep_user_joints(current: Pose | None, incoming: Pose | None) -> Pose | None:
    """Merge an auto-fill result into what is in the store now: joints an annotator placed or
    corrected (possibly while auto-fill was running) always win; a keyframe is never replaced."""
    if current is None or incoming is None:
        return incoming if current is None else (current if current.user_joints().any() else incoming)
    if current.keyframe:
        return current
    user = current.user_joints()
    if not user.any():
        return incoming
    new = incoming.copy()
    for name in ("xy", "visibility", "provenance", "confidence"):
        getattr(new, name)[user] = getattr(current, name)[user]
    return new


def change_track(video: Video, frames, src: int, dst: int) -> list[PoseChange]:
    """Give src's poses in `frames` to dst; where dst already has a pose, the two swap."""
    changes = []
    for f in frames:
        a, b = video.pose(f, src), video.pose(f, dst)
        if a is None and b is None:
            continue
        changes.append(PoseChange(video.video_id, f, dst, a.copy() if a is not None else None))
        changes.append(PoseChange(video.video_id, f, src, b.copy() if b is not None else None))
    return changes


def inverse(video: Video, changes: list[PoseChange]) -> list[PoseChange]:
    """The changes that restore what `video` holds now at every (frame, track) that `changes` touch."""
    seen, undo = set(), []
    for c in changes:
        key = (c.frame, c.track_id)
        if key in seen:
            continue
        seen.add(key)
        old = video.pose(c.frame, c.track_id)
        undo.append(PoseChange(c.video_id, c.frame, c.track_id, old.copy() if old is not None else None))
    return undo
