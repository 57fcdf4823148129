"""A project file read in one consistent state with its poses streamed, not loaded: export and
info read projects of a million poses in bounded memory (ProjectStore keeps every pose in its
mirror, as editing needs).

    with ProjectSnapshot("match.pwproj") as snap:
        snap.project                      # videos and tracks; their `poses` are left empty
        for frame, by_track in snap.pose_frames(snap.project.videos[1]):
            ...                           # {track id: pose}, frame by frame, checked as read

Read-only like ProjectStore.open(read_only=True): no lock, nothing written, works while the app
edits the project (the snapshot is one read transaction: later edits are not seen) and on
read-only media.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from . import store_schema as schema
from .annotation import Pose, Project, Video
from .errors import PoseWarperError, ProjectError
from .store import _check_version, _connect_for_reading


class ProjectSnapshot:
    def __init__(self, path):
        self.path = Path(path).resolve()
        if not self.path.is_file():
            raise ProjectError(f"{self.path}: no such project file" if not self.path.exists()
                               else f"{self.path} is not a file")
        try:
            conn = _connect_for_reading(self.path)
        except sqlite3.Error as exc:
            raise ProjectError(f"{self.path}: cannot open the project: {exc}") from exc
        try:
            version = _check_version(self.path, conn)  # its errors name the file
            if version < schema.SCHEMA_VERSION:  # an older file: upgrade a copy in memory, as ProjectStore does
                memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
                conn.backup(memory)
                conn.close()
                conn = memory
                schema.migrate(conn, version)
            conn.execute("BEGIN")  # one state for the whole read, whatever another connection commits
            self.project: Project = schema.load_project(conn, poses=False)
            self.notes = schema.load_notes(conn)
        except (sqlite3.Error, ValueError, KeyError, TypeError) as exc:
            conn.close()
            raise ProjectError(f"{self.path}: the project cannot be read (damaged?): {exc}") from exc
        except ProjectError as exc:
            conn.close()
            if str(exc).startswith(str(self.path)):
                raise
            raise ProjectError(f"{self.path}: the project cannot be read (damaged?): {exc}") from exc
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
            yield from schema.pose_frames(self._conn, video, self.project.skeleton.num_joints)
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
