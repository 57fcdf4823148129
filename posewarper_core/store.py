"""The project store: one SQLite file per project (.pwproj), every edit its own committed transaction.

There is no "save": when an edit method returns, the edit is on disk (WAL journal, synchronous=FULL),
and a crash or a kill at any moment leaves the file with exactly the edits that had returned (plus
at most the one in flight, whole or not at all).

    store = ProjectStore.create("match.pwproj", skeleton=POSETRACK17)
    video_id = store.add_video(video)
    store.set_pose(video_id, frame, track_id, pose)
    store.apply(changes)            # thousands of PoseChanges in one transaction
    store.project                   # in-memory mirror of the file: read it, edit through the store
    store.set_note("built_from", h)  # a note of the program's own, kept in the file (store.notes)

`store.project` is updated only after a transaction committed, so a refused or failed edit leaves
both the file and the mirror as they were. Every edit is checked (ids, frame range, joint count,
finite coordinates) before the file is touched. Its pose arrays are read-only: copy a pose
(`pose.copy()`) to change it, then hand the copy back to the store.

A project open in one process is refused to every other (and to a second open in the same
process) with the PID holding it. The lock is an OS lock on a sidecar file "<project>.lock",
which the OS releases when the holder dies, so a killed app never leaves a stale lock.

`ProjectStore.open(path, read_only=True)` reads a project even while another instance edits it
(`posewarper info` and `export` do): no lock, the project's content untouched, an older file
read as it is, not upgraded; it reads the last committed state, and its edit methods raise
ProjectError. (On a closed project SQLite may leave an empty "-wal" and a "-shm" file beside it;
the next open for editing removes them.)

Until the project closes, the last edits live in the "-wal" journal beside the file; a copy of the
.pwproj file alone lacks them. `store.checkpoint()` writes them into the file itself (the GUI calls
it a moment after the user stops editing), and `store.commits` counts the edits committed so far,
for a caller to see that there is something to write.
"""
from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from . import store_schema as schema
from .annotation import FrameRef, Pose, PoseChange, Project, Provenance, Track, Video, Visibility
from .errors import PoseWarperError, ProjectError
from .skeleton import POSETRACK17, Skeleton

PROJECT_SUFFIX = ".pwproj"  # for file dialogs: the store accepts any name
content_digest = schema.content_digest  # content_digest(store.project): a hash of what an annotator can change

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # POSIX; Windows has no such flag (its symlinks need rights)


class _ProjectLock:
    """An exclusive OS lock on "<project>.lock", holding our PID and host for the error message."""

    def __init__(self, project_path: Path):
        self.path = project_path.with_name(project_path.name + ".lock")
        self._fd: int | None = None
        # The lock file is removed on release; a process that opened it just before could then
        # lock a deleted file, so after locking, check that the path still names our file.
        for _ in range(10):
            fd = self._open_own_file(project_path)
            if not self._try_lock(fd):
                holder = self._read_holder(fd)
                os.close(fd)
                raise ProjectError(
                    f"{project_path} is open in another running instance of PoseWarper Annotate"
                    f"{f' ({holder})' if holder else ''}: close it there first"
                )
            try:
                same_file = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same_file = False
            if same_file:
                self._fd = fd
                os.ftruncate(fd, 0)
                os.lseek(fd, 1, os.SEEK_SET)
                os.write(fd, f"PID {os.getpid()} on {socket.gethostname()}\n".encode())
                return
            os.close(fd)
        raise ProjectError(f"{project_path}: could not take the lock {self.path}")

    def _open_own_file(self, project_path: Path) -> int:
        """Open (or create) the lock file itself: never through a symbolic link and never a file
        with other names (a hard link), since the lock file is truncated and written, and such a
        "lock" planted beside a project would overwrite the file it points to."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
        except OSError as exc:
            if os.path.islink(self.path):
                raise ProjectError(f"{project_path}: the lock file {self.path} is a symbolic link; it is "
                                   "not followed: remove it (it is not ours) and open the project again") from None
            raise ProjectError(f"{project_path}: cannot create the lock file {self.path}: {exc}") from exc
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
            os.close(fd)
            kind = "not a regular file" if not stat.S_ISREG(info.st_mode) else "a hard link to another file"
            raise ProjectError(f"{project_path}: the lock file {self.path} is {kind}; it is not written: "
                               "remove it (it is not ours) and open the project again")
        return fd

    @staticmethod
    def _try_lock(fd: int) -> bool:
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:  # Windows locks bytes: lock byte 0, the text starts at byte 1 so others can read it
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    @staticmethod
    def _read_holder(fd: int) -> str:
        try:
            os.lseek(fd, 1, os.SEEK_SET)
            return os.read(fd, 200).decode(errors="replace").strip("\0 \n")
        except OSError:
            return ""

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.path)  # while still locked, so nobody locks a file we are deleting
        except OSError:
            pass  # Windows cannot delete an open file; the next open reuses it
        os.close(self._fd)  # releases the lock
        self._fd = None


def _connect(path: Path, create: bool = False, read_only: bool = False, immutable: bool = False) -> sqlite3.Connection:
    # "rw": never create a file by opening a wrong path; "ro": SQLite refuses every write
    mode = "ro" if read_only else "rwc" if create else "rw"
    conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode={mode}{'&immutable=1' if immutable else ''}", uri=True,
                           isolation_level=None, check_same_thread=False)
    return conn


def _connect_for_reading(path: Path) -> sqlite3.Connection:
    """A read-only connection, also on read-only media (a read-only mount, an immutable or
    write-protected folder). A WAL project is read through a "-shm" index file SQLite creates
    beside it; where none can be created, the file is read as immutable instead, which is right
    when nothing can change it, and when its "-wal" journal holds nothing the file lacks."""
    conn = _connect(path, read_only=True)
    try:
        conn.execute("PRAGMA schema_version")  # SQLite opens the file at the first statement
        return conn
    except sqlite3.OperationalError as exc:
        conn.close()
        if os.access(path.parent, os.W_OK):
            raise ProjectError(f"{path}: cannot open the project: {exc}") from None
    except sqlite3.DatabaseError:  # not a database, or damaged: _check_version says which
        return conn
    wal = Path(f"{path}-wal")
    if wal.is_file() and wal.stat().st_size > 0:
        raise ProjectError(f"{path}: the folder cannot be written, and the project's journal {wal.name} holds edits "
                           "not yet in the file, which cannot be read there: copy both files to a writable "
                           "folder and open the copy")
    return _connect(path, read_only=True, immutable=True)


def _configure(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode = WAL")
    # FULL: a commit is on disk before the edit returns, even if the machine loses power.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")


class ProjectStore:
    """An open project file. Create with `ProjectStore.create`, open with `ProjectStore.open`."""

    def __init__(self, path: Path, conn: sqlite3.Connection | None, lock: _ProjectLock | None, project: Project,
                 notes: dict[str, str] | None = None):
        """Use create() or open()."""
        self.path = path
        self.project = project
        self.notes: dict[str, str] = dict(notes or {})  # read it; write with set_note
        self._conn: sqlite3.Connection | None = conn
        self._lock = lock
        self.read_only = lock is None  # opened with read_only=True: no connection, no lock
        self._mutex = threading.RLock()  # one edit at a time, whatever thread calls
        self.commits = 0  # transactions committed since the store opened (see checkpoint)

    # --- opening and closing ------------------------------------------------------------------

    @classmethod
    def create(cls, path, skeleton: Skeleton = POSETRACK17, name: str = "") -> "ProjectStore":
        """Create a new, empty project file and open it. Refuses a path that exists."""
        path = Path(path).resolve()  # one lock per file, whichever way it is named
        if not isinstance(skeleton, Skeleton):
            raise ProjectError(f"{path}: the skeleton must be a Skeleton, not {type(skeleton).__name__}")
        if path.exists():
            raise ProjectError(f"{path} already exists: open it, or choose another name")
        if not path.parent.is_dir():
            raise ProjectError(f"{path}: the folder {path.parent} does not exist")
        lock = _ProjectLock(path)
        try:
            if path.exists():  # created by someone else while we took the lock
                raise ProjectError(f"{path} already exists: open it, or choose another name")
            # Build it under a temporary name and rename it into place, so an interrupted create
            # leaves no half-made project behind.
            tmp = path.with_name(path.name + ".creating")
            for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                leftover.unlink(missing_ok=True)
            try:
                conn = _connect(tmp, create=True)
                try:
                    conn.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
                    _configure(conn)
                    schema.migrate(conn, 0)
                    conn.executemany(
                        "INSERT INTO meta VALUES (?, ?)",
                        [("skeleton", json.dumps(skeleton.to_dict())), ("name", name),
                         ("created_by", schema.CREATED_BY)],
                    )
                finally:
                    conn.close()
                os.replace(tmp, path)
                _sync_folder(path.parent)
            except sqlite3.Error as exc:
                raise ProjectError(f"{path}: could not create the project: {exc}") from exc
            finally:
                tmp.unlink(missing_ok=True)
            return cls._open_locked(path, lock)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def open(cls, path, read_only: bool = False) -> "ProjectStore":
        """Open a project file: ProjectError if it is missing, held by another running instance,
        not a project, damaged, or written by a newer version of the program.

        read_only=True reads it without the lock, so it works while another instance has it open,
        and writes nothing at all (an older file is read as it is, not upgraded); the store's
        edit methods then raise ProjectError.
        """
        path = Path(path).resolve()  # one lock per file, whichever way it is named
        _check_is_file(path)
        if read_only:
            return cls(path, None, None, *cls._read(path))
        lock = _ProjectLock(path)
        try:
            return cls._open_locked(path, lock)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _open_locked(cls, path: Path, lock: _ProjectLock) -> "ProjectStore":
        try:
            conn = _connect(path)
        except sqlite3.Error as exc:
            raise ProjectError(f"{path}: cannot open the project: {exc}") from exc
        try:
            project, notes = cls._check_and_load(path, conn)
        except BaseException:
            conn.close()
            raise
        return cls(path, conn, lock, project, notes)

    @classmethod
    def _read(cls, path: Path) -> tuple[Project, dict[str, str]]:
        """The project's last committed state, through a read-only connection closed at once."""
        conn, version = open_for_reading(path)
        try:
            return _load(path, conn, version)
        finally:
            conn.close()

    @staticmethod
    def _check_and_load(path: Path, conn: sqlite3.Connection) -> tuple[Project, dict[str, str]]:
        version = _check_version(path, conn)
        try:
            if version < schema.SCHEMA_VERSION:
                # Older programs cannot read the upgraded file: keep a copy of the file as it was
                # (never through a symlink planted under its name: the copy would overwrite its target).
                backup_path = path.with_name(f"{path.name}.format{version}.bak")
                if backup_path.is_symlink():
                    raise ProjectError(f"{path}: {backup_path.name}, where the file as it was is kept before it is "
                                       "upgraded, is a symbolic link; it is not followed: remove it and open again")
                backup = sqlite3.connect(backup_path)
                try:
                    conn.backup(backup)
                finally:
                    backup.close()
            _configure(conn)
            schema.migrate(conn, version)
        except sqlite3.Error as exc:
            raise ProjectError(
                f"{path}: could not upgrade the project from format {version} to {schema.SCHEMA_VERSION}: {exc}"
            ) from exc
        return _load(path, conn, own_transaction=True)

    def close(self) -> None:
        """Close the file and release the lock. Edits after this raise ProjectError."""
        with self._mutex:
            if self._conn is None:
                return
            try:
                self._conn.close()  # the last connection checkpoints the WAL into the file
            finally:
                self._conn = None
                self._lock.release()

    def checkpoint(self) -> bool:
        """Write the edits committed so far from the "-wal" journal into the project file itself,
        so that the .pwproj file alone (copied, backed up, sent) holds them. Returns True if the
        file now holds every committed edit (also on a read-only or closed store: nothing of ours
        is left to write), False if it cannot now: an edit is under way on another thread (this
        never waits for it), another reader still reads an older state, or the file refused
        (a full disk): call it again later. Never raises; the edits are safe in the journal
        either way.

        PASSIVE, not TRUNCATE/RESTART: those wait (up to the connection's 5 s busy timeout) for
        every other reader, e.g. `posewarper export` reading the project in another process, and
        this runs on the GUI thread; the journal need not be emptied for the file to be whole.
        With synchronous=FULL the copied pages are on disk before it returns."""
        if not self._mutex.acquire(blocking=False):
            return False
        try:
            if self._conn is None:
                return True
            try:
                busy, logged, copied = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error:
                return False
            return busy == 0 and copied == logged  # (-1, -1) outside WAL mode: nothing to copy
        finally:
            self._mutex.release()

    def close_and_remove(self) -> None:
        """Close a project this program has just created and remove its files: filling it
        failed, and it holds nothing of the user's yet (an empty project left behind would be
        opened silently the next time the same input is opened)."""
        path = self.path
        self.close()
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)

    def __enter__(self) -> "ProjectStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def base_dir(self) -> Path:
        """The project file's folder: relative Video.source paths resolve against it."""
        return self.path.parent

    @property
    def skeleton(self) -> Skeleton:
        return self.project.skeleton

    # --- edits ----------------------------------------------------------------------------------

    def add_video(self, video: Video) -> int:
        """Add a video with its tracks and poses in one transaction; returns its video id.

        Keeps `video.video_id` if it is positive and free, else takes the next free id. The store
        keeps a copy: `video` itself is not changed.
        """
        with self._mutex:
            self._check_open()
            video_id = int(video.video_id) if _is_int(video.video_id) else 0
            if video_id <= 0 or video_id > schema.MAX_ID or video_id in self.project.videos:
                video_id = max(self.project.videos, default=0) + 1
            if video_id > schema.MAX_ID:
                raise ProjectError(f"{self.path.name}: no free video id (the project's ids reach {schema.MAX_ID})")
            copy = self._checked_video_copy(video, video_id)
            with self._transaction(f"adding video {video_id}"):
                self._conn.execute(
                    f"INSERT INTO videos ({schema.VIDEO_COLUMNS}) VALUES ({_marks(12)})", schema.video_row(copy)
                )
                self._conn.executemany(
                    "INSERT INTO tracks VALUES (?, ?, ?)",
                    [(video_id, t.track_id, t.name) for t in copy.tracks.values()],
                )
                self._conn.executemany(
                    f"INSERT INTO poses ({schema.POSE_COLUMNS}) VALUES ({_marks(schema.POSE_COLUMN_COUNT)})",
                    [schema.pose_row(video_id, f, t, p) for f, by_track in copy.poses.items() for t, p in by_track.items()],
                )
            self.project.videos[video_id] = copy
            return video_id

    def set_pose(self, video_id: int, frame: int, track_id: int, pose: Pose) -> None:
        """Put one track's pose in one frame (replacing any). The track must exist."""
        self.apply([PoseChange(video_id, frame, track_id, pose)])

    def delete_pose(self, video_id: int, frame: int, track_id: int) -> Pose | None:
        """Remove one track's pose in one frame; returns the removed pose, or None if there was none."""
        with self._mutex:
            self._check_open()
            old = self.project.videos[video_id].pose(frame, track_id) if video_id in self.project.videos else None
            self.apply([PoseChange(video_id, frame, track_id, None)])
            return old

    def apply(self, changes: Iterable[PoseChange]) -> int:
        """Apply many pose puts (pose given) and removes (pose None) in ONE transaction.

        All are checked first; if one is wrong, nothing is applied. A later change to the same
        (video, frame, track) wins over an earlier one. Returns the number of (video, frame, track)
        entries put or removed.
        """
        with self._mutex:
            self._check_open()
            final: dict[tuple[int, int, int], Pose | None] = {}
            for change in changes:
                final[self._check_pose_key(change.video_id, change.frame, change.track_id)] = change.pose
            if not final:
                return 0
            put_keys = [key for key, pose in final.items() if pose is not None]
            puts = dict(zip(put_keys, self._checked_copies(put_keys, [final[k] for k in put_keys])))
            removes = [key for key, pose in final.items() if pose is None]
            what = "a pose" if len(final) == 1 else f"{len(final)} pose changes"
            with self._transaction(what):
                if puts:
                    self._conn.executemany(
                        f"INSERT OR REPLACE INTO poses ({schema.POSE_COLUMNS}) VALUES ({_marks(schema.POSE_COLUMN_COUNT)})",
                        [schema.pose_row(*key, pose) for key, pose in puts.items()],
                    )
                if removes:
                    self._conn.executemany(
                        "DELETE FROM poses WHERE video_id = ? AND frame = ? AND track_id = ?", removes
                    )
            for (video_id, frame, track_id), pose in puts.items():
                self.project.videos[video_id].poses.setdefault(frame, {})[track_id] = pose
            for video_id, frame, track_id in removes:
                self.project.videos[video_id].remove_pose(frame, track_id)
            return len(final)

    def set_track(self, video_id: int, track: Track) -> None:
        """Add a track to a video, or rename an existing one."""
        with self._mutex:
            self._check_open()
            video = self._video(video_id)
            track_id = self._check_track_id(video, track.track_id)
            copy = Track(track_id, str(track.name))
            with self._transaction(f"saving track {track_id}"):
                self._conn.execute(
                    "INSERT INTO tracks VALUES (?, ?, ?) ON CONFLICT (video_id, track_id) DO UPDATE SET name = excluded.name",
                    (video_id, track_id, copy.name),
                )
            video.tracks[track_id] = copy

    def delete_track(self, video_id: int, track_id: int) -> None:
        """Remove a track and all its poses."""
        with self._mutex:
            self._check_open()
            video = self._video(video_id)
            if track_id not in video.tracks:
                raise ProjectError(f"{self._where(video)}: no track {track_id}")
            with self._transaction(f"deleting track {track_id}"):
                self._conn.execute("DELETE FROM tracks WHERE video_id = ? AND track_id = ?", (video_id, track_id))
            del video.tracks[track_id]
            for frame in video.track_frames(track_id):
                video.remove_pose(frame, track_id)

    def update_video(self, video_id: int, *, keyframe_stride: int | None = None, name: str | None = None,
                     source: str | None = None, labelled_frames=None, ignore_regions=None) -> None:
        """Change some of a video's fields (None leaves a field as it is), in one transaction.

        `labelled_frames` (set of frame indices) and `ignore_regions` (frame -> list of (N, 2)
        polygons) replace the whole field.
        """
        with self._mutex:
            self._check_open()
            video = self._video(video_id)
            where = self._where(video)
            values: dict[str, object] = {}
            mirror: dict[str, object] = {}
            if keyframe_stride is not None:
                if not _is_int(keyframe_stride) or keyframe_stride < 1:
                    raise ProjectError(f"{where}: the keyframe stride must be a whole number >= 1, got {keyframe_stride!r}")
                values["keyframe_stride"] = mirror["keyframe_stride"] = int(keyframe_stride)
            if name is not None:
                values["name"] = mirror["name"] = str(name)
            if source is not None:
                values["source"] = mirror["source"] = str(source)
            if labelled_frames is not None:
                frames = self._check_frames(video, labelled_frames, "labelled frame")
                values["labelled_frames"] = schema.labelled_frames_json(frames)
                mirror["labelled_frames"] = frames
            if ignore_regions is not None:
                regions = self._checked_regions(video, ignore_regions)
                values["ignore_regions"] = schema.ignore_regions_json(regions)
                mirror["ignore_regions"] = regions
            if not values:
                return
            with self._transaction(f"updating video {video_id}"):
                self._conn.execute(
                    f"UPDATE videos SET {', '.join(f'{k} = ?' for k in values)} WHERE video_id = ?",
                    (*values.values(), video_id),
                )
            for field, value in mirror.items():
                setattr(video, field, value)

    def set_note(self, key: str, value: str) -> None:
        """Keep a short text of the program's own in the project file (e.g. what the file was
        built from); `store.notes[key]` reads it back, also after reopening."""
        with self._mutex:
            self._check_open()
            if not isinstance(key, str) or not key or not isinstance(value, str):
                raise ProjectError(f"{self.path}: a note needs a non-empty text key and a text value")
            with self._transaction(f"note {key!r}"):
                self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (schema.NOTE_PREFIX + key, value))
            self.notes[key] = value

    def remove_video(self, video_id: int) -> None:
        """Remove a video with its tracks and poses."""
        with self._mutex:
            self._check_open()
            self._video(video_id)
            with self._transaction(f"removing video {video_id}"):
                self._conn.execute("DELETE FROM videos WHERE video_id = ?", (video_id,))
            del self.project.videos[video_id]

    # --- helpers --------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self, what: str) -> Iterator[None]:
        """One committed transaction; on any error, roll back and leave the mirror alone."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield
            conn.execute("COMMIT")
            self.commits += 1
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise ProjectError(f"{self.path}: could not save {what}: {exc}") from exc
            raise

    def _check_open(self) -> None:
        if self.read_only:
            raise ProjectError(f"{self.path}: the project was opened read-only; open it for editing to change it")
        if self._conn is None:
            raise ProjectError(f"{self.path}: the project is closed")

    def _video(self, video_id: int) -> Video:
        try:
            return self.project.videos[video_id]
        except (KeyError, TypeError):
            raise ProjectError(f"{self.path.name}: no video with id {video_id!r}") from None

    def _where(self, video: Video) -> str:
        label = f" ({video.name})" if video.name else ""
        return f"{self.path.name}, video {video.video_id}{label}"

    def _check_pose_key(self, video_id: int, frame: int, track_id: int) -> tuple[int, int, int]:
        video = self._video(video_id)
        if not _is_int(frame) or not 0 <= frame < video.num_frames:
            raise ProjectError(f"{self._where(video)}: frame {frame!r} is outside 0..{video.num_frames - 1}")
        if track_id not in video.tracks:
            raise ProjectError(f"{self._where(video)}, frame {frame}: no track {track_id!r} (add it with set_track first)")
        return video.video_id, int(frame), int(track_id)

    def _checked_copies(self, keys: list[tuple[int, int, int]], poses: list[Pose]) -> list[Pose]:
        """Read-only copies of `poses` (put at `keys`), or ProjectError naming the first bad one."""
        def where(i: int) -> str:
            video_id, frame, track_id = keys[i]
            return f"{self._where(self.project.videos[video_id])}, frame {frame}, track {track_id}"

        return checked_copies(poses, self.project.skeleton, where)

    def _check_track_id(self, video: Video, track_id) -> int:
        if not _is_int(track_id) or not 0 <= track_id <= schema.MAX_ID:
            raise ProjectError(f"{self._where(video)}: a track id must be a whole number in 0..{schema.MAX_ID}, "
                               f"got {track_id!r}")
        return int(track_id)

    def _check_frames(self, video: Video, frames, what: str) -> set[int]:
        frames = list(frames)
        for f in frames:
            if not _is_int(f) or not 0 <= f < video.num_frames:
                raise ProjectError(f"{self._where(video)}: {what} {f!r} is outside 0..{video.num_frames - 1}")
        return {int(f) for f in frames}

    def _checked_regions(self, video: Video, regions) -> dict[int, list[np.ndarray]]:
        """Read-only copies of ignore regions {frame: [(N, 2) polygons]}; any number of points, as
        imported files have them, but finite."""
        if not isinstance(regions, Mapping):
            raise ProjectError(f"{self._where(video)}: ignore regions must map frames to polygons")
        self._check_frames(video, regions.keys(), "ignore-region frame")
        checked = {}
        for frame, polygons in regions.items():
            arrays = []
            for i, polygon in enumerate(polygons):
                try:
                    array = np.array(polygon, dtype=np.float64).reshape(-1, 2)
                except (TypeError, ValueError):
                    array = None
                if array is None or not np.isfinite(array).all():
                    raise ProjectError(
                        f"{self._where(video)}, frame {frame}: ignore region {i} must be a list of finite (x, y) points"
                    )
                arrays.append(schema.freeze(array))
            checked[int(frame)] = arrays
        return checked

    def _checked_video_copy(self, video: Video, video_id: int) -> Video:
        """A checked deep copy of `video` under `video_id`; tracks that have poses are added if missing."""
        if not isinstance(video, Video):
            raise ProjectError(f"{self.path.name}: expected a Video, got {type(video).__name__}")
        label = f" ({video.name})" if video.name else ""
        where = f"{self.path.name}, video {video_id}{label}"
        if not _is_int(video.num_frames) or not 0 < video.num_frames <= schema.MAX_FRAMES:
            raise ProjectError(f"{where}: num_frames must be a whole number in 1..{schema.MAX_FRAMES}, "
                               f"got {video.num_frames!r}")
        for field in ("width", "height"):  # 0: unknown, as label files read without their images have it
            value = getattr(video, field)
            if not _is_int(value) or value < 0:
                raise ProjectError(f"{where}: {field} must be a whole number >= 0, got {value!r}")
        if not _is_int(video.keyframe_stride) or video.keyframe_stride < 1:
            raise ProjectError(f"{where}: keyframe_stride must be a whole number >= 1, got {video.keyframe_stride!r}")
        if video.fps is not None and not (isinstance(video.fps, (int, float)) and math.isfinite(video.fps) and video.fps > 0):
            raise ProjectError(f"{where}: fps must be a positive number or None, got {video.fps!r}")
        if video.frames is not None and len(video.frames) != video.num_frames:
            raise ProjectError(f"{where}: {len(video.frames)} frame references for {video.num_frames} frames")
        copy = Video(
            source=str(video.source), num_frames=int(video.num_frames), width=int(video.width),
            height=int(video.height), fps=None if video.fps is None else float(video.fps),
            name=str(video.name), video_id=video_id, keyframe_stride=int(video.keyframe_stride),
            vid_id=None if video.vid_id is None else str(video.vid_id),
            frames=None if video.frames is None else [
                FrameRef(str(f.file_name), f.image_id, f.frame_id) for f in video.frames
            ],
        )
        copy.labelled_frames = self._check_frames(copy, video.labelled_frames, "labelled frame")
        copy.ignore_regions = self._checked_regions(copy, video.ignore_regions)
        for track_id, track in video.tracks.items():
            if track.track_id != track_id:
                raise ProjectError(f"{where}: track {track.track_id} is filed under id {track_id}")
            tid = self._check_track_id(copy, track_id)
            copy.tracks[tid] = Track(tid, str(track.name))
        keys, poses = [], []
        for frame, by_track in video.poses.items():
            self._check_frames(copy, (frame,), "pose frame")
            for track_id, pose in by_track.items():
                keys.append((int(frame), self._check_track_id(copy, track_id)))
                poses.append(pose)
        def pose_where(i: int) -> str:
            return f"{where}, frame {keys[i][0]}, track {keys[i][1]}"

        for (frame, track_id), pose in zip(keys, checked_copies(poses, self.project.skeleton, pose_where)):
            copy.tracks.setdefault(track_id, Track(track_id))
            copy.poses.setdefault(frame, {})[track_id] = pose
        return copy


def _check_version(path: Path, conn: sqlite3.Connection) -> int:
    """The file's project format, or ProjectError if it is not a project or too new for us."""
    not_project = f"{path} is not a PoseWarper project"
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = schema.read_schema_version(conn)
    except sqlite3.OperationalError as exc:  # cannot be read here (access, locking): not "damaged"
        if "malformed" not in str(exc):
            raise ProjectError(f"{path}: cannot read the project file: {exc}") from exc
        raise ProjectError(f"{not_project} (damaged: {exc})") from exc
    except (sqlite3.DatabaseError, ValueError) as exc:
        raise ProjectError(f"{not_project} (not an SQLite database, or damaged: {exc})") from exc
    if app_id != schema.APPLICATION_ID or version is None:
        raise ProjectError(f"{not_project} (an SQLite database of another program)")
    if version < 1:
        raise ProjectError(f"{path}: its project format {version} is none the program writes (damaged)")
    if version > schema.SCHEMA_VERSION:
        raise ProjectError(
            f"{path} was saved by a newer version of PoseWarper Annotate (project format {version}; "
            f"this version reads up to {schema.SCHEMA_VERSION}): update the program to open it"
        )
    return version


def _check_is_file(path: Path) -> None:
    if not path.is_file():
        raise ProjectError(f"{path}: no such project file" if not path.exists() else f"{path} is not a file")


def open_for_reading(path: Path) -> tuple[sqlite3.Connection, int]:
    """A read-only connection to the project file at `path`, inside a read transaction (one
    consistent state, whatever another connection commits, until it ends), and the file's
    project format; ProjectError naming the file if it cannot be read or is not a project. An
    older format is read as it is (store_schema.pose_columns): nothing is written or copied."""
    _check_is_file(path)
    try:
        conn = _connect_for_reading(path)
    except sqlite3.Error as exc:
        raise ProjectError(f"{path}: cannot open the project: {exc}") from exc
    try:
        conn.execute("BEGIN")
        return conn, _check_version(path, conn)
    except BaseException as exc:
        conn.close()
        if isinstance(exc, sqlite3.Error):
            raise ProjectError(f"{path}: cannot read the project: {exc}") from exc
        raise


def _load(path: Path, conn: sqlite3.Connection, version: int = schema.SCHEMA_VERSION, poses: bool = True,
          own_transaction: bool = False) -> tuple[Project, dict[str, str]]:
    """The project (without its poses if poses=False) and its notes, read in one transaction (the
    connection's, or with own_transaction one of its own): one consistent state even while another
    connection commits edits; ProjectError naming the file if the content is damaged."""
    try:
        if own_transaction:
            conn.execute("BEGIN")
        try:
            return schema.load_project(conn, poses, version), schema.load_notes(conn)
        finally:
            if own_transaction:
                conn.execute("COMMIT")
    except (sqlite3.Error, PoseWarperError, ValueError, KeyError, TypeError) as exc:
        raise ProjectError(f"{path}: the project cannot be read (damaged?): {exc}") from exc


def check_pose(pose: Pose, skeleton: Skeleton, where: str) -> None:
    """ProjectError naming `where` if `pose` does not fit `skeleton` or has bad numbers."""
    if not isinstance(pose, Pose):
        raise ProjectError(f"{where}: expected a Pose, got {type(pose).__name__}")
    n = skeleton.num_joints
    if _shapes(pose) != ((n, 2), (n,), (n,), (n,)):
        raise ProjectError(
            f"{where}: the pose has {len(pose.xy)} joints, the project's skeleton {skeleton.name!r} has {n}"
        )
    try:
        pose.validate()  # finite labelled coordinates and confidences, visibility 0..2, finite boxes
    except PoseWarperError as exc:
        raise ProjectError(f"{where}: {exc}") from None
    if pose.provenance.max() > max(Provenance):
        raise ProjectError(f"{where}: unknown provenance {int(pose.provenance.max())}")
    for name, box in (("bbox", pose.bbox), ("head box", pose.head_box)):
        if box is not None and len(box) != 4:
            raise ProjectError(f"{where}: the {name} must be (x, y, width, height), got {len(box)} numbers")
    if pose.method is not None and not isinstance(pose.method, str):
        raise ProjectError(f"{where}: the method must be a name or None, got {pose.method!r}")


def checked_copies(poses: list[Pose], skeleton: Skeleton, where: Callable[[int], str]) -> list[Pose]:
    """Check many poses at once (as check_pose does) and return read-only copies.

    The arrays are checked stacked, which is many times faster than pose by pose for auto-fill's
    thousands of changes; a pose that fails is checked again alone for the message.
    """
    if not poses:
        return []
    n = skeleton.num_joints
    for i, pose in enumerate(poses):
        if not isinstance(pose, Pose) or _shapes(pose) != ((n, 2), (n,), (n,), (n,)) or not _scalars_ok(pose):
            check_pose(pose, skeleton, where(i))
            raise ProjectError(f"{where(i)}: invalid pose")  # not reached: check_pose raised
    xy = np.stack([p.xy for p in poses]).astype(np.float64, copy=False)
    visibility = np.stack([p.visibility for p in poses]).astype(np.uint8, copy=False)
    provenance = np.stack([p.provenance for p in poses]).astype(np.uint8, copy=False)
    confidence = np.stack([p.confidence for p in poses]).astype(np.float32, copy=False)
    bad = (
        ((visibility > 0) & ~np.isfinite(xy).all(axis=2)).any(axis=1)
        | ~np.isfinite(confidence).all(axis=1)
        | (visibility > max(Visibility)).any(axis=1)
        | (provenance > max(Provenance)).any(axis=1)
    )
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        check_pose(poses[i], skeleton, where(i))
        raise ProjectError(f"{where(i)}: invalid pose")  # not reached: check_pose raised
    for array in (xy, visibility, provenance, confidence):
        schema.freeze(array)
    return [
        Pose(xy[i], visibility[i], provenance[i], confidence[i], bool(p.keyframe), p.method, p.bbox, p.head_box,
             bool(p.reviewed))
        for i, p in enumerate(poses)
    ]


def _shapes(pose: Pose) -> tuple:
    return (np.shape(pose.xy), np.shape(pose.visibility), np.shape(pose.provenance), np.shape(pose.confidence))


def _scalars_ok(pose: Pose) -> bool:
    """The pose's non-array fields are well formed (a quick test; check_pose says what is wrong)."""
    return (
        (pose.method is None or isinstance(pose.method, str))
        and all(box is None or (len(box) == 4 and all(map(math.isfinite, box))) for box in (pose.bbox, pose.head_box))
    )


def _sync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX; Windows cannot open folders and needs no such step)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _marks(n: int) -> str:
    return ", ".join("?" * n)
