"""Keeping the pose model on its person when other people stand close, for the suggestions
(suggest.py) and the default fill's pose model step (autofill/pose_model_fusion.py).

The model looks at a crop around one person; with a second person close (sparring, arms crossing)
the crop holds both and it may take some of the other's limbs. The tool knows where the other
people are (their carried or filled poses, or their labels on the frame), so:

1. `shown_to_model`: the other people's joint extents are greyed out in the frame the model reads,
   except where they overlap this person's own joint extent (there the pixels may be this
   person's). The suggestions use it: their model already sees only the person's own extent
   grown by MASK_MARGIN, grey around it, and this takes the neighbour out of that too.
2. `nearer_someone_else`: a model joint is dropped when it lies nearer another person's joint of
   the same kind (or its left/right twin: people facing each other are mirror images) than this
   person's carried joint: the model has most likely found the other person's limb. The fill's
   step uses it: its carried pose (both keyframes' chains, drift taken out, matched) is a good
   yardstick there; a suggestion's one-sided chain drifts, so there the rule would also drop the
   model's right joints.

Which step uses which was measured leave-one-clip-out (k = 7 and 15; resources/models/
MODEL_CARD.md, "Other people close by"): in the suggestions, greying adds 3.6 points at
alpha 0.2 on Bonn (k = 7; 3.8 / 3.1 at k = 5 / 10) and the rejection a joint or less either way;
in the fill greying cost Bonn 0.7 / 0.8 points at alpha 0.2 (k = 7 / 15: a grey block beside the
person in an otherwise whole crop) and the rejection costs nothing (97.0 / 89.3 against 97.0 /
89.0). JHMDB has one person: every choice ties there. Neither part has a constant of its own.
A person's positions are (J, 2) arrays, NaN where unknown.
"""
from __future__ import annotations

import numpy as np


def _extent(pts: np.ndarray) -> tuple[int, int, int, int] | None:
    ok = np.isfinite(pts).all(axis=1)
    if not ok.any():
        return None
    lo, hi = pts[ok].min(axis=0), pts[ok].max(axis=0)
    return int(np.floor(lo[0])), int(np.floor(lo[1])), int(np.ceil(hi[0])) + 1, int(np.ceil(hi[1])) + 1


def shown_to_model(shape, own: np.ndarray | None, others: list[np.ndarray], shown: np.ndarray | None = None
                   ) -> np.ndarray | None:
    """(H, W) bool, the pixels the model may see: `shown` (default: all) less the other people's
    joint extents, except where those overlap `own`'s. None when nobody else is near (no mask)."""
    boxes = [b for b in (_extent(o) for o in others) if b is not None]
    if not boxes:
        return shown
    h, w = shape
    out = np.ones((h, w), bool) if shown is None else shown.copy()
    for x0, y0, x1, y1 in boxes:
        out[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = False
    mine = _extent(own) if own is not None else None
    if mine is not None:
        x0, y0, x1, y1 = mine
        ys, xs = slice(max(y0, 0), max(y1, 0)), slice(max(x0, 0), max(x1, 0))
        out[ys, xs] = True if shown is None else shown[ys, xs]  # their own extent as `shown` has it
    return out


def nearer_someone_else(model_xy: np.ndarray, own: np.ndarray | None, others: list[np.ndarray],
                        flip: np.ndarray) -> np.ndarray:
    """(J,) bool: the model joints that lie nearer another person's joint of the same kind, or its
    left/right twin (`flip`: the skeleton's flip permutation), than this person's carried joint.
    False where this person's joint is unknown (nothing to compare with)."""
    n = len(model_xy)
    if own is None or not others:
        return np.zeros(n, bool)
    d_own = np.linalg.norm(model_xy - own, axis=1)
    d_other = np.full(n, np.inf)
    for o in others:
        for twin in (o, o[flip]):
            d = np.linalg.norm(model_xy - twin, axis=1)
            d_other = np.fmin(d_other, np.where(np.isfinite(d), d, np.inf))
    return np.isfinite(d_own) & (d_other < d_own)
