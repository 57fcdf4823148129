import numpy as np
import pytest

from posewarper_core import COCO17, POSETRACK17, Pose, PoseWarperError, Provenance, Video
from posewarper_core.skeleton import Skeleton, joint_mapping


def test_posetrack_joint_order_and_flip():
    assert POSETRACK17.joints[:3] == ("nose", "head_bottom", "head_top")
    assert POSETRACK17.num_joints == COCO17.num_joints == 17
    perm = POSETRACK17.flip_permutation()
    assert POSETRACK17.joints[perm[5]] == "right_shoulder"
    assert perm[1] == 1 and perm[2] == 2  # head_bottom/head_top are not a left/right pair


def test_mapping_keeps_body_parts_and_drops_head_substitutes():
    m = joint_mapping(COCO17, POSETRACK17)
    assert m[0] == 0 and m[1] == -1 and m[2] == -1 and m[16] == 16


def test_custom_skeleton_round_trip_and_errors():
    s = Skeleton("fly", ("head", "thorax", "tail"), ((0, 1), (1, 2)))
    assert Skeleton.from_dict(s.to_dict()) == s
    with pytest.raises(PoseWarperError, match="outside"):
        Skeleton("bad", ("a", "b"), ((0, 5),))


def test_pose_validation_names_the_joint():
    pose = Pose.manual(np.full((17, 2), 10.0), np.full(17, 2))
    pose.validate(100, 100)
    pose.xy[4] = (np.nan, 1)
    with pytest.raises(PoseWarperError, match="joint 4"):
        pose.validate(100, 100)
    pose.xy[4] = (5000, 1)
    with pytest.raises(PoseWarperError, match="far outside"):
        pose.validate(100, 100)


def test_video_keyframes_and_status():
    v = Video("x.mp4", num_frames=20, width=64, height=48)
    kf = Pose.manual(np.ones((17, 2)), np.full(17, 2))
    auto = kf.copy()
    auto.keyframe = False
    auto.provenance[:] = Provenance.PROPAGATED
    v.set_pose(0, 1, kf)
    v.set_pose(5, 1, auto)
    assert v.keyframes(1) == [0]
    assert v.track_frames(1) == [0, 5]
    assert list(v.frame_status()[[0, 5, 6]]) == [3, 1, 0]
    assert [v.status_of_frame(f) for f in (0, 5, 6)] == [3, 1, 0]
    v.set_pose(5, 2, kf.copy())  # a second person, a keyframe where the first was auto-filled
    v.set_pose(9, 2, auto.copy())
    assert v.labelling_progress() == (2, 0, 3)  # frames 0 and 5 have a keyframe; 0, 5, 9 have poses
    v.remove_pose(9, 2)
    assert v.labelling_progress() == (2, 0, 2)
    v.set_pose(7, 1, Pose.absent_mark(kf.num_joints))  # "not in view": a keyframe slot done, no label
    v.set_pose(5, 1, Pose.absent_mark(kf.num_joints))  # beside person 2's keyframe
    assert v.labelling_progress() == (2, 2, 3)  # keyframes on 0 and 5, marks on 5 and 7
    with pytest.raises(PoseWarperError, match="frame 20"):
        v.set_pose(20, 1, kf)


def test_incomplete_keyframes_lack_joints_both_neighbouring_keyframes_have():
    v = Video(source="v.mp4", num_frames=50, width=100, height=100)
    full = np.full(17, 2)
    some = full.copy()
    some[[3, 4]] = 0
    xy = np.full((17, 2), 10.0)
    for f, vis in ((0, full), (10, some), (20, full), (30, some)):
        v.set_pose(f, 1, Pose.manual(xy, vis, keyframe=True))
    assert {f: list(j) for f, j in v.incomplete_keyframes(1).items()} == {10: [3, 4]}  # 30 is the last: no after
    suggested = v.pose(10, 1).copy()
    suggested.visibility[[3, 4]] = 2
    suggested.provenance[[3, 4]] = Provenance.SUGGESTED  # E suggested them: not labels until accepted
    v.set_pose(10, 1, suggested)
    assert {f: list(j) for f, j in v.incomplete_keyframes(1).items()} == {10: [3, 4]}
    v.set_pose(20, 1, Pose.absent_mark(17))  # next to a "not in view" mark: nothing to compare with
    v.set_pose(40, 1, Pose.manual(xy, full, keyframe=True))
    assert v.incomplete_keyframes(1) == {}


def test_a_keyframe_of_suggestions_only_shows_as_filled_not_labelled():
    """A trial took E's unaccepted suggestions for labelled keyframes on the timeline."""
    v = Video("x.mp4", num_frames=5, width=64, height=48)
    guess = Pose.manual(np.ones((17, 2)), np.full(17, 2))
    guess.provenance[:] = Provenance.SUGGESTED
    v.set_pose(2, 1, guess)
    assert v.status_of_frame(2) == 1
    guess.provenance[0] = Provenance.MANUAL  # one joint accepted: a keyframe
    v.set_pose(2, 1, guess)
    assert v.status_of_frame(2) == 3
