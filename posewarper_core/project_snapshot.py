"""A project file read in one consistent state with its poses streamed, not loaded: export and
info read projects of a million poses in bounded memory (ProjectStore keeps every pose in its
mirror, as editing needs).

    with ProjectSnapshot("match.pwproj") as snap:
        snap.project                      # videos and tracks; their `poses` are left empty
        for frame, by_track in snap.pose_frames(snap.project.videos[1]):
            ...                           # {track id: pose}, frame by frame, checked as read

Read-only like ProjectStore.open(read_only=True): no lock, nothing written, works while the app
edits the project (the snapshot is one read transaction: later edits are not seen) and on
read-only media. It opens the file as ProjectStore.open(read_only=True) does (store.open_for_reading),
and reads an older format as it is, streamed like the newest (nothing copied into memory).
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from . import store_schema as schema
from .annotation import Pose, Video
from .errors import PoseWarperError, ProjectError
from .store import _load, open_for_reading


class ProjectSnapshot:
    def __init__(self, path):
        self.path = Path(path).resolve()
        if not self.path.is_file():
            raise ProjectError(f"{self.path}: no such project file" if not self.path.exists()
                               else f"{self.path} is not a file")
        conn, self._version = open_for_reading(self.path)  # one read transaction until close()
        try:
            self.project, self.notes = _load(self.path, conn, self._version, poses=False)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    @property
    def base_dir(self) -> Path:
        """The project file's folder: relative Video.source paths resolve against it."""
        return self.path.parent

    def pose_frames(self, video: Video) -> Iterator[tuple[int, dict[int, Pose]]]:
        """`video`'s poses, {track id: pose} per frame that has any, in frame order."""
        try:
            yield from schema.pose_frames(self._conn, video, self.project.skeleton.num_joints, self._version)
        except (sqlite3.Error, PoseWarperError, ValueError) as exc:
            raise ProjectError(f"{self.path}: the project cannot be read (damaged?): {exc}") from exc

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "ProjectSnapshot":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
