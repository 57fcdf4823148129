"""The file-level command line: info, import, export, convert, as a user runs them."""
import json
from pathlib import Path

import numpy as np
import pytest

from posewarper_core import Pose, Provenance, Track
from posewarper_core.cli import main
from posewarper_core.formats import import_file
from posewarper_core.store import ProjectStore

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo" / "sports2d_demo.mp4"


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def clips(shared_data):
    return [shared_data / "dev" / c / "posetrack18.json" for c in ("bonn_060470979", "jhmdb_goal_keeping")]


def test_info_on_media_and_annotation_files(capsys, clips):
    code, out, _ = run(capsys, "info", DEMO)
    assert code == 0 and "230 frames, 1768x994, 30.000 fps" in out
    code, out, _ = run(capsys, "info", clips[1].parent / "frames")
    assert code == 0 and "image folder" in out and "40 frames, 320x240" in out
    code, out, _ = run(capsys, "info", clips[0])
    assert code == 0 and "(41 of 41 frames on disk)" in out
    assert "41 of 41 frames have a pose: 164 poses of 4 people\n  164 keyframes (labelled), 0 filled" in out
    code, out, _ = run(capsys, "info", clips[0], "--json")
    info = json.loads(out)
    assert info["kind"] == "posetrack18 file" and [t["poses"] for t in info["videos"][0]["per_track"]] == [41] * 4


def test_info_says_per_person_what_is_labelled_filled_and_reviewed(capsys, tmp_path):
    """Keyframes per person, filled, reviewed, corrected in words; no "0 frames marked labelled"
    for a project made in the app (is_labeled only means something in an imported file)."""
    project = tmp_path / "p.pwproj"
    assert run(capsys, "import", DEMO, "--project", project)[0] == 0
    with ProjectStore.open(project) as store:
        store.set_track(1, Track(1, "jumper"))
        store.set_track(1, Track(2, "walker"))
        for frame, track, kind in ((0, 1, "key"), (10, 1, "key"), (5, 1, "reviewed"), (6, 1, "corrected"),
                                   (7, 1, "filled"), (5, 2, "key"), (6, 2, "filled"), (8, 2, "filled key")):
            pose = Pose.empty(17)
            pose.xy[:] = 60.0
            pose.visibility[:] = 2
            pose.provenance[:] = Provenance.MANUAL if kind == "key" else Provenance.PROPAGATED
            pose.confidence[:] = 1.0 if kind == "key" else 0.5
            pose.keyframe, pose.reviewed = kind.endswith("key"), kind == "reviewed"
            if kind == "filled key":  # a keyframe keeping some filled joints (E or K on a filled pose): a keyframe
                pose.provenance[:8] = Provenance.MANUAL
            if kind == "corrected":
                pose.provenance[3] = Provenance.CORRECTED
            store.set_pose(1, frame, track, pose)
        template = Pose.empty(17)  # a template dropped and not accepted yet: no label, no keyframe
        template.xy[:], template.visibility[:], template.provenance[:] = 60.0, 2, Provenance.SUGGESTED
        template.keyframe = True
        store.set_pose(1, 20, 2, template)
    code, out, _ = run(capsys, "info", project)
    assert code == 0
    assert "  7 of 230 frames have a pose: 9 poses of 2 people\n" in out
    assert "  4 keyframes (labelled), 4 filled by auto-fill (1 of them reviewed), 1 joint corrected\n" in out
    assert "  1 pose of suggested joints only, not accepted yet (exports leave them out)\n" in out
    assert "marked labelled" not in out and "ignore regions" not in out
    table = out[out.index("   person"):].splitlines()
    assert table[0].split() == ["person", "keyframes", "filled", "reviewed", "corrected", "frames", "name"]
    assert table[1].split() == ["1", "2", "3", "1", "1", "0-10", "jumper"]
    assert table[2].split() == ["2", "2", "1", "0", "0", "5-20", "walker"]


def test_info_counts_not_in_view_marks_apart_from_keyframes(capsys, tmp_path):
    """A "not in view" mark (X in the app) is a keyframe slot done but no label: its own count."""
    project = tmp_path / "p.pwproj"
    assert run(capsys, "import", DEMO, "--project", project)[0] == 0
    with ProjectStore.open(project) as store:
        store.set_track(1, Track(1, "jumper"))
        store.set_track(1, Track(2, "walker"))
        for frame, track in ((0, 1), (20, 1), (10, 2)):
            store.set_pose(1, frame, track, Pose.manual(np.full((17, 2), 60.0), np.full(17, 2)))
        store.set_pose(1, 10, 1, Pose.absent_mark(17))
    code, out, _ = run(capsys, "info", project)
    assert code == 0
    assert "  3 keyframes (labelled), 1 not-in-view mark, 0 filled by auto-fill" in out
    table = out[out.index("   person"):].splitlines()
    assert table[0].split()[:5] == ["person", "keyframes", "not", "in", "view"]
    assert table[1].split()[:3] == ["1", "2", "1"] and table[2].split()[:3] == ["2", "1", "0"]
    video = json.loads(run(capsys, "info", project, "--json")[1])["videos"][0]
    assert (video["keyframes"], video["not_in_view_marks"]) == (3, 1)
    assert [t["not_in_view_marks"] for t in video["per_track"]] == [1, 0]


def test_import_export_round_trip_through_a_project(capsys, clips, tmp_path):
    project = tmp_path / "p.pwproj"
    code, out, _ = run(capsys, "import", *clips, "--project", project)
    assert code == 0 and "created" in out and out.count("added video") == 2
    code, out, _ = run(capsys, "import", DEMO, "--project", project)
    assert code == 0 and "added video 3 'sports2d_demo'" in out

    # Mark one pose as auto-filled, so the export has something to mark and to leave out.
    with ProjectStore.open(project) as store:
        pose = store.project.video(1).pose(5, 0).copy()
        pose.provenance[pose.labelled()] = Provenance.PROPAGATED
        pose.keyframe, pose.method = False, "linear"
        store.set_pose(1, 5, 0, pose)
    code, out, _ = run(capsys, "info", project, "--json")
    videos = json.loads(out)["videos"]
    assert [v["frames"] for v in videos] == [41, 40, 230]
    assert videos[0]["auto_filled_poses"] == 1 and videos[0]["per_track"][0]["keyframes"] == 40

    code, out, _ = run(capsys, "export", project, "-o", tmp_path / "pt", "--format", "posetrack18")
    assert code == 0 and "3 files" in out and "(1 auto-filled)" in out
    assert sorted(p.name for p in (tmp_path / "pt").iterdir()) == [
        "bonn_060470979.json", "jhmdb_goal_keeping.json", "sports2d_demo.json"]
    _, (bonn,) = import_file(tmp_path / "pt" / "bonn_060470979.json")
    assert bonn.pose(5, 0).same_as(pose) and bonn.pose_count() == 164

    code, out, _ = run(capsys, "export", project, "-o", tmp_path / "gt.json", "--format", "coco", "--no-auto",
                       "--video", 1, "--video", 2)
    assert code == 0 and "1 auto-filled poses left out" in out
    _, videos = import_file(tmp_path / "gt.json")
    assert [v.pose_count() for v in videos] == [163, 40] and videos[0].pose(5, 0) is None

    code, out, _ = run(capsys, "export", project, "-o", tmp_path / "one.json", "--video", 2)
    assert code == 0 and json.loads((tmp_path / "one.json").read_text())["images"][0]["file_name"] == "frames/00001.png"


@pytest.mark.parametrize("fmt", ["posetrack18", "coco"])
def test_reviewed_poses_survive_export_and_import_into_a_new_project(capsys, tmp_path, fmt):
    """A pose an annotator accepted (A) stays accepted through export -> import elsewhere."""
    project = tmp_path / "p.pwproj"
    assert run(capsys, "import", DEMO, "--project", project)[0] == 0
    with ProjectStore.open(project) as store:
        store.set_track(1, Track(0))
        for frame, reviewed in ((3, True), (4, False), (5, True)):
            pose = Pose.empty(17)
            pose.xy[:] = 50.0 + frame
            pose.visibility[:], pose.provenance[:], pose.confidence[:] = 2, Provenance.PROPAGATED, 0.4
            pose.method, pose.reviewed = "flow", reviewed
            store.set_pose(1, frame, 0, pose)
    out_file = tmp_path / f"out_{fmt}.json"
    assert run(capsys, "export", project, "-o", out_file, "--format", fmt)[0] == 0
    doc = json.loads(out_file.read_text())
    assert sorted(a["reviewed"] for a in doc["annotations"]) == [False, True, True]

    second = tmp_path / "second.pwproj"
    code, _, err = run(capsys, "import", out_file, "--project", second)
    assert code == 0, err
    with ProjectStore.open(second) as store:
        (video,) = store.project.videos.values()
        reviewed = {f: p.reviewed for f, by_track in video.poses.items() for p in by_track.values()}
    assert reviewed == {3: True, 4: False, 5: True}

    # --auto reviewed: only the accepted filled poses; --no-auto (--auto none): none of them
    checked = tmp_path / f"checked_{fmt}.json"
    code, out, _ = run(capsys, "export", project, "-o", checked, "--format", fmt, "--auto", "reviewed")
    assert code == 0 and "2 auto-filled), 1 auto-filled poses left out (not reviewed)" in out
    _, (video,) = import_file(checked)
    assert {f: p.reviewed for f, by_track in video.poses.items() for p in by_track.values()} == {3: True, 5: True}
    code, out, _ = run(capsys, "export", project, "-o", tmp_path / "none.json", "--format", fmt, "--no-auto")
    assert code == 0 and "3 auto-filled poses left out" in out and "(not reviewed)" not in out


def test_another_tools_reviewed_key_is_not_taken_as_ours(tmp_path):
    """Only our own files' "reviewed" marks a pose accepted; another tool's key of that name,
    whatever it holds, neither marks it nor stops the import."""
    ann = {"id": 1, "image_id": 1, "category_id": 1, "keypoints": [10, 10, 2] * 17, "reviewed": "by Ann"}
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 64}], "annotations": [ann],
           "categories": [{"id": 1, "name": "person", "keypoints": [f"j{i}" for i in range(17)]}]}
    (tmp_path / "other.json").write_text(json.dumps(doc))
    _, (video,) = import_file(tmp_path / "other.json", check_frames=False)
    (pose,) = video.poses[0].values()
    assert not pose.reviewed


def test_convert_between_formats(capsys, clips, tmp_path):
    code, out, _ = run(capsys, "convert", clips[0], "-o", tmp_path / "c.json", "--format", "coco")
    assert code == 0 and "164 poses" in out
    code, _, _ = run(capsys, "convert", tmp_path / "c.json", "-o", tmp_path / "p.json", "--format", "posetrack18")
    assert code == 0
    _, (original,) = import_file(clips[0])
    _, (back,) = import_file(tmp_path / "p.json")
    assert all(original.pose(f, t).same_as(back.pose(f, t)) for f in original.poses for t in original.poses[f])


def test_convert_can_leave_out_the_filled_poses_nobody_reviewed(capsys, tmp_path):
    from posewarper_core.annotation import Video
    from posewarper_core.formats import export_videos
    from posewarper_core.skeleton import POSETRACK17

    video = Video(str(tmp_path / "clip.mp4"), 3, 100, 100)
    (tmp_path / "clip.mp4").write_bytes(b"")
    key = Pose.manual(np.full((17, 2), 50.0), np.full(17, 2))
    filled = key.copy()
    filled.provenance[:], filled.keyframe, filled.method = Provenance.PROPAGATED, False, "posewarper"
    accepted = filled.copy()
    accepted.reviewed = True
    for frame, pose in enumerate((key, accepted, filled)):
        video.set_pose(frame, 1, pose)
    export_videos(POSETRACK17, [video], tmp_path / "in.json", "posetrack18")
    code, out, _ = run(capsys, "convert", tmp_path / "in.json", "-o", tmp_path / "out.json", "--format", "coco",
                       "--auto", "reviewed")
    assert code == 0 and "1 auto-filled poses left out (not reviewed)" in out
    _, (back,) = import_file(tmp_path / "out.json")
    assert sorted(back.poses) == [0, 1] and back.pose(1, 1).reviewed


def test_bad_file_is_refused_whole_and_creates_nothing(capsys, clips, tmp_path):
    doc = json.loads(clips[0].read_text())
    doc["annotations"][12]["keypoints"].pop()
    bad = tmp_path / "bad.json"
    for img in doc["images"]:
        img["file_name"] = str(clips[0].parent / img["file_name"])  # absolute, so frames are found
    bad.write_text(json.dumps(doc))
    project = tmp_path / "p.pwproj"
    code, _, err = run(capsys, "import", clips[1], bad, "--project", project)
    assert code == 2
    assert err.strip() == f"error: {bad}, annotations[12] (id 13): keypoints has 50 numbers, expected 51 (17 joints x 3)"
    assert not project.exists()


def test_import_refuses_another_skeleton(capsys, clips, tmp_path):
    doc = json.loads(clips[1].read_text())
    doc["categories"][0]["keypoints"] = ["a", "b", "c"]
    doc["categories"][0]["skeleton"] = [[1, 2]]
    for ann in doc["annotations"]:
        ann["keypoints"] = [10, 10, 2] * 3
    for img in doc["images"]:
        img["file_name"] = str(clips[1].parent / img["file_name"])
    (tmp_path / "abc.json").write_text(json.dumps(doc))
    project = tmp_path / "p.pwproj"
    assert run(capsys, "import", clips[1], "--project", project)[0] == 0
    code, _, err = run(capsys, "import", tmp_path / "abc.json", "--project", project)
    assert code == 2 and "differ from those of the project's skeleton posetrack17" in err
    with ProjectStore.open(project) as store:
        assert list(store.project.videos) == [1]


def test_export_errors_name_the_problem(capsys, tmp_path):
    project = tmp_path / "p.pwproj"
    ProjectStore.create(project).close()
    code, _, err = run(capsys, "export", project, "-o", tmp_path / "x.json")
    assert code == 2 and "no video to export" in err
    assert run(capsys, "import", DEMO, "--project", project)[0] == 0
    code, _, err = run(capsys, "export", project, "-o", tmp_path / "x.json", "--video", 9)
    assert code == 2 and "no video with id 9" in err and not (tmp_path / "x.json").exists()
    (tmp_path / "out.json").write_text("{}")  # a file where the output's folder should be
    code, _, err = run(capsys, "export", project, "-o", tmp_path / "out.json" / "x.json")
    assert code == 2 and f"{tmp_path / 'out.json'} is a file, not a folder" in err
    assert (tmp_path / "out.json").read_text() == "{}"


def test_info_and_export_read_a_project_the_app_holds_open(capsys, tmp_path):
    project = tmp_path / "busy.pwproj"
    assert run(capsys, "import", DEMO, "--project", project)[0] == 0
    with ProjectStore.open(project) as held:  # as the app holds it: locked, edits in the journal
        pose = Pose.empty(17)
        pose.xy[:] = 100.0
        pose.visibility[:], pose.provenance[:], pose.keyframe = 2, Provenance.MANUAL, True
        held.set_track(1, Track(4, "runner"))
        held.set_pose(1, 12, 4, pose)
        files = {p: p.read_bytes() for p in (project, Path(f"{project}-wal"))}

        code, out, err = run(capsys, "info", project, "--json")
        assert code == 0, err
        (video,) = json.loads(out)["videos"]
        assert video["poses"] == 1 and video["per_track"][0]["name"] == "runner"

        code, out, err = run(capsys, "export", project, "-o", tmp_path / "out.json", "--format", "coco")
        assert code == 0, err
        _, (exported,) = import_file(tmp_path / "out.json", check_frames=False)
        assert exported.pose_count() == 1 and np.allclose(exported.pose(12, next(iter(exported.tracks))).xy, 100.0)

        assert {p: p.read_bytes() for p in files} == files  # neither read wrote anything
        held.delete_pose(1, 12, 4)  # and the app keeps editing
    with ProjectStore.open(project) as store:
        assert store.project.video(1).pose_count() == 0 and store.project.video(1).tracks[4].name == "runner"


def test_fill_starts_on_the_default_method(capsys):
    from posewarper_core.autofill import DEFAULT_METHOD, METHODS
    from posewarper_core.cli import build_parser

    assert DEFAULT_METHOD in METHODS
    assert build_parser().parse_args(["fill", "p.pwproj"]).method == DEFAULT_METHOD
    # The README's command line names the same default.
    fill_line = next(line for line in (REPO / "README.md").read_text().splitlines() if "posewarper fill" in line)
    assert f"--method {DEFAULT_METHOD} (default)" in fill_line


def project_of(tmp_path, videos, frames):
    """A project of `videos`, the first with a pose of person 1 on `frames`; (its path, an export
    path in a folder of its own)."""
    for f in frames:
        videos[0].set_pose(f, 1, Pose.manual(np.full((17, 2), 20.0 + f), np.full(17, 2)))
    project = tmp_path / "p.pwproj"
    with ProjectStore.create(project) as store:
        for video in videos:
            store.add_video(video)
    return project, tmp_path / "data" / "train.json"


def test_export_writes_the_frames_it_names_so_the_export_is_a_dataset(capsys, tmp_path):
    import cv2
    from videogen import counter_video, read_counter

    from posewarper_core import Video

    clip = counter_video(tmp_path / "clip.mp4", 12)
    project, out = project_of(tmp_path, [Video(str(clip), 12, 160, 96, name="clip")], (2, 7))
    code, stdout, err = run(capsys, "export", project, "-o", out, "--format", "coco", "--frames", "labelled")
    assert code == 0, err
    assert "wrote 2 frame images" in stdout
    named = {image["frame_index"]: image["file_name"] for image in json.loads(out.read_text())["images"]}
    assert sorted(p.relative_to(out.parent).as_posix() for p in out.parent.rglob("*.jpg")) == [named[2], named[7]]
    for f in (2, 7):
        assert read_counter(cv2.imread(str(out.parent / named[f]))[..., ::-1]) == f  # the very frame
    # a COCO file listing every frame gets every frame written, even asked for the labelled ones:
    # the JSON names no image that is not there
    code, stdout, err = run(capsys, "export", project, "-o", out, "--format", "coco", "--frames", "labelled",
                            "--images", "all")
    assert code == 0 and "wrote 12 frame images" in stdout and "every frame the file lists" in stdout, err
    named = {image["frame_index"]: image["file_name"] for image in json.loads(out.read_text())["images"]}
    assert all((out.parent / name).is_file() for name in named.values()) and len(named) == 12
    # PoseTrack lists every frame of a video: "labelled" writes them all, so none it names is missing
    code, stdout, err = run(capsys, "export", project, "-o", out, "--format", "posetrack18", "--frames", "labelled")
    assert code == 0 and "wrote 12 frame images" in stdout, err
    assert [read_counter(cv2.imread(str(out.parent / named[f]))[..., ::-1]) for f in range(12)] == list(range(12))


@pytest.mark.parametrize("tune", [True, False])
def test_fill_with_a_posewarper_network_file_with_or_without_tuning(capsys, tmp_path, tune):
    """A PoseWarper network model (not the default keyframe matcher) has no tuning before a fill:
    `--no-tune` is accepted and changes nothing (it once crashed on a TypeError, 'adapt_steps')."""
    from videogen import counter_video

    from posewarper_core import Video

    clip = counter_video(tmp_path / "clip.mp4", 8)
    project = tmp_path / "p.pwproj"
    video = Video(str(clip), 8, 160, 96, name="clip")
    for f in (1, 5):
        video.set_pose(f, 1, Pose.manual(np.full((17, 2), 40.0 + f), np.full(17, 2), keyframe=True,
                                         bbox=(20.0, 20.0, 60.0, 60.0)))
    with ProjectStore.create(project) as store:
        store.add_video(video)
    model = Path(__file__).resolve().parents[1] / "resources" / "models" / "posewarper_base.pt"
    argv = ["fill", project, "--model", model, "--device", "cpu"] + ([] if tune else ["--no-tune"])
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    with ProjectStore.open(project) as store:
        filled = store.project.video(1)
        assert filled.track_frames(1) == [1, 2, 3, 4, 5]
        assert {filled.pose(f, 1).method for f in (2, 3, 4)} == {"posewarper"}


def test_an_image_folders_exports_name_its_own_image_files(capsys, tmp_path):
    """A folder of frames opened as it is: both exports name the folder's image files (relative
    to it, the meta's source), not the placeholder frames/000000.jpg a trial found in a COCO
    export of a folder holding 00001.png ..., and `--frames` writes none (they are files already)."""
    import cv2

    from posewarper_core import Video

    folder = tmp_path / "shots"
    folder.mkdir()
    for i in range(1, 13):  # natural order: 1, 2, ..., 10, not 1, 10, 11, 2
        cv2.imwrite(str(folder / f"{i}.png"), np.full((96, 160, 3), i, np.uint8))
    project, out = project_of(tmp_path, [Video("shots", 12, 160, 96, name="shots")], (2, 9))
    code, stdout, err = run(capsys, "export", project, "-o", out, "--format", "coco", "--frames", "labelled")
    assert code == 0, err
    assert "frames are image files already" in stdout and not list(out.parent.rglob("*.jpg"))
    doc = json.loads(out.read_text())
    named = {image["frame_index"]: image["file_name"] for image in doc["images"]}
    assert named == {2: "3.png", 9: "10.png"}
    source = Path(doc["posewarper"]["videos"][0]["source"])
    assert all((source / name).is_file() for name in named.values())
    code, _, err = run(capsys, "export", project, "-o", out, "--format", "posetrack18")
    assert code == 0, err
    assert [image["file_name"] for image in json.loads(out.read_text())["images"]] == [f"{i}.png" for i in range(1, 13)]


def test_a_fill_notes_how_far_it_got_at_most_once_a_second(tmp_path):
    """Each note is a saved transaction; a fast fill of a long clip has thousands of spans."""
    from posewarper_core import Video, fillrecord

    with ProjectStore.create(tmp_path / "p.pwproj") as store:
        store.add_video(Video("clip.mp4", 40, 64, 48, name="clip"))
        fillrecord.record_start(store, 1, "linear", "video")
        note = fillrecord.progress_noter(store, 1, every=3600.0)
        for frame in (11, 21, 31):
            note(frame)
        assert fillrecord.interrupted(store.notes, 1)["resume_from"] == 11  # the first, then none within the hour
        assert fillrecord.left_to_fill(fillrecord.interrupted(store.notes, 1), 40) == (11, 39)
        fillrecord.progress_noter(store, 1, every=0.0)(31)
        assert fillrecord.left_to_fill(fillrecord.interrupted(store.notes, 1), 40) == (31, 39)


def test_an_export_writes_every_frame_image_its_file_names(capsys, tmp_path):
    """A COCO file lists every frame of a video nobody is labelled in yet: `--frames labelled`
    writes those too (a reviewer's case: 2 written, 15 named), so no image it names is missing."""
    from videogen import counter_video

    from posewarper_core import Video

    one = Video(str(counter_video(tmp_path / "one.mp4", 12)), 12, 160, 96, name="one")
    two = Video(str(counter_video(tmp_path / "two.mp4", 12)), 12, 160, 96, name="two")
    project, out = project_of(tmp_path, [one, two], (2, 7))
    code, stdout, err = run(capsys, "export", project, "-o", out, "--format", "coco", "--frames", "labelled")
    assert code == 0, err
    names = [image["file_name"] for image in json.loads(out.read_text())["images"]]
    assert len(names) == 2 + 12 and "wrote 14 frame images" in stdout
    assert all((out.parent / name).is_file() for name in names)
