"""Labels that break the motion around them, for proofreading dense labels.

A real joint moves smoothly from one frame to the next, so a label far from the straight line
between its nearest labels before and after (each at most `max_gap` frames away) is suspect:
- a *swap*: a left/right pair whose labels fit their neighbours better the other way round;
- a *spike*: one joint far off its neighbours' line (a misplaced click, a joint of another
  person, a puppet fitted to the wrong arm);
- a *shift*: a joint moved off its track for two or three frames in a row (a pose copied onto the
  next frames and never corrected; a puppet fitted to the wrong leg for a few frames): each label
  of the run is off the line between the labels just outside it, and the jumps into and out of
  the run are both more than twice any step inside it. Real motion keeps its speed across the
  run's ends, and so must the labels just outside it (else two spikes with good labels between
  them would look like a shift of the good ones). Fast limbs are rarely flagged: 9 labels of
  Penn Action's 1.66 million (tennis serves, golf swings, pitches), 7 of the 59 label-only Bonn
  sequences' 191,220, none of the Bonn dev clip's; on the JHMDB dev clip, one run: frames 1-3
  with the left leg drawn on the upper body. Shifts are looked for before spikes: a run far off
  pulls its good neighbours' lines off too.

Distances are in units of the track's size (the median of its poses' joint-extent sides), and
a label is flagged when it is more than `threshold` of that size off; 0.2 is the bench's strict
alpha. Flags are taken in rounds, each label worse than both its neighbours first, and a flagged
label is left out of its neighbours' lines (swaps are undone in a working copy), so one bad label
does not also flag the good labels around it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .annotation import Video
from .skeleton import Skeleton

THRESHOLD = 0.2
MAX_GAP = 1
MAX_SHIFT = 3  # the longest run of labels a shift covers, in labels
JUMP_RATIO = 2.0  # a shift's jumps in and out against its largest step inside


@dataclass(frozen=True)
class SuspectLabel:
    frame: int
    track_id: int
    joint: int  # a swap names the pair's first joint; `other` is the second
    kind: str  # "swap", "spike" or "shift" (one per label of the run)
    off: float  # distance from the neighbours' line, in track sizes
    other: int | None = None


def track_size(xy: np.ndarray, ok: np.ndarray) -> float:
    """The median longer side of a track's joint extents, from its (T, J, 2) positions and
    (T, J) labelled mask (0 if no pose spans two joints)."""
    any_ = ok.any(axis=1)
    if not any_.any():
        return 0.0
    inside = np.where(ok[any_, :, None], xy[any_], np.nan)
    sides = (np.nanmax(inside, axis=1) - np.nanmin(inside, axis=1)).max(axis=1)
    sides = sides[sides > 0]
    return float(np.median(sides)) if len(sides) else 0.0


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
        ok = np.stack([video.poses[f][track_id].labelled() for f in frames])
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
    if len(frames) < 3:
        return []
    xy, ok = _series(video, track_id, frames)
    size = track_size(xy, ok)
    if size <= 0:
        return []
    t = np.array(frames, dtype=np.float64)
    found = []
    # Swaps first: undone in the working copy, so the spike pass sees the pair the right way round.
    for a, b in skeleton.flip_pairs:
        for _ in range(len(frames)):  # each round undoes at least one swap; bounded all the same
            both = ok[:, a] & ok[:, b]
            ma, va, prev, nxt = _lines(t, xy[:, a], both, max_gap)
            mb, vb, _, _ = _lines(t, xy[:, b], both, max_gap)
            keep = np.linalg.norm(xy[:, a] - ma, axis=1) + np.linalg.norm(xy[:, b] - mb, axis=1)
            swap = np.linalg.norm(xy[:, a] - mb, axis=1) + np.linalg.norm(xy[:, b] - ma, axis=1)
            off = np.where(va & vb & (swap < keep / 2), keep / 2 / size, 0.0)
            worst = _worst(off, prev, nxt, threshold)
            if not len(worst):
                break
            for n in worst:
                xy[n, [a, b]] = xy[n, [b, a]]
                found.append(SuspectLabel(frames[n], track_id, int(a), "swap", round(float(off[n]), 3), int(b)))
    for j in range(xy.shape[1]):
        mask = ok[:, j].copy()
        # Shifts before spikes: a run far off pulls its good neighbours' lines off too, and the
        # spike pass would flag them instead of the run.
        for run, offs in _shifts(t, xy[:, j], mask, size, threshold, max_gap):
            mask[run] = False
            found.extend(SuspectLabel(frames[n], track_id, int(j), "shift", round(float(o), 3))
                         for n, o in zip(run, offs))
        while True:
            m, valid, prev, nxt = _lines(t, xy[:, j], mask, max_gap)
            off = np.where(valid, np.linalg.norm(xy[:, j] - m, axis=1) / size, 0.0)
            worst = _worst(off, prev, nxt, threshold)
            if not len(worst):
                break
            mask[worst] = False  # out of their neighbours' lines from now on
            found.extend(SuspectLabel(frames[n], track_id, int(j), "spike", round(float(off[n]), 3)) for n in worst)
    return found


def _shifts(t: np.ndarray, x: np.ndarray, mask: np.ndarray, size: float, threshold: float,
            max_gap: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Runs of 2..MAX_SHIFT masked labels (their indices, and each one's distance off in track
    sizes) that are all off the line between the labels just outside the run, entered and left
    by jumps far larger than any step inside. The worst run first; runs do not overlap or end on
    another run's labels."""
    idx = np.flatnonzero(mask)
    tt, xx = t[idx], x[idx]
    n = len(idx)
    if n < 4:
        return []
    step = np.linalg.norm(np.diff(xx, axis=0), axis=1)  # from label m to m+1
    if step.max() <= threshold * size / 2:
        return []  # a run that far off needs a jump of over half that into or out of it
    breaks = np.concatenate([[0], np.cumsum(np.diff(tt) > max_gap)])  # label m and m+1 close: same count
    # padded[m]: the step from label m-1 to m (0 for the first label, or across a gap)
    padded = np.concatenate([[0.0], np.where(np.diff(breaks) == 0, step, 0.0), [0.0]])
    candidates = []
    for r in range(2, MAX_SHIFT + 1):
        first = np.arange(1, n - r)  # the run is first .. first+r-1; `before` and `after` outside it
        if not len(first):
            break
        before, after = first - 1, first + r
        inside = first[:, None] + np.arange(r)
        w = ((tt[inside] - tt[before, None]) / (tt[after] - tt[before])[:, None])[..., None]
        line = (1 - w) * xx[before, None] + w * xx[after, None]
        off = np.linalg.norm(xx[inside] - line, axis=2) / size  # (runs, r)
        jumps = np.minimum(step[before], step[after - 1])
        largest_inside = step[inside[:, :-1]].max(axis=1)
        # The labels just outside must go on smoothly too: two spikes with good labels between
        # them (a foot label on the other foot at frames 20 and 24) are not a shift of the middle.
        outside = np.maximum(padded[before], padded[after + 1])
        hit = ((breaks[after] == breaks[before]) & (off.min(axis=1) > threshold)
               & (jumps > JUMP_RATIO * np.maximum(largest_inside, outside)))
        candidates += [(float(off[i].min()), int(first[i]), r, off[i]) for i in np.flatnonzero(hit)]
    taken = np.zeros(n, bool)
    runs = []
    for _, first, r, offs in sorted(candidates, key=lambda c: -c[0]):
        if taken[first - 1:first + r + 1].any():
            continue
        taken[first:first + r] = True
        runs.append((idx[first:first + r], offs))
    return runs


def _worst(off: np.ndarray, prev: np.ndarray, nxt: np.ndarray, threshold: float) -> np.ndarray:
    """Labels over the threshold that are worse than both neighbours: flagged together in one
    round (one at a time would take a round per flag on a badly labelled video)."""
    padded = np.append(off, 0.0)  # index -1 / N (no neighbour) reads 0
    return np.flatnonzero((off > threshold) & (off >= padded[prev]) & (off > padded[nxt]))


def _lines(t: np.ndarray, x: np.ndarray, mask: np.ndarray, max_gap: int):
    """For each label in `mask`: where the straight line between the nearest masked labels before
    and after puts it (N, 2), whether both exist within `max_gap` frames (N,), and their indices
    (prev: -1, next: N where there is none)."""
    n = len(t)
    idx = np.arange(n)
    prev = np.maximum.accumulate(np.where(mask, idx, -1))
    prev = np.concatenate([[-1], prev[:-1]])  # the nearest masked label strictly before
    nxt = np.minimum.accumulate(np.where(mask, idx, n)[::-1])[::-1]
    nxt = np.concatenate([nxt[1:], [n]])  # strictly after
    valid = mask & (prev >= 0) & (nxt < n)
    p, q = np.where(valid, prev, 0), np.where(valid, nxt, 0)
    valid &= (t - t[p] <= max_gap) & (t[q] - t <= max_gap)
    span = np.where(valid, t[q] - t[p], 1.0)
    w = np.where(valid, (t - t[p]) / span, 0.0)[:, None]
    return (1 - w) * x[p] + w * x[q], valid, prev, nxt
