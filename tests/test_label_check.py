"""Proofreading dense labels: spikes and left/right swaps are found, good labels are not."""
import json

import numpy as np
import pytest

from posewarper_core import Pose, Provenance, Video
from posewarper_core.cli import main
from posewarper_core.formats import write_posetrack18
from posewarper_core.label_check import checkable_labels, suspect_labels
from posewarper_core.skeleton import POSETRACK17
from posewarper_core.store import ProjectStore

J = POSETRACK17.joints.index


def walking_video(frames: int = 30, stride: int = 1) -> Video:
    """One person ~100 px tall walking right at 3 px per frame, arms swinging; every `stride` frames."""
    video = Video(source="mem", num_frames=frames, width=640, height=480)
    rest = np.array([[50, 10], [50, 20], [50, 0], [45, 8], [55, 8], [40, 25], [60, 25], [35, 45], [65, 45],
                     [32, 62], [68, 62], [43, 60], [57, 60], [42, 80], [58, 80], [41, 100], [59, 100]], float)
    for f in range(0, frames, stride):
        pose = Pose.empty(17)
        pose.xy[:] = rest + [100 + 3 * f, 100]
        pose.xy[[J("left_wrist"), J("right_wrist")], 1] += 4 * np.sin(f / 5)  # a smooth swing
        pose.visibility[:], pose.provenance[:], pose.keyframe = 2, Provenance.MANUAL, True
        video.set_pose(f, 3, pose)
    return video


def test_smooth_labels_raise_nothing():
    video = walking_video()
    assert suspect_labels(video, POSETRACK17) == []
    assert checkable_labels(video) == 17 * 28  # all but the first and last frame


def test_a_misplaced_label_is_flagged_alone():
    video = walking_video()
    video.pose(10, 3).xy[J("left_wrist")] += [0, 40]  # 0.4 of the person's size, down to the hip
    (found,) = suspect_labels(video, POSETRACK17)
    assert (found.frame, found.track_id, POSETRACK17.joints[found.joint], found.kind) == (10, 3, "left_wrist", "spike")
    assert found.off == pytest.approx(0.4, abs=0.02)
    # Its neighbours' lines pass through it; they are not flagged with it. Below the threshold: silence.
    assert suspect_labels(video, POSETRACK17, threshold=0.45) == []


def test_swapped_left_and_right_are_one_swap_not_two_spikes():
    video = walking_video()
    xy = video.pose(12, 3).xy
    xy[[J("left_knee"), J("right_knee")]] = xy[[J("right_knee"), J("left_knee")]]
    xy[[J("left_knee"), J("right_knee")], 0] += [10, -10]  # and 10 px further out: 0.26 of the size off
    (found,) = suspect_labels(video, POSETRACK17)
    assert (found.frame, found.kind) == (12, "swap")
    assert {POSETRACK17.joints[found.joint], POSETRACK17.joints[found.other]} == {"left_knee", "right_knee"}


def test_a_joint_shifted_for_three_frames_is_one_run_of_shifts():
    video = walking_video()
    for f in (10, 11, 12):  # a pose copied onto the next frames with the knee left behind
        video.pose(f, 3).xy[J("left_knee")] += [0, -35]
    found = suspect_labels(video, POSETRACK17)
    assert [(s.frame, POSETRACK17.joints[s.joint], s.kind) for s in found] == [
        (f, "left_knee", "shift") for f in (10, 11, 12)]
    assert all(s.off == pytest.approx(0.35, abs=0.03) for s in found)


def test_two_spikes_with_good_labels_between_are_not_a_shift_of_the_good_ones():
    video = walking_video()
    for f in (10, 14):  # the ankle put on the other foot, twice
        video.pose(f, 3).xy[J("left_ankle")] += [30, 0]
    found = suspect_labels(video, POSETRACK17)
    assert [(s.frame, POSETRACK17.joints[s.joint], s.kind) for s in found] == [
        (10, "left_ankle", "spike"), (14, "left_ankle", "spike")]


def test_fast_smooth_motion_is_not_a_shift():
    """A wrist circling 40 px out at 45 degrees a frame: off the chords by 0.25 x the size, but it
    keeps its speed, so no run starts or ends with a jump."""
    video = walking_video()
    for f in range(30):
        video.pose(f, 3).xy[J("right_wrist")] += 40 * np.array([np.cos(f * np.pi / 4), np.sin(f * np.pi / 4)])
    assert suspect_labels(video, POSETRACK17) == []


def test_sparse_keyframes_are_not_checked_unless_asked():
    video = walking_video(stride=5)
    video.pose(10, 3).xy[J("nose")] += [0, -50]
    assert checkable_labels(video) == 0 and suspect_labels(video, POSETRACK17) == []
    (found,) = suspect_labels(video, POSETRACK17, max_gap=5)
    assert (found.frame, POSETRACK17.joints[found.joint]) == (10, "nose")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_check_command_names_frame_track_and_joint(capsys, tmp_path):
    video = walking_video()
    video.pose(20, 3).xy[J("right_elbow")] += [30, 0]
    path = tmp_path / "labels.json"
    write_posetrack18(path, POSETRACK17, video)
    code, out, _ = run(capsys, "check", path)
    assert code == 1
    assert "1 suspect of 476 checkable labels" in out
    assert any(line.split() == ["20", "3", "spike", "0.30", "right_elbow"] for line in out.splitlines())
    code, out, _ = run(capsys, "check", path, "--json")
    (v,) = json.loads(out)["videos"]
    assert v["suspects"] == [{"frame": 20, "track_id": 3, "joint": "right_elbow", "other": None, "kind": "spike", "off": 0.3}]

    video.pose(20, 3).xy[J("right_elbow")] -= [30, 0]
    write_posetrack18(path, POSETRACK17, video)
    code, out, _ = run(capsys, "check", path)
    assert code == 0 and "0 suspect of 476" in out


def test_check_command_reads_a_project(capsys, tmp_path):
    video = walking_video()
    video.pose(7, 3).xy[J("left_knee")] += [0, -35]
    project = tmp_path / "p.pwproj"
    with ProjectStore.create(project) as store:
        store.add_video(video)
    code, out, _ = run(capsys, "check", project, "--json")
    (v,) = json.loads(out)["videos"]
    assert code == 1 and [(s["frame"], s["joint"]) for s in v["suspects"]] == [(7, "left_knee")]


def test_check_command_errors_name_the_problem(capsys, tmp_path):
    code, _, err = run(capsys, "check", tmp_path / "missing.json")
    assert code == 2 and "missing.json: no such file" in err
    path = tmp_path / "labels.json"
    write_posetrack18(path, POSETRACK17, walking_video())
    code, _, err = run(capsys, "check", path, "--threshold", "0")
    assert code == 2 and "--threshold must be above 0" in err


def test_the_dev_clips_labels(shared_data):
    """The Bonn clip's labels are clean; JHMDB's puppet misses the arms in places (the model card:
    its keyframe 14 at k=7 has both arms off), and the bench says so under its table."""
    from posewarper_core.evaluation import label_check_line, load_ground_truth

    sk, bonn, _ = load_ground_truth(shared_data / "dev" / "bonn_060470979" / "posetrack18.json")
    assert suspect_labels(bonn, sk) == []
    sk, jhmdb, _ = load_ground_truth(shared_data / "dev" / "jhmdb_goal_keeping" / "posetrack18.json")
    found = suspect_labels(jhmdb, sk)
    assert {(s.frame, sk.joints[s.joint]) for s in found} >= {(14, "left_wrist"), (14, "right_wrist")}
    # Frames 1-3 have the left leg on the upper body (looked at): a shift, and the only one.
    assert {(s.frame, sk.joints[s.joint]) for s in found if s.kind == "shift"} == {
        (f, j) for f in (1, 2, 3) for j in ("left_hip", "left_knee", "left_ankle")}
    assert all(sk.joints[s.joint] not in ("left_hip", "left_knee", "right_knee") for s in found if s.kind != "shift")
    line = label_check_line(shared_data / "dev" / "jhmdb_goal_keeping" / "posetrack18.json", 7)
    assert line.endswith(f"{len(found)} of 532 labels flagged by `posewarper check`, 8 of them on the kept keyframes")
