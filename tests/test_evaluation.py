"""The bench metric: which joints are scored, against which length, and agreement with the
reference table in ../shared/data/README.md."""
from __future__ import annotations

import re

import numpy as np
import pytest

from posewarper_core import Pose, PoseWarperError, Video
from posewarper_core.evaluation import (
    bench_keyframes, keyframes_only, reference_kind, run_bench, score_fill, summarize,
)
from posewarper_core.skeleton import POSETRACK17

J = 17


def test_bench_keyframes():
    assert bench_keyframes(41, 7) == [0, 7, 14, 21, 28, 35, 40]
    assert bench_keyframes(36, 7) == [0, 7, 14, 21, 28, 35]
    with pytest.raises(PoseWarperError, match="at least 2"):
        bench_keyframes(41, 1)


def dense_video(n=9, head=True) -> Video:
    video = Video(source="mem", num_frames=n, width=200, height=200)
    rng = np.random.default_rng(1)
    base = rng.uniform(50, 150, (J, 2))
    for f in range(n):
        vis = np.full(J, 2, np.uint8)
        vis[3:5] = 0  # ears never labelled
        if f == 2:
            vis[16] = 0  # not labelled in this frame: not scored there
        pose = Pose.manual(base + f, vis, keyframe=True, head_box=(0, 0, 30, 40) if head else None)
        video.set_pose(f, 1, pose)
    video.pose(8, 1).visibility[15] = 0  # not in the last keyframe: never scored in 5..7
    return video


def test_only_joints_labelled_in_the_frame_and_both_keyframes_are_scored():
    gt = dense_video()
    keys = keyframes_only(gt, 4)
    assert sorted(keys.poses) == [0, 4, 8]
    assert all(p.keyframe for by in keys.poses.values() for p in by.values())
    perfect = {(f, 1): gt.pose(f, 1) for f in range(9) if f not in (0, 4, 8)}
    s = score_fill(gt, keys, perfect)
    # 6 frames x 15 labelled joints, minus joint 16 at frame 2, minus joint 15 at frames 5-7
    assert len(s.error) == 6 * 15 - 1 - 3
    assert s.reference == "head"
    np.testing.assert_allclose(s.length, 0.6 * 50.0)  # 0.6 x diagonal of a 30 x 40 head box
    r = summarize(s, POSETRACK17, person_frames=6, seconds=2.0)
    assert r["at_0.5"]["Mean"] == 100.0 and r["median_error_px"] == 0.0
    assert r["person_frames_per_second"] == 3.0
    assert set(r["at_0.2"]) == {"Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean"}


def test_thresholds_reference_length_and_mean_over_all_joints():
    gt = dense_video(head=False)
    assert reference_kind(gt) == "extent"
    keys = keyframes_only(gt, 4)
    filled = {}
    for f in range(9):
        if f in (0, 4, 8):
            continue
        p = gt.pose(f, 1).copy()
        size = max(p.joint_extent()[2:])
        p.xy[5:7, 0] += 0.3 * size  # shoulders: wrong at 0.2, right at 0.5
        p.xy[0:3, 0] += 0.6 * size  # head: wrong at both
        filled[(f, 1)] = p
    filled.pop((3, 1))  # a frame left unfilled counts as wrong
    r = summarize(score_fill(gt, keys, filled), POSETRACK17, 5, 1.0)
    assert r["reference"] == "extent"
    assert r["at_0.5"]["Shoulder"] == pytest.approx(100 * 5 / 6, abs=0.01)
    assert r["at_0.2"]["Shoulder"] == 0.0
    assert r["at_0.5"]["Head"] == 0.0
    n = r["scored_joints"]
    wrong_at_05 = 15 + 3 * 5  # all 15 joints of the unfilled frame 3, the 3 head joints of the other 5
    assert r["at_0.5"]["Mean"] == pytest.approx(100 * (n - wrong_at_05) / n, abs=0.01)


def test_confidence_auroc_says_whether_the_off_joints_are_the_least_confident():
    from posewarper_core.evaluation import auroc

    off = np.array([False, False, False, True, True])
    assert auroc([0.9, 0.8, 0.7, 0.2, 0.1], off) == 1.0  # every off joint below every good one
    assert auroc([0.1, 0.2, 0.3, 0.8, 0.9], off) == 0.0
    assert auroc([0.9, 0.5, 0.1, 0.5, 0.1], off) == pytest.approx((1 + 0.5 + 1 + 1 + 0 + 0.5) / 6)  # ties half
    assert auroc([0.5, 0.4], np.array([False, False])) is None  # nothing off: nothing to tell apart
    gt = dense_video()
    keys = keyframes_only(gt, 4)
    filled = {}
    for f in (1, 2, 3, 5, 6, 7):
        p = gt.pose(f, 1).copy()
        p.confidence[:] = 0.9
        p.xy[9] += 100.0  # the left wrist far off (head size 30 px) and marked unsure
        p.confidence[9] = 0.2
        filled[(f, 1)] = p
    r = summarize(score_fill(gt, keys, filled), POSETRACK17, 6, 1.0)
    assert r["confidence_auroc"] == 1.0 and r["off_joints"] == 6


def test_unflagged_scoring_leaves_out_the_labels_it_is_given():
    gt = dense_video()
    keys = keyframes_only(gt, 4)
    perfect = {(f, 1): gt.pose(f, 1) for f in (1, 2, 3, 5, 6, 7)}
    every = score_fill(gt, keys, perfect)
    fewer = score_fill(gt, keys, perfect, exclude={(1, 1, 0), (2, 1, 5), (0, 1, 6)})
    assert len(fewer.error) == len(every.error) - 2 - 3  # a flagged keyframe label: frames 1-3 hang on it


def readme_reference(shared_data) -> dict:
    """{(clip, k, method): (mean at 0.5, mean at 0.2, median px)} from the data README's table."""
    rows = {}
    for line in (shared_data / "README.md").read_text().splitlines():
        m = re.match(r"\|\s*(\w+)\s*\|\s*(\d+)\s*\|\s*([^|]+?)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|", line)
        if m:
            rows[(m[1], int(m[2]), m[3])] = tuple(float(m[i]) for i in (4, 5, 6))
    return rows


def check_against_readme(shared_data, clip, k, method, readme_name):
    ref = readme_reference(shared_data)[(clip, k, readme_name)]
    r = run_bench(shared_data / "dev" / clip / "posetrack18.json", k, [method])[method]
    got = (r["at_0.5"]["Mean"], r["at_0.2"]["Mean"], r["median_error_px"])
    assert abs(got[0] - ref[0]) <= 1.0 and abs(got[1] - ref[1]) <= 1.0, (clip, k, method, got, ref)
    assert abs(got[2] - ref[2]) <= 0.2 * ref[2], (clip, k, method, got, ref)


@pytest.mark.parametrize("clip", ["bonn_060470979", "jhmdb_goal_keeping"])
@pytest.mark.parametrize("k", [7, 15])
def test_linear_reproduces_the_readme_table(shared_data, clip, k):
    check_against_readme(shared_data, clip, k, "linear", "linear")


@pytest.mark.slow
@pytest.mark.parametrize("clip, k", [("jhmdb_goal_keeping", 7), ("jhmdb_goal_keeping", 15), ("bonn_060470979", 15)])
def test_dis_flow_reproduces_the_readme_table(shared_data, clip, k):
    check_against_readme(shared_data, clip, k, "flow", "DIS flow")
