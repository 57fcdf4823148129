"""Child process of the store's crash test: applies numbered edits to a project until it is killed.

    python store_crash_child.py PROJECT FIRST_SEQ

Prints "ready" once the project is open, then the sequence number of each edit after the call
returned (flushed at once), so the parent knows which edits must survive a SIGKILL.
`edit(seq)` and `expected_state(n)` are shared with the parent (tests/test_store.py).
"""
from __future__ import annotations

import sys

import numpy as np

from posewarper_core import Pose, PoseChange, Track

NUM_JOINTS = 17
BATCH_TRACKS = range(2, 12)  # the tracks an apply() edit writes, ten poses in one transaction
VIDEO_ID = 1


def _pose(value: float) -> Pose:
    return Pose.manual(np.full((NUM_JOINTS, 2), value), np.full(NUM_JOINTS, 2))


def edit(seq: int) -> tuple:
    """The edit number `seq`, as (store method name, args)."""
    kind = seq % 5
    if kind == 0:
        return "set_pose", (VIDEO_ID, seq, 1, _pose(seq))
    if kind == 1:
        return "apply", ([PoseChange(VIDEO_ID, seq, t, _pose(seq * 100 + t)) for t in BATCH_TRACKS],)
    if kind == 2:
        return "delete_pose", (VIDEO_ID, seq - 2, 1)  # the pose edit seq - 2 put
    if kind == 3:
        return "set_track", (VIDEO_ID, Track(1, f"renamed by {seq}"))
    return "update_video", (VIDEO_ID,), {"labelled_frames": {seq, seq - 1}}


def expected_state(n: int) -> dict:
    """What the project holds after edits 0..n-1: poses as {(frame, track): x}, track 1's name,
    the labelled frames."""
    poses: dict[tuple[int, int], float] = {}
    name, labelled = "", set()
    for seq in range(n):
        kind = seq % 5
        if kind == 0:
            poses[(seq, 1)] = float(seq)
        elif kind == 1:
            poses.update({(seq, t): float(seq * 100 + t) for t in BATCH_TRACKS})
        elif kind == 2:
            poses.pop((seq - 2, 1), None)
        elif kind == 3:
            name = f"renamed by {seq}"
        else:
            labelled = {seq, seq - 1}
    return {"poses": poses, "name": name, "labelled": labelled}


def main(path: str, first: int) -> None:
    from posewarper_core.store import ProjectStore

    store = ProjectStore.open(path)
    print("ready", flush=True)
    seq = first
    while True:
        method, args, *kwargs = edit(seq)
        getattr(store, method)(*args, **(kwargs[0] if kwargs else {}))
        print(seq, flush=True)  # only after the edit returned
        seq += 1


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
