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
A read-only open reads an older file as it is, never upgrading it (pose_columns says how its
rows read as the newest layout's): a migration that changes existing rows must say there how
an older file reads.
"""
from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import struct
from collections.abc import Callable, Iterable, Iterator
from itertools import islice

import numpy as np

from .annotation import FrameRef, Pose, Project, Provenance, Track, Video, Visibility
from .errors import ProjectError
from .skeleton import Skeleton

APPLICATION_ID = 0x50575052  # "PWPR" in the SQLite header: tells our files from other SQLite files
CREATED_BY = "posewarper-annotate"
NOTE_PREFIX = "note."  # meta keys of the program's notes (ProjectStore.set_note), apart from the fields above

MAX_ID = 2**63 - 1  # SQLite's INTEGER is 64-bit signed: a larger video or track id cannot be stored
# More frames than this in one video is damage, not footage: 46 hours at 60 fps, and an export
# listing every frame as an image would pass 2 GB.
MAX_FRAMES = 10_000_000

_MAX_VISIBILITY = max(Visibility)
_MAX_PROVENANCE = max(Provenance)

_XY = np.dtype("<f8")
_CONF = np.dtype("<f4")
_BOX = np.dtype("<f8")
_BOX_STRUCT = struct.Struct("<4d")  # a box read back: 4 little-endian float64


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
    """The Video of a videos row (without tracks and poses), every field checked: ProjectError
    naming the video and the field if the file holds what the program never writes."""
    (video_id, source, num_frames, width, height, fps, name, stride, vid_id, frames,
     labelled, regions) = row
    where = f"video {video_id!r}"
    _check_int(video_id, 1, MAX_ID, f"{where}: video_id")
    _check_int(num_frames, 1, MAX_FRAMES, f"{where}: num_frames")
    _check_int(width, 0, MAX_ID, f"{where}: width")
    _check_int(height, 0, MAX_ID, f"{where}: height")
    _check_int(stride, 1, MAX_ID, f"{where}: keyframe_stride")
    if fps is not None and not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ProjectError(f"{where}: fps is {fps!r}, not a positive number (damaged)")
    for field, value in (("source", source), ("name", name)):
        if not isinstance(value, str):
            raise ProjectError(f"{where}: {field} is {type(value).__name__}, not text (damaged)")
    if "\0" in source:
        raise ProjectError(f"{where}: the source {source!r} holds a NUL character, which no path can (damaged)")
    try:
        refs = None if frames is None else [FrameRef(*f) for f in json.loads(frames)]
        labelled_frames = set(json.loads(labelled))
        ignore_regions = ignore_regions_from_json(regions)
    except (TypeError, ValueError, AttributeError) as exc:
        raise ProjectError(f"{where}: its frames, labelled frames or ignore regions cannot be read ({exc}) (damaged)") from None
    if refs is not None and not all(isinstance(r.file_name, str) and "\0" not in r.file_name for r in refs):
        raise ProjectError(f"{where}: a frame's file name is not a path (damaged)")
    if refs is not None and len(refs) != num_frames:
        raise ProjectError(f"{where}: {len(refs)} frame files for num_frames {num_frames} (damaged)")
    for what, keys in (("labelled frame", labelled_frames), ("ignore-region frame", ignore_regions)):
        for f in keys:
            _check_int(f, 0, num_frames - 1, f"{where}: {what}")
    return Video(
        source=source, num_frames=num_frames, width=width, height=height, fps=fps, name=name,
        video_id=video_id, keyframe_stride=stride, vid_id=None if vid_id is None else str(vid_id),
        frames=refs, labelled_frames=labelled_frames, ignore_regions=ignore_regions,
    )


def _check_int(value, low: int, high: int, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ProjectError(f"{what} is {value!r}, outside {low}..{high} (damaged)")


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
# The pose columns a migration added, with the version that added them and the value a row of an
# older file has (_to_v2 added only an index, which reading does not need).
_ADDED_POSE_COLUMNS = {"reviewed": (3, "0")}


def pose_columns(version: int = SCHEMA_VERSION) -> str:
    """POSE_COLUMNS as selected from a file of project format `version`: a column the file does
    not have yet reads as the value its rows had then."""
    def column(name: str) -> str:
        added, before = _ADDED_POSE_COLUMNS.get(name, (0, None))
        return name if version >= added else f"{before} AS {name}"

    return ", ".join(column(name) for name in POSE_COLUMNS.split(", "))


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
    where = f"video {video_id}, frame {frame}, track {track_id}"
    expected = (16 * num_joints, num_joints, num_joints, 4 * num_joints)
    blobs = (xy, vis, prov, conf, *(b for b in (bbox, head_box) if b is not None))
    if not all(isinstance(b, bytes) for b in blobs) or (len(xy), len(vis), len(prov), len(conf)) != expected or any(
        b is not None and len(b) != 32 for b in (bbox, head_box)
    ):
        raise ProjectError(f"{where}: the stored pose does not fit the project's {num_joints}-joint skeleton (damaged row)")
    if max(vis, default=0) > _MAX_VISIBILITY or max(prov, default=0) > _MAX_PROVENANCE:
        raise ProjectError(f"{where}: a joint's visibility or provenance is not one the program writes (damaged row)")
    if method is not None and not isinstance(method, str):
        raise ProjectError(f"{where}: the method is {type(method).__name__}, not text (damaged row)")
    xy_array, conf_array = np.frombuffer(xy, _XY), np.frombuffer(conf, _CONF)
    labelled_xy = xy_array.reshape(num_joints, 2)[np.frombuffer(vis, np.uint8) > 0]
    if not (np.isfinite(labelled_xy).all() and np.isfinite(conf_array).all()):
        raise ProjectError(f"{where}: a labelled joint or a confidence is not a finite number (damaged row)")
    pose = Pose(
        xy=xy_array.reshape(num_joints, 2),
        visibility=np.frombuffer(vis, np.uint8),
        provenance=np.frombuffer(prov, np.uint8),
        confidence=conf_array,
        keyframe=bool(keyframe), method=method,
        bbox=_box_from_bytes(bbox), head_box=_box_from_bytes(head_box), reviewed=bool(reviewed),
    )
    return video_id, frame, track_id, freeze_pose(pose)


# Rows read and checked at once by read_poses: numpy over a block instead of checks per row. The
# block's rows are held until its poses are handed out: with 1024, `info` on 10^5 poses peaks at
# 75 MB (73 MB row by row; 83 with 4096) and opening is as fast as with 4096 (16 us a pose).
_BLOCK_ROWS = 1024


def read_poses(rows: Iterable[tuple], num_joints: int,
               video_of: Callable[[int], Video | None]) -> Iterator[tuple[int, int, int, Pose]]:
    """(video_id, frame, track_id, pose) of each poses row, in order, checked as pose_from_row
    and check_pose_place check them (`video_of(video_id)`: the row's Video, None if there is none).

    A block of rows is checked at once; a block that fails is read again row by row, which
    raises the ProjectError naming the bad row as a row-by-row read would."""
    rows = iter(rows)
    while block := list(islice(rows, _BLOCK_ROWS)):
        if _block_ok(block, num_joints, video_of):
            for video_id, frame, track_id, keyframe, method, bbox, head_box, xy, vis, prov, conf, reviewed in block:
                # Each pose's arrays are views of its own row's bytes, read-only as freeze_pose makes them.
                yield video_id, frame, track_id, Pose(
                    np.frombuffer(xy, _XY).reshape(num_joints, 2), np.frombuffer(vis, np.uint8),
                    np.frombuffer(prov, np.uint8), np.frombuffer(conf, _CONF), bool(keyframe), method,
                    _box_from_bytes(bbox), _box_from_bytes(head_box), bool(reviewed))
        else:
            for row in block:
                video_id, frame, track_id, pose = pose_from_row(row, num_joints)
                check_pose_place(video_of(video_id), video_id, frame, track_id)
                yield video_id, frame, track_id, pose


def _block_ok(block: list[tuple], n: int, video_of) -> bool:
    """Whether every row of a block passes pose_from_row's and check_pose_place's checks (if
    not, the caller finds the bad row)."""
    (video_ids, frames, track_ids, _, methods, bboxes, head_boxes, xys, viss, provs, confs, _) = zip(*block)
    blobs = ((xys, 16 * n), (viss, n), (provs, n), (confs, 4 * n))
    if not all(all(type(b) is bytes for b in column) and set(map(len, column)) == {size} for column, size in blobs):
        return False
    if not all(b is None or (type(b) is bytes and len(b) == 32) for b in bboxes + head_boxes):
        return False
    if not all(m is None or type(m) is str for m in methods):
        return False
    video = None
    for video_id, frame, track_id in zip(video_ids, frames, track_ids):
        if video is None or video.video_id != video_id:
            video = video_of(video_id)
            if video is None:
                return False
        if type(frame) is not int or not 0 <= frame < video.num_frames or track_id not in video.tracks:
            return False
    rows = len(block)
    xy = np.frombuffer(b"".join(xys), _XY).reshape(rows, n, 2)
    vis = np.frombuffer(b"".join(viss), np.uint8).reshape(rows, n)
    prov = np.frombuffer(b"".join(provs), np.uint8).reshape(rows, n)
    conf = np.frombuffer(b"".join(confs), _CONF).reshape(rows, n)
    return bool(vis.max() <= _MAX_VISIBILITY and prov.max() <= _MAX_PROVENANCE
                and np.isfinite(xy[vis > 0]).all() and np.isfinite(conf).all())


def _box_bytes(box) -> bytes | None:
    return None if box is None else np.asarray(box, _BOX).tobytes()


def _box_from_bytes(data: bytes | None):
    return None if data is None else _BOX_STRUCT.unpack(data)


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


def load_project(conn: sqlite3.Connection, poses: bool = True, version: int = SCHEMA_VERSION) -> Project:
    """The whole project (of project format `version`) as model objects (pose arrays read-only);
    with poses=False, its videos and tracks only (read the poses with pose_frames)."""
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    skeleton = Skeleton.from_dict(json.loads(meta["skeleton"]))
    project = Project(skeleton=skeleton, name=meta.get("name", ""))
    for row in conn.execute(f"SELECT {VIDEO_COLUMNS} FROM videos ORDER BY video_id"):
        video = video_from_row(row)
        project.videos[video.video_id] = video
    for video_id, track_id, name in conn.execute("SELECT video_id, track_id, name FROM tracks ORDER BY video_id, track_id"):
        add_track(project.videos, video_id, track_id, name)
    if not poses:
        orphan = conn.execute("SELECT video_id, frame, track_id FROM poses WHERE video_id NOT IN "
                              "(SELECT video_id FROM videos) LIMIT 1").fetchone()
        if orphan is not None:
            check_pose_place(None, *orphan)
        return project
    n = skeleton.num_joints
    rows = conn.execute(f"SELECT {pose_columns(version)} FROM poses ORDER BY video_id, frame, track_id")
    for video_id, frame, track_id, pose in read_poses(rows, n, project.videos.get):
        project.videos[video_id].poses.setdefault(frame, {})[track_id] = pose
    return project


def pose_frames(conn: sqlite3.Connection, video: Video, num_joints: int, version: int = SCHEMA_VERSION):
    """(frame, {track id: pose}) for each frame of `video` that has poses, in frame order, read
    from the file a row at a time and checked as load_project checks them."""
    frame, by_track = None, {}
    rows = conn.execute(f"SELECT {pose_columns(version)} FROM poses WHERE video_id = ? ORDER BY frame, track_id",
                        (video.video_id,))
    for _, f, track_id, pose in read_poses(rows, num_joints, lambda video_id: video if video_id == video.video_id else None):
        if f != frame and by_track:
            yield frame, by_track
            by_track = {}
        frame = f
        by_track[track_id] = pose
    if by_track:
        yield frame, by_track


def add_track(videos: dict[int, Video], video_id, track_id, name) -> None:
    """Put a tracks row into its video; ProjectError if it fits none (damaged)."""
    if video_id not in videos:
        raise ProjectError(f"track {track_id!r} belongs to video {video_id!r}, which is not in the project (damaged)")
    _check_int(track_id, 0, MAX_ID, f"video {video_id}: track id")
    if not isinstance(name, str):
        raise ProjectError(f"video {video_id}, track {track_id}: the name is not text (damaged)")
    videos[video_id].tracks[track_id] = Track(track_id, name)


def check_pose_place(video: Video | None, video_id, frame, track_id) -> None:
    """ProjectError unless a poses row's video, frame and track exist: a pose is never dropped
    silently (an export would leave it out without a word)."""
    if video is None:
        raise ProjectError(f"a pose of video {video_id!r} (frame {frame!r}, track {track_id!r}), which is not in "
                           "the project (damaged)")
    _check_int(frame, 0, video.num_frames - 1, f"video {video_id}, track {track_id}: a pose's frame")
    if track_id not in video.tracks:
        raise ProjectError(f"video {video_id}, frame {frame}: a pose of track {track_id!r}, which the video does not "
                           "have (damaged)")
