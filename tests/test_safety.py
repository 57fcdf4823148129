"""A user's files are safe from the tool's own writes and from what it reads: no output replaces
a project, no written path leaves the folder the user chose, damaged or hostile input gives an
error that names the problem and changes nothing."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from posewarper_core import Pose, Provenance, Track, Video
from posewarper_core.cli import main
from posewarper_core.store import ProjectStore

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
