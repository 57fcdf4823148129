"""The "not in view" mark (Pose.absent_mark): a keyframe with no joint, kept by the project
store, never filled towards or away from, never exported as an annotation."""
from __future__ import annotations

import json

import numpy as np
import pytest

from posewarper_core import Pose, PoseChange, Track, Video
from posewarper_core.autofill import fill, plan_gaps
from posewarper_core.formats import export_videos, import_file
from posewarper_core.formats.report import describe_export
from posewarper_core.skeleton import POSETRACK17
from posewarper_core.store import ProjectStore

J = POSETRACK17.num_joints


def real(x: float) -> Pose:
    xy = np.stack([np.full(J, x), np.linspace(50, 250, J)], axis=1)
    return Pose.manual(xy, np.full(J, 2, np.uint8), keyframe=True)


def walker_video() -> Video:
    """Track 1: real keyframes at 0, 20 and 30, marked not in view at 10."""
    video = Video("walk.mp4", 40, 320, 320, name="walk", video_id=1)
    video.tracks = {1: Track(1)}
    video.set_pose(0, 1, real(40))
    video.set_pose(10, 1, Pose.absent_mark(J))
    video.set_pose(20, 1, real(120))
    video.set_pose(30, 1, real(200))
    return video


def test_the_mark_is_a_keyframe_without_joints_or_box():
    mark = Pose.absent_mark(J)
    assert mark.keyframe and mark.is_absent_mark()
    assert not Pose.empty(J).is_absent_mark()  # not a keyframe
    assert not real(40).is_absent_mark()
    boxed = Pose.absent_mark(J)
    boxed.bbox = (1, 2, 30, 40)  # another tool's person with a box and no joints: there, not labelled
    assert not boxed.is_absent_mark()


def test_store_keeps_the_mark_across_reopening(tmp_path):
    path = tmp_path / "walk.pwproj"
    with ProjectStore.create(path) as store:
        vid = store.add_video(Video("walk.mp4", 40, 320, 320, name="walk"))
        store.set_track(vid, Track(1))
        store.apply([PoseChange(vid, 0, 1, real(40)), PoseChange(vid, 10, 1, Pose.absent_mark(J))])
    with ProjectStore.open(path) as store:
        video = store.project.videos[vid]
        assert video.keyframes(1) == [0, 10]
        mark = video.pose(10, 1)
        assert mark.is_absent_mark() and mark.same_as(Pose.absent_mark(J))
        assert not video.pose(0, 1).is_absent_mark()


def test_fill_skips_the_gaps_next_to_a_mark():
    video = walker_video()
    changes = fill(video, None, "linear")
    filled = sorted(c.frame for c in changes)
    assert filled == list(range(21, 30))  # 1-19 touch the mark: nothing written there
    assert all(c.pose is not None and not c.pose.is_empty() for c in changes)
    # the gap between two real keyframes is filled as before the mark existed
    video.remove_pose(10, 1)
    without = {c.frame: c.pose for c in fill(video, None, "linear")}
    for c in changes:
        assert c.pose.same_as(without[c.frame])


def test_no_extrapolation_from_a_mark():
    video = Video("walk.mp4", 60, 320, 320, name="walk", video_id=1)
    video.tracks = {1: Track(1)}
    video.set_pose(10, 1, Pose.absent_mark(J))  # she enters after 10 ...
    video.set_pose(20, 1, real(40))
    video.set_pose(30, 1, real(120))
    video.set_pose(40, 1, Pose.absent_mark(J))  # ... and has left by 40
    assert [(g.first, g.last) for g in plan_gaps(video, extrapolate=5)] == [(21, 29)]
    video.remove_pose(40, 1)  # the last real keyframe extrapolates as before
    assert [(g.first, g.last) for g in plan_gaps(video, extrapolate=5)] == [(21, 29), (31, 35)]


@pytest.mark.parametrize("fmt", ["posetrack18", "coco"])
def test_export_leaves_the_mark_out(tmp_path, fmt):
    video = walker_video()
    out = tmp_path / f"walk-{fmt}.json"
    summary = export_videos(POSETRACK17, [video], out, format=fmt, images="all")
    assert summary["annotations"] == 3 and summary["absent_marks"] == 1
    assert "1 not-in-view mark (X)" in describe_export(summary)  # what the export says it left out
    doc = json.loads(out.read_text())
    assert all(a["num_keypoints"] == J for a in doc["annotations"] if not a.get("iscrowd"))
    _, videos = import_file(out, check_frames=False)
    back = videos[0]
    assert sorted(back.poses) == [0, 20, 30]  # nothing on frame 10
    assert back.pose(20, 1).same_as(video.pose(20, 1))
