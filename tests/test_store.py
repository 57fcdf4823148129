"""The SQLite project store: round trips, locking, schema versions, refused edits, crash safety."""
from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import store_crash_child as child
from posewarper_core import (
    COCO17, FrameRef, Pose, PoseChange, Project, ProjectError, Provenance, Track, Video,
)
from posewarper_core.skeleton import Skeleton
from posewarper_core.store import ProjectStore
from posewarper_core.store_schema import SCHEMA_VERSION, load_project

J = 17


def make_pose(seed: float, provenance: Provenance = Provenance.MANUAL, **kw) -> Pose:
    rng = np.random.default_rng(int(seed * 1000) % 2**32)
    visibility = rng.integers(0, 3, J).astype(np.uint8)
    visibility[0] = 2
    labelled = visibility > 0
    return Pose(
        xy=np.where(labelled[:, None], rng.uniform(0, 600, (J, 2)), 0.0),
        visibility=visibility,
        provenance=np.where(labelled, provenance, Provenance.NONE),
        confidence=np.where(labelled, rng.uniform(0.2, 1.0, J), 0.0),
        **kw,
    )


def make_video(name: str = "clip") -> Video:
    """A video with every field set and poses of every provenance."""
    video = Video(
        source="clips/clip.mp4", num_frames=40, width=640, height=360, fps=29.97, name=name,
        video_id=7, keyframe_stride=5, vid_id="000342",
        frames=[FrameRef(f"images/000342/{i:06d}.jpg", image_id=10003420000 + i, frame_id=i) for i in range(40)],
        labelled_frames={0, 5, 10},
        ignore_regions={5: [np.array([[0, 0], [50, 0], [50, 40.5]]), np.array([[100, 100], [120, 100], [110, 130], [100, 120]])]},
    )
    video.tracks = {0: Track(0, "referee"), 3: Track(3, "")}
    video.poses = {
        0: {0: make_pose(1, keyframe=True, bbox=(10, 20, 100, 200), head_box=(30, 20, 25, 30)),
            3: make_pose(2, keyframe=True)},
        2: {0: make_pose(3, Provenance.INTERPOLATED, method="linear")},
        3: {0: make_pose(4, Provenance.PROPAGATED, method="posewarper", bbox=(1.5, 2.5, 3.5, 4.5))},
        4: {3: make_pose(5, Provenance.CORRECTED, method="flow")},
        5: {3: Pose.empty(J)},
    }
    return video


def assert_same_project(a: Project, b: Project) -> None:
    assert a.name == b.name and a.skeleton == b.skeleton
    assert a.videos.keys() == b.videos.keys()
    for vid, va in a.videos.items():
        vb = b.videos[vid]
        for field in ("source", "num_frames", "width", "height", "fps", "name", "video_id",
                      "keyframe_stride", "vid_id", "frames", "labelled_frames", "tracks"):
            assert getattr(va, field) == getattr(vb, field), field
        assert va.ignore_regions.keys() == vb.ignore_regions.keys()
        for frame, polygons in va.ignore_regions.items():
            assert len(polygons) == len(vb.ignore_regions[frame])
            for pa, pb in zip(polygons, vb.ignore_regions[frame]):
                np.testing.assert_array_equal(pa, pb)
        assert {f: set(t) for f, t in va.poses.items()} == {f: set(t) for f, t in vb.poses.items()}
        for frame, by_track in va.poses.items():
            for tid, pose in by_track.items():
                other = vb.poses[frame][tid]
                assert pose.same_as(other), (vid, frame, tid)
                np.testing.assert_array_equal(pose.xy, other.xy)  # exact, unlabelled joints too


def on_disk(store: ProjectStore) -> Project:
    """The project as the file holds it, read through a separate connection."""
    conn = sqlite3.connect(store.path)
    try:
        return load_project(conn)
    finally:
        conn.close()


@pytest.fixture
def store(tmp_path):
    with ProjectStore.create(tmp_path / "match.pwproj", name="match") as s:
        yield s


def test_round_trip_of_every_field(tmp_path):
    path = tmp_path / "match.pwproj"
    with ProjectStore.create(path, name="Match day") as store:
        assert store.base_dir == tmp_path and store.path == path
        video = make_video()
        video_id = store.add_video(video)
        assert video_id == 7  # a free id is kept
        second = store.add_video(make_video("second"))
        assert second == 8  # a taken id is replaced by the next free one
        store.set_track(video_id, Track(5, "goalkeeper"))
        store.set_pose(video_id, 30, 5, make_pose(9, Provenance.MANUAL, keyframe=True))
        store.update_video(second, keyframe_stride=3, name="renamed", source="other.mp4",
                           labelled_frames={1, 2}, ignore_regions={})
        assert_same_project(store.project, on_disk(store))
        mirror = store.project
    assert not Path(f"{path}.lock").exists()

    with ProjectStore.open(path) as reopened:
        assert_same_project(reopened.project, mirror)
        v = reopened.project.videos[video_id]
        assert v.frames[3] == FrameRef("images/000342/000003.jpg", 10003420003, 3)
        assert v.pose(0, 0).bbox == (10.0, 20.0, 100.0, 200.0)
        assert v.pose(3, 0).method == "posewarper"
        assert v.tracks[5] == Track(5, "goalkeeper")
        assert reopened.project.videos[second].keyframe_stride == 3
    assert video.video_id == 7 and 30 not in video.poses  # the caller's video was not changed


def test_imported_posetrack_file_round_trips(tmp_path, shared_data):
    from posewarper_core.formats import read_posetrack18, write_posetrack18

    gt = shared_data / "dev" / "bonn_060470979" / "posetrack18.json"
    skeleton, video = read_posetrack18(gt)
    path = tmp_path / "bonn.pwproj"
    with ProjectStore.create(path, skeleton=skeleton) as store:
        store.add_video(video)
    with ProjectStore.open(path) as store:
        (stored,) = store.project.videos.values()
        assert stored.pose_count() == video.pose_count() > 100
        assert stored.frames == video.frames and stored.labelled_frames == video.labelled_frames
        write_posetrack18(tmp_path / "out.json", store.project.skeleton, stored)
    _, again = read_posetrack18(tmp_path / "out.json", check_frames=False)
    for frame, by_track in video.poses.items():
        for tid, pose in by_track.items():
            assert again.pose(frame, tid).same_as(pose, atol=1e-3), (frame, tid)


def test_custom_skeleton_is_stored(tmp_path):
    fly = Skeleton("fly", ("head", "thorax", "tail"), ((0, 1), (1, 2)))
    path = tmp_path / "fly.pwproj"
    with ProjectStore.create(path, skeleton=fly) as store:
        vid = store.add_video(Video("fly.mp4", 10, 64, 64))
        store.set_track(vid, Track(1))
        store.set_pose(vid, 0, 1, Pose.manual(np.ones((3, 2)), np.full(3, 2)))
        with pytest.raises(ProjectError, match="the pose has 17 joints, the project's skeleton 'fly' has 3"):
            store.set_pose(vid, 1, 1, make_pose(1))
    with ProjectStore.open(path) as store:
        assert store.project.skeleton == fly
        assert store.project.videos[vid].pose(0, 1).num_joints == 3


def test_apply_puts_and_removes_in_one_go(store):
    vid = store.add_video(make_video())
    changes = [PoseChange(vid, f, 0, make_pose(f, Provenance.INTERPOLATED, method="linear")) for f in range(6, 30)]
    changes += [PoseChange(vid, 0, 3, None), PoseChange(vid, 10, 0, None), PoseChange(vid, 39, 3, None)]
    assert store.apply(changes) == len(changes) - 1  # frame 10 is put, then removed: the later one wins
    video = store.project.videos[vid]
    assert video.pose(0, 3) is None and video.pose(10, 0) is None and video.pose(39, 3) is None
    assert video.pose(29, 0).method == "linear"
    assert store.delete_pose(vid, 29, 0).method == "linear"
    assert store.delete_pose(vid, 29, 0) is None
    assert_same_project(store.project, on_disk(store))


def test_delete_track_and_remove_video(store):
    vid = store.add_video(make_video())
    other = store.add_video(make_video("other"))
    store.delete_track(vid, 3)
    video = store.project.videos[vid]
    assert 3 not in video.tracks and video.track_frames(3) == [] and video.pose(0, 0) is not None
    store.remove_video(other)
    assert list(store.project.videos) == [vid]
    assert_same_project(store.project, on_disk(store))
    with pytest.raises(ProjectError, match="no track 3"):
        store.delete_track(vid, 3)


def test_mirror_poses_are_read_only(store):
    vid = store.add_video(make_video())
    pose = store.project.videos[vid].pose(0, 0)
    with pytest.raises(ValueError):
        pose.xy[0, 0] = 1.0
    edited = pose.copy()
    edited.xy[0, 0] = 1.0
    store.set_pose(vid, 0, 0, edited)
    edited.xy[0, 0] = 2.0  # the store kept its own copy
    assert store.project.videos[vid].pose(0, 0).xy[0, 0] == 1.0


def bad_pose(kind: str) -> Pose:
    pose = make_pose(1)
    if kind == "nan":
        pose.xy[0, 1] = np.nan
    elif kind == "visibility":
        pose.visibility[2] = 3
    elif kind == "provenance":
        pose.provenance[2] = 9
    elif kind == "joints":
        pose = Pose.manual(np.ones((13, 2)), np.full(13, 2))
    elif kind == "bbox":
        pose.bbox = (1.0, 2.0, 3.0)
    return pose


@pytest.mark.parametrize("edit, message", [
    (lambda s, v: s.set_pose(99, 0, 0, make_pose(1)), "no video with id 99"),
    (lambda s, v: s.set_pose(v, 0, 42, make_pose(1)), "frame 0: no track 42"),
    (lambda s, v: s.set_pose(v, 40, 0, make_pose(1)), "frame 40 is outside 0..39"),
    (lambda s, v: s.set_pose(v, -1, 0, make_pose(1)), "frame -1 is outside"),
    (lambda s, v: s.set_pose(v, 1, 0, bad_pose("nan")), "frame 1, track 0: joint 0 has a non-finite coordinate"),
    (lambda s, v: s.set_pose(v, 1, 0, bad_pose("visibility")), "visibility must be 0, 1 or 2"),
    (lambda s, v: s.set_pose(v, 1, 0, bad_pose("provenance")), "unknown provenance 9"),
    (lambda s, v: s.set_pose(v, 1, 0, bad_pose("joints")), "has 13 joints"),
    (lambda s, v: s.set_pose(v, 1, 0, bad_pose("bbox")), "bbox must be"),
    (lambda s, v: s.apply([PoseChange(v, f, 0, make_pose(f)) for f in range(10, 20)]
                          + [PoseChange(v, 20, 0, bad_pose("nan"))]), "frame 20, track 0: joint 0"),
    (lambda s, v: s.apply([PoseChange(v, 0, 0, None), PoseChange(v, 1, 7, None)]), "no track 7"),
    (lambda s, v: s.set_track(v, Track(-2)), "track id must be a whole number in 0.."),
    (lambda s, v: s.update_video(v, keyframe_stride=0), "keyframe stride"),
    (lambda s, v: s.update_video(v, name="x", labelled_frames={3, 40}), "labelled frame 40 is outside"),
    (lambda s, v: s.update_video(v, ignore_regions={2: [[(0, 0), (1, np.inf), (2, 2)]]}), "frame 2: ignore region 0 must be"),
    (lambda s, v: s.update_video(v, ignore_regions={50: []}), "ignore-region frame 50 is outside"),
    (lambda s, v: s.add_video(Video("a.mp4", 0, 10, 10)), "num_frames must be"),
    (lambda s, v: s.add_video(Video("a.mp4", 5, 10, 10, poses={5: {1: make_pose(1)}})), "pose frame 5 is outside"),
    (lambda s, v: s.add_video(Video("a.mp4", 5, 10, 10, poses={1: {1: bad_pose("nan")}})), "frame 1, track 1: joint 0"),
])
def test_refused_edit_changes_nothing(store, edit, message):
    vid = store.add_video(make_video())
    before = on_disk(store)
    with pytest.raises(ProjectError, match=message) as info:
        edit(store, vid)
    assert "match.pwproj" in str(info.value)
    assert_same_project(store.project, before)
    assert_same_project(on_disk(store), before)


def test_failed_write_rolls_back_file_and_mirror(store):
    vid = store.add_video(make_video())
    before = on_disk(store)
    # Make the database itself fail half-way through a transaction, after some rows went in.
    store._conn.execute(
        "CREATE TEMP TRIGGER fail_on_frame_25 BEFORE INSERT ON poses WHEN NEW.frame = 25 "
        "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
    )
    changes = [PoseChange(vid, f, 0, make_pose(f)) for f in range(20, 30)] + [PoseChange(vid, 0, 0, None)]
    with pytest.raises(ProjectError, match="could not save 11 pose changes: disk on fire"):
        store.apply(changes)
    assert_same_project(store.project, before)
    assert_same_project(on_disk(store), before)
    store._conn.execute("DROP TRIGGER fail_on_frame_25")
    store.set_pose(vid, 25, 0, make_pose(25))  # the store still works
    assert store.project.videos[vid].pose(25, 0) is not None


def test_edits_after_close_are_refused(tmp_path):
    store = ProjectStore.create(tmp_path / "a.pwproj")
    store.close()
    store.close()
    with pytest.raises(ProjectError, match="closed"):
        store.add_video(make_video())


def test_create_refuses_an_existing_file(tmp_path):
    path = tmp_path / "a.pwproj"
    path.write_text("precious")
    with pytest.raises(ProjectError, match="already exists"):
        ProjectStore.create(path)
    assert path.read_text() == "precious"


def test_second_open_in_this_process_is_refused(tmp_path):
    path = tmp_path / "a.pwproj"
    with ProjectStore.create(path):
        with pytest.raises(ProjectError, match=rf"a\.pwproj is open in another running instance .*PID {os.getpid()}"):
            ProjectStore.open(path)
    ProjectStore.open(path).close()  # free again once closed


def test_project_held_by_another_process_is_refused(tmp_path):
    path = tmp_path / "held.pwproj"
    ProjectStore.create(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from posewarper_core.store import ProjectStore; s = ProjectStore.open(sys.argv[1]); "
         "print('ready', flush=True); sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(ProjectError, match=rf"held\.pwproj is open in another running instance .*PID {holder.pid}"):
            ProjectStore.open(path)
    finally:
        holder.kill()  # a killed holder leaves no stale lock
        holder.wait()
    ProjectStore.open(path).close()


@pytest.mark.parametrize("plant", ["symlink", "dangling symlink", "hard link"])
def test_a_planted_lock_file_is_never_followed_or_written(tmp_path, plant):
    """"<project>.lock" pointing at another file (a symlink, or a second name of it) is refused
    with a message naming it, and that file is left as it was; before, `fill` truncated it."""
    from posewarper_core.cli import main

    path = tmp_path / "p.pwproj"
    with ProjectStore.create(path) as s:
        s.add_video(make_video())
    victim = tmp_path / "victim.txt"
    lock = tmp_path / "p.pwproj.lock"
    if plant == "hard link":
        victim.write_text("precious")
        os.link(victim, lock)
    else:
        if plant == "symlink":
            victim.write_text("precious")
        lock.symlink_to(victim)
    with pytest.raises(ProjectError, match=r"p\.pwproj\.lock is (a symbolic link|a hard link)"):
        ProjectStore.open(path)
    if plant != "hard link":  # creating a project takes the lock the same way
        (tmp_path / "new.pwproj.lock").symlink_to(victim)
        with pytest.raises(ProjectError, match=r"new\.pwproj\.lock is a symbolic link"):
            ProjectStore.create(tmp_path / "new.pwproj")
        assert not (tmp_path / "new.pwproj").exists()
    assert main(["fill", str(path), "--method", "linear"]) != 0
    if plant == "dangling symlink":
        assert not victim.exists()
    else:
        assert victim.read_text() == "precious"
    lock.unlink()
    ProjectStore.open(path).close()  # ours again once the planted file is gone


def test_newer_schema_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "future.pwproj"
    ProjectStore.create(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()
    data = path.read_bytes()
    with pytest.raises(ProjectError, match=rf"future\.pwproj was saved by a newer version .*format {SCHEMA_VERSION + 1}"):
        ProjectStore.open(path)
    assert path.read_bytes() == data


# The version-1 layout exactly as it shipped: never change this to follow the code.
SCHEMA_V1 = [
    "PRAGMA application_id = 1347899474",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE videos (video_id INTEGER PRIMARY KEY, source TEXT NOT NULL, num_frames INTEGER NOT NULL, "
    "width INTEGER NOT NULL, height INTEGER NOT NULL, fps REAL, name TEXT NOT NULL, keyframe_stride INTEGER NOT NULL, "
    "vid_id TEXT, frames TEXT, labelled_frames TEXT NOT NULL, ignore_regions TEXT NOT NULL)",
    "CREATE TABLE tracks (video_id INTEGER NOT NULL REFERENCES videos ON DELETE CASCADE, track_id INTEGER NOT NULL, "
    "name TEXT NOT NULL, PRIMARY KEY (video_id, track_id)) WITHOUT ROWID",
    "CREATE TABLE poses (video_id INTEGER NOT NULL, frame INTEGER NOT NULL, track_id INTEGER NOT NULL, "
    "keyframe INTEGER NOT NULL, method TEXT, bbox BLOB, head_box BLOB, xy BLOB NOT NULL, visibility BLOB NOT NULL, "
    "provenance BLOB NOT NULL, confidence BLOB NOT NULL, PRIMARY KEY (video_id, frame, track_id), "
    "FOREIGN KEY (video_id, track_id) REFERENCES tracks ON DELETE CASCADE) WITHOUT ROWID",
]


def _format1_file(path: Path) -> np.ndarray:
    """A project file as format 1 wrote it: one video, one person, a keyframe at frame 4 (its xy returned)."""
    conn = sqlite3.connect(path)
    for statement in SCHEMA_V1:
        conn.execute(statement)
    xy = np.arange(2 * J, dtype="<f8").reshape(J, 2)
    conn.executemany("INSERT INTO meta VALUES (?, ?)", [
        ("schema_version", "1"), ("name", "old one"), ("skeleton", json.dumps(COCO17.to_dict())),
    ])
    conn.execute("INSERT INTO videos VALUES (1, 'v.mp4', 20, 320, 240, 25.0, 'v', 10, NULL, NULL, '[4]', '{}')")
    conn.execute("INSERT INTO tracks VALUES (1, 2, 'walker')")
    conn.execute("INSERT INTO poses VALUES (1, 4, 2, 1, NULL, NULL, NULL, ?, ?, ?, ?)", (
        xy.tobytes(), np.full(J, 2, np.uint8).tobytes(), np.full(J, 1, np.uint8).tobytes(),
        np.ones(J, "<f4").tobytes(),
    ))
    conn.commit()
    conn.close()
    return xy


def test_old_version_file_is_migrated(tmp_path):
    path = tmp_path / "old.pwproj"
    xy = _format1_file(path)
    with ProjectStore.open(path) as store:
        assert store.project.name == "old one" and store.project.skeleton == COCO17
        pose = store.project.videos[1].pose(4, 2)
        np.testing.assert_array_equal(pose.xy, xy)
        assert pose.keyframe and store.project.videos[1].labelled_frames == {4}
        store.delete_track(1, 2)  # edits work on the migrated file
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'poses_by_track'").fetchone()
    conn.close()
    backup = sqlite3.connect(tmp_path / "old.pwproj.format1.bak")  # the file as it was, for older programs
    assert backup.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
    backup.close()


@pytest.mark.parametrize("content", [b"", b"hello, I am a text file\n" * 100, bytes(range(256)) * 64])
def test_file_that_is_not_a_project_is_refused(tmp_path, content):
    path = tmp_path / "notes.pwproj"
    path.write_bytes(content)
    with pytest.raises(ProjectError, match=r"notes\.pwproj is not a PoseWarper project"):
        ProjectStore.open(path)
    assert path.read_bytes() == content
    assert not Path(f"{path}.lock").exists()


def test_other_sqlite_database_and_missing_file_are_refused(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE meta (key, value)")
    conn.close()
    with pytest.raises(ProjectError, match="an SQLite database of another program"):
        ProjectStore.open(path)
    with pytest.raises(ProjectError, match=r"missing\.pwproj: no such project file"):
        ProjectStore.open(tmp_path / "missing.pwproj")
    assert not (tmp_path / "missing.pwproj").exists()


def test_damaged_project_gives_a_clear_error(tmp_path):
    path = tmp_path / "damaged.pwproj"
    with ProjectStore.create(path) as store:
        vid = store.add_video(make_video())
        store.apply([PoseChange(vid, f, 0, make_pose(f)) for f in range(40)])
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    data[2 * page:len(data)] = bytes(range(256)) * ((len(data) - 2 * page) // 256) + bytes(len(data) % 256)
    path.write_bytes(bytes(data))
    with pytest.raises(ProjectError, match=r"damaged\.pwproj"):
        ProjectStore.open(path)


@pytest.mark.slow
def test_edits_that_returned_survive_sigkill(tmp_path):
    """A child applies edits and is killed at 50 random moments; each time, the reopened file holds
    every edit that had returned (and at most the one in flight, whole), and passes integrity_check."""
    path = tmp_path / "crash.pwproj"
    with ProjectStore.create(path) as store:
        video = Video("crash.mp4", num_frames=1_000_000, width=640, height=480)
        video.tracks = {t: Track(t) for t in range(1, 12)}
        store.add_video(video)
    script = Path(child.__file__)
    rng = random.Random(20261122)
    done = 0  # edits in the file
    for run in range(50):
        proc = subprocess.Popen([sys.executable, str(script), str(path), str(done)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout.readline() == "ready\n", proc.communicate()[1]
        time.sleep(rng.uniform(0.0, 0.08))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate()
        assert proc.returncode == -signal.SIGKILL, err
        reported = [int(line) for line in out.splitlines(keepends=True) if line.endswith("\n")]
        returned = reported[-1] + 1 if reported else done

        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], f"run {run}"
        conn.close()
        with ProjectStore.open(path) as store:
            v = store.project.videos[1]
            state = {
                "poses": {(f, t): float(p.xy[0, 0]) for f, by_track in v.poses.items() for t, p in by_track.items()},
                "name": v.tracks[1].name,
                "labelled": v.labelled_frames,
            }
        if state == child.expected_state(returned):
            done = returned
        else:  # the edit in flight when killed may have committed, but only whole
            assert state == child.expected_state(returned + 1), f"run {run}: {returned} edits had returned"
            done = returned + 1
    assert done > 50  # the child got real work done between kills


def _file_bytes(path: Path) -> dict[str, bytes]:
    """The project file and its journal, which hold the content (the -shm index does not)."""
    return {p.name: p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists()}


def test_read_only_open_while_the_project_is_held_for_editing(tmp_path):
    path = tmp_path / "busy.pwproj"
    with ProjectStore.create(path, name="busy") as held:
        vid = held.add_video(make_video())
        before = _file_bytes(path)
        reader = ProjectStore.open(path, read_only=True)  # no lock: the holder keeps its own
        assert_same_project(reader.project, held.project)
        with pytest.raises(ProjectError, match=r"busy\.pwproj: the project was opened read-only"):
            reader.set_pose(vid, 1, 0, make_pose(9))
        with pytest.raises(ProjectError, match="read-only"):
            reader.delete_track(vid, 0)
        reader.close()
        assert _file_bytes(path) == before
        assert reader.project.videos[vid].pose(1, 0) is None
        held.set_pose(vid, 1, 0, make_pose(9))  # the holder still edits, and a new reader sees it
        with ProjectStore.open(path, read_only=True) as again:
            assert again.project.videos[vid].pose(1, 0).same_as(held.project.videos[vid].pose(1, 0))
    with ProjectStore.open(path) as store:  # and it opens for editing once the holder closed it
        assert store.project.videos[vid].pose(1, 0) is not None


def test_an_old_file_is_read_as_it_is_by_both_readers(tmp_path):
    """A read-only open and a snapshot read a format-1 file in place (no copy of it in memory):
    the pose as written, not reviewed (format 1 had no such mark), the file untouched."""
    from posewarper_core.project_snapshot import ProjectSnapshot

    path = tmp_path / "old.pwproj"
    xy = _format1_file(path)
    data = path.read_bytes()
    with ProjectStore.open(path, read_only=True) as store:
        pose = store.project.videos[1].pose(4, 2)
        assert pose.keyframe and not pose.reviewed and store.project.videos[1].tracks[2].name == "walker"
        np.testing.assert_array_equal(pose.xy, xy)
    with ProjectSnapshot(path) as snap:
        assert snap.project.name == "old one"
        frames = list(snap.pose_frames(snap.project.videos[1]))
    assert [f for f, _ in frames] == [4] and frames[0][1][2].same_as(pose)
    assert path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.pwproj"]


def test_read_only_open_of_an_old_file_changes_nothing(tmp_path):
    path = tmp_path / "old.pwproj"
    conn = sqlite3.connect(path)
    for statement in SCHEMA_V1:
        conn.execute(statement)
    conn.executemany("INSERT INTO meta VALUES (?, ?)", [
        ("schema_version", "1"), ("name", "old one"), ("skeleton", json.dumps(COCO17.to_dict())),
    ])
    conn.execute("INSERT INTO videos VALUES (1, 'v.mp4', 20, 320, 240, 25.0, 'v', 10, NULL, NULL, '[4]', '{}')")
    conn.commit()
    conn.close()
    data = path.read_bytes()
    with ProjectStore.open(path, read_only=True) as store:  # upgraded in memory only
        assert store.project.name == "old one" and store.project.videos[1].labelled_frames == {4}
    assert path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.pwproj"]  # no backup, no lock


def test_read_only_open_refuses_what_is_not_a_project(tmp_path):
    (tmp_path / "notes.pwproj").write_bytes(b"hello, I am a text file\n" * 100)
    with pytest.raises(ProjectError, match=r"notes\.pwproj is not a PoseWarper project"):
        ProjectStore.open(tmp_path / "notes.pwproj", read_only=True)
    with pytest.raises(ProjectError, match=r"missing\.pwproj: no such project file"):
        ProjectStore.open(tmp_path / "missing.pwproj", read_only=True)
    with pytest.raises(ProjectError, match=r"folder\.pwproj is not a file"):
        (tmp_path / "folder.pwproj").mkdir()
        ProjectStore.open(tmp_path / "folder.pwproj", read_only=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.pwproj", "notes.pwproj"]


def test_notes_and_content_digest_survive_reopening(tmp_path):
    from posewarper_core.store import content_digest

    path = tmp_path / "noted.pwproj"
    with ProjectStore.create(path) as store:
        vid = store.add_video(make_video())
        store.set_note("built_from", "abc")
        digest = content_digest(store.project)
    with ProjectStore.open(path, read_only=True) as store:
        assert store.notes == {"built_from": "abc"} and content_digest(store.project) == digest
        with pytest.raises(ProjectError, match="read-only"):
            store.set_note("built_from", "xyz")
    with ProjectStore.open(path) as store:
        assert store.project.name == "" and store.notes == {"built_from": "abc"}  # not mixed with the fields
        store.update_video(vid, name="renamed")
        assert content_digest(store.project) != digest
        store.update_video(vid, name="clip")
        assert content_digest(store.project) == digest  # same content, same digest
        store.set_pose(vid, 1, 0, make_pose(7))
        assert content_digest(store.project) != digest


def test_rows_read_in_blocks_come_back_as_written_and_a_bad_row_deep_in_a_block_is_named(tmp_path):
    """Opening checks a block of rows at once (store_schema.read_poses): thousands of poses read
    back as written, with both readers (the store's mirror and the streaming snapshot); a NaN
    where no joint is labelled is kept as it is; one damaged row among thousands is still named
    by its frame, and nothing of the file changes."""
    from posewarper_core.project_snapshot import ProjectSnapshot
    from posewarper_core.store_schema import _BLOCK_ROWS

    path = tmp_path / "many.pwproj"
    frames = _BLOCK_ROWS + 900  # a full block and part of another
    written = {f: make_pose(f, Provenance.PROPAGATED if f % 3 else Provenance.MANUAL, keyframe=f % 3 == 0,
                            method=None if f % 3 == 0 else "flow", reviewed=f % 5 == 1,
                            bbox=(f, 1.5, 2, 3) if f % 7 == 0 else None) for f in range(frames)}
    written[10].xy[1] = np.nan  # joint 1 not labelled there: what it holds is not read as damage
    written[10].visibility[1] = 0
    with ProjectStore.create(path) as store:
        video = Video("v.mp4", num_frames=frames, width=640, height=360)
        video.tracks = {2: Track(2)}
        vid = store.add_video(video)
        store.apply([PoseChange(vid, f, 2, p) for f, p in written.items()])
        expected = store.project
    with ProjectStore.open(path, read_only=True) as reader:
        assert_same_project(reader.project, expected)
        boxed = (frames - 1) // 7 * 7  # in the second block
        assert reader.project.videos[vid].pose(boxed, 2).bbox == (float(boxed), 1.5, 2.0, 3.0)
        assert [reader.project.videos[vid].pose(f, 2).reviewed for f in range(frames - 5, frames)] == [
            written[f].reviewed for f in range(frames - 5, frames)]
        assert not reader.project.videos[vid].pose(5, 2).xy.flags.writeable
    with ProjectSnapshot(path) as snap:
        streamed = dict(snap.pose_frames(snap.project.videos[vid]))
    assert streamed.keys() == written.keys()
    assert all(streamed[f][2].same_as(expected.videos[vid].pose(f, 2)) for f in written)

    bad = _BLOCK_ROWS + 321  # in the second block, not its first row
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE poses SET xy = CAST(x'000000000000f87f' || substr(xy, 9) AS BLOB) WHERE frame = ?", (bad,))
    conn.close()
    before = path.read_bytes()
    def stream():
        with ProjectSnapshot(path) as snap:
            return dict(snap.pose_frames(snap.project.videos[vid]))

    for read in (lambda: ProjectStore.open(path, read_only=True), stream):
        with pytest.raises(ProjectError, match=rf"many\.pwproj.*video {vid}, frame {bad}, track 2: a labelled joint "
                                               "or a confidence is not a finite number"):
            read()
    assert path.read_bytes() == before


def test_checkpoint_puts_the_edits_into_the_project_file_alone(tmp_path):
    """While the project is open its last edits live in the "-wal" journal; after checkpoint() a
    copy of the .pwproj file alone (no -wal, no -shm) holds them."""
    path = tmp_path / "open.pwproj"
    elsewhere = tmp_path / "copy"
    elsewhere.mkdir()
    with ProjectStore.create(path, name="open") as store:
        vid = store.add_video(make_video())
        store.set_pose(vid, 1, 0, make_pose(9, Provenance.PROPAGATED, reviewed=True))
        assert store.commits == 2
        (elsewhere / "before.pwproj").write_bytes(path.read_bytes())
        assert store.checkpoint() is True
        (elsewhere / "after.pwproj").write_bytes(path.read_bytes())
        with ProjectStore.open(elsewhere / "after.pwproj") as copy:
            assert_same_project(copy.project, store.project)
            assert copy.project.videos[vid].pose(1, 0).reviewed
        with ProjectStore.open(elsewhere / "before.pwproj") as stale:  # what users copied before
            assert stale.project.videos == {}
        store.set_pose(vid, 2, 0, make_pose(10))  # and the store goes on editing after it
        assert store.checkpoint() and store.commits == 3
    with ProjectStore.open(path, read_only=True) as reader:  # read-only or closed: nothing to do, no error
        assert reader.checkpoint() is True
        assert reader.project.videos[vid].pose(2, 0) is not None
    assert store.checkpoint() is True
