"""The auto-fill benchmark: keep every k-th frame of a dense ground truth as keyframes, fill the
rest with the very engine the GUI uses, and score the filled joints.

Protocol (the one of ../shared/data/README.md):
- keyframes: frames 0, k, 2k, ... and the last frame (the poses of every track there);
- scored: every other frame's joints that are labelled in that frame's ground truth and in both of
  the track's neighbouring keyframes (extrapolated frames are not scored);
- a joint is correct at alpha when its error is at most alpha * L, where L is the person's head
  size, 0.6 x the diagonal of the ground-truth head box (bbox_head [x, y, w, h] -> 0.6 *
  sqrt(w^2 + h^2)), when every ground-truth pose has a head box, and otherwise the longer side of
  the ground-truth pose's joint extent in that frame;
- groups (skeleton.JOINT_GROUPS) pool their joints; Mean pools ALL scored joints (each joint
  counts once). On the dev clips every group has two scored joints, so this equals the mean over
  groups; pooling stays meaningful when a skeleton has groups of unequal size.
- median error in pixels over all scored joints; speed in filled person-frames per second of
  wall time, frame decoding included;
- confidence: the AUROC of the filled joints' confidence for telling the joints off by more than
  alpha = 0.5 from the others (1: every off joint less confident than every good one; 0.5: no
  better than chance; None when no joint, or every joint, is off), and the number of off joints
  it was measured on;
- `unflagged=True` scores only joints whose ground-truth label and keyframe labels `posewarper
  check` leaves unflagged (a clip whose labels have errors: a method cannot be right where the
  label it is scored on, or filled from, is wrong);
- `each_person=True` fills one person at a time, in track order, each person's fill written into
  the video before the next one's, as the GUI's G fills the selected person (the default fills
  everyone together).
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .annotation import Pose, PoseChange, Video
from .errors import PoseWarperError
from .skeleton import JOINT_GROUPS, Skeleton

ALPHAS = (0.5, 0.2)
CONFIDENCE_ALPHA = 0.5  # the confidence's AUROC is for joints off by more than this
HEAD_SIZE_FACTOR = 0.6
LEARNED_METHODS = ("posewarper",)


def bench_keyframes(num_frames: int, k: int) -> list[int]:
    """Frames 0, k, 2k, ... and the last frame."""
    if k < 2:
        raise PoseWarperError(f"the keyframe interval k must be at least 2, got {k}")
    if num_frames < 1:
        raise PoseWarperError("the ground truth has no frames")
    keys = list(range(0, num_frames, k))
    if keys[-1] != num_frames - 1:
        keys.append(num_frames - 1)
    return keys


def keyframes_only(gt: Video, k: int) -> Video:
    """A copy of the ground-truth video that keeps only the bench's keyframes, as an annotator's."""
    out = Video(
        source=gt.source, num_frames=gt.num_frames, width=gt.width, height=gt.height, fps=gt.fps,
        name=gt.name, video_id=gt.video_id, keyframe_stride=k, frames=gt.frames,
        tracks=dict(gt.tracks),
    )
    for f in bench_keyframes(gt.num_frames, k):
        for tid, p in gt.poses.get(f, {}).items():
            if p.labelled().any():
                kp = Pose.manual(p.xy, p.visibility, keyframe=True, bbox=p.bbox, head_box=p.head_box)
                out.set_pose(f, tid, kp)
    return out


@dataclass
class Scores:
    """One row per scored joint: joint index, error in pixels (inf if not filled), reference length,
    the filled joint's confidence (0 if not filled)."""

    joint: np.ndarray
    error: np.ndarray
    length: np.ndarray
    reference: str  # "head" or "extent"
    confidence: np.ndarray | None = None


def reference_kind(gt: Video) -> str:
    """"head" when every ground-truth pose has a head box, else "extent"."""
    poses = [p for by_track in gt.poses.values() for p in by_track.values()]
    return "head" if poses and all(p.head_box is not None for p in poses) else "extent"


def reference_length(pose: Pose, kind: str) -> float:
    if kind == "head":
        _, _, w, h = pose.head_box
        return HEAD_SIZE_FACTOR * float(np.hypot(w, h))
    _, _, w, h = pose.joint_extent()
    return float(max(w, h))


def score_fill(gt: Video, keys: Video, filled: dict[tuple[int, int], Pose],
               exclude: set[tuple[int, int, int]] | frozenset = frozenset()) -> Scores:
    """Score filled poses {(frame, track_id): pose} against the ground truth (see module doc);
    a joint is not scored where its label, or its label in either keyframe it is filled from, is
    in `exclude` {(frame, track_id, joint)}."""
    kind = reference_kind(gt)
    rows = []
    for tid in sorted(keys.tracks):
        kfs = keys.keyframes(tid)
        for a, b in zip(kfs, kfs[1:]):
            pa, pb = keys.pose(a, tid), keys.pose(b, tid)
            anchored = pa.labelled() & pb.labelled()
            for f in range(a + 1, b):
                g = gt.pose(f, tid)
                if g is None:
                    continue
                m = g.labelled() & anchored
                if not m.any():
                    continue
                length = reference_length(g, kind)
                pred = filled.get((f, tid))
                err = np.full(g.num_joints, np.inf)
                conf = np.zeros(g.num_joints)
                if pred is not None:
                    ok = pred.labelled()
                    err[ok] = np.linalg.norm(pred.xy[ok] - g.xy[ok], axis=1)
                    conf[ok] = pred.confidence[ok]
                for j in np.flatnonzero(m):
                    if not exclude or not {(f, tid, int(j)), (a, tid, int(j)), (b, tid, int(j))} & exclude:
                        rows.append((j, err[j], length, conf[j]))
    arr = np.array(rows, np.float64).reshape(-1, 4)
    return Scores(arr[:, 0].astype(np.int64), arr[:, 1], arr[:, 2], kind, arr[:, 3])


def flagged_labels(gt: Video, skeleton: Skeleton) -> set[tuple[int, int, int]]:
    """The ground-truth labels (frame, track_id, joint) that `posewarper check` flags."""
    from .label_check import suspect_labels

    out = set()
    for s in suspect_labels(gt, skeleton):
        out.add((s.frame, s.track_id, s.joint))
        if s.other is not None:
            out.add((s.frame, s.track_id, s.other))
    return out


def auroc(confidence: np.ndarray, off: np.ndarray) -> float | None:
    """The probability that a joint that is not off has a higher confidence than one that is
    (ties count half); None without both kinds."""
    confidence, off = np.asarray(confidence, np.float64), np.asarray(off, bool)
    n_off, n_ok = int(off.sum()), int((~off).sum())
    if n_off == 0 or n_ok == 0:
        return None
    values, inverse, counts = np.unique(confidence, return_inverse=True, return_counts=True)
    mid_rank = np.cumsum(counts) - (counts - 1) / 2  # the mean rank of each tied group, from 1
    ranks = mid_rank[inverse]
    return float((ranks[~off].sum() - n_ok * (n_ok + 1) / 2) / (n_ok * n_off))


def summarize(scores: Scores, skeleton: Skeleton, person_frames: int, seconds: float) -> dict:
    """The bench's numbers for one method, as the --json file has them."""
    out = {"reference": scores.reference}
    names = np.array(skeleton.joints)[scores.joint] if len(scores.joint) else np.array([], str)
    for alpha in ALPHAS:
        correct = scores.error <= alpha * scores.length
        groups = {}
        for group, members in JOINT_GROUPS.items():
            sel = np.isin(names, members)
            if sel.any():
                groups[group] = round(100.0 * float(correct[sel].mean()), 2)
        groups["Mean"] = round(100.0 * float(correct.mean()), 2) if len(correct) else float("nan")
        out[f"at_{alpha}"] = groups
    out["median_error_px"] = round(float(np.median(scores.error)), 3) if len(scores.error) else float("nan")
    out["scored_joints"] = int(len(scores.error))
    if scores.confidence is not None:
        off = scores.error > CONFIDENCE_ALPHA * scores.length
        value = auroc(scores.confidence, off)
        out["confidence_auroc"] = None if value is None else round(value, 3)
        out["off_joints"] = int(off.sum())
        # the same at alpha 0.2: more off joints where few are off at 0.5 (a clip's label errors)
        value = auroc(scores.confidence, scores.error > ALPHAS[-1] * scores.length)
        out["confidence_auroc_at_0.2"] = None if value is None else round(value, 3)
    out["person_frames_per_second"] = round(person_frames / seconds, 2) if seconds > 0 else float("inf")
    return out


def changed_poses(changes: list[PoseChange]) -> dict[tuple[int, int], Pose]:
    """The poses the changes put, keyed by (frame, track_id) (removals drop the key)."""
    out: dict[tuple[int, int], Pose] = {}
    for c in changes:
        if c.pose is None:
            out.pop((c.frame, c.track_id), None)
        else:
            out[(c.frame, c.track_id)] = c.pose
    return out


# The bench's ablation: each row takes one more part out of the default posewarper method (a
# keyframe matcher model), so the difference between neighbouring rows is what that part adds.
ABLATION = {
    "posewarper-noothers": {"model_others": False},  # the pose model step may use joints that lie on another person
    "posewarper-unsmoothed": {"model_others": False, "model_window": 0},  # ... its correction weighed frame by frame, not averaged over nearby frames
    "posewarper-nomodel": {"pose_model": False},  # no pose model step: flow, drift removal, fall-back, matcher
    "posewarper-untuned": {"pose_model": False, "tune": False},  # ... the shipped matcher, not tuned on the keyframes
    "posewarper-unlearned": {"pose_model": False, "learned": False},  # no matcher: flow, drift removal, fall-back
    "posewarper-nofallback": {"pose_model": False, "learned": False, "fallback": False},  # flow, drift removal weighed per frame
    "posewarper-wholedrift": {"pose_model": False, "learned": False, "fallback": False, "drift_trust": False},  # flow, drift removed whole
}


def learned_method(model_path, keys: Video, frames, *, adapt: bool, device=None, learned: bool = True,
                   tune: bool = True, **parts):
    """The method object for a learned method, its model first fine-tuned on the kept keyframes
    when `adapt` (posewarper_core.training.adapt(model, config, video, frames, device=...) -> model;
    `keys` holds only the keyframes, so the scored frames are never trained on). `learned`, `tune`
    and `parts` (the matcher method's options: fallback, drift_trust, pose_model, model_window,
    model_others) take parts out of it (ABLATION)."""
    from . import nets
    from .autofill import posewarper_from_file
    from .autofill.posewarper_method import PoseWarperMethod
    from .nets.matcher import is_matcher_file, read_model_file

    if is_matcher_file(read_model_file(model_path)):
        if adapt:
            raise PoseWarperError(f"{model_path}: --adapt fine-tunes PoseWarper networks; this is a keyframe "
                                  "matcher model, which has no per-project adaptation")
        return posewarper_from_file(model_path, device=device, tune=tune, learned=learned, **parts)
    model, config = nets.load_model(model_path, device=device)
    if adapt:
        try:
            from .training import adapt as adapt_model
        except ImportError as exc:
            raise PoseWarperError(
                f"--adapt needs posewarper_core.training.adapt (fine-tuning on the keyframes): {exc}"
            ) from None
        model = adapt_model(model, config, keys, frames, device=device)
    # learned=False: the same pipeline with the network's residual switched off (flow-seeded models)
    return PoseWarperMethod(model=model, config=config, device=device, residual_gain=1.0 if learned else 0.0)


def load_ground_truth(gt_path: str | Path):
    """(skeleton, video, open_source) for a PoseTrack18 file whose file_names are relative to it;
    open_source() opens a fresh frame source (each method is timed with a cold cache)."""
    from .formats import read_posetrack18
    from .video import open_frames

    path = Path(gt_path)
    if not path.is_file():
        raise PoseWarperError(f"{path}: no such ground-truth file")
    skeleton, video = read_posetrack18(path)
    if video.num_frames < 1:
        raise PoseWarperError(f"{path}: the ground truth has no frames")
    return skeleton, video, lambda: open_frames(video, base_dir=path.parent)


def run_bench(
    gt_path: str | Path,
    k: int,
    methods: list[str],
    *,
    model_path: str | Path | None = None,
    adapt: bool = False,
    refine: bool = False,
    ablation: bool = False,
    fusion: str = "distance",
    unflagged: bool = False,
    each_person: bool = False,
    device=None,
    progress_factory: Callable[[str], Callable[[int, int], None] | None] | None = None,
) -> dict:
    """Run the bench for each method on one ground-truth file; {method: summary} (see summarize).

    `refine` adds a "<method>+refine" entry: the same fill followed by the temporal refinement.
    `ablation` adds, after posewarper with a keyframe matcher model, the rows of ABLATION (each one
    part fewer); with a PoseWarper network, "posewarper-unlearned" (a flow-seeded network's
    residual switched off). `unflagged` scores only labels `posewarper check` leaves unflagged;
    `each_person` fills one person after another (module doc).
    `adapt` lets learned methods fine-tune on the kept keyframes first (never on scored frames).
    """
    from . import autofill

    if k < 2:
        raise PoseWarperError(f"the keyframe interval k must be at least 2, got {k}")
    for name in methods:
        if name not in autofill.available_methods():
            raise PoseWarperError(f"unknown method {name!r}; choose from {', '.join(autofill.available_methods())}")
    learned = [m for m in methods if m in LEARNED_METHODS]
    if learned and model_path is None:
        from .resources import default_model_path

        model_path = default_model_path()
    if model_path is not None and not Path(model_path).is_file():
        raise PoseWarperError(f"{model_path}: no such model file")
    skeleton, gt, open_source = load_ground_truth(gt_path)
    if not gt.poses:
        raise PoseWarperError(f"{gt_path}: the ground truth has no labelled poses")
    keys = keyframes_only(gt, k)
    gaps = autofill.plan_gaps(keys)
    person_frames = sum(g.num_frames for g in gaps)
    exclude = flagged_labels(gt, skeleton) if unflagged else frozenset()
    results = {}
    runs = [(name, name, {}) for name in methods]
    if ablation and "posewarper" in methods:
        from .nets.matcher import is_matcher_file, read_model_file

        parts = ABLATION if is_matcher_file(read_model_file(model_path)) else {"posewarper-unlearned": {"learned": False}}
        at = methods.index("posewarper") + 1
        runs[at:at] = [(row, "posewarper", options) for row, options in parts.items()]
    for name, kind, options in runs:
        frames = open_source()
        try:
            if kind in LEARNED_METHODS:
                method = learned_method(model_path, keys, frames, adapt=adapt, device=device, **options)
            else:
                method = autofill.make_method(name)
            progress = progress_factory(name) if progress_factory else None
            # One-off work before filling (the matcher's tuning on the keyframes) is timed apart:
            # it does not grow with the video, the fill does.
            t0 = time.perf_counter()
            method.prepare(keys, frames, gaps, lambda: None)
            setup = time.perf_counter() - t0
            t0 = time.perf_counter()
            if each_person:
                changes = fill_each_person(keys, frames, method, gaps, progress, fusion)
            else:
                changes = autofill.run_fill(keys, frames, method, gaps, progress=progress, fusion=fusion)
            seconds = time.perf_counter() - t0
            filled = changed_poses(changes)
            results[name] = summarize(score_fill(gt, keys, filled, exclude), skeleton, person_frames, seconds)
            results[name]["setup_seconds"] = round(setup, 1)
            if refine:
                from .autofill.refine import refine_poses

                t1 = time.perf_counter()
                refined = changed_poses(refine_poses(keys, filled, method=method, frames=frames))
                seconds += time.perf_counter() - t1
                results[f"{name}+refine"] = summarize(
                    score_fill(gt, keys, {**filled, **refined}, exclude), skeleton, person_frames, seconds
                )
                results[f"{name}+refine"]["setup_seconds"] = round(setup, 1)
        finally:
            close = getattr(frames, "close", None)
            if close:
                close()
    return results


def fill_each_person(keys: Video, frames, method, gaps, progress, fusion: str) -> list[PoseChange]:
    """run_fill for one track's gaps after another on a copy of `keys`, each track's fill written
    into the copy before the next track is filled (the GUI's G, person by person)."""
    from . import autofill
    from .correction import apply_changes

    work = copy.deepcopy(keys)
    changes: list[PoseChange] = []
    done, total = 0, sum(g.num_frames for g in gaps)
    for tid in sorted({g.track_id for g in gaps}):
        mine = [g for g in gaps if g.track_id == tid]
        step = (lambda d, _t, base=done: progress(base + d, total)) if progress else None
        new = autofill.run_fill(work, frames, method, mine, progress=step, fusion=fusion)
        apply_changes(work, new)
        changes.extend(new)
        done += sum(g.num_frames for g in mine)
    return changes


def label_check_line(gt_path: str | Path, k: int) -> str:
    """One line on the ground truth's own consistency: how many of its labels `posewarper check`
    flags, and how many of those are on the kept keyframes (a wrong keyframe misleads every method
    on both sides of it, however well it follows the person)."""
    from .label_check import checkable_labels, suspect_labels

    skeleton, gt, _ = load_ground_truth(gt_path)
    found = suspect_labels(gt, skeleton)
    keys = keyframes_only(gt, k)
    on_keys = sum(keys.pose(s.frame, s.track_id) is not None for s in found)
    return (f"ground truth: {len(found)} of {checkable_labels(gt)} labels flagged by `posewarper check`, "
            f"{on_keys} of them on the kept keyframes")


def format_table(results: dict, title: str = "") -> str:
    """The bench results as a text table: one row per method, groups at both alphas."""
    groups = [g for g in list(JOINT_GROUPS) + ["Mean"] if any(g in r["at_0.5"] for r in results.values())]
    head = (f"{'method':<22}{'alpha':>6} " + "".join(f"{g[:8]:>9}" for g in groups)
            + f"{'median px':>11}{'AUROC':>7}{'pf/s':>9}{'setup s':>9}")
    lines = [title] if title else []
    lines += [head, "-" * len(head)]
    for name, r in results.items():
        for alpha in ALPHAS:
            row = r[f"at_{alpha}"]
            cells = "".join(f"{row[g]:>9.1f}" if g in row else f"{'-':>9}" for g in groups)
            auc = r.get("confidence_auroc")
            auc = f"{auc:>7.3f}" if auc is not None else f"{'-':>7}"
            tail = (f"{r['median_error_px']:>11.2f}{auc}{r['person_frames_per_second']:>9.1f}"
                    f"{r.get('setup_seconds', 0.0):>9.1f}") if alpha == ALPHAS[0] else ""
            lines.append(f"{name if alpha == ALPHAS[0] else '':<22}{alpha:>6} {cells}{tail}")
    ref = {r["reference"] for r in results.values()}
    if any(r.get("setup_seconds") for r in results.values()):
        lines.append("setup s: one-off work before filling (posewarper: tuning the matcher on the keyframes), "
                     "not in pf/s")
    lines.append(f"AUROC: how well each joint's confidence picks out the joints off by more than alpha "
                 f"{CONFIDENCE_ALPHA} (1 perfect, 0.5 chance; - when none or all are off); off joints: "
                 + ", ".join(str(r.get("off_joints", "-")) for r in results.values()))
    lines.append(f"reference length: {', '.join(sorted(ref))}; scored joints: "
                 + ", ".join(str(r["scored_joints"]) for r in results.values()))
    return "\n".join(lines)
