"""The annotator's effort, measured: a simulated annotator works through a densely labelled clip
with the tool's real code paths (keyframes, auto-fill, review order, corrections and their
re-fill), and we count what a person would pay.

The annotator (`Annotator`) uses the ground truth only for what a person sees: which joints of
a pose shown to them are off by more than the tolerance, and where those belong. Every choice of
the tool (which frame next, when review is done, how to re-fill) is made without it.

Costs:
- a keyframe joint costs one click, unless the tool already shows it within tolerance (then it
  is left where it is, free); a joint shown where the ground truth has none costs one click
  (removed). A proposal the annotator judges costs one look per person-frame.
- review: one look per person-frame, one click per joint off by more than the tolerance (or
  missing), then the tool does what it does after that correction in the GUI (correction.py).
- tolerance: alpha = 0.5 of the bench's reference length (evaluation.reference_length: 0.6 x the
  head-box diagonal, or the pose's longer side without head boxes), PCKh@0.5.
- residual error: the share of the ground truth's labelled joints, over every frame of the
  finished clip, that are missing or off by more than the tolerance.

Strategies (keyframe stride k):
- `cvat-like`: keyframes every k (each shown the previous keyframe's pose, as a tracked shape
  carries on in CVAT), linear interpolation, every filled frame reviewed in frame order, a
  correction changes only its own frame.
- `uniform`: keyframes every k as above, filled with the fill method, then reviewed in the
  tool's order (review.py) until review is done; corrections re-fill their chains and accepted
  poses are marked reviewed (correction.py).
- `uniform-proposed` (an ablation): uniform, its keyframes shown the fill carried on as guided's
  are; what is left of guided's saving is where it labels.
- `uniform-suggested`: uniform, each keyframe after a person's first shown the keyframe
  suggestion (suggest.Suggester, what E gives in the GUI: the pose carried from the person's
  previous keyframe and the pose model, chosen per joint); the keyframe clicks it saves against
  `uniform` are what suggestions save.
- `guided`: keyframes every k as a start, each shown the fill carried on from the keyframes
  before it; then, until review is done, the tool's suggested next keyframe
  (review.suggest_keyframe, one person-frame): the annotator fixes what is off, it becomes a
  keyframe and the frames around it are re-filled with the fill method.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import correction, review
from .annotation import Pose, Video
from .errors import PoseWarperError
from .evaluation import bench_keyframes, reference_kind, reference_length
from .skeleton import POSETRACK17, Skeleton

STRATEGIES = ("cvat-like", "uniform", "guided", "uniform-proposed", "uniform-suggested")
ALPHA = 0.5


@dataclass
class Step:
    """The state after one step of the annotator's work (a point of the effort curve)."""

    clicks: int
    looks: int
    residual_error: float
    predicted_error: float  # the highest predicted error still to review when the step began (0: none)

    @property
    def effort(self) -> int:
        return self.clicks + self.looks


@dataclass
class EffortRun:
    strategy: str
    k: int
    clicks: int = 0
    looks: int = 0
    keyframes: int = 0  # person-frames that became keyframes
    reviewed: int = 0  # person-frames looked at in review
    steps: list[Step] = field(default_factory=list)
    residual_error: float = 1.0

    @property
    def effort(self) -> int:
        return self.clicks + self.looks

    def result(self) -> dict:
        return {"strategy": self.strategy, "k": self.k, "clicks": self.clicks, "looks": self.looks,
                "effort": self.effort, "residual_error": round(self.residual_error, 5),
                "keyframes": self.keyframes, "reviewed": self.reviewed,
                # [effort, residual error, predicted error when the step began, clicks] per step
                "curve": [[s.effort, round(s.residual_error, 5), round(s.predicted_error, 3), s.clicks]
                          for s in self.steps]}


class Annotator:
    """What a person sees: joints off by more than the tolerance, and where they belong."""

    def __init__(self, gt: Video, alpha: float = ALPHA):
        self.gt = gt
        self.kind = reference_kind(gt)
        self.alpha = alpha

    def tolerance(self, frame: int, track_id: int) -> float:
        return self.alpha * reference_length(self.gt.pose(frame, track_id), self.kind)

    def off_joints(self, pose: Pose | None, frame: int, track_id: int) -> dict[int, np.ndarray]:
        """{joint: where it belongs} for joints the ground truth has that are missing or off."""
        g = self.gt.pose(frame, track_id)
        if g is None or not g.labelled().any():
            return {}
        want = g.labelled()
        if pose is None:
            return {int(j): g.xy[j].copy() for j in np.flatnonzero(want)}
        err = np.linalg.norm(pose.xy - g.xy, axis=1)
        bad = want & (~pose.labelled() | (err > self.tolerance(frame, track_id)))
        return {int(j): g.xy[j].copy() for j in np.flatnonzero(bad)}

    def label_keyframe(self, proposal: Pose | None, frame: int, track_id: int) -> tuple[Pose | None, int]:
        """(the keyframe the annotator leaves, clicks): proposed joints within tolerance stay
        where they are, the rest are placed; proposed joints the ground truth lacks are removed."""
        g = self.gt.pose(frame, track_id)
        if g is None or not g.labelled().any():
            return None, 0
        off = self.off_joints(proposal, frame, track_id)
        xy = g.xy.copy() if proposal is None else proposal.xy.copy()
        for j, where in off.items():
            xy[j] = where
        extra = 0 if proposal is None else int((proposal.labelled() & ~g.labelled()).sum())
        pose = Pose.manual(xy, g.visibility, keyframe=True, bbox=g.bbox, head_box=g.head_box)
        return pose, len(off) + extra

    def residual_error(self, video: Video) -> float:
        """Share of the ground truth's labelled joints missing or off in `video`."""
        off = total = 0
        for f, by_track in self.gt.poses.items():
            for tid, g in by_track.items():
                n = int(g.labelled().sum())
                if n:
                    total += n
                    off += len(self.off_joints(video.pose(f, tid), f, tid))
        return off / total if total else 0.0


def empty_like(gt: Video, k: int) -> Video:
    """The clip with its tracks and no poses: what the annotator starts from."""
    return Video(source=gt.source, num_frames=gt.num_frames, width=gt.width, height=gt.height, fps=gt.fps,
                 name=gt.name, video_id=gt.video_id, keyframe_stride=k, frames=gt.frames, tracks=dict(gt.tracks))


class Session:
    """One simulated annotator's session on one strategy and k."""

    def __init__(self, gt: Video, frames, method, strategy: str, k: int, *, stop_below: float,
                 carry: str, check: Callable[[], None] | None = None, skeleton: Skeleton = POSETRACK17):
        if strategy not in STRATEGIES:
            raise PoseWarperError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
        self.gt = gt
        self.skeleton = skeleton  # the clip's (keyframe suggestions map the pose model onto it)
        self.frames = frames
        self.method = "linear" if strategy == "cvat-like" else method
        self.carry = "none" if strategy == "cvat-like" else carry
        self.stop_below = stop_below
        self.annotator = Annotator(gt)
        self.video = empty_like(gt, k)
        self.run = EffortRun(strategy, k)
        self.check = check or (lambda: None)

    # --- bookkeeping ----------------------------------------------------------------------
    def _apply(self, changes) -> None:
        correction.apply_changes(self.video, changes)

    def _record(self, predicted: float) -> None:
        res = self.annotator.residual_error(self.video)
        self.run.residual_error = res
        self.run.steps.append(Step(self.run.clicks, self.run.looks, res, predicted))

    # --- the workflow's parts -------------------------------------------------------------
    def label_stride_keyframes(self, propose_by: str = "previous") -> None:
        """Keyframes every k (and the last frame), in frame order. Each is shown the track's
        previous keyframe (`propose_by` "previous": what C does in the GUI; no look counted), the
        fill carried on from the keyframes so far ("fill"), or the keyframe suggestion
        ("suggestion"); those two are proposals judged: one look each."""
        from .autofill import fill

        previous: dict[int, Pose] = {}
        labelled: dict[int, np.ndarray] = {}  # per person, the joints labelled on their keyframes so far
        suggester = None
        if propose_by == "suggestion":
            from .suggest import Suggester

            suggester = Suggester(self.skeleton)
        last = None
        for f in bench_keyframes(self.gt.num_frames, self.run.k):
            proposals: dict[int, Pose | None] = {}
            if last is not None and propose_by == "fill":
                self.check()
                self._apply(fill(self.video, self.frames, self.method, frame_range=(last + 1, f),
                                 extrapolate=f - last, tune=False))
                proposals = {tid: self.video.pose(f, tid) for tid in self.gt.tracks}
            elif last is not None and propose_by == "suggestion":
                self.check()
                ids = [tid for tid in sorted(self.gt.tracks) if tid in previous]
                found = suggester.suggest_frame(self.video, self.frames, f, ids)
                # Only the joints this person has been labelled with: the GUI proposes the
                # project's click order, which an annotator sets to the joints the dataset has.
                proposals = {tid: _only_joints(s.pose, labelled[tid]) for tid, s in found.items()}
            for tid in sorted(self.gt.tracks):
                shown = previous.get(tid) if propose_by == "previous" else proposals.get(tid)
                pose, clicks = self.annotator.label_keyframe(shown, f, tid)
                if pose is None:
                    continue
                self.video.set_pose(f, tid, pose)
                previous[tid] = pose
                labelled[tid] = labelled.get(tid, False) | pose.labelled()
                self.run.clicks += clicks
                self.run.looks += int(propose_by != "previous" and shown is not None)
                self.run.keyframes += 1
            last = f

    def fill_all(self) -> None:
        from .autofill import fill

        self._apply(fill(self.video, self.frames, self.method, tune=False))
        self._record(0.0)  # the curve starts here: before the fill, the frames between are empty

    def review_pose(self, frame: int, track_id: int, predicted: float) -> None:
        """Look at a filled pose, drag what is off (the tool re-fills after the correction), accept it."""
        self.check()
        pose = self.video.pose(frame, track_id)
        off = self.annotator.off_joints(pose, frame, track_id)
        self.run.looks += 1
        self.run.reviewed += 1
        if off:
            self.run.clicks += len(off)
            self._apply(correction.correct_joints(self.video, frame, track_id, off, carry=self.carry))
        self._apply(correction.accept_pose(self.video, frame, track_id, carry=self.carry))
        self._record(predicted)

    def review_in_frame_order(self) -> None:
        for f in sorted(self.video.poses):
            for tid in sorted(self.video.poses[f]):
                if review.needs_review(self.video.pose(f, tid)):
                    self.review_pose(f, tid, review.predicted_error(self.video.pose(f, tid)))

    def review_in_tool_order(self) -> None:
        while True:
            item = review.next_to_review(self.video, threshold=self.stop_below)
            if item is None:
                return
            self.review_pose(item.frame, item.track_id, item.predicted_error)

    def label_suggested_keyframes(self) -> None:
        while True:
            self.check()
            item = review.suggest_keyframe(self.video, self.stop_below)
            if item is None:
                return
            frame, tid = item.frame, item.track_id
            # As in the GUI: drag what is off (no chain re-fill: the fill follows), then confirm.
            off = self.annotator.off_joints(self.video.pose(frame, tid), frame, tid)
            self.run.looks += 1
            self.run.clicks += len(off)
            self.run.keyframes += 1
            if off:
                self._apply(correction.correct_joints(self.video, frame, tid, off, carry="none"))
            self._apply(correction.confirm_pose(self.video, frame, tid))
            self._apply(correction.refill_around(self.video, self.frames, self.method, frame, [tid]))
            self._record(item.predicted_error)

    def work(self) -> EffortRun:
        strategy = self.run.strategy
        proposals = {"guided": "fill", "uniform-proposed": "fill", "uniform-suggested": "suggestion"}
        self.label_stride_keyframes(proposals.get(strategy, "previous"))
        self.fill_all()
        if strategy == "cvat-like":
            self.review_in_frame_order()
        elif strategy.startswith("uniform"):
            self.review_in_tool_order()
        else:
            self.label_suggested_keyframes()
        return self.run


def _only_joints(pose: Pose | None, keep: np.ndarray) -> Pose | None:
    """`pose` with only the joints in `keep` labelled."""
    if pose is None:
        return None
    out = pose.copy()
    drop = ~keep
    out.xy[drop] = 0.0
    out.visibility[drop] = 0
    out.provenance[drop] = 0
    out.confidence[drop] = 0.0
    return out if out.labelled().any() else None


def simulate(gt: Video, frames, method, strategy: str, k: int, *, stop_below: float = review.REVIEW_DONE_BELOW,
             carry: str = correction.DEFAULT_CARRY, check: Callable[[], None] | None = None,
             skeleton: Skeleton = POSETRACK17) -> EffortRun:
    """One strategy at one k on one clip: the simulated annotator's clicks, looks and residual error.
    `method` is the fill method (a name or an autofill Method); cvat-like always uses linear."""
    if k < 2:
        raise PoseWarperError(f"the keyframe interval k must be at least 2, got {k}")
    return Session(gt, frames, method, strategy, k, stop_below=stop_below, carry=carry, check=check,
                   skeleton=skeleton).work()


def result_at(result: dict, stop_below: float) -> dict:
    """A result (EffortRun.result()) as it would have ended with review done below `stop_below`
    instead: the review rule only decides when to stop, so the run's own curve has the answer
    for any threshold at or above the one it ran with."""
    last = result["curve"][0]
    for point in result["curve"][1:]:
        if point[2] and point[2] < stop_below:
            break
        last = point
    out = dict(result)
    out.update(effort=last[0], residual_error=last[1])
    if len(last) > 3:
        out.update(clicks=last[3], looks=last[0] - last[3])
    out["curve"] = [p for p in result["curve"] if p[0] <= last[0]]
    return out


STOP_CANDIDATES = tuple(round(0.25 * i, 2) for i in range(1, 41))  # 0.25 .. 10


def choose_stop(results: list[dict], ran_below: float, bar: float = 0.02) -> float:
    """Leave-one-clip-out: on one clip's results (run with review done below `ran_below`, a low
    threshold), the highest threshold at which uniform and guided end at or below `bar` residual
    error at every k (the least review that still finishes the clip); `ran_below` if none does."""
    tool = [r for r in results if r["strategy"] in ("uniform", "guided")]
    if not tool:
        raise PoseWarperError("choosing the review-done threshold needs uniform or guided results")
    candidates = [t for t in STOP_CANDIDATES if t >= ran_below]
    ok = [t for t in candidates if all(result_at(r, t)["residual_error"] <= bar for r in tool)]
    return max(ok) if ok else ran_below


def best_k(results: list[dict], strategy: str, bar: float) -> dict | None:
    """The strategy's least-effort result whose residual error is at most `bar` (None if none is)."""
    ok = [r for r in results if r["strategy"] == strategy and r["residual_error"] <= bar]
    return min(ok, key=lambda r: (r["effort"], r["k"])) if ok else None


def format_effort_table(results: list[dict], title: str = "") -> str:
    head = f"{'strategy':<17}{'k':>4}{'keyframes':>11}{'reviewed':>10}{'clicks':>8}{'looks':>7}{'effort':>8}{'residual %':>12}"
    lines = [title] if title else []
    lines += [head, "-" * len(head)]
    for r in results:
        lines.append(f"{r['strategy']:<17}{r['k']:>4}{r['keyframes']:>11}{r['reviewed']:>10}{r['clicks']:>8}"
                     f"{r['looks']:>7}{r['effort']:>8}{100 * r['residual_error']:>12.2f}")
    return "\n".join(lines)


def read_bar(results: list[dict], bar: float = 0.02) -> dict:
    """The issue's bar: to reach residual <= bar, guided needs <= half cvat-like's effort at its best
    k and >= 20 % less than uniform's at its best k."""
    best = {s: best_k(results, s, bar) for s in STRATEGIES}
    out = {"bar_residual": bar, **{f"best_{s}": (None if b is None else {"k": b["k"], "effort": b["effort"]})
                                   for s, b in best.items()}}
    g, c, u = best["guided"], best["cvat-like"], best["uniform"]
    out["guided_vs_cvat"] = None if not (g and c) else round(g["effort"] / c["effort"], 3)
    out["guided_vs_uniform"] = None if not (g and u) else round(g["effort"] / u["effort"], 3)
    out["passed"] = bool(g and c and u and g["effort"] <= 0.5 * c["effort"] and g["effort"] <= 0.8 * u["effort"])
    return out
