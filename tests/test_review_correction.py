"""Review order, the reviewed state, suggested keyframes and the re-fill after a correction
(posewarper_core/review.py, correction.py): what an annotator sees after each edit."""
from __future__ import annotations

import numpy as np
import pytest

from posewarper_core import correction, review
from posewarper_core.annotation import Pose, Provenance, Track, Video
from posewarper_core.autofill import fill
from posewarper_core.errors import PoseWarperError
from posewarper_core.store import ProjectStore

J = 17


def keyframe(x0: float) -> Pose:
    xy = np.stack([x0 + np.arange(J, dtype=float), 10.0 * np.arange(J)], axis=1)
    return Pose.manual(xy, np.full(J, 2))


def filled_video(keys=(0, 10, 20), tracks=(1,)) -> Video:
    """Keyframes moving 10 px a frame to the right, linearly filled between."""
    v = Video(source="v.mp4", num_frames=21, width=640, height=480, video_id=1)
    for t in tracks:
        for f in keys:
            v.set_pose(f, t, keyframe(10.0 * f))
    correction.apply_changes(v, fill(v, None, "linear"))
    return v


def test_a_correction_carries_its_offset_along_its_chain_fading_at_the_anchors():
    v = filled_video()
    before = {f: v.pose(f, 1).copy() for f in range(21)}
    changes = correction.correct_joints(v, 4, 1, {3: (before[4].xy[3, 0] + 12.0, before[4].xy[3, 1])})
    correction.apply_changes(v, changes)
    moved = {f: v.pose(f, 1).xy[3, 0] - before[f].xy[3, 0] for f in range(21)}
    assert moved[4] == pytest.approx(12.0)
    assert v.pose(4, 1).provenance[3] == Provenance.CORRECTED and v.pose(4, 1).confidence[3] == 1.0
    # fades linearly to the keyframes at 0 and 10; beyond them nothing moves
    assert [round(moved[f], 6) for f in range(0, 11)] == [0, 3, 6, 9, 12, 10, 8, 6, 4, 2, 0]
    assert all(moved[f] == 0 for f in range(11, 21))
    # the other joints are untouched everywhere, and so is y
    for f in range(21):
        others = np.arange(J) != 3
        np.testing.assert_array_equal(v.pose(f, 1).xy[others], before[f].xy[others])
        assert v.pose(f, 1).xy[3, 1] == before[f].xy[3, 1]
    assert {c.frame for c in changes} == set(range(1, 10))


def test_a_corrected_joint_is_an_anchor_for_the_next_correction_and_nothing_else():
    v = filled_video()
    x = v.pose(7, 1).xy[3].copy()
    correction.apply_changes(v, correction.correct_joints(v, 7, 1, {3: (x[0], x[1] + 5.0)}))
    snapshot = {f: v.pose(f, 1).copy() for f in range(21)}
    y = v.pose(3, 1).xy[3].copy()
    changes = correction.correct_joints(v, 3, 1, {3: (y[0], y[1] + 8.0)})
    assert {c.frame for c in changes} == {1, 2, 3, 4, 5, 6}  # between keyframe 0 and the correction at 7
    correction.apply_changes(v, changes)
    assert v.pose(7, 1).same_as(snapshot[7])
    assert v.pose(5, 1).xy[3, 1] - snapshot[5].xy[3, 1] == pytest.approx(8.0 * 2 / 4)
    # joint 5 has no correction: a correction of it runs from keyframe to keyframe
    z = v.pose(5, 1).xy[5].copy()
    assert {c.frame for c in correction.correct_joints(v, 5, 1, {5: (z[0] + 1, z[1])})} == set(range(1, 10))


def test_lerp_and_none_re_fill_modes():
    v = filled_video()
    x = v.pose(5, 1).xy[2].copy()
    lerp = correction.correct_joints(v, 5, 1, {2: (x[0], x[1] + 10.0)}, carry="lerp")
    by_frame = {c.frame: c.pose for c in lerp}
    assert by_frame[3].xy[2, 1] == pytest.approx(v.pose(3, 1).xy[2, 1] + 10.0 * 3 / 5)
    none = correction.correct_joints(v, 5, 1, {2: (x[0], x[1] + 10.0)}, carry="none")
    assert [c.frame for c in none] == [5]
    with pytest.raises(PoseWarperError, match="unknown re-fill 'spline'"):
        correction.correct_joints(v, 5, 1, {2: (0, 0)}, carry="spline")
    with pytest.raises(PoseWarperError, match="frame 5 has no pose of track 9"):
        correction.correct_joints(v, 5, 9, {2: (0, 0)})


def test_accepting_a_pose_marks_it_reviewed_raises_its_neighbours_confidence_and_moves_nothing():
    v = filled_video()
    before = {f: v.pose(f, 1).copy() for f in range(21)}
    correction.apply_changes(v, correction.accept_pose(v, 5, 1))
    assert v.pose(5, 1).reviewed and not v.pose(5, 1).keyframe
    for f in range(1, 10):
        np.testing.assert_array_equal(v.pose(f, 1).xy, before[f].xy)
    assert (v.pose(4, 1).confidence >= before[4].confidence).all()
    assert v.pose(4, 1).confidence[0] > before[4].confidence[0]
    assert review.predicted_error(v.pose(4, 1)) < review.predicted_error(before[4])
    # a reviewed pose is an anchor: a correction next to it stops there
    x = v.pose(3, 1).xy[0]
    assert {c.frame for c in correction.correct_joints(v, 3, 1, {0: (x[0] + 4, x[1])})} == {1, 2, 3, 4}


def test_accepted_suggested_joints_are_carried_along_their_chains_from_where_the_fill_had_them():
    """A suggestion on a frame of a filled gap (its pose deleted first) accepted: each accepted
    joint's chains carry it as a correction's would, from the fill's place there (midway between
    its filled neighbours) to the accepted one; reviewed poses and the annotator's joints stay."""
    v = filled_video()
    before = {f: v.pose(f, 1).copy() for f in range(21)}
    reviewed = before[8].copy()
    reviewed.reviewed = True
    v.set_pose(8, 1, reviewed)
    mine = before[2].copy()
    mine.provenance[4] = Provenance.CORRECTED  # the annotator's joint on a filled frame
    v.set_pose(2, 1, mine)
    v.remove_pose(5, 1)
    accepted = keyframe(50.0 + 20.0)  # 20 px right of where the fill had the person on frame 5
    accepted.provenance[6] = Provenance.SUGGESTED  # not accepted yet
    changes = correction.accept_suggested(v, 5, 1, accepted, [3, 4])
    assert {c.frame for c in changes} == {1, 2, 3, 4, 5, 6, 7}  # up to the keyframe at 0 and the reviewed pose at 8
    correction.apply_changes(v, changes)
    assert v.pose(5, 1).same_as(accepted)
    moved = {f: v.pose(f, 1).xy[:, 0] - before[f].xy[:, 0] for f in range(21)}
    assert [moved[f][3] for f in range(9)] == pytest.approx([0, 4, 8, 12, 16, 20, 40 / 3, 20 / 3, 0])
    assert [moved[f][4] for f in (2, 3, 4, 6)] == pytest.approx([0, 20 / 3, 40 / 3, 40 / 3])  # stops at frame 2
    assert all(not moved[f][[0, 5, 6]].any() for f in set(range(21)) - {5})  # joints not accepted stay
    assert v.pose(8, 1).same_as(reviewed)
    # with one filled neighbour the fill's place is that neighbour's; with none nothing is carried
    v = filled_video(keys=(0, 10))
    v.remove_pose(10, 1)
    only_before = keyframe(90.0 + 10.0)
    assert {c.frame for c in correction.accept_suggested(v, 10, 1, only_before, [0])} == set(range(1, 11))
    v.remove_pose(9, 1)
    assert [c.frame for c in correction.accept_suggested(v, 10, 1, only_before, [0])] == [10]


def test_review_order_done_rule_and_suggested_keyframe_follow_the_confidence():
    v = filled_video(keys=(0, 20), tracks=(1, 2))
    p = v.pose(12, 2).copy()
    p.confidence[:] = 0.0  # the fill doubts this one most (linear is unsure of fast joints mid-span too)
    v.set_pose(12, 2, p)
    queue = review.review_queue(v)
    assert (queue[0].frame, queue[0].track_id) == (12, 2)
    assert [it.predicted_error for it in queue] == sorted((it.predicted_error for it in queue), reverse=True)
    assert len(queue) == 2 * 19 and all(it.frame not in (0, 20) for it in queue)
    top = review.suggest_keyframe(v, threshold=0.0)
    assert (top.frame, top.track_id) == (12, 2)
    item = review.next_to_review(v, skip={(12, 2)})
    assert (item.frame, item.track_id) != (12, 2)
    assert review.next_to_review(v, threshold=100.0) is None
    assert not review.review_done(v, threshold=1.0)
    for it in queue:  # accept everything: review is done, nothing to suggest
        correction.apply_changes(v, correction.accept_pose(v, it.frame, it.track_id))
    assert review.review_queue(v) == [] and review.review_done(v, threshold=1e-9)
    assert review.suggest_keyframe(v, threshold=1e-9) is None


def test_confirming_a_pose_makes_a_keyframe_and_refills_around_it():
    v = filled_video(keys=(0, 20))
    pose = v.pose(10, 1)
    correction.apply_changes(v, correction.correct_joints(v, 10, 1, {0: (pose.xy[0, 0], pose.xy[0, 1] + 40)},
                                                          carry="none"))
    correction.apply_changes(v, correction.confirm_pose(v, 10, 1))
    key = v.pose(10, 1)
    assert key.keyframe and (key.confidence[key.labelled()] == 1).all()
    assert not key.auto_joints().any()
    assert correction.refill_range(v, 10, [1]) == (1, 19)
    changes = correction.refill_around(v, None, "linear", 10, [1])
    correction.apply_changes(v, changes)
    assert v.pose(5, 1).xy[0, 1] == pytest.approx(20.0)  # halfway to the confirmed joint's 40 px
    assert v.pose(15, 1).xy[0, 1] == pytest.approx(20.0)


def test_reviewed_state_is_saved_in_the_project(tmp_path):
    v = filled_video(keys=(0, 10))
    path = tmp_path / "p.pwproj"
    with ProjectStore.create(path) as store:
        vid = store.add_video(Video(source="v.mp4", num_frames=21, width=640, height=480))
        store.set_track(vid, Track(1))
        for f, by_track in v.poses.items():
            for t, p in by_track.items():
                store.set_pose(vid, f, t, p)
        store.apply([c.__class__(vid, c.frame, c.track_id, c.pose) for c in correction.accept_pose(v, 4, 1)])
    with ProjectStore.open(path) as store:
        video = store.project.videos[vid]
        assert video.pose(4, 1).reviewed and not video.pose(5, 1).reviewed
        assert review.needs_review(video.pose(5, 1)) and not review.needs_review(video.pose(4, 1))


def test_the_review_order_is_one_walk_with_or_without_the_per_frame_cache():
    """bench-effort calls next_to_review without a cache, the GUI with its per-frame one: both
    give the review order, pose after pose, including a filled pose the fill is sure of
    (predicted error 0: it still needs a look, last), and agree with the threshold."""
    v = filled_video(keys=(0, 20), tracks=(1, 2, 3))
    sure = v.pose(7, 3).copy()
    sure.confidence[:] = 1.0
    v.set_pose(7, 3, sure)
    errors = review.frame_errors(v)
    assert errors[0] == review.NONE_TO_REVIEW and errors[7] == review.frame_error(v, 7) > 0
    queue = review.review_queue(v)
    assert (queue[-1].frame, queue[-1].track_id, queue[-1].predicted_error) == (7, 3, 0.0)
    for cache in (None, errors):
        walked, skip = [], set()
        while (item := review.next_to_review(v, skip, errors=cache)) is not None:
            walked.append(item)
            skip.add((item.frame, item.track_id))
        assert walked == queue
    for threshold in (0.5, queue[5].predicted_error, 100.0):
        expected = next((it for it in queue if (it.frame, it.track_id) != (queue[0].frame, queue[0].track_id)), None)
        expected = expected if expected.predicted_error >= threshold else None
        skip = {(queue[0].frame, queue[0].track_id)}
        assert review.next_to_review(v, skip, threshold) == review.next_to_review(v, skip, threshold, errors) == expected


def test_confirming_refills_across_a_keyframe_of_suggestions_only():
    # A suggestion nobody accepted (E on frame 15) does not bound a gap: the re-fill after a
    # confirm at 10 reaches the real keyframe at 20, so frames 16-19 follow the confirmed joint.
    v = filled_video(keys=(0, 20))
    suggested = keyframe(150.0)
    suggested.provenance[:] = Provenance.SUGGESTED
    v.set_pose(15, 1, suggested)
    pose = v.pose(10, 1)
    correction.apply_changes(v, correction.correct_joints(v, 10, 1, {0: (pose.xy[0, 0], pose.xy[0, 1] + 40)},
                                                          carry="none"))
    correction.apply_changes(v, correction.confirm_pose(v, 10, 1))
    assert correction.refill_range(v, 10, [1]) == (1, 19)
    correction.apply_changes(v, correction.refill_around(v, None, "linear", 10, [1]))
    assert v.pose(17, 1).xy[0, 1] == pytest.approx(v.pose(20, 1).xy[0, 1] + 12.0)  # 3/10 of the 40 px left
    assert (v.pose(15, 1).provenance[v.pose(15, 1).labelled()] == Provenance.SUGGESTED).all()  # left as it was


def test_moving_a_keyframe_joint_carries_the_move_into_the_filled_frames_on_both_sides():
    # The frames around were filled from the keyframe's old place: they follow its move, fading to
    # the next keyframes, and the other joints stay (a trial's frame after a dragged wrist kept it).
    v = filled_video()
    before = {f: v.pose(f, 1).copy() for f in range(21)}
    moved = v.pose(10, 1).copy()
    moved.xy[3] += (10.0, -4.0)
    correction.apply_changes(v, correction.move_keyframe_joints(v, 10, 1, moved, [3]))
    shift = {f: v.pose(f, 1).xy[3] - before[f].xy[3] for f in range(21)}
    for f, share in ((0, 0.0), (5, 0.5), (9, 0.9), (10, 1.0), (12, 0.8), (20, 0.0)):
        np.testing.assert_allclose(shift[f], share * np.array([10.0, -4.0]), atol=1e-9)
    others = np.arange(J) != 3
    assert all((v.pose(f, 1).xy[others] == before[f].xy[others]).all() for f in range(21))
    # a suggestion nobody accepted (E on frame 15) anchors nothing: moving it leaves the fill alone
    v = filled_video(keys=(0, 20))
    guess = keyframe(150.0)
    guess.provenance[:] = Provenance.SUGGESTED
    v.set_pose(15, 1, guess)
    moved = guess.copy()
    moved.xy += 30.0
    changes = correction.move_keyframe_joints(v, 15, 1, moved, np.arange(J))
    assert [c.frame for c in changes] == [15]
    # dragged into place (a template Shift+dragged), the joints are the annotator's: carried as an
    # accepted suggestion is, from where the fill had them (midway between frames 14 and 16)
    moved.provenance[:] = Provenance.MANUAL
    fill_at_15 = (v.pose(14, 1).xy[0] + v.pose(16, 1).xy[0]) / 2
    before = v.pose(14, 1).xy[0].copy()
    correction.apply_changes(v, correction.move_keyframe_joints(v, 15, 1, moved, np.arange(J)))
    np.testing.assert_allclose(v.pose(14, 1).xy[0] - before, (14 / 15) * (moved.xy[0] - fill_at_15), atol=1e-9)


def test_a_correction_carried_past_the_pictures_edge_leaves_no_label_there():
    # The fill leaves a joint it carries out of the picture unlabelled; so does a carried
    # correction: here past the last keyframe, where the whole offset is carried to the end.
    v = Video(source="v.mp4", num_frames=6, width=640, height=480, video_id=1)
    v.set_pose(0, 1, keyframe(600.0))
    for f in range(1, 6):  # filled, walking right 4 px a frame: joint 16 at 620, 624, ... 636
        p = keyframe(600.0 + 4 * f)
        p.keyframe, p.method = False, "flow"
        p.provenance[:] = Provenance.PROPAGATED
        p.confidence[:] = 0.5
        v.set_pose(f, 1, p)
    x = v.pose(3, 1).xy[16]
    correction.apply_changes(v, correction.correct_joints(v, 3, 1, {16: (x[0] + 6.0, x[1])}))
    assert v.pose(3, 1).xy[16, 0] == pytest.approx(634.0)  # the annotator's own joint
    assert v.pose(4, 1).labelled()[16] and v.pose(4, 1).xy[16, 0] == pytest.approx(638.0)
    assert not v.pose(5, 1).labelled()[16] and v.pose(5, 1).labelled()[15]  # 642: past the edge; 635 stays


def test_a_suggestion_nobody_accepted_neither_carries_nor_stops_a_correction():
    # E on a filled pose (frame 3 lacks joint 2, suggested there): moving the whole pose on 3
    # carries nothing of the suggestion, and a correction of joint 2 on frame 1 runs past it.
    v = filled_video(keys=(0, 10))
    for f in (3, 7):
        pose = v.pose(f, 1).copy()
        pose.provenance[2], pose.confidence[2] = Provenance.SUGGESTED, 0.0
        v.set_pose(f, 1, pose)
    before = {f: v.pose(f, 1).copy() for f in range(11)}
    moves = {j: tuple(before[3].xy[j] + 5.0) for j in range(J)}
    correction.apply_changes(v, correction.correct_joints(v, 3, 1, moves, carry_placed=True))
    assert v.pose(3, 1).provenance[2] == Provenance.SUGGESTED and v.pose(3, 1).confidence[2] == 0.0
    np.testing.assert_allclose(v.pose(2, 1).xy[2], before[2].xy[2])  # not carried
    np.testing.assert_allclose(v.pose(2, 1).xy[1] - before[2].xy[1], (5.0 * 2 / 3, 5.0 * 2 / 3))  # others are
    v = filled_video(keys=(0, 10))
    pose = v.pose(3, 1).copy()
    pose.provenance[2] = Provenance.SUGGESTED
    v.set_pose(3, 1, pose)
    xy, two = v.pose(1, 1).xy[2].copy(), v.pose(2, 1).xy[2].copy()
    correction.apply_changes(v, correction.correct_joints(v, 1, 1, {2: (xy[0], xy[1] + 9.0)}))
    # open at the suggestion, as if it were not there: the whole offset held (fading to it: 4.5)
    assert v.pose(2, 1).xy[2, 1] - two[1] == pytest.approx(9.0)
    assert v.pose(3, 1).xy[2, 1] == pytest.approx(pose.xy[2, 1])  # the suggestion itself untouched
