"""The auto-fill engine: plan the gaps between keyframes, run a method from both sides, fuse, merge.

A method only moves the anchor keyframes' joints through the frames of a span (`Method.propagate`);
everything else lives here and is shared by every method: which frames to fill, how the two
sides are fused, confidence, visibility, boxes, and merging into existing poses without touching
joints an annotator placed or corrected.
"""
from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from ..annotation import Pose, PoseChange, Provenance, Video, inside_picture, suggestion_only
from ..errors import Cancelled, PoseWarperError

ONE_SIDED_FACTOR = 0.5  # confidence multiplier for joints that only one keyframe has
FUSIONS = ("distance", "confidence", "drift")

Progress = Callable[[int, int], None]
CancelCheck = Callable[[], bool]


@dataclass(frozen=True)
class Gap:
    """Frames `first..last` (inclusive) of one track, to fill from the keyframes around them.

    `before`/`after` are the anchor keyframes (None on the open side of an extrapolation).
    """

    track_id: int
    first: int
    last: int
    before: int | None
    after: int | None
    inside: tuple[int, ...] = ()  # keyframes of suggestions only within first..last: filled across, left as they are

    @property
    def num_frames(self) -> int:
        return self.last - self.first + 1 - len(self.inside)

    @property
    def span(self) -> "Span":
        return Span(self.before, self.after, self.first, self.last)


@dataclass(frozen=True)
class Span:
    """What gaps of several tracks share: anchors and filled frames. Flow is computed once per span."""

    before: int | None
    after: int | None
    first: int
    last: int

    @property
    def frames(self) -> range:
        return range(self.first, self.last + 1)


@dataclass
class Side:
    """One side's propagation over a span's frames: positions (P, T, J, 2) and the method's own
    quality (P, T, J) in [0, 1] (1 where it has no measure of its own)."""

    xy: np.ndarray
    quality: np.ndarray
    drift: np.ndarray | None = None  # (P, J, 2): where the chain ended minus the far keyframe
    # (P, T, J) the method's own confidence in the fused joint, in [0, 1]: where both sides have
    # it, it replaces the engine's distance-and-quality weighting (keyframe_match.py)
    confidence: np.ndarray | None = None


class Method:
    """A way to move keyframe joints to other frames (linear.py, flow.py, keyframe_match.py,
    posewarper_method.py). The flags say what a caller (the GUI, the CLI) must know about it."""

    name: str
    provenance: Provenance
    half_life: float  # frames from a keyframe after which a side's confidence has halved
    needs_frames: bool = True  # propagate reads the video's frames
    tunable: bool = False  # prepare() tunes the method on the video's keyframes (the GUI's "Tune first")
    uses_torch: bool = False  # computes with torch (the GUI leaves a core to its own thread)

    def propagate(
        self, frames, span: Span, before: list[Pose] | None, after: list[Pose] | None, check: Callable[[], None]
    ) -> tuple[Side | None, Side | None]:
        """Move the `before` poses forward and the `after` poses backward over span.frames."""
        raise NotImplementedError

    def prepare(self, video: Video, frames, gaps: list[Gap], check: Callable[[], None],
                progress: Progress | None = None) -> None:
        """One-off work before the spans are filled (e.g. tuning on the video's keyframes);
        `progress(step, steps)` reports it. None by default."""

    def correct(self, frames, span: Span, before: list[Pose] | None, after: list[Pose] | None,
                filled: dict[tuple[int, int], Pose], check: Callable[[], None],
                around: Callable[[int], list[np.ndarray]] = lambda frame: []) -> dict[tuple[int, int], Pose]:
        """Correct the fused poses {(pose index in before/after, frame): Pose} of a span; runs after
        fusion. `around(frame)`: the joints ((J, 2), NaN where unlabelled) of the people on that
        frame who are not in this span (PeopleAround). Unchanged by default."""
        return filled


def plan_gaps(
    video: Video,
    track_ids: Iterable[int] | None = None,
    frame_range: tuple[int, int] | None = None,
    extrapolate: int = 0,
) -> list[Gap]:
    """The frames to fill: every frame strictly between two consecutive keyframes of a track,
    plus up to `extrapolate` frames before the first and after the last keyframe; never a gap
    next to a "not in view" mark (Pose.is_absent_mark), nor an extrapolation from one. A keyframe
    of suggested joints only (annotation.suggestion_only) bounds no gap: the gap runs across it
    from the keyframes either side (the same fill as without it), its frame not a target (Gap.inside).

    `frame_range` (first, last), inclusive, limits the frames filled (anchors may lie outside).
    Gaps come sorted by span and track, so tracks that share keyframes are filled together.
    """
    if extrapolate < 0:
        raise PoseWarperError(f"extrapolate must be 0 or more frames, got {extrapolate}")
    lo, hi = 0, video.num_frames - 1
    if frame_range is not None:
        lo, hi = max(lo, int(frame_range[0])), min(hi, int(frame_range[1]))
    ids = sorted(video.tracks) if track_ids is None else sorted(set(track_ids))
    gaps = []
    for tid in ids:
        if tid not in video.tracks:
            raise PoseWarperError(f"video {video.name or video.source} has no track {tid}")
        # A keyframe of suggested joints only (nobody accepted them) anchors nothing (anchor()
        # leaves them out): the gap runs across it, as if it were not there, instead of ending
        # there and being extrapolated one-sided from each end.
        keys, proposed = [], []  # Video.gap_keyframes, and the keyframes it leaves out, in one scan
        for k in video.keyframes(tid):
            (proposed if suggestion_only(video.pose(k, tid)) else keys).append(k)
        if not keys:
            continue
        # A "not in view" mark anchors nothing: the person leaves or enters somewhere between it
        # and the next keyframe, so neither that gap nor an extrapolation from it is filled.
        real = {k for k in keys if not video.pose(k, tid).is_absent_mark()}
        candidates = [(a + 1, b - 1, a, b) for a, b in zip(keys, keys[1:]) if a in real and b in real]
        if extrapolate:
            if keys[0] in real:
                candidates.insert(0, (keys[0] - extrapolate, keys[0] - 1, None, keys[0]))
            if keys[-1] in real:
                candidates.append((keys[-1] + 1, keys[-1] + extrapolate, keys[-1], None))
        for first, last, before, after in candidates:
            first, last = max(first, lo), min(last, hi)
            if first <= last:
                gaps.append(Gap(tid, first, last, before, after, tuple(p for p in proposed if first <= p <= last)))
    gaps.sort(key=lambda g: (g.first, g.last, g.before is None, g.after is None, g.track_id))
    return gaps


def run_fill(
    video: Video,
    frames,
    method: Method,
    gaps: list[Gap],
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    on_changes: Callable[[list[PoseChange]], None] | None = None,
    fusion: str = "distance",
    setup_progress: Progress | None = None,
    on_unchanged: Callable[[int, int], None] | None = None,
    resume_from: Callable[[int], None] | None = None,
) -> list[PoseChange]:
    """Fill `gaps` of `video` with `method`; returns the changes (the video itself is not modified).

    `progress(done, total)` counts person-frames; `setup_progress(step, steps)` the method's
    one-off work before the first of them (the posewarper matcher's tuning on the keyframes).
    `on_unchanged(frame, track_id)` hears of each person-frame the run leaves as it was (it gives
    the pose there already, or nothing to fill from where there is none), so a count of the
    changes can be squared with the person-frames counted.

    `fusion`: "distance" weights each side by its temporal distance to the other keyframe (the
    reference); "confidence" by each side's confidence (distance decay times the method's quality);
    "drift" is "distance" after taking out each chain's drift (how far it ended from the other
    keyframe, assumed to grow linearly along the chain; for methods that measure it).
    `resume_from(frame)`, after a span's changes went to `on_changes`: the frames from `frame` on
    are all that is left to fill, so a fill stopped there is finished by filling those
    (fillrecord.record_progress). Said only where no span done reaches `frame` (the next span's
    first; the spans come in order of it): finishing must not fill again the tail of a span that
    is done, which it would without the carries of the corrections before its cut.
    """
    if fusion not in FUSIONS:
        raise PoseWarperError(f"unknown fusion {fusion!r}; choose from {', '.join(FUSIONS)}")
    total = sum(g.num_frames for g in gaps)
    done = 0

    def check() -> None:
        if cancel is not None and cancel():
            raise Cancelled(f"auto-fill ({method.name}) cancelled after {done} of {total} person-frames")

    if progress:
        progress(0, total)
    if gaps:  # e.g. learn from the video's keyframes (keyframe_match.py)
        check()
        method.prepare(video, frames, gaps, check, setup_progress)
    by_span: dict[Span, list[Gap]] = defaultdict(list)
    for g in gaps:
        by_span[g.span].append(g)
    changes: list[PoseChange] = []
    around = PeopleAround(video)
    spans = list(by_span)
    reach = -1  # the last frame of the spans done
    for n, (span, span_gaps) in enumerate(by_span.items()):  # insertion order = the plan's sorted order
        check()
        tids = [g.track_id for g in span_gaps]
        before = [anchor(video.pose(span.before, t)) for t in tids] if span.before is not None else None
        after = [anchor(video.pose(span.after, t)) for t in tids] if span.after is not None else None
        fwd, bwd = method.propagate(frames, span, before, after, check)
        filled = {}
        for i in range(len(tids)):
            for ti, frame in enumerate(span.frames):
                pose = fuse(method, span, frame, ti, i, before, after, fwd, bwd, fusion)
                if pose is not None:
                    filled[(i, frame)] = pose
        filled = method.correct(frames, span, before, after, filled, check,  # e.g. keyframe_match.py
                                around=around.outside(tids))
        filled = {key: kept for key, pose in filled.items()
                  for kept in [inside_picture(pose, video.width, video.height)] if kept is not None}
        around.add({(frame, tids[i]): pose for (i, frame), pose in filled.items()})
        new = []
        for i, (tid, gap) in enumerate(zip(tids, span_gaps)):
            # a suggestion nobody accepted (gap.inside) is not a person-frame to fill
            fill = {frame: filled.get((i, frame)) for frame in span.frames if frame not in gap.inside}
            for frame, change in merge_track(video, tid, fill).items():
                if change is not None:
                    new.append(change)
                elif on_unchanged is not None:
                    on_unchanged(frame, tid)
        done += sum(g.num_frames for g in span_gaps)
        changes.extend(new)
        if on_changes and new:
            on_changes(new)
        if progress:
            progress(done, total)
        reach = max(reach, span.last)
        if resume_from is not None and n + 1 < len(spans) and spans[n + 1].first > reach:
            resume_from(spans[n + 1].first)
    return changes


class PeopleAround:
    """Where the people of a video are on a frame, for a span that does not fill them (a method that
    must not take someone else's limb for its person's, pose_model_fusion.py): their pose filled
    earlier in this run, else the video's (a keyframe, an earlier fill), else the straight line
    between their keyframes around the frame (filling one person at a time, as the GUI's G does,
    the others' frames in between may not be filled yet). Computed only when asked for."""

    def __init__(self, video: Video):
        self.video = video
        self._fresh: dict[tuple[int, int], Pose] = {}  # (frame, track id): filled in this run
        self._keys: dict[int, list[int]] = {}

    def add(self, filled: dict[tuple[int, int], Pose]) -> None:
        self._fresh.update(filled)

    def outside(self, track_ids: Iterable[int]) -> Callable[[int], list[np.ndarray]]:
        """frame -> [(J, 2) joints, NaN where unlabelled] of each person not in `track_ids` (each
        frame worked out once: the step asks for every person of the span on it)."""
        skip = set(track_ids)
        seen: dict[int, list[np.ndarray]] = {}

        def people(frame: int) -> list[np.ndarray]:
            if frame not in seen:
                seen[frame] = [xy for tid in self.video.tracks if tid not in skip
                               for xy in [self._joints(frame, tid)] if xy is not None]
            return seen[frame]  # callers build their own list from it
        return people

    def _joints(self, frame: int, tid: int) -> np.ndarray | None:
        pose = self._fresh.get((frame, tid))
        if pose is None:
            pose = self.video.pose(frame, tid)
        if pose is None:
            return self._between_keyframes(frame, tid)
        return pose.labelled_xy() if pose.labelled().any() else None

    def _between_keyframes(self, frame: int, tid: int) -> np.ndarray | None:
        if tid not in self._keys:
            self._keys[tid] = self.video.gap_keyframes(tid)  # as the gaps are: across suggestions
        keys = self._keys[tid]
        at = bisect.bisect(keys, frame)
        if at == 0 or at == len(keys):
            return None
        a, b = self.video.pose(keys[at - 1], tid), self.video.pose(keys[at], tid)
        both = a.labelled() & b.labelled()  # a "not in view" mark has no joint: nobody in between
        if not both.any():
            return None
        t = (frame - keys[at - 1]) / (keys[at] - keys[at - 1])
        return np.where(both[:, None], a.xy + t * (b.xy - a.xy), np.nan)


def anchor(pose: Pose) -> Pose:
    """A keyframe pose as an anchor: its suggested joints (proposed, not yet accepted by the
    annotator) left out, so a fill never spreads a guess nobody looked at."""
    suggested = pose.provenance == Provenance.SUGGESTED
    if not suggested.any():
        return pose
    out = pose.copy()
    out.clear(suggested)
    return out


def _distance_confidence(method: Method, distance: np.ndarray | float) -> np.ndarray:
    return np.power(0.5, np.asarray(distance, np.float64) / method.half_life)


def fuse(
    method: Method, span: Span, frame: int, ti: int, i: int,
    before: list[Pose] | None, after: list[Pose] | None, fwd: Side | None, bwd: Side | None,
    fusion: str = "distance",
) -> Pose | None:
    """The filled pose of track i at `frame` (index ti in the span) from both sides, or None."""
    pa = before[i] if before is not None else None
    pb = after[i] if after is not None else None
    num_joints = (pa or pb).num_joints
    has_a = pa.labelled() if pa is not None else np.zeros(num_joints, bool)
    has_b = pb.labelled() if pb is not None else np.zeros(num_joints, bool)
    if not (has_a | has_b).any():
        return None
    xy = np.zeros((num_joints, 2))
    conf = np.zeros(num_joints)
    vis = np.zeros(num_joints, np.uint8)
    da = frame - span.before if pa is not None else np.inf
    db = span.after - frame if pb is not None else np.inf
    ca = cb = None
    if pa is not None:
        ca = _distance_confidence(method, da) * fwd.quality[i, ti] * pa.confidence
    if pb is not None:
        cb = _distance_confidence(method, db) * bwd.quality[i, ti] * pb.confidence
    both = has_a & has_b
    if both.any():
        if fusion == "confidence":
            wa = ca / np.maximum(ca + cb, 1e-12)
            wa = np.where(ca + cb > 0, wa, db / (da + db))[:, None]
        else:  # the reference: weight each side by the temporal distance to the other keyframe
            wa = np.full((num_joints, 1), db / (da + db))
        xa, xb = fwd.xy[i, ti], bwd.xy[i, ti]
        if fusion == "drift" and fwd.drift is not None and bwd.drift is not None:
            # Take out each chain's drift, assumed to grow linearly from its own keyframe.
            xa = xa - fwd.drift[i] * da / (da + db)
            xb = xb - bwd.drift[i] * db / (da + db)
        xy[both] = (wa * xa + (1 - wa) * xb)[both]
        if fwd.confidence is not None and bwd.confidence is not None:
            own = (wa[:, 0] * fwd.confidence[i, ti] + (1 - wa[:, 0]) * bwd.confidence[i, ti])
            conf[both] = (own * np.minimum(pa.confidence, pb.confidence))[both]
        else:
            conf[both] = (wa[:, 0] * ca + (1 - wa[:, 0]) * cb)[both]
        nearer_a = da <= db
        vis[both] = (pa.visibility if nearer_a else pb.visibility)[both]
    for has, other, side, c, p in ((has_a, has_b, fwd, ca, pa), (has_b, has_a, bwd, cb, pb)):
        only = has & ~other
        if only.any():
            xy[only] = side.xy[i, ti][only]
            conf[only] = ONE_SIDED_FACTOR * c[only]
            vis[only] = p.visibility[only]
    one_sided = (has_a | has_b) & ~both
    if both.any() and one_sided.any():
        # a joint only one keyframe has is a guess: never surer than the pose's joints filled from both
        conf[one_sided] = np.minimum(conf[one_sided], ONE_SIDED_FACTOR * conf[both].min())
    labelled = vis > 0
    pose = Pose(
        xy=np.where(labelled[:, None], xy, 0.0),
        visibility=vis,
        provenance=np.where(labelled, method.provenance, Provenance.NONE),
        confidence=np.clip(np.where(labelled, conf, 0.0), 0.0, 1.0),
        method=method.name,
    )
    pose.bbox = _fused_box("bbox", i, ti, pa, pb, fwd, bwd, da, db)
    pose.head_box = _fused_box("head_box", i, ti, pa, pb, fwd, bwd, da, db)
    return pose


def _fused_box(attr, i, ti, pa, pb, fwd, bwd, da, db):
    """The anchors' boxes moved by the mean motion of their joints, fused by temporal distance."""
    moved = []
    for p, side, d in ((pa, fwd, db), (pb, bwd, da)):  # weight of a side = distance to the other
        box = getattr(p, attr) if p is not None else None
        if box is None:
            continue
        m = p.labelled()
        shift = (side.xy[i, ti][m] - p.xy[m]).mean(axis=0) if m.any() else np.zeros(2)
        moved.append((np.array(box) + [shift[0], shift[1], 0.0, 0.0], d))
    if not moved:
        return None
    if len(moved) == 1:
        return tuple(float(v) for v in moved[0][0])
    (ba, wa), (bb, wb) = moved
    return tuple(float(v) for v in (wa * ba + wb * bb) / (wa + wb))


def merge_track(video: Video, track_id: int, fill: dict[int, Pose | None]) -> dict[int, PoseChange | None]:
    """The changes {frame: change, None: nothing changes} that put one track's new fill
    ({frame: pose, None: none}) into the video: each frame merged (`merge`), then the fill's
    chains carried to the joints an annotator corrected and the poses they accepted, as their
    drags and accepts had carried the last fill (correction.carry_to_corrections)."""
    from ..correction import carry_to_corrections

    out = {frame: merge(video, frame, track_id, pose) for frame, pose in fill.items()}
    merged = {frame: change.pose if change is not None else video.pose(frame, track_id) for frame, change in out.items()}
    for frame, pose in carry_to_corrections(video, track_id, fill, merged).items():
        existing = video.pose(frame, track_id)
        same = pose is existing or (pose is not None and existing is not None and pose.same_as(existing))
        out[frame] = None if same else PoseChange(video.video_id, frame, track_id, pose)
    return out


def merge(video: Video, frame: int, track_id: int, filled: Pose | None) -> PoseChange | None:
    """The change that puts `filled` at (frame, track) without touching the annotator's joints.

    Joints an annotator placed or corrected stay as they are, and so do suggested joints not
    accepted yet (E over a filled pose); earlier auto-filled joints are
    replaced (or cleared, if this run has nothing for them). A pose the annotator reviewed
    (accepted as it is) stays whole. Returns None when nothing changes.
    """
    existing = video.pose(frame, track_id)
    if existing is not None and (existing.keyframe or existing.reviewed):
        return None  # a keyframe is an anchor, never a target; a reviewed pose is the annotator's word
    if existing is None:
        return None if filled is None else PoseChange(video.video_id, frame, track_id, filled)
    # the annotator's joints, and suggestions E put on a filled pose (not theirs yet, not the fill's)
    keep = existing.user_joints() | existing.suggested_joints()
    if filled is None:
        filled = Pose.empty(existing.num_joints)
    out = filled.copy()
    out.xy[keep] = existing.xy[keep]
    out.visibility[keep] = existing.visibility[keep]
    out.provenance[keep] = existing.provenance[keep]
    out.confidence[keep] = existing.confidence[keep]
    if not out.auto_joints().any():
        out.method = existing.method if keep.any() else None
    if out.bbox is None:
        out.bbox = existing.bbox
    if out.head_box is None:
        out.head_box = existing.head_box
    if out.is_empty():
        return PoseChange(video.video_id, frame, track_id, None)
    if out.same_as(existing):
        return None
    return PoseChange(video.video_id, frame, track_id, out)
