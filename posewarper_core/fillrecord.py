"""A record of the last auto-fill run of each video, kept in the project file (a note in its
`meta` table): written when a fill starts and again when it ends. A fill that started and never
ended (the program was killed, the machine went down) left some poses by its method and others
as they were before; `posewarper info` and the app say so and offer to finish it.
"""
from __future__ import annotations

import json
import math
import time
from typing import Callable

import numpy as np

NOTE_PREFIX = "fill.video"  # + video id: that video's last fill, as JSON
DONE, CANCELLED, FAILED = "done", "cancelled", "failed"


def _key(video_id: int) -> str:
    return f"{NOTE_PREFIX}{int(video_id)}"


def record_start(store, video_id: int, method: str, scope: str, track_ids=None, frame_range=None) -> None:
    """Note a fill about to run: its method, its scope ("video", "track", "gap", or "frames") and
    which people and frames it covers (None: all)."""
    store.set_note(_key(video_id), json.dumps({
        "method": method, "scope": scope, "tracks": None if track_ids is None else [int(t) for t in track_ids],
        "frames": None if frame_range is None else [int(frame_range[0]), int(frame_range[1])],
        "started": time.strftime("%Y-%m-%d %H:%M:%S"), "ended": None, "status": None}))


def record_progress(store, video_id: int, resume_from: int) -> None:
    """Note that the fill started last on this video has written everything before frame
    `resume_from` (autofill.fill's `resume_from`): finishing it fills from there on (a trial
    killed at 108 of 162 person-frames, and Finish it ran all 162 again)."""
    rec = last_fill(store.notes, video_id)
    if rec is None or rec.get("ended") is not None:
        return
    rec["resume_from"] = int(resume_from)
    store.set_note(_key(video_id), json.dumps(rec))


NOTE_EVERY_SECONDS = 1.0  # how often a running fill notes how far it got


def progress_noter(store, video_id: int, every: float = NOTE_EVERY_SECONDS) -> Callable[[int], None]:
    """record_progress for autofill.fill's `resume_from`, at most once every `every` seconds (the
    first always): each note is a saved transaction and a fast fill of a long clip has thousands
    of spans; a fill killed then redoes at most that much work."""
    last = [-math.inf]

    def note(resume_from: int) -> None:
        now = time.monotonic()
        if now - last[0] >= every:
            last[0] = now
            record_progress(store, video_id, resume_from)
    return note


def left_to_fill(rec: dict, num_frames: int) -> tuple[int, int]:
    """The frames (first, last) an interrupted fill had still to fill: its frames from where it
    had got to (record_progress) on."""
    lo, hi = rec.get("frames") or (0, num_frames - 1)
    start = rec.get("resume_from")
    if isinstance(start, int) and not isinstance(start, bool) and lo <= start <= hi:
        lo = start
    return int(lo), int(hi)


def record_end(store, video_id: int, status: str) -> None:
    """Note how the fill started last on this video ended (done, cancelled, failed)."""
    rec = last_fill(store.notes, video_id)
    if rec is None:
        return
    rec.update(ended=time.strftime("%Y-%m-%d %H:%M:%S"), status=status)
    store.set_note(_key(video_id), json.dumps(rec))


def last_fill(notes: dict, video_id: int) -> dict | None:
    """The record of the video's last fill, or None (never filled, or an unreadable note)."""
    try:
        rec = json.loads(notes.get(_key(video_id), "null"))
    except ValueError:
        return None
    return rec if isinstance(rec, dict) and "method" in rec and "started" in rec else None


def interrupted(notes: dict, video_id: int) -> dict | None:
    """The video's last fill if it started and never ended."""
    rec = last_fill(notes, video_id)
    return rec if rec is not None and rec.get("ended") is None else None


def method_mix(video, rec: dict, pose_frames=None) -> tuple[int, int]:
    """(auto-filled poses in the fill's people and frames made by its method, those made otherwise);
    `pose_frames` iterates (frame, {track: pose}) when the poses are streamed (info), else the video's."""
    tracks = rec.get("tracks")
    lo, hi = rec.get("frames") or (0, video.num_frames - 1)
    new = old = 0
    for f, by_track in (video.poses.items() if pose_frames is None else pose_frames):
        if not lo <= f <= hi:
            continue
        for tid, pose in by_track.items():
            if (tracks is None or tid in tracks) and not pose.keyframe and bool(np.any(pose.auto_joints())):
                if pose.method == rec["method"]:
                    new += 1
                else:
                    old += 1
    return new, old


def describe(video, rec: dict, pose_frames=None) -> str:
    """One line for the user about an interrupted fill (`pose_frames`: as for method_mix)."""
    who = "everyone" if rec.get("tracks") is None else "person " + ", ".join(map(str, rec["tracks"]))
    where = "every frame" if rec.get("frames") is None else f"frames {rec['frames'][0]}-{rec['frames'][1]}"
    new, old = method_mix(video, rec, pose_frames)
    lo, hi = left_to_fill(rec, video.num_frames)
    left = f" with frames {lo}-{hi} left to fill" if "resume_from" in rec else ""
    return (f"auto-fill ({rec['method']}, {who}, {where}) started {rec['started']} was interrupted{left}: "
            f"{new} auto-filled poses there are by {rec['method']}, {old} by other methods or older runs")
