"""Labels that break the motion around them, for proofreading dense labels.

A real joint moves smoothly from one frame to the next, so a label far from the straight line
between its nearest labels before and after (each at most `max_gap` frames away) is suspect:
- a *swap*: a left/right pair whose labels fit their neighbours better the other way round;
- a *spike*: one joint far off its neighbours' line (a misplaced click, a joint of another
  person, a puppet fitted to the wrong arm).

Distances are in units of the track's size (the median of its poses' joint-extent sides), and
a label is flagged when it is more than `threshold` of that size off; 0.2 is the bench's strict
alpha. Flags are taken greedily, worst first, and a flagged label is left out of its neighbours'
lines (swaps are undone in a working copy), so one bad label does not also flag the good labels
around it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .annotation import Video
from .skeleton import Skeleton

THRESHOLD = 0.2
MAX_GAP = 1


@dataclass(frozen=True)
class SuspectLabel:
    frame: int
    track_id: int
    joint: int  # a swap names the pair's first joint; `other` is the second
    kind: str  # "swap" or "spike"
    off: float  # distance from the neighbours' line, in track sizes
    other: int | None = None


def track_size(video: Video, track_id: int) -> float:
    """The median longer side of the track's joint extents (0 if no pose spans two joints)."""
    sides = [max(e[2], e[3]) for e in (video.poses[f][track_id].joint_extent() for f in video.track_frames(track_id)) if e]
    sides = [s for s in sides if s > 0]
    return float(np.median(sides)) if sides else 0.0


def suspect_labels(video: Video, skeleton: Skeleton, *, threshold: float = THRESHOLD,
                   max_gap: int = MAX_GAP) -> list[SuspectLabel]:
    """Suspect labels of every track, by frame then track then joint."""
    found: list[SuspectLabel] = []
    for track_id in sorted(video.tracks):
        found.extend(_track_suspects(video, skeleton, track_id, threshold, max_gap))
    return sorted(found, key=lambda s: (s.frame, s.track_id, s.joint))


def checkable_labels(video: Video, *, max_gap: int = MAX_GAP) -> int:
    """How many labels have a labelled neighbour within `max_gap` frames on both sides."""
    total = 0
    for track_id in video.tracks:
        frames = video.track_frames(track_id)
        if not frames:
            continue
        xy, ok = _series(video, track_id, frames)
        t = np.array(frames)
        for j in range(ok.shape[1]):
            tj = t[ok[:, j]]
            if len(tj) >= 3:
                total += int(((tj[1:-1] - tj[:-2] <= max_gap) & (tj[2:] - tj[1:-1] <= max_gap)).sum())
    return total


def _series(video: Video, track_id: int, frames: list[int]) -> tuple[np.ndarray, np.ndarray]:
    poses = [video.poses[f][track_id] for f in frames]
    return np.stack([p.xy for p in poses]).astype(np.float64), np.stack([p.labelled() for p in poses])


def _track_suspects(video: Video, skeleton: Skeleton, track_id: int, threshold: float,
                    max_gap: int) -> list[SuspectLabel]:
    frames = video.track_frames(track_id)
    size = track_size(video, track_id)
    if len(frames) < 3 or size <= 0:
        return []
    t = np.array(frames, dtype=np.float64)
    xy, ok = _series(video, track_id, frames)
    found = []
    # Swaps first: undone in the working copy, so the spike pass sees the pair the right way round.
    for a, b in skeleton.flip_pairs:
        while True:
            worst = None
            for n in range(len(frames)):
                if not (ok[n, a] and ok[n, b]):
                    continue
                ma, mb = _line(t, xy[:, a], ok[:, a], n, max_gap), _line(t, xy[:, b], ok[:, b], n, max_gap)
                if ma is None or mb is None:
                    continue
                keep = np.linalg.norm(xy[n, a] - ma) + np.linalg.norm(xy[n, b] - mb)
                swap = np.linalg.norm(xy[n, a] - mb) + np.linalg.norm(xy[n, b] - ma)
                off = keep / 2 / size
                if swap < keep / 2 and off > threshold and (worst is None or off > worst[1]):
                    worst = (n, off)
            if worst is None:
                break
            n, off = worst
            xy[n, [a, b]] = xy[n, [b, a]]
            found.append(SuspectLabel(frames[n], track_id, int(a), "swap", round(float(off), 3), int(b)))
    for j in range(xy.shape[1]):
        mask = ok[:, j].copy()
        while True:
            offs = [(np.linalg.norm(xy[n, j] - m) / size, n) for n in np.flatnonzero(mask)
                    if (m := _line(t, xy[:, j], mask, n, max_gap)) is not None]
            off, n = max(offs, default=(0.0, -1))
            if off <= threshold:
                break
            mask[n] = False  # out of its neighbours' lines from now on
            found.append(SuspectLabel(frames[n], track_id, int(j), "spike", round(float(off), 3)))
    return found


def _line(t: np.ndarray, x: np.ndarray, mask: np.ndarray, n: int, max_gap: int) -> np.ndarray | None:
    """Where the straight line between the nearest labels before and after n puts it, or None
    when either is missing or more than `max_gap` frames away."""
    before = np.flatnonzero(mask[:n])
    after = np.flatnonzero(mask[n + 1:])
    if not len(before) or not len(after):
        return None
    p, q = before[-1], n + 1 + after[0]
    if t[n] - t[p] > max_gap or t[q] - t[n] > max_gap:
        return None
    w = (t[n] - t[p]) / (t[q] - t[p])
    return (1 - w) * x[p] + w * x[q]
