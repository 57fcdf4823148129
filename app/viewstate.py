"""Where the user left a project: the video, its frame (and each other video's), the selected
person, the zoom and the point in the middle of the view. Kept in the project file (a note in
its `meta` table), so reopening the project, on any machine, lands there."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from posewarper_core.errors import PoseWarperError

NOTE_KEY = "view"


@dataclass
class ViewState:
    video_id: int
    frame: int
    left_at: dict[int, int] = field(default_factory=dict)  # the frame each other video was left at
    track: int | None = None
    zoom: float = 1.0  # relative to the whole frame fitting the view
    centre: tuple[float, float] | None = None  # the image point in the middle of the view


def load(store) -> ViewState | None:
    """The state saved in the project, or None (none saved, or not readable: a hand-edited file)."""
    try:
        d = json.loads(store.notes.get(NOTE_KEY, "null"))
        if not isinstance(d, dict):
            return None
        centre = d.get("centre")
        return ViewState(
            video_id=int(d["video_id"]), frame=int(d["frame"]),
            left_at={int(k): int(v) for k, v in (d.get("left_at") or {}).items()},
            track=None if d.get("track") is None else int(d["track"]),
            zoom=float(d.get("zoom", 1.0)),
            centre=(float(centre[0]), float(centre[1])) if centre is not None else None)
    except (ValueError, TypeError, KeyError, IndexError):
        return None


def save(store, state: ViewState) -> bool:
    """Keep `state` in the project; False if the file refused it (read-only: the labels matter,
    this does not)."""
    text = json.dumps({"video_id": state.video_id, "frame": state.frame,
                       "left_at": {str(k): v for k, v in state.left_at.items()}, "track": state.track,
                       "zoom": round(state.zoom, 4), "centre": state.centre})
    if store.notes.get(NOTE_KEY) == text:
        return True
    try:
        store.set_note(NOTE_KEY, text)
    except PoseWarperError:
        return False
    return True
