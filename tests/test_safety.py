"""A user's files are safe from the tool's own writes and from what it reads: no output replaces
a project, no written path leaves the folder the user chose, damaged or hostile input gives an
error that names the problem and changes nothing."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from posewarper_core import Pose, Provenance, Track, Video
from posewarper_core.cli import main
from posewarper_core.skeleton import POSETRACK17
from posewarper_core.store import ProjectStore, content_digest

REPO = Path(__file__).resolve().parents[1]
J = 17


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def small_video(name="clip", num_frames=12, poses_every=1, video_id=1) -> Video:
    """A video of `num_frames` frames with one person labelled every `poses_every` frames."""
    video = Video(source=f"{name}.mp4", num_frames=num_frames, width=320, height=240, fps=25.0, name=name,
                  video_id=video_id)
    video.tracks = {0: Track(0)}
    for f in range(0, num_frames, poses_every):
        xy = np.full((J, 2), 10.0 + f)
        video.poses[f] = {0: Pose(xy=xy, visibility=np.full(J, 2, np.uint8),
                                  provenance=np.full(J, Provenance.MANUAL, np.uint8),
                                  confidence=np.ones(J, np.float32), keyframe=True)}
    return video


def make_project(path: Path, *videos: Video) -> Path:
    with ProjectStore.create(path) as store:
        for video in videos or (small_video(),):
            store.add_video(video)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- 3. an output that is the project ---------------------------------------------------------

def test_an_output_that_is_a_project_or_its_side_file_is_refused(capsys, tmp_path):
    """`export p.pwproj -o p.pwproj` (and adapt/convert/train --export onto a project, its
    -wal/-shm/lock, a symlink to it, or another project open in the app) is refused before
    anything is written; before, it exited 0 and replaced the project with JSON or a model."""
    project = make_project(tmp_path / "p.pwproj")
    other = make_project(tmp_path / "open.pwproj", small_video("other"))
    (tmp_path / "link.json").symlink_to(project)
    before = {p: digest(p) for p in (project, other)}
    clip = tmp_path / "clip.json"
    assert run(capsys, "export", project, "-o", clip, "--format", "coco")[0] == 0
    with ProjectStore.open(other):  # held open, as by the app
        for target in (project, tmp_path / "p.pwproj-wal", tmp_path / "p.pwproj-shm", tmp_path / "p.pwproj.lock",
                       tmp_path / "link.json", other):
            for fmt in ("coco", "posetrack18"):
                code, _, err = run(capsys, "export", project, "-o", target, "--format", fmt)
                assert code == 2 and str(target) in err and "project" in err, (target, err)
            code, _, err = run(capsys, "convert", clip, "-o", target, "--format", "posetrack18")
            assert code == 2 and "project" in err
        code, _, err = run(capsys, "adapt", project, "--model", REPO / "resources/models/posewarper_base.pt",
                           "--out", project, "--steps", "1")
        assert code == 2 and "adapted model would replace a PoseWarper project" in err
        code, _, err = run(capsys, "train", "--recipe", "tiny", "--out", tmp_path / "run", "--export", other)
        assert code == 2 and "exported model would replace a PoseWarper project" in err
    assert {p: digest(p) for p in before} == before
    assert not (tmp_path / "p.pwproj-wal").exists() or (tmp_path / "p.pwproj-wal").stat().st_size == 0
    assert not (tmp_path / "run").exists()
    with ProjectStore.open(project, read_only=True) as store:
        assert store.project.video(1).pose_count() == 12


# --- 2. every written path inside the folder the user chose ------------------------------------

def _counter_project(tmp_path, clip_name: str, video_name: str) -> Path:
    from videogen import counter_video

    clip = counter_video(tmp_path / clip_name, 6)
    video = Video(str(clip), 6, 160, 96, name=video_name)
    video.set_pose(2, 1, Pose.manual(np.full((J, 2), 20.0), np.full(J, 2)))
    return make_project(tmp_path / f"p{len(list(tmp_path.glob('*.pwproj')))}.pwproj", video)


@pytest.mark.parametrize("video_name", ["..", "...", "../../escape", "/abs/olute", "a" * 300])
def test_export_frames_stay_inside_the_output_folder(capsys, tmp_path, video_name):
    """A video named ".." (or "...", a path, 300 letters) had its frames written to
    "../000002.jpg", into the output folder's parent: now every frame lands below the folder,
    at the very name the JSON gives it."""
    import json

    project = _counter_project(tmp_path, "...mp4", video_name)
    out = tmp_path / "deep" / "data" / "train.json"
    code, stdout, err = run(capsys, "export", project, "-o", out, "--format", "coco", "--frames", "labelled")
    assert code == 0, err
    (name,) = [image["file_name"] for image in json.loads(out.read_text())["images"] if image["frame_index"] == 2]
    written = [p for p in tmp_path.rglob("*.jpg")]
    assert written == [out.parent / name]
    assert (out.parent / name).resolve().is_relative_to(out.parent.resolve())


def test_export_frames_never_follow_a_symlink_inside_the_output_folder(capsys, tmp_path):
    project = _counter_project(tmp_path, "clip.mp4", "clip")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "data" / "train.json"
    out.parent.mkdir()
    (out.parent / "clip").symlink_to(elsewhere, target_is_directory=True)
    code, _, err = run(capsys, "export", project, "-o", out, "--format", "coco", "--frames", "all")
    assert code == 2 and "symbolic link inside the output folder" in err and str(out.parent / "clip") in err
    assert list(elsewhere.iterdir()) == []


def test_path_inside_refuses_names_that_leave_the_folder(tmp_path):
    from posewarper_core.errors import OutputError
    from posewarper_core.safe_output import path_inside

    assert path_inside(tmp_path, "a/b.jpg") == tmp_path / "a" / "b.jpg"
    for name in ("../x.jpg", "a/../../x.jpg", "/etc/x", "", "a//b", "C:/x", "a\\..\\..\\x"):
        with pytest.raises(OutputError, match="outside"):
            path_inside(tmp_path, name)


# --- 6. long file names, 7. huge ids: an error that names the field, and nothing left behind -------

def _bonn_coco(tmp_path, shared_data, edit) -> Path:
    """The Bonn dev clip as a COCO file beside (a link to) its frames, changed by `edit(doc)`."""
    import json

    clip = shared_data / "dev" / "bonn_060470979"
    (tmp_path / "frames").symlink_to(clip / "frames", target_is_directory=True)
    coco = tmp_path / "clip.json"
    assert main(["convert", str(clip / "posetrack18.json"), "-o", str(coco), "--format", "coco"]) == 0
    doc = json.loads(coco.read_text())
    edit(doc)
    coco.write_text(json.dumps(doc))
    return coco


def _long_name(doc):
    doc["images"][0]["file_name"] = "x" * 300 + ".jpg"


def _huge_video_id(doc):
    for image in doc["images"]:
        image["video_id"] = 2**63
    doc.pop("posewarper")


def _huge_track_and_an_untracked_pose(doc):
    doc["annotations"][0]["track_id"] = 2**63 - 1
    del doc["annotations"][1]["track_id"]


def test_a_file_name_longer_than_the_system_allows_is_just_not_on_disk(capsys, tmp_path, shared_data):
    """An image file_name over 255 bytes made info, import and convert end in an OSError traceback."""
    coco = _bonn_coco(tmp_path, shared_data, _long_name)
    code, out, err = run(capsys, "info", coco)
    assert code == 0 and "(40 of 41 frames on disk)" in out, err
    code, _, err = run(capsys, "import", coco, "--project", tmp_path / "p.pwproj")
    assert code == 2 and "images[0]" in err and "not found" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.json", "frames"]
    assert run(capsys, "convert", coco, "-o", tmp_path / "out" / "c.json", "--format", "posetrack18")[0] == 0


@pytest.mark.parametrize("edit, field", [(_huge_video_id, "video_id is too large"),
                                         (_huge_track_and_an_untracked_pose, "no track id left")])
def test_ids_a_project_cannot_hold_are_refused_on_read(capsys, tmp_path, shared_data, edit, field):
    """A COCO video_id >= 2^63, or track_id 2^63-1 plus an annotation without one, crashed the
    store with OverflowError and left an empty project; convert wrote ids that info refused."""
    coco = _bonn_coco(tmp_path, shared_data, edit)
    for argv in (["info", coco], ["import", coco, "--project", tmp_path / "p.pwproj"],
                 ["convert", coco, "-o", tmp_path / "c.json", "--format", "posetrack18"]):
        code, _, err = run(capsys, *argv)
        assert code == 2 and str(coco) in err and field in err, (argv, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.json", "frames"]


def test_the_store_refuses_ids_and_counts_it_cannot_hold(tmp_path):
    from posewarper_core.errors import ProjectError

    with ProjectStore.create(tmp_path / "p.pwproj") as store:
        video = small_video()
        video.tracks[2**63] = Track(2**63)
        with pytest.raises(ProjectError, match="track id must be a whole number in 0..9223372036854775807"):
            store.add_video(video)
        with pytest.raises(ProjectError, match="num_frames must be a whole number in 1..10000000"):
            store.add_video(small_video(num_frames=10**7 + 1, poses_every=10**7))
        assert store.add_video(small_video(video_id=2**63 - 1)) == 2**63 - 1
        with pytest.raises(ProjectError, match="no free video id"):
            store.add_video(small_video(video_id=0))
    with ProjectStore.open(tmp_path / "p.pwproj", read_only=True) as store:
        assert list(store.project.videos) == [2**63 - 1]


def test_import_into_an_existing_project_is_all_or_nothing(capsys, tmp_path, shared_data, monkeypatch):
    """A failure while adding the second of two videos takes the first out again."""
    clips = [shared_data / "dev" / c / "posetrack18.json" for c in ("bonn_060470979", "jhmdb_goal_keeping")]
    project = make_project(tmp_path / "p.pwproj")
    with ProjectStore.open(project, read_only=True) as store:
        before = content_digest(store.project)
    real_add = ProjectStore.add_video

    def add_one_then_fail(self, video):
        if video.name == "jhmdb_goal_keeping":
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return real_add(self, video)

    monkeypatch.setattr(ProjectStore, "add_video", add_one_then_fail)
    with pytest.raises(OverflowError):
        main(["import", *map(str, clips), "--project", str(project)])
    with ProjectStore.open(project, read_only=True) as store:
        assert content_digest(store.project) == before
    with pytest.raises(OverflowError):  # and a new project is not left behind
        main(["import", *map(str, clips), "--project", str(tmp_path / "new.pwproj")])
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(("-wal", "-shm"))) == ["p.pwproj"]


def _open_and_fail(window, qtbot, path) -> str:
    ended = []
    window.openFailed.connect(ended.append)
    window.projectOpened.connect(lambda p: ended.append(f"opened {p}"))
    assert window.open_path(path)
    qtbot.waitUntil(lambda: bool(ended), timeout=60000)
    return ended[0]


@pytest.mark.parametrize("edit, message", [(_long_name, "not found"), (_huge_video_id, "video_id is too large"),
                                           (_huge_track_and_an_untracked_pose, "no track id left")])
def test_a_failed_open_in_the_app_leaves_no_project_behind(window, qtbot, tmp_path, shared_data, edit, message):
    """Opening such a file in the app fails with the message, leaves no project file or lock, and
    failing again says the same (before, an empty project was left and opened silently)."""
    coco = _bonn_coco(tmp_path, shared_data, edit)
    for _ in range(2):
        assert message in _open_and_fail(window, qtbot, coco)
        assert sorted(p.name for p in tmp_path.iterdir() if p.name != "settings") == ["clip.json", "frames"]


def test_a_store_failure_while_filling_a_new_project_removes_it(tmp_path, monkeypatch):
    """Cleanup covers every failure, also one the checks did not foresee."""
    from app import opening

    def broken(self, video):
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    monkeypatch.setattr(ProjectStore, "add_video", broken)
    source = tmp_path / "clip.json"
    monkeypatch.setattr(opening, "import_videos", lambda path: (POSETRACK17, [small_video()]))
    source.write_text("{}")
    with pytest.raises(OverflowError):
        opening.open_path(source)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.json"]


# --- 8. read-only media ------------------------------------------------------------------------

@pytest.fixture
def make_read_only():
    """make_read_only(folder): nothing can be created in `folder` any more (an immutable folder,
    or, for a user other than root, one without write permission), as on a read-only mount."""
    import os
    import shutil
    import subprocess

    done = []

    def protect(folder: Path) -> None:
        chattr = shutil.which("chattr")
        if chattr and subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode == 0:
            done.append(lambda: subprocess.run([chattr, "-i", str(folder)], check=True))
        elif os.geteuid() != 0:
            folder.chmod(0o555)
            done.append(lambda: folder.chmod(0o755))
        try:
            (folder / "probe").touch()
        except OSError:
            return
        (folder / "probe").unlink()
        pytest.skip("cannot make a folder read-only here (root without chattr +i)")

    yield protect
    for undo in reversed(done):
        undo()


@pytest.mark.parametrize("leftovers", ["none", "empty journal", "journal with edits", "journal without index"])
def test_a_project_on_read_only_media_is_read_and_not_called_damaged(capsys, tmp_path, make_read_only, leftovers):
    """info and export read a healthy project where nothing can be written; before, it was
    "not an SQLite database, or damaged". A journal holding edits that cannot be merged there is
    named, not read past."""
    import json
    import shutil

    folder = tmp_path / "media"
    folder.mkdir()
    project = folder / "p.pwproj"
    if leftovers.startswith("journal"):  # copied while the app has it open: the edit is in the -wal
        with ProjectStore.open(make_project(tmp_path / "p.pwproj", small_video("clip"))) as store:
            store.delete_pose(1, 0, 0)
            for suffix in ("", "-wal", "-shm") if leftovers == "journal with edits" else ("", "-wal"):
                shutil.copy(f"{store.path}{suffix}", f"{project}{suffix}")
        assert Path(f"{project}-wal").stat().st_size > 0
    else:
        make_project(project, small_video("clip"))
        if leftovers == "empty journal":  # as SQLite may leave them beside a closed project
            Path(f"{project}-wal").touch()
            Path(f"{project}-shm").touch()
    before = digest(project)
    make_read_only(folder)
    code, out, err = run(capsys, "info", project, "--json")
    if leftovers == "journal without index":  # SQLite cannot read the journal without its -shm here
        assert code == 2 and "p.pwproj-wal" in err and "damaged" not in err
        assert run(capsys, "export", project, "-o", tmp_path / "out.json")[0] == 2
        return
    assert code == 0, err
    poses = 11 if leftovers == "journal with edits" else 12  # the edit in the journal is read
    assert json.loads(out)["videos"][0]["poses"] == poses
    code, _, err = run(capsys, "export", project, "-o", tmp_path / "out.json", "--format", "coco")
    assert code == 0, err
    assert len(json.loads((tmp_path / "out.json").read_text())["annotations"]) == poses
    assert digest(project) == before


# --- 9. damaged counts, and a fuzz test of the store's reader -----------------------------------

def _damage(project: Path, *statements) -> None:
    import sqlite3

    conn = sqlite3.connect(project)
    with conn:
        for statement in statements:
            conn.execute(statement)
    conn.close()


@pytest.mark.parametrize("damage, field", [
    ("UPDATE videos SET num_frames = 9000000000000000000", "num_frames is 9000000000000000000, outside 1..10000000"),
    ("UPDATE videos SET num_frames = 0", "num_frames is 0, outside 1..10000000"),
    ("UPDATE videos SET num_frames = 5", "a pose's frame is 5, outside 0..4"),
    ("UPDATE poses SET frame = 40 WHERE frame = 3", "a pose's frame is 40, outside 0..11"),
    ("UPDATE poses SET visibility = CAST(x'07' || substr(visibility, 2) AS BLOB) WHERE frame = 2", "visibility or provenance"),
    ("UPDATE poses SET xy = CAST(x'000000000000f87f' || substr(xy, 9) AS BLOB) WHERE frame = 2", "not a finite number"),
])
def test_damaged_counts_are_named_never_a_hang_or_a_silent_drop(capsys, tmp_path, damage, field):
    """num_frames of 9e18 made export hang; 0 exported 0 of the poses with exit 0; a pose out of
    range was dropped silently. Now info, export and opening for editing name the field."""
    project = make_project(tmp_path / "p.pwproj")
    _damage(project, "PRAGMA foreign_keys = OFF", damage)
    before = digest(project)
    for argv in (["info", project], ["export", project, "-o", tmp_path / "out.json", "--format", "coco"]):
        code, _, err = run(capsys, *argv)
        assert code == 2 and str(project) in err and field in err and "video 1" in err, (argv, err)
    from posewarper_core.errors import ProjectError

    with pytest.raises(ProjectError, match="damaged"):
        ProjectStore.open(project)
    assert not (tmp_path / "out.json").exists() and digest(project) == before


def _fuzz_base(folder: Path) -> bytes:
    video = small_video("clip", num_frames=8)
    video.labelled_frames = {0, 3}
    video.ignore_regions = {2: [np.array([[0, 0], [10, 0], [5, 8.0]])]}
    make_project(folder / "base.pwproj", video, small_video("two", num_frames=5, video_id=4))
    return (folder / "base.pwproj").read_bytes()


_FUZZ_BASE: dict[str, bytes] = {}


def _fuzz_read(tmp_path_factory, data: bytes) -> None:
    """Reading `data` as a project gives a project or a ProjectError, never anything else, and
    leaves the file as it was; what reads is exported, or refused with a PoseWarperError."""
    from posewarper_core.errors import PoseWarperError, ProjectError
    from posewarper_core.formats import export_project

    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "p.pwproj"
    path.write_bytes(data)
    try:
        with ProjectStore.open(path, read_only=True) as store:
            try:
                export_project(store.project, folder / "out.json", "coco", base_dir=folder)
            except PoseWarperError:
                pass
    except ProjectError:
        pass
    assert path.read_bytes() == data


def test_fuzz_the_store_reader_with_damaged_bytes(tmp_path_factory):
    from hypothesis import HealthCheck, given, settings, strategies as st

    base = _fuzz_base(tmp_path_factory.mktemp("base"))

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(st.integers(0, len(base) - 1), st.integers(0, 255)), min_size=1, max_size=8),
           st.integers(100, len(base)))
    def damaged(flips, keep):
        data = bytearray(base[:keep])
        for at, value in flips:
            if at < len(data):
                data[at] = value
        _fuzz_read(tmp_path_factory, bytes(data))

    damaged()


_COLUMNS = {
    "videos": ["video_id", "source", "num_frames", "width", "height", "fps", "name", "keyframe_stride", "vid_id",
               "frames", "labelled_frames", "ignore_regions"],
    "tracks": ["video_id", "track_id", "name"],
    "poses": ["video_id", "frame", "track_id", "keyframe", "method", "bbox", "head_box", "xy", "visibility",
              "provenance", "confidence", "reviewed"],
    "meta": ["value"],
}
_KEYS = {"videos": ["video_id"], "tracks": ["video_id", "track_id"], "poses": ["video_id", "frame", "track_id"],
         "meta": ["key"]}


def test_fuzz_the_store_reader_with_damaged_values(tmp_path_factory):
    """Any value of any type in any column of any row (SQLite stores what it is given)."""
    import sqlite3

    from hypothesis import HealthCheck, given, settings, strategies as st

    base = _fuzz_base(tmp_path_factory.mktemp("base"))
    values = st.one_of(st.none(), st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=True), st.text(max_size=30),
                       st.binary(max_size=300), st.sampled_from(["[]", "{}", "[[\"a\", 1, 2]]", '{"1": [[0, 0]]}',
                                                                  "[0, 99999]", '{"joints": []}']))
    changes = st.lists(st.tuples(st.sampled_from(sorted(_COLUMNS)), st.integers(0, 20), st.data()), min_size=1, max_size=4)

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(changes, values)
    def damaged(edits, value):
        folder = tmp_path_factory.mktemp("edit")
        path = folder / "p.pwproj"
        path.write_bytes(base)
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA foreign_keys = OFF")
        for table, row, data in edits:
            column = data.draw(st.sampled_from(_COLUMNS[table]))
            keys = _KEYS[table]
            rows = conn.execute(f"SELECT {', '.join(keys)} FROM {table} ORDER BY {', '.join(keys)}").fetchall()
            where = " AND ".join(f"{k} = ?" for k in keys)
            try:
                conn.execute(f"UPDATE {table} SET {column} = ? WHERE {where}", (value, *rows[row % len(rows)]))
            except sqlite3.IntegrityError:
                pass  # a NOT NULL or key constraint: SQLite itself refuses this damage
        conn.commit()
        conn.close()
        _fuzz_read(tmp_path_factory, path.read_bytes())

    damaged()


def test_the_backup_made_before_an_upgrade_never_follows_a_symlink(tmp_path):
    """Opening an older project keeps a copy "<project>.format1.bak"; a symlink planted under that
    name would have had its target overwritten with the copy."""
    import sqlite3

    from posewarper_core.errors import ProjectError
    from test_store import SCHEMA_V1

    path = tmp_path / "old.pwproj"
    conn = sqlite3.connect(path)
    for statement in SCHEMA_V1:
        conn.execute(statement)
    conn.executemany("INSERT INTO meta VALUES (?, ?)", [("schema_version", "1"), ("name", "old"),
                                                        ("skeleton", json.dumps(POSETRACK17.to_dict()))])
    conn.commit()
    conn.close()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "old.pwproj.format1.bak").symlink_to(victim)
    with pytest.raises(ProjectError, match="format1.bak, where the file as it was is kept .* symbolic link"):
        ProjectStore.open(path)
    assert victim.read_text() == "precious"
    (tmp_path / "old.pwproj.format1.bak").unlink()
    ProjectStore.open(path).close()
    assert (tmp_path / "old.pwproj.format1.bak").is_file()


def test_a_file_that_is_no_video_is_refused_before_a_project_is_asked_for(window, qtbot, tmp_path, monkeypatch):
    """A new user opened notes.txt: the app asked where to save notes.pwproj, then said it was no
    video. The file is looked at first; nothing is asked and nothing is written."""
    from PySide6.QtWidgets import QFileDialog

    from posewarper_core.video import VideoError, check_video_file

    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\n")
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (asked.append(a), ("", ""))[1])
    failed = []
    window.openFailed.connect(failed.append)
    assert window.open_path(notes, ask_where=True) is False
    assert not asked and failed and "notes.txt: not a readable video" in window.last_error
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "settings") == ["notes.txt"]
    with pytest.raises(VideoError, match="is a folder"):
        check_video_file(tmp_path)
    check_video_file(Path(__file__).resolve().parents[1] / "resources" / "demo" / "sports2d_demo.mp4")  # a video passes
