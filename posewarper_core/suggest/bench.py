"""The suggestion benchmark: an annotator labelling a densely labelled clip forward.

Keyframes are the frames 0, k, 2k, ... and the last (as `bench`). On each keyframe every person is
suggested from what the annotator has by then: the keyframes before it (their labels, and the
model's offsets learned from them) and, on a person's first keyframe, the box of that frame's
labelled joints (as if the user dragged it). Scored: each labelled joint of the ground truth, with
`bench`'s alpha x reference length; a joint the suggestion leaves out counts as wrong.

`at_0.5`/`at_0.2`/`median_error_px` pool the keyframes where the person has an earlier keyframe
(both sources can speak); `first_keyframes` scores the box-only suggestions (model alone) apart.
`sources` scores each source alone on the same joints, and `quick` (Suggester.quick from the previous
keyframe's crop: the window's first guess on a frame its flow chain has not reached).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..annotation import Pose, Video
from ..evaluation import Scores, bench_keyframes, load_ground_truth, reference_kind, reference_length, summarize
from .suggest import AGREEMENT, MIN_CONFIDENCE, Suggester, choose

SOURCES = ("carried", "blazepose", "quick")


def forward_keys(gt: Video, upto: int, keys: list[int]) -> Video:
    """The annotator's video just before labelling keyframe `upto`: the earlier keyframes only."""
    out = Video(source=gt.source, num_frames=gt.num_frames, width=gt.width, height=gt.height, fps=gt.fps,
                name=gt.name, video_id=gt.video_id, frames=gt.frames, tracks=dict(gt.tracks))
    for f in keys:
        if f >= upto:
            break
        for tid, p in gt.poses.get(f, {}).items():
            if p.labelled().any():
                out.set_pose(f, tid, Pose.manual(p.xy, p.visibility, keyframe=True, bbox=p.bbox, head_box=p.head_box))
    return out


def collect(gt_path, k: int, use_model: bool = True, progress=None) -> tuple[dict, dict]:
    """Run the suggestions over a clip; (records, info). records: arrays per scored joint (joint,
    gt, length, carried, model, model_raw, model_conf, first, side, person) for scoring any fusion rule."""
    skeleton, gt, open_source = load_ground_truth(gt_path)
    frames = open_source()
    kind = reference_kind(gt)
    keys = bench_keyframes(gt.num_frames, k)
    suggester = Suggester(skeleton, use_model=use_model)
    rows = {n: [] for n in ("joint", "gt", "length", "carried", "model", "model_raw", "model_conf", "first", "side",
                            "person", "quick")}
    seconds, persons, messages = 0.0, 0, []
    nan2 = np.full((skeleton.num_joints, 2), np.nan)
    try:
        for i, f in enumerate(keys):
            video = forward_keys(gt, f, keys)
            people = [tid for tid, g in sorted(gt.poses.get(f, {}).items()) if g.labelled().any()]
            later = [tid for tid in people if video.keyframes(tid)]
            # the window's first suggestion on a frame the chain has not reached (untimed: not the suggestion's)
            quick = {tid: suggester.quick(video, frames, f, tid).sources.get("quick") for tid in later}
            t0 = time.perf_counter()  # everyone with an earlier keyframe at once, as the GUI asks
            found = suggester.suggest_frame(video, frames, f, later)
            for tid in people:  # a person's first keyframe: from the box of its labels
                if tid not in found:
                    found[tid] = suggester.suggest(video, frames, f, tid, box=gt.pose(f, tid).joint_extent())
            seconds += time.perf_counter() - t0
            for tid in people:
                g = gt.pose(f, tid)
                first = tid not in later
                s = found[tid]
                persons += 1
                if s.message:
                    messages.append(s.message)
                length = reference_length(g, kind)
                for j in np.flatnonzero(g.labelled()):
                    rows["joint"].append(j)
                    rows["gt"].append(g.xy[j])
                    rows["length"].append(length)
                    rows["carried"].append((s.carried if s.carried is not None else nan2)[j])
                    rows["model"].append((s.model if s.model is not None else nan2)[j])
                    rows["model_raw"].append((s.model_raw if s.model_raw is not None else nan2)[j])
                    rows["model_conf"].append(s.model_confidence[j] if s.model_confidence is not None else 0.0)
                    rows["first"].append(first)
                    rows["person"].append(persons)
                    rows["side"].append(s.roi.side if s.roi is not None else np.nan)
                    rows["quick"].append((quick.get(tid) if quick.get(tid) is not None else nan2)[j])
            if progress:
                progress(i + 1, len(keys))
    finally:
        close = getattr(frames, "close", None)
        if close:
            close()
    records = {n: np.array(v) for n, v in rows.items()}
    info = {"skeleton": skeleton, "reference": kind, "seconds": seconds, "persons": persons,
            "messages": sorted(set(messages))}
    return records, info


def errors_of(records: dict, source: str, **constants) -> np.ndarray:
    """Per scored joint, the error in pixels of one source ("fused", "carried", "blazepose");
    inf where it suggests nothing. `constants` (agreement, min_confidence) override choose's."""
    gt = records["gt"]
    if source in ("carried", "quick"):
        xy = records[source]
    elif source == "blazepose":
        ok = records["model_conf"] >= constants.get("min_confidence", MIN_CONFIDENCE)
        xy = np.where(ok[:, None], records["model"], np.nan)
    else:
        xy = np.full_like(gt, np.nan)
        for p in np.unique(records["person"]):
            s = records["person"] == p
            carried = records["carried"][s]
            model = records["model"][s]
            got, chosen = choose(None if np.isnan(carried).all() else carried,
                                 None if np.isnan(model).all() else model,
                                 records["model_conf"][s], float(records["side"][s][0]), **constants)
            xy[s] = np.where(chosen[:, None], got, np.nan)
    err = np.linalg.norm(xy - gt, axis=1)
    return np.where(np.isfinite(err), err, np.inf)


def summary(records: dict, info: dict, **constants) -> dict:
    """The JSON of `bench-suggest` for one clip (see module doc)."""
    skeleton = info["skeleton"]
    seconds = info["seconds"]
    persons = max(info["persons"], 1)

    def one(source, sel):
        sc = Scores(records["joint"][sel], errors_of(records, source, **constants)[sel],
                    records["length"][sel], info["reference"])
        out = summarize(sc, skeleton, persons, seconds)
        out.pop("person_frames_per_second", None)
        return out

    later = ~records["first"]
    out = one("fused", later)
    out["constants"] = {"agreement": constants.get("agreement", AGREEMENT),
                        "min_confidence": constants.get("min_confidence", MIN_CONFIDENCE)}
    out["seconds_per_person"] = round(seconds / persons, 3)
    out["sources"] = {name: one(name, later) for name in SOURCES}
    if records["first"].any():
        out["first_keyframes"] = one("fused", records["first"])
    out["messages"] = info["messages"]
    return out


def run_bench_suggest(gt_path: str | Path, k: int, progress=None) -> dict:
    records, info = collect(gt_path, k, progress=progress)
    return summary(records, info)


# The fusion's constants tried by leave-one-clip-out (choose's agreement, min_confidence).
AGREEMENTS = (0.02, 0.03, 0.05, 0.1, float("inf"))
MIN_CONFIDENCES = (0.3, 0.5, 0.7, 0.9)


def leave_one_clip_out(clips: dict[str, tuple[dict, dict]]) -> list[dict]:
    """For each clip: the constants that score best (Mean at alpha 0.5 plus at 0.2) on the other
    clips, and what they score on it. `clips`: name -> (records, info) from `collect`."""
    def score(records, info, **c):
        r = summary(records, info, **c)
        return r["at_0.5"]["Mean"], r["at_0.2"]["Mean"]

    table = {name: {(a, m): score(*data, agreement=a, min_confidence=m) for a in AGREEMENTS for m in MIN_CONFIDENCES}
             for name, data in clips.items()}
    out = []
    for held in clips:
        others = [n for n in clips if n != held]
        best = max(table[held], key=lambda c: sum(sum(table[n][c]) for n in others))
        out.append({"report_on": held, "chosen_on": others, "agreement": best[0], "min_confidence": best[1],
                    "chosen_there": [table[n][best] for n in others], "at_0.5": table[held][best][0],
                    "at_0.2": table[held][best][1]})
    return out


def format_table(result: dict, title: str = "") -> str:
    """The suggestion, each source alone and the first keyframes as a text table per joint group."""
    from ..evaluation import ALPHAS
    from ..skeleton import JOINT_GROUPS

    rows = {"suggestion": result, **{f"{name} alone": r for name, r in result["sources"].items()}}
    if "first_keyframes" in result:
        rows["first keyframes (box)"] = result["first_keyframes"]
    groups = [g for g in list(JOINT_GROUPS) + ["Mean"] if g in result["at_0.5"]]
    head = f"{'source':<24}{'alpha':>6} " + "".join(f"{g[:8]:>9}" for g in groups) + f"{'median px':>11}"
    lines = ([title] if title else []) + [head, "-" * len(head)]
    for name, r in rows.items():
        for alpha in ALPHAS:
            cells = "".join(f"{r[f'at_{alpha}'].get(g, float('nan')):>9.1f}" for g in groups)
            tail = f"{r['median_error_px']:>11.2f}" if alpha == ALPHAS[0] else ""
            lines.append(f"{name if alpha == ALPHAS[0] else '':<24}{alpha:>6} {cells}{tail}")
    lines.append(f"scored: keyframes after each person's first ({result['scored_joints']} joints); first keyframes "
                 f"from the box of their labels ({rows.get('first keyframes (box)', {}).get('scored_joints', 0)} joints); "
                 f"reference length: {result['reference']}")
    return "\n".join(lines)
