"""Per-joint confidence of a filled joint, in [0, 1] (higher: more likely right), shared by the
methods so that it means the same across them (the GUI's R key, the review order, the bench's
AUROC for joints off by more than alpha = 0.5).

- Flow chains (flow.py, and the default posewarper, whose disagreement is the smaller of the
  chains' before and after drift removal): exp(-u / (0.1 x person size)), u the two chains'
  disagreement plus DRIFT_WEIGHT x their mean drift x 4t(1 - t) (the
  drift is where the chains went wrong; mid-span is furthest from both keyframes).
- Linear interpolation (linear.py): nothing but the keyframes to go on: the straight line is
  least sure for a joint that moved far between them, mid-span, and far from a keyframe:
  0.5^(frames to the nearest keyframe / half-life) x exp(-|b - a| x 4t(1 - t) / (LINEAR_SCALE x
  person size)).
How each constant was chosen: the model card (issue 17 rounds)."""
from __future__ import annotations

import numpy as np

from ..annotation import Pose

# u = disagreement + DRIFT_WEIGHT x drift x 4t(1-t); the weight was chosen by the AUROC at
# alpha=0.2 (more off joints than at 0.5), leave-one-clip-out over 0 / 0.25 / 0.5 / 1: JHMDB
# (mean of k=7, 15: 0.677 / 0.690 / 0.686 / 0.683) picks 0.25 (Bonn then 0.8465); Bonn (0.833 /
# 0.8465 / 0.8465 / 0.8455) ties 0.25 and 0.5 (JHMDB then 0.690 / 0.686). The scale only sets
# the values (a disagreement of a tenth of the person: 1/e), not the ranking the AUROC measures.
DRIFT_WEIGHT = 0.25
CONFIDENCE_SCALE = 0.1
# Linear: the keyframes' displacement over LINEAR_SCALE x size, 0.1 / 0.3 (half-life 8, the
# method's own), AUROC at alpha=0.2 (originals, k=7 / 15): Bonn 0.686 / 0.737, 0.702 / 0.756;
# JHMDB 0.741 / 0.683, 0.736 / 0.669; Bonn picks 0.3 (JHMDB then 0.736 / 0.669), JHMDB picks 0.1
# (Bonn then 0.686 / 0.737); 0.3 also on the faster copies (every 2nd / 3rd frame, Bonn, alpha=0.5
# k=7 / 15: 0.804 / 0.839, 0.728 / 0.732 against 0.793 / 0.833, 0.722 / 0.724). The distance
# decay alone (the engine's before): Bonn 0.674 / 0.758, JHMDB 0.559 / 0.524.
LINEAR_SCALE = 0.3


def person_sizes(before: list[Pose], after: list[Pose]) -> np.ndarray:
    """(P, 1, 1) each person's size in pixels: the mean longer side of its keyframes' joint
    extents (1 when they give none)."""
    sizes = []
    for a, b in zip(before, after):
        extents = [max(e[2], e[3]) for e in (a.joint_extent(), b.joint_extent()) if e]
        sizes.append(max(float(np.mean(extents)), 1.0) if extents else 1.0)
    return np.array(sizes)[:, None, None]


def span_fraction(span) -> np.ndarray:
    """(1, T, 1) each filled frame's position t in [0, 1] between the span's keyframes."""
    return ((np.array(span.frames) - span.before) / (span.after - span.before))[None, :, None]


def joint_confidence(disagreement: np.ndarray, fwd_drift: np.ndarray, bwd_drift: np.ndarray, t: np.ndarray,
                     sizes: np.ndarray) -> np.ndarray:
    """(P, T, J) confidence in [0, 1]: exp(-u / (CONFIDENCE_SCALE x person size)), u the two chains'
    disagreement plus DRIFT_WEIGHT x their mean drift x 4t(1 - t) (the drift taken out, or left
    in, is itself a guess, least sure mid-span)."""
    drift = (np.linalg.norm(fwd_drift, axis=-1) + np.linalg.norm(bwd_drift, axis=-1))[:, None] / 2  # (P, 1, J)
    u = disagreement + DRIFT_WEIGHT * drift * 4 * t * (1 - t)
    return np.exp(-u / (CONFIDENCE_SCALE * sizes))


def linear_confidence(span, before: list[Pose], after: list[Pose], half_life: float) -> np.ndarray:
    """(P, T, J) the straight line's confidence (module doc)."""
    t = span_fraction(span)  # (1, T, 1)
    a = np.stack([p.xy for p in before])[:, None]
    b = np.stack([p.xy for p in after])[:, None]
    moved = np.linalg.norm(b - a, axis=-1)  # (P, 1, J)
    near = np.minimum(t, 1 - t) * (span.after - span.before)
    return np.power(0.5, near / half_life) * np.exp(-moved * 4 * t * (1 - t) / (LINEAR_SCALE * person_sizes(before, after)))
