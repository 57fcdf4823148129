"""The SQLite layout of a project file (.pwproj): tables, migrations, and rows <-> model objects.

`ProjectStore` (store.py) is the only user. Layout, newest version:

    meta    (key, value)                 schema_version, skeleton (Skeleton.to_dict JSON), name, created_by,
                                         and "note.<key>" for each of ProjectStore.set_note's notes
    videos  (video_id, source, num_frames, width, height, fps, name, keyframe_stride, vid_id,
             frames JSON, labelled_frames JSON, ignore_regions JSON)
    tracks  (video_id, track_id, name)
    poses   (video_id, frame, track_id, keyframe, method, bbox, head_box,
             xy, visibility, provenance, confidence, reviewed)

Per-joint arrays are stored as little-endian bytes (xy float64 (J, 2), visibility and provenance
uint8 (J,), confidence float32 (J,)); boxes as 4 float64. Reading checks every length against the
project's skeleton, so a damaged row is reported rather than silently misread.

A migration brings a file from version i to i + 1; a new file runs them all, so every file, new or
old, goes through the same steps. Never edit a migration that has shipped: add a new one.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable

import numpy as np

from .annotation import FrameRef, Pose, Project, Track, Video
from .errors import ProjectError
from .skeleton import Skeleton

APPLICATION_ID = 0x50575052  # "PWPR" in the SQLite header: tells our files from other SQLite files
CREATED_BY = "posewarper-annotate"
NOTE_PREFIX = "note."  # meta keys of the program's notes (ProjectStore.set_note), apart from the fields above

_XY = np.dtype("<f8")
_CONF = np.dtype("<f4")
_BOX = np.dtype("<f8")


def _to_v1(conn: sqlite3.Connection) -> None:
    """The first layout: meta, videos, tracks, poses."""
    for statement in (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
        """CREATE TABLE videos (
            video_id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            num_frames INTEGER NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            fps REAL,
            name TEXT NOT NULL,
            keyframe_stride INTEGER NOT NULL,
            vid_id TEXT,
            frames TEXT,
            labelled_frames TEXT NOT NULL,
            ignore_regions TEXT NOT NULL)""",
        """CREATE TABLE tracks (
            video_id INTEGER NOT NULL REFERENCES videos ON DELETE CASCADE,
            track_id INTEGER NOT NULL,
            name TEXT NOT NULL,
            PRIMARY KEY (video_id, track_id)) WITHOUT ROWID""",
        """CREATE TABLE poses (
            video_id INTEGER NOT NULL,
            frame INTEGER NOT NULL,
            track_id INTEGER NOT NULL,
            keyframe INTEGER NOT NULL,
            method TEXT,
            bbox BLOB,
            head_box BLOB,
            xy BLOB NOT NULL,
            visibility BLOB NOT NULL,
            provenance BLOB NOT NULL,
            confidence BLOB NOT NULL,
            PRIMARY KEY (video_id, frame, track_id),
            FOREIGN KEY (video_id, track_id) REFERENCES tracks ON DELETE CASCADE) WITHOUT ROWID""",
        "INSERT INTO meta VALUES ('schema_version', '0')",
    ):
        conn.execute(statement)


def _to_v2(conn: sqlite3.Connection) -> None:
    """Index poses by track: deleting a track (and the foreign-key cascade) scanned every pose."""
    conn.execute("CREATE INDEX poses_by_track ON poses (video_id, track_id, frame)")


def _to_v3(conn: sqlite3.Connection) -> None:
    """A filled pose can be marked reviewed (looked at and accepted by an annotator; review.py)."""
    conn.execute("ALTER TABLE poses ADD COLUMN reviewed INTEGER NOT NULL DEFAULT 0")


# MIGRATIONS[i] brings a file from schema version i to i + 1 (version 0 is an empty file).
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_to_v1, _to_v2, _to_v3]
SCHEMA_VERSION = len(MIGRATIONS)


def read_schema_version(conn: sqlite3.Connection) -> int | None:
    """The file's schema version, or None if it has no meta table (not one of our files)."""
    has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not has_meta:
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else None


def migrate(conn: sqlite3.Connection, from_version: int) -> None:
    """Run the migrations after `from_version`, each in its own transaction with its version bump."""
    for version in range(from_version, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[version](conn)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version + 1),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


# --- rows <-> model objects -------------------------------------------------------------------

def video_row(video: Video) -> tuple:
    """The videos row of `video` (its tracks and poses go in their own tables)."""
    frames = None
    if video.frames is not None:
        frames = json.dumps([[f.file_name, f.image_id, f.frame_id] for f in video.frames])
    return (
        video.video_id, str(video.source), video.num_frames, video.width, video.height, video.fps,
        video.name, video.keyframe_stride, video.vid_id, frames,
        labelled_frames_json(video.labelled_frames), ignore_regions_json(video.ignore_regions),
    )


VIDEO_COLUMNS = (
    "video_id, source, num_frames, width, height, fps, name, keyframe_stride, vid_id, frames, "
    "labelled_frames, ignore_regions"
)


def video_from_row(row: tuple) -> Video:
    (video_id, source, num_frames, width, height, fps, name, stride, vid_id, frames,
     labelled, regions) = row
    return Video(
        source=source, num_frames=num_frames, width=width, height=height, fps=fps, name=name,
        video_id=video_id, keyframe_stride=stride, vid_id=vid_id,
        frames=None if frames is None else [FrameRef(*f) for f in json.loads(frames)],
        labelled_frames=set(json.loads(labelled)),
        ignore_regions=ignore_regions_from_json(regions),
    )


def labelled_frames_json(frames) -> str:
    return json.dumps(sorted(int(f) for f in frames))


def ignore_regions_json(regions: dict[int, list[np.ndarray]]) -> str:
    return json.dumps({str(int(f)): [np.asarray(p, float).tolist() for p in polys] for f, polys in regions.items()})


def ignore_regions_from_json(text: str) -> dict[int, list[np.ndarray]]:
    return {int(f): [freeze(np.array(p, dtype=np.float64).reshape(-1, 2)) for p in polys]
            for f, polys in json.loads(text).items()}


POSE_COLUMNS = ("video_id, frame, track_id, keyframe, method, bbox, head_box, xy, visibility, provenance, "
                "confidence, reviewed")
POSE_COLUMN_COUNT = POSE_COLUMNS.count(",") + 1


def pose_row(video_id: int, frame: int, track_id: int, pose: Pose) -> tuple:
    """The poses row: per-joint arrays as little-endian bytes."""
    return (
        video_id, frame, track_id, int(bool(pose.keyframe)), pose.method,
        _box_bytes(pose.bbox), _box_bytes(pose.head_box),
        pose.xy.astype(_XY, copy=False).tobytes(), pose.visibility.tobytes(),
        pose.provenance.tobytes(), pose.confidence.astype(_CONF, copy=False).tobytes(), int(bool(pose.reviewed)),
    )


def pose_from_row(row: tuple, num_joints: int) -> tuple[int, int, int, Pose]:
    """(video_id, frame, track_id, pose) of a poses row; ProjectError if a length does not fit the skeleton."""
    video_id, frame, track_id, keyframe, method, bbox, head_box, xy, vis, prov, conf, reviewed = row
    expected = (16 * num_joints, num_joints, num_joints, 4 * num_joints)
    if (len(xy), len(vis), len(prov), len(conf)) != expected or any(
        b is not None and len(b) != 32 for b in (bbox, head_box)
    ):
        raise ProjectError(
            f"video {video_id}, frame {frame}, track {track_id}: the stored pose does not fit the "
            f"project's {num_joints}-joint skeleton (damaged row)"
        )
    pose = Pose(
        xy=np.frombuffer(xy, _XY).reshape(num_joints, 2),
        visibility=np.frombuffer(vis, np.uint8),
        provenance=np.frombuffer(prov, np.uint8),
        confidence=np.frombuffer(conf, _CONF),
        keyframe=bool(keyframe), method=method,
        bbox=_box_from_bytes(bbox), head_box=_box_from_bytes(head_box), reviewed=bool(reviewed),
    )
    return video_id, frame, track_id, freeze_pose(pose)


def _box_bytes(box) -> bytes | None:
    return None if box is None else np.asarray(box, _BOX).tobytes()


def _box_from_bytes(data: bytes | None):
    return None if data is None else tuple(np.frombuffer(data, _BOX).tolist())


def freeze(array: np.ndarray) -> np.ndarray:
    """Make an array read-only, so code that edits the store's mirror in place fails loudly."""
    array.flags.writeable = False
    return array


def freeze_pose(pose: Pose) -> Pose:
    for array in (pose.xy, pose.visibility, pose.provenance, pose.confidence):
        freeze(array)
    return pose


def load_notes(conn: sqlite3.Connection) -> dict[str, str]:
    return {key[len(NOTE_PREFIX):]: value for key, value in conn.execute(
        "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?", (len(NOTE_PREFIX), NOTE_PREFIX))}


def content_digest(project: Project) -> str:
    """A hash of everything an annotator can change (videos, tracks, poses): equal digests mean
    equal content, whatever file or program wrote it."""
    h = hashlib.sha256()
    for video_id in sorted(project.videos):
        video = project.videos[video_id]
        h.update(repr(video_row(video)).encode())
        h.update(repr(sorted((t.track_id, t.name) for t in video.tracks.values())).encode())
        for frame in sorted(video.poses):
            for track_id in sorted(video.poses[frame]):
                h.update(repr(pose_row(video_id, frame, track_id, video.poses[frame][track_id])).encode())
    return h.hexdigest()


def load_project(conn: sqlite3.Connection) -> Project:
    """The whole project as model objects (pose arrays read-only)."""
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    skeleton = Skeleton.from_dict(json.loads(meta["skeleton"]))
    project = Project(skeleton=skeleton, name=meta.get("name", ""))
    for row in conn.execute(f"SELECT {VIDEO_COLUMNS} FROM videos ORDER BY video_id"):
        video = video_from_row(row)
        project.videos[video.video_id] = video
    for video_id, track_id, name in conn.execute("SELECT video_id, track_id, name FROM tracks ORDER BY video_id, track_id"):
        project.videos[video_id].tracks[track_id] = Track(track_id, name)
    n = skeleton.num_joints
    for row in conn.execute(f"SELECT {POSE_COLUMNS} FROM poses ORDER BY video_id, frame, track_id"):
        video_id, frame, track_id, pose = pose_from_row(row, n)
        project.videos[video_id].poses.setdefault(frame, {})[track_id] = pose
    return project
