"""What the tool does after an annotator corrects or accepts a filled pose: the neighbourhood is
re-filled from it at once, as CVAT re-interpolates after an edit.

- `correct_joints`: joints dragged on a filled frame become anchors for those joints, and each
  one's filled chain (the frames on both sides up to that joint's neighbouring anchors: a
  keyframe, a reviewed pose or another placed/corrected joint) is re-filled from it. The other
  joints of those frames, and every joint an annotator placed, are never touched.
- `accept_pose`: the annotator looked at a filled pose and accepts it as it is (the "reviewed"
  state); every auto joint becomes an anchor with no move.
- `accept_suggested`: suggested joints of a keyframe become the annotator's (accepted, or one
  dragged); each one's filled chains next to the frame are re-filled from it as a correction's
  are, from where the fill had that joint there to where the annotator took it.
- `move_keyframe_joints`: joints of a keyframe moved; each one's filled chains are carried from
  the move as a correction's are.
- `confirm_pose`: the pose becomes a keyframe and the frames around it are re-filled with the
  auto-fill method (`refill_around`).

How a chain is re-filled from a corrected joint (`carry`):
- "carry" (default): the correction's offset is added to the existing filled chain, fading
  linearly to zero at the neighbouring anchor (as the default method's drift removal treats a
  chain's miss at its far end); up to the chain's open end (no anchor) the offset is kept whole.
- "lerp": the joint is interpolated linearly between the correction and the neighbouring anchor
  (the chain's own path is dropped).
- "none": only the corrected frame changes (the anchor tools' workflow).
Chosen by leave-one-clip-out with `posewarper bench-effort --carry` (README, "Effort").
Re-filled joints' confidence is raised to what the fill gives a joint that far from a keyframe
(0.5 ** (distance / the method's half-life)), if that is higher: the review order then moves on.

All of it is arithmetic on the chain's poses (no flow, no network), fast enough for every drag.
A fill run again keeps these joints and carries its new chains to them the same way
(`carry_to_corrections`, called by the fill engine's merge).
"""
from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from .annotation import AUTO_PROVENANCE, Pose, PoseChange, Provenance, Video, Visibility, inside_picture
from .errors import PoseWarperError

CARRY_MODES = ("carry", "lerp", "none")
# Plain ints for the chain walk: an enum member looked up per joint and frame cost a re-fill of a
# reviewed 2000-frame video most of its time (measured: 11.1 s, 4.6 s with these).
_NOT_LABELLED, _SUGGESTED = int(Visibility.NOT_LABELLED), int(Provenance.SUGGESTED)
_AUTO = frozenset(int(p) for p in AUTO_PROVENANCE)
DEFAULT_CARRY = "carry"
_DEFAULT_HALF_LIFE = 15.0  # for a pose no fill method made (a suggestion, a template): the flow methods'


@functools.lru_cache(maxsize=None)
def method_half_life(name: str | None) -> float:
    """Frames after which the named fill method's confidence halves (its Method.half_life)."""
    from .autofill import method_class

    try:
        return method_class(name).half_life
    except PoseWarperError:
        return _DEFAULT_HALF_LIFE


def anchors_joint(pose: Pose, j: int) -> bool:
    """The pose fixes joint j: a keyframe or a reviewed pose with j labelled, or j placed/corrected."""
    if pose.visibility[j] == _NOT_LABELLED:
        return False
    return pose.keyframe or pose.reviewed or int(pose.provenance[j]) not in _AUTO


def _chain(video: Video, frame: int, track_id: int, j: int, step: int) -> tuple[list[int], int | None]:
    """The frames from `frame` (exclusive) in direction `step` whose joint j is auto-filled, and
    the anchor frame that ends the chain (None when it ends open: no pose or joint j not labelled)."""
    out = []
    f = frame + step
    while 0 <= f < video.num_frames:
        p = video.pose(f, track_id)
        # a suggestion nobody accepted is no label: the chain runs open there, as the fill's gaps
        # run across it (a carry faded towards one)
        if p is None or p.visibility[j] == _NOT_LABELLED or p.provenance[j] == _SUGGESTED:
            return out, None
        if anchors_joint(p, j):
            return out, f
        out.append(f)
        f += step
    return out, None


def _refill_chain(video: Video, track_id: int, frame: int, j: int, new_xy, offset, carry: str,
                  edited: dict[int, Pose]) -> None:
    """Re-fill joint j's chains on both sides of `frame` into `edited` ({frame: new pose})."""
    if carry == "none":
        return
    for step in (-1, 1):
        frames, anchor = _chain(video, frame, track_id, j, step)
        for f in frames:
            pose = edited.get(f) or video.pose(f, track_id).copy()
            d = abs(f - frame)
            if anchor is None:
                w = 1.0
            else:
                w = 1.0 - d / abs(anchor - frame)
            if carry == "carry":
                pose.xy[j] = pose.xy[j] + w * offset
            else:  # lerp between the correction and the anchor (or hold the correction at an open end)
                far = video.pose(anchor, track_id).xy[j] if anchor is not None else new_xy
                pose.xy[j] = w * np.asarray(new_xy) + (1 - w) * far
            raised = 0.5 ** (d / method_half_life(pose.method))
            pose.confidence[j] = max(float(pose.confidence[j]), raised)
            pose.reviewed = False
            edited[f] = pose


def _changes(video: Video, track_id: int, edited: dict[int, Pose]) -> list[PoseChange]:
    return [PoseChange(video.video_id, f, track_id, _on_picture(video, p)) for f, p in sorted(edited.items())]


def _on_picture(video: Video, pose: Pose) -> Pose | None:
    """The edited pose less the filled joints its carries took past the picture's edge (no label
    there, as the fill leaves none); None when no joint is left (no pose)."""
    return None if pose.is_empty() else inside_picture(pose, video.width, video.height)


def _filled_pose(video: Video, frame: int, track_id: int) -> Pose:
    pose = video.pose(frame, track_id)
    if pose is None:
        raise PoseWarperError(f"frame {frame} has no pose of track {track_id} to correct")
    return pose


def correct_joints(video: Video, frame: int, track_id: int, moves: dict[int, tuple[float, float]],
                   carry: str = DEFAULT_CARRY, carry_placed: bool = False) -> list[PoseChange]:
    """The changes that put joints at the given places ({joint: (x, y)}) in this frame's pose and
    re-fill each moved auto joint's chain from it (see the module doc); with `carry_placed`, on a
    frame that is no keyframe, also the chains of joints placed or corrected there before (a whole
    pose moved: its corrected joints must not stay behind on the frames around). `video` is not
    modified."""
    if carry not in CARRY_MODES:
        raise PoseWarperError(f"unknown re-fill {carry!r}; choose from {', '.join(CARRY_MODES)}")
    pose = _filled_pose(video, frame, track_id)
    here = pose.copy()
    edited: dict[int, Pose] = {}
    for j, xy in moves.items():
        if not 0 <= j < pose.num_joints:
            raise PoseWarperError(f"joint {j} is not one of the {pose.num_joints} joints")
        labelled = pose.visibility[j] != Visibility.NOT_LABELLED
        was_auto = labelled and pose.provenance[j] in AUTO_PROVENANCE
        here.xy[j] = xy
        if not labelled:
            here.visibility[j] = Visibility.VISIBLE
        # filled -> corrected; placed or corrected before: as it was; new here: placed
        here.provenance[j] = Provenance.CORRECTED if was_auto else (pose.provenance[j] if labelled else Provenance.MANUAL)
        suggested = labelled and pose.provenance[j] == Provenance.SUGGESTED
        if not suggested:  # moved with its pose, a suggestion stays one: no one vouched for it
            here.confidence[j] = 1.0
        if (was_auto or (carry_placed and labelled and not suggested)) and not pose.keyframe:
            offset = np.asarray(xy, np.float64) - pose.xy[j]
            _refill_chain(video, track_id, frame, j, xy, offset, carry, edited)
    edited[frame] = here
    return _changes(video, track_id, edited)


def accept_pose(video: Video, frame: int, track_id: int, carry: str = DEFAULT_CARRY) -> list[PoseChange]:
    """The changes that mark a filled pose reviewed (accepted as it is): every auto joint becomes
    an anchor, so the chains on both sides gain confidence (their positions stay)."""
    pose = _filled_pose(video, frame, track_id)
    here = pose.copy()
    here.reviewed = True
    edited: dict[int, Pose] = {}
    for j in np.flatnonzero(pose.auto_joints()):
        _refill_chain(video, track_id, frame, int(j), pose.xy[j], np.zeros(2), carry, edited)
    edited[frame] = here
    return _changes(video, track_id, edited)


def accept_suggested(video: Video, frame: int, track_id: int, pose: Pose, joints,
                     carry: str = DEFAULT_CARRY) -> list[PoseChange]:
    """The changes that put `pose` on `frame` (a keyframe, or a filled pose E added joints to, whose
    `joints` the annotator just made theirs: a suggestion accepted, or a suggested joint dragged)
    and re-fill each of those joints' filled chains on both sides from it, as `correct_joints`
    does for a dragged filled joint. A suggestion fills only joints the frame had free, so where
    the fill had a joint there is taken from its filled neighbours (`_filled_at`); a joint with
    none is not carried. `video` is not modified."""
    return _carried(video, frame, track_id, pose, joints, carry,
                    lambda j: _filled_at(video, frame, track_id, j))


def move_keyframe_joints(video: Video, frame: int, track_id: int, pose: Pose, joints,
                         carry: str = DEFAULT_CARRY) -> list[PoseChange]:
    """The changes that put `pose` (the keyframe on `frame` with `joints` moved by the annotator)
    there and carry each move into the joint's filled chains on both sides, fading to their next
    anchors, as a corrected joint's is: those frames were filled from the old place (a trial
    dragged a keyframe's wrist and the next frame kept the old one, still sure of it). A joint
    not labelled before has no chain to move; a suggested one the move made the annotator's (a
    template dragged into place) is carried from where the fill had it, as accept_suggested does,
    and one still a suggestion anchors nothing. `video` is not modified."""
    old = _filled_pose(video, frame, track_id)

    def was(j: int):
        if old.visibility[j] == Visibility.NOT_LABELLED:
            return None
        if old.provenance[j] == Provenance.SUGGESTED:
            return None if pose.provenance[j] == Provenance.SUGGESTED else _filled_at(video, frame, track_id, j)
        return old.xy[j]
    return _carried(video, frame, track_id, pose, joints, carry, was)


def _carried(video: Video, frame: int, track_id: int, pose: Pose, joints, carry: str, was) -> list[PoseChange]:
    """`pose` on `frame`, each of `joints` carried into its filled chains from where the chains had
    it (`was(j)`, None: not carried) to where `pose` has it. On a filled pose a carried joint is
    CORRECTED, as a dragged filled joint is: its chain now comes from it, so moving it again
    re-fills again (a reviewer's second drag of an accepted suggestion moved only its frame)."""
    pose = pose.copy()
    edited: dict[int, Pose] = {}
    for j in joints:
        j = int(j)
        start = was(j)
        if start is not None and pose.visibility[j] != Visibility.NOT_LABELLED:
            _refill_chain(video, track_id, frame, j, pose.xy[j], pose.xy[j] - start, carry, edited)
            if not pose.keyframe:
                pose.provenance[j] = Provenance.CORRECTED
    edited[frame] = pose
    return _changes(video, track_id, edited)


def _filled_at(video: Video, frame: int, track_id: int, j: int) -> np.ndarray | None:
    """Where the fill's chain through `frame` has joint j: midway between its filled neighbours
    (exact for a linear fill), or at the one there is; None when neither neighbour is filled."""
    near = [video.pose(frame + step, track_id) for step in (-1, 1)]
    xy = [p.xy[j] for p in near
          if p is not None and p.visibility[j] != Visibility.NOT_LABELLED and not anchors_joint(p, j)]
    return np.mean(xy, axis=0) if xy else None


def confirmed(pose: Pose) -> Pose:
    """The pose as a keyframe: an annotator vouched for every labelled joint."""
    new = pose.copy()
    auto = new.auto_joints()
    new.provenance[auto] = Provenance.CORRECTED
    new.confidence[new.labelled()] = 1.0
    new.keyframe = True
    new.reviewed = False
    return new


def confirm_pose(video: Video, frame: int, track_id: int) -> list[PoseChange]:
    """The change that makes this filled pose a keyframe (re-fill around it with `refill_around`)."""
    return [PoseChange(video.video_id, frame, track_id, confirmed(_filled_pose(video, frame, track_id)))]


def refill_range(video: Video, frame: int, track_ids) -> tuple[int, int]:
    """The frames to re-fill after `frame` became a keyframe of these tracks: up to the nearest
    other keyframe of each track on either side that bounds a fill gap (a keyframe of suggestions
    only does not: the gap runs across it), inclusive of nothing beyond them."""
    lo, hi = frame, frame
    for tid in track_ids:
        keys = video.gap_keyframes(tid)
        before = [k for k in keys if k < frame]
        after = [k for k in keys if k > frame]
        lo = min(lo, before[-1] + 1 if before else frame)
        hi = max(hi, after[0] - 1 if after else frame)
    return lo, hi


def refill_around(video: Video, frames, method, frame: int, track_ids, *,
                  progress: Callable[[int, int], None] | None = None,
                  cancel: Callable[[], bool] | None = None) -> list[PoseChange]:
    """Re-fill the gaps on both sides of a new keyframe at `frame` with the fill method (the
    public `autofill.fill`); `video` already holds the keyframe and is not modified."""
    from .autofill import fill

    track_ids = list(track_ids)
    lo, hi = refill_range(video, frame, track_ids)
    if lo == hi:
        return []
    return fill(video, frames, method, track_ids=track_ids, frame_range=(lo, hi), progress=progress, cancel=cancel,
                tune=False)


class _Filled:
    """A video seen with one track's poses on some frames replaced ({frame: pose, None: none}):
    what the chains of `carry_to_corrections` walk."""

    def __init__(self, video: Video, track_id: int, poses: dict[int, Pose | None]):
        self.video, self.track_id, self.poses = video, track_id, poses
        self.num_frames, self.width, self.height = video.num_frames, video.width, video.height

    def pose(self, frame: int, track_id: int) -> Pose | None:
        if track_id == self.track_id and frame in self.poses:
            return self.poses[frame]
        return self.video.pose(frame, track_id)


def carry_to_corrections(video: Video, track_id: int, fill: dict[int, Pose | None],
                         merged: dict[int, Pose | None]) -> dict[int, Pose | None]:
    """A new fill of one track's frames joined to the annotator's work there, as their drags and
    accepts left it: `fill` {frame: the fill's pose (None: none)}, `merged` {frame: the pose
    merging it gives (the annotator's joints kept, a reviewed pose kept whole)}. Each kept joint's
    filled chains are carried to it from where the new fill had it: a corrected or placed joint's
    as `correct_joints` carries them, a reviewed pose's other joints as `accept_pose` does.
    Returns {frame: pose (None: none)} for the frames of `merged` the carry changed. Without it a
    second fill undid every drag's re-fill and left the corrected joint standing apart from its
    neighbours (a trial's ankle: 462, 473, 447 px on three frames). The chains may walk on past
    these frames (to their anchors, for the fade); only these frames change. `video` is not
    modified."""
    view = _Filled(video, track_id, merged)
    edited: dict[int, Pose] = {}
    for frame in sorted(fill):
        old, new = video.pose(frame, track_id), fill[frame]
        if old is None or new is None or old.keyframe:
            continue
        # drag then A is the usual review: a reviewed pose's corrections carry as well as its rest
        kept = (old.user_joints() | (old.auto_joints() if old.reviewed else False)) & new.labelled()
        for j in np.flatnonzero(kept):
            # corrections are anchors of each other's chains, so their own places never move here
            _refill_chain(view, track_id, frame, int(j), old.xy[j], old.xy[j] - new.xy[j], DEFAULT_CARRY, edited)
    return {f: _on_picture(video, pose) for f, pose in edited.items() if f in merged}


def apply_changes(video: Video, changes: list[PoseChange]) -> None:
    """Apply changes to an in-memory video (the project store does this for a project)."""
    for c in changes:
        if c.pose is None:
            video.remove_pose(c.frame, c.track_id)
        else:
            video.set_pose(c.frame, c.track_id, c.pose)
