"""Where the joint names (L) go, so that they do not cover each other on a crowded pose.

Each name goes beside its joint, at the first of a few places round it (right, left, above,
below, then the corners) that no name placed before it covers and that is nearer its own joint
than any other (else it would read as another joint's name); a name with no such place is left
out. Names are placed in the order given, so the caller puts the ones that matter first
(the selected person's selected joint, kept whatever, then the selected person, then the
others). No Qt: screen pixels in, top-left corners out.
"""
from __future__ import annotations

import numpy as np

GAP = 6.0  # px between a joint's centre and its name: clear of the marker at the default size
PAD = 1.0  # px kept free between two names


def _candidates(x: float, y: float, w: float, h: float, gap: float) -> list[tuple[float, float]]:
    """Top-left corners round the point (x, y), in order of preference."""
    return [(x + gap, y - h / 2), (x - gap - w, y - h / 2), (x - w / 2, y - gap - h), (x - w / 2, y + gap),
            (x + gap, y - gap - h), (x + gap, y + gap), (x - gap - w, y - gap - h), (x - gap - w, y + gap)]


def _distance(points: np.ndarray, left: float, top: float, w: float, h: float) -> np.ndarray:
    """Each point's distance to the box."""
    dx = np.maximum(np.maximum(left - points[:, 0], points[:, 0] - (left + w)), 0)
    dy = np.maximum(np.maximum(top - points[:, 1], points[:, 1] - (top + h)), 0)
    return np.hypot(dx, dy)


def place(labels, taken=(), gap: float = GAP, keep: int = 0, joints=None) -> list[tuple[object, float, float]]:
    """labels: [(key, (x, y) of the joint, (w, h) of its name)] in priority order; taken: boxes
    (x, y, w, h) already covered (another label, a joint marker); joints: (N, 2) every joint
    drawn: a place nearer another joint than its own would name the wrong one, and is not used.
    Returns [(key, left, top)] for the names placed, none overlapping another or a taken box,
    except that the first `keep` names are placed whatever covers their places (at the first
    place when none is free)."""
    joints = np.zeros((0, 2)) if joints is None else np.asarray(joints, float).reshape(-1, 2)
    boxes = np.zeros((len(labels) + len(taken), 4))  # x0, y0, x1, y1 of what is covered
    n = 0
    for bx, by, bw, bh in taken:
        boxes[n] = (bx, by, bx + bw, by + bh)
        n += 1
    out = []
    for i, (key, (x, y), (w, h)) in enumerate(labels):
        places = _candidates(x, y, w, h, gap)
        free = None
        for left, top in places:
            used = boxes[:n]
            clash = ((left < used[:, 2] + PAD) & (used[:, 0] < left + w + PAD)
                     & (top < used[:, 3] + PAD) & (used[:, 1] < top + h + PAD))
            if clash.any():
                continue
            own = _distance(np.array([[x, y]]), left, top, w, h)[0]
            others = joints[(joints[:, 0] != x) | (joints[:, 1] != y)]
            if len(others) and _distance(others, left, top, w, h).min() < own:
                continue  # it would sit nearer another joint: read as that joint's name
            free = (left, top)
            break
        if free is None and i < keep:
            free = places[0]
        if free is not None:
            boxes[n] = (free[0], free[1], free[0] + w, free[1] + h)
            n += 1
            out.append((key, *free))
    return out
