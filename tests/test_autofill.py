"""Auto-fill: what lands in the frames between keyframes, and what it must never touch."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from posewarper_core import Cancelled, Pose, PoseWarperError, Provenance, Video, Visibility
from posewarper_core.autofill import available_methods, fill, plan_gaps
from posewarper_core.autofill.refine import refine_poses
from posewarper_core.evaluation import changed_poses

J = 17


class ArrayFrames:
    """An in-memory frame source with the VideoSource surface auto-fill uses."""

    def __init__(self, images):
        self.images = images
        self.height, self.width = images[0].shape[:2]
        self.num_frames = len(images)
        self.reads = 0

    def __len__(self):
        return self.num_frames

    def frame(self, i):
        self.reads += 1
        return self.images[i]


def keyframe(xy, vis=None, **kw) -> Pose:
    vis = np.full(len(xy), Visibility.VISIBLE, np.uint8) if vis is None else np.asarray(vis, np.uint8)
    return Pose.manual(xy, vis, keyframe=True, **kw)


def two_keyframe_video(n=11, seed=0) -> tuple[Video, Pose, Pose]:
    rng = np.random.default_rng(seed)
    a_xy, b_xy = rng.uniform(20, 300, (J, 2)), rng.uniform(20, 300, (J, 2))
    a_vis = np.full(J, 2, np.uint8)
    b_vis = np.full(J, 2, np.uint8)
    a_vis[3] = 0  # only in b
    b_vis[4] = 0  # only in a
    a_vis[5] = b_vis[5] = 0  # in neither
    a_vis[6] = 1  # occluded in a
    video = Video(source="mem", num_frames=n + 5, width=320, height=320)
    a = keyframe(a_xy, a_vis, bbox=(10, 20, 100, 200), head_box=(40, 20, 30, 30))
    b = keyframe(b_xy, b_vis, bbox=(50, 40, 100, 200), head_box=(80, 40, 30, 30))
    video.set_pose(0, 1, a)
    video.set_pose(n - 1, 1, b)
    return video, a, b


def test_available_methods():
    assert {"linear", "flow", "flow-farneback", "posewarper"} <= set(available_methods())


def test_linear_fills_exactly_the_lerp():
    video, a, b = two_keyframe_video(n=11)
    changes = fill(video, None, "linear")
    assert [c.frame for c in changes] == list(range(1, 10))
    both = a.labelled() & b.labelled()
    for c in changes:
        w = c.frame / 10
        p = c.pose
        np.testing.assert_allclose(p.xy[both], ((1 - w) * a.xy + w * b.xy)[both], atol=1e-9)
        np.testing.assert_allclose(p.xy[3], b.xy[3])  # one side only: that side
        np.testing.assert_allclose(p.xy[4], a.xy[4])
        assert p.visibility[5] == 0 and p.provenance[5] == Provenance.NONE  # in neither: unlabelled
        assert set(p.provenance[p.labelled()]) == {Provenance.INTERPOLATED}
        assert p.method == "linear" and not p.keyframe
        assert ((p.confidence >= 0) & (p.confidence <= 1)).all()
        assert p.confidence[3] < p.confidence[both].min()  # one-sided joints are less sure
        np.testing.assert_allclose(p.bbox, (10 + 40 * w, 20 + 20 * w, 100, 200))
        np.testing.assert_allclose(p.head_box, (40 + 40 * w, 20 + 20 * w, 30, 30))
        # visibility comes from the nearer keyframe: occluded stays occluded
        assert p.visibility[6] == (Visibility.OCCLUDED if c.frame <= 5 else Visibility.VISIBLE)
    mid = [c.pose for c in changes if c.frame == 5][0]
    edge = [c.pose for c in changes if c.frame == 1][0]
    assert mid.confidence[both].min() < edge.confidence[both].min()  # decays with distance


def test_fill_leaves_the_video_alone():
    video, a, b = two_keyframe_video()
    before = {f: dict(by) for f, by in video.poses.items()}
    fill(video, None, "linear", extrapolate=3)
    assert {f: dict(by) for f, by in video.poses.items()} == before
    assert video.pose(0, 1).same_as(a)


def test_plan_gaps_extrapolation_and_range():
    video, _, _ = two_keyframe_video(n=11)  # keyframes 0 and 10, 16 frames
    video.set_pose(0, 2, keyframe(np.ones((J, 2))))
    video.set_pose(4, 2, keyframe(np.ones((J, 2))))
    gaps = plan_gaps(video, extrapolate=3)
    spans = {(g.track_id, g.first, g.last, g.before, g.after) for g in gaps}
    assert spans == {(1, 1, 9, 0, 10), (1, 11, 13, 10, None), (2, 1, 3, 0, 4), (2, 5, 7, 4, None)}
    gaps = plan_gaps(video, track_ids=[1], frame_range=(5, 12), extrapolate=3)
    assert {(g.first, g.last) for g in gaps} == {(5, 9), (11, 12)}
    changes = fill(video, None, "linear", track_ids=[2], extrapolate=2)
    assert sorted(c.frame for c in changes) == [1, 2, 3, 5, 6]
    beyond = [c.pose for c in changes if c.frame == 6][0]
    np.testing.assert_allclose(beyond.xy, 1.0)  # linear extrapolation holds the keyframe
    with pytest.raises(PoseWarperError, match="no track 7"):
        plan_gaps(video, track_ids=[7])


def test_manual_and_corrected_joints_survive_rerunning():
    video, a, b = two_keyframe_video(n=11)
    for c in fill(video, None, "linear"):
        video.set_pose(c.frame, c.track_id, c.pose)
    # The annotator corrects a joint at frame 4 and adds a pose with one manual joint at frame 7.
    corrected = video.pose(4, 1).copy()
    corrected.xy[0] = (1.0, 2.0)
    corrected.provenance[0] = Provenance.CORRECTED
    corrected.visibility[0] = Visibility.OCCLUDED
    video.set_pose(4, 1, corrected)
    manual = Pose.empty(J)
    manual.xy[2] = (7.0, 8.0)
    manual.visibility[2] = Visibility.VISIBLE
    manual.provenance[2] = Provenance.MANUAL
    manual.confidence[2] = 1.0
    video.set_pose(7, 1, manual)
    # The keyframe moves, so every auto joint must change; the annotator's must not.
    b2 = b.copy()
    b2.xy += 10
    video.set_pose(10, 1, b2)
    changes = {c.frame: c.pose for c in fill(video, None, "linear")}
    p4, p7 = changes[4], changes[7]
    assert tuple(p4.xy[0]) == (1.0, 2.0) and p4.provenance[0] == Provenance.CORRECTED
    assert p4.visibility[0] == Visibility.OCCLUDED
    assert tuple(p7.xy[2]) == (7.0, 8.0) and p7.provenance[2] == Provenance.MANUAL
    assert p7.provenance[1] == Provenance.INTERPOLATED  # merged: the rest is filled around it
    np.testing.assert_allclose(p4.xy[1], 0.6 * a.xy[1] + 0.4 * b2.xy[1])
    # Re-running on an up-to-date video changes nothing at all.
    for f, p in changes.items():
        video.set_pose(f, 1, p)
    assert fill(video, None, "linear") == []


def test_a_pose_the_annotator_reviewed_survives_rerunning_whole():
    """A reviewed pose (accepted as it is, A in the app) is the annotator's word: a re-fill after a
    keyframe moved changes the frames around it, not it, and says it left it as it was."""
    video, a, b = two_keyframe_video(n=11)
    for c in fill(video, None, "linear"):
        video.set_pose(c.frame, c.track_id, c.pose)
    accepted = video.pose(5, 1).copy()
    accepted.reviewed = True
    video.set_pose(5, 1, accepted)
    b2 = b.copy()
    b2.xy += 10
    video.set_pose(10, 1, b2)
    left = []
    changes = {c.frame: c.pose for c in fill(video, None, "linear", on_unchanged=lambda f, t: left.append(f))}
    assert 5 not in changes and left == [5]
    assert sorted(changes) == [1, 2, 3, 4, 6, 7, 8, 9]  # the others follow the moved keyframe
    # ... and run to the accepted pose: the new fill put it 5 px further on frame 5 (half the
    # keyframe's move), which is carried back fading to the keyframe (frame 6: 4 px of it)
    np.testing.assert_allclose(changes[6].xy[1], 0.4 * a.xy[1] + 0.6 * b2.xy[1] - 4.0)
    np.testing.assert_allclose(changes[4].xy[1], 0.6 * a.xy[1] + 0.4 * b2.xy[1] - 4.0)


def test_filling_again_keeps_the_re_fill_of_a_correction():
    """A drag on a filled frame re-fills the joint's chain around it (correction.correct_joints);
    a fill run again must not undo that (a trial's ankle went 462 -> 473 -> 447 px over three
    frames after Fill video): with the same keyframes nothing changes, and after a keyframe moves
    the chain still runs to the corrected joint."""
    from posewarper_core import correction

    video, a, b = two_keyframe_video(n=11)
    for c in fill(video, None, "linear"):
        video.set_pose(c.frame, c.track_id, c.pose)
    target = video.pose(4, 1).xy[0] + (12.0, -8.0)
    correction.apply_changes(video, correction.correct_joints(video, 4, 1, {0: tuple(target)}))
    assert fill(video, None, "linear") == []  # the same keyframes: the drag's re-fill stands
    b2 = b.copy()
    b2.xy += 10
    video.set_pose(10, 1, b2)
    changes = {c.frame: c.pose for c in fill(video, None, "linear")}
    np.testing.assert_allclose(changes[4].xy[0], target)
    assert changes[4].provenance[0] == Provenance.CORRECTED
    lerp = {f: (1 - f / 10) * a.xy[0] + f / 10 * b2.xy[0] for f in range(11)}
    offset = target - lerp[4]
    for f in (1, 2, 3):  # the correction's offset, fading to nothing at keyframes 0 and 10
        np.testing.assert_allclose(changes[f].xy[0], lerp[f] + f / 4 * offset)
    for f in (5, 7, 9):
        np.testing.assert_allclose(changes[f].xy[0], lerp[f] + (1 - (f - 4) / 6) * offset)
        np.testing.assert_allclose(changes[f].xy[1], (1 - f / 10) * a.xy[1] + f / 10 * b2.xy[1])  # others: the fill
    # next to the correction the joint is as sure as a drag leaves it (the review moves on)
    assert changes[5].confidence[0] >= 0.5 ** (1 / correction.method_half_life("linear")) - 1e-6


def test_filling_again_keeps_the_re_fill_of_a_correction_the_annotator_then_accepted():
    """Drag, then A: the usual review. The reviewed pose's corrected joint carries its chains on a
    second fill as an unreviewed one does (a reviewer found them reverting to the plain fill)."""
    from posewarper_core import correction

    video, a, b = two_keyframe_video(n=11)
    for c in fill(video, None, "linear"):
        video.set_pose(c.frame, c.track_id, c.pose)
    target = tuple(video.pose(4, 1).xy[0] + (12.0, -8.0))
    correction.apply_changes(video, correction.correct_joints(video, 4, 1, {0: target}, carry_placed=True))
    correction.apply_changes(video, correction.accept_pose(video, 4, 1))
    assert video.pose(4, 1).reviewed
    assert fill(video, None, "linear") == []


def test_a_carry_that_leaves_a_filled_pose_no_joint_removes_it():
    """A carry taking a pose's last joint past the picture's edge leaves no pose there (as a drag's
    carry does), not an empty one with the fill's box."""
    from posewarper_core.autofill.engine import merge_track

    video = Video(source="mem", num_frames=11, width=320, height=320)
    one = np.zeros(J, np.uint8)
    one[0] = Visibility.VISIBLE
    video.set_pose(0, 1, keyframe(np.full((J, 2), 100.0), one))
    video.set_pose(10, 1, keyframe(np.full((J, 2), 300.0), one))
    fill_at = {f: Pose(xy=np.full((J, 2), 100.0 + 20 * f), visibility=one.copy(),
                       provenance=np.where(one > 0, Provenance.INTERPOLATED, Provenance.NONE).astype(np.uint8),
                       confidence=np.where(one > 0, 0.5, 0.0).astype(np.float32), method="linear")
               for f in range(1, 10)}
    fill_at[6].xy[0, 0] = 315.0  # a method's fill that swings near the edge
    for f, pose in fill_at.items():  # the same fill ran before
        video.set_pose(f, 1, pose)
    corrected = fill_at[5].copy()
    corrected.xy[0] = (250.0, 200.0)  # 50 px right of the fill: frame 6 gets 0.8 of it, x = 355
    corrected.provenance[0] = Provenance.CORRECTED
    video.set_pose(5, 1, corrected)
    changes = merge_track(video, 1, fill_at)
    assert changes[6] is not None and changes[6].pose is None
    assert changes[7].pose.xy[0][0] == pytest.approx(240.0 + 0.6 * 50)


def test_a_joint_two_carries_move_is_judged_where_both_put_it():
    """Two corrections of one joint, both carried across the frames between them: a frame where
    the first carry alone would be past the picture's edge but both together are on it keeps its
    joint (a reviewer's case: frames 13-17 lost their poses at 99.6 ... 80.4 px on a 100 px picture)."""
    from posewarper_core.autofill.engine import merge_track

    video = Video(source="mem", num_frames=31, width=100, height=100)
    one = np.zeros(J, np.uint8)
    one[0] = Visibility.VISIBLE
    for f in (0, 30):
        video.set_pose(f, 1, keyframe(np.full((J, 2), 50.0), one))

    def filled(x):
        return Pose(xy=np.tile([x, 50.0], (J, 1)), visibility=one.copy(),
                    provenance=np.where(one > 0, Provenance.INTERPOLATED, Provenance.NONE).astype(np.uint8),
                    confidence=np.where(one > 0, 0.5, 0.0).astype(np.float32), method="linear")

    for f in range(1, 30):
        video.set_pose(f, 1, filled(95.0))
    for f, x in ((10, 99.0), (20, 70.0)):
        corrected = filled(95.0)
        corrected.xy[0, 0], corrected.provenance[0] = x, Provenance.CORRECTED
        video.set_pose(f, 1, corrected)
    new = {f: filled(95.0) for f in range(1, 30)}
    new[10], new[20] = filled(80.0), filled(99.0)
    changes = merge_track(video, 1, new)
    for f in (11, 12):  # 109.2 and 104.4 px: past the edge, no pose
        assert changes[f] is not None and changes[f].pose is None
    for f in range(13, 20):  # 99.6 down to 70.8 px: on the picture
        x = 95.0 + 19.0 * (1 - (f - 10) / 10) - 29.0 * (1 - (20 - f) / 10)
        assert changes[f].pose is not None and changes[f].pose.xy[0, 0] == pytest.approx(x)


def test_rerun_after_deleting_a_keyframe_joint_clears_stale_auto_joints():
    video, a, b = two_keyframe_video(n=11)
    for c in fill(video, None, "linear"):
        video.set_pose(c.frame, c.track_id, c.pose)
    a2 = a.copy()
    a2.visibility[4] = 0
    a2.provenance[4] = 0
    video.set_pose(0, 1, a2)  # joint 4 was only in a; now in neither keyframe
    changes = fill(video, None, "linear")
    assert changes and all(c.pose.visibility[4] == 0 for c in changes)


def test_cancel_stops_early_and_raises_cancelled():
    video = Video(source="mem", num_frames=40, width=64, height=64)
    for f in range(0, 40, 5):
        video.set_pose(f, 1, keyframe(np.full((J, 2), float(f))))
    delivered, calls = [], []

    def progress(done, total):
        calls.append((done, total))

    with pytest.raises(Cancelled):
        fill(video, None, "linear", progress=progress, on_changes=delivered.extend,
             cancel=lambda: len(delivered) >= 8)
    assert 8 <= len(delivered) < 28
    assert calls[0] == (0, 28) and calls[-1][0] < 28
    # what was delivered before the cancel is valid filled data
    assert all(c.pose.method == "linear" for c in delivered)


def test_a_fill_stopped_part_way_is_finished_by_filling_from_where_it_said_it_had_got_to():
    """`resume_from` says where what is left starts: a fill killed then and run again over those
    frames only ends as one run whole (a trial's Finish it redid 162 of 162). It says so only
    where no span done reaches on: finishing must not cut a finished span (its tail would be
    filled again without the carry of a correction before the cut)."""
    from posewarper_core import correction

    def video_with(second_keys):
        video = Video(source="mem", num_frames=40, width=64, height=64)
        for f in range(0, 40, 10):
            video.set_pose(f, 1, keyframe(np.full((J, 2), float(f))))
        for f in second_keys:
            video.set_pose(f, 2, keyframe(np.full((J, 2), 5.0 + f)))
        return video

    staggered = video_with((0, 25))  # person 2's gap 1-24 spans two of person 1's
    marks = []
    fill(staggered, None, "linear", resume_from=marks.append)
    assert marks == []  # every span reaches past the next one's start: no safe place to go on from

    video = video_with((0, 10, 20, 30))  # the same keyframes: spans 1-9, 11-19, 21-29 for both
    for c in fill(video, None, "linear"):
        video.set_pose(c.frame, c.track_id, c.pose)
    correction.apply_changes(video, correction.correct_joints(video, 15, 2, {0: (40.0, 30.0)}))
    video.set_pose(30, 1, keyframe(np.full((J, 2), 33.0)))  # the keyframes change: a fill that changes
    whole = {(c.frame, c.track_id): c.pose for c in fill(video, None, "linear")}
    marks, part = [], Video(source="mem", num_frames=40, width=64, height=64)
    for f, by_track in video.poses.items():
        for t, pose in by_track.items():
            part.set_pose(f, t, pose)
    applied = []

    def keep(changes):
        applied.extend(changes)
        for c in changes:
            part.set_pose(c.frame, c.track_id, c.pose)

    with pytest.raises(Cancelled):  # "killed" after its first span
        fill(part, None, "linear", on_changes=keep, resume_from=marks.append, cancel=lambda: len(marks) >= 1)
    assert marks == [11] and applied == []  # span 1-9 had nothing to change
    keep(fill(part, None, "linear", frame_range=(marks[-1], 39)))
    assert {(c.frame, c.track_id) for c in applied} == set(whole)
    assert all(part.pose(f, t).same_as(p) for (f, t), p in whole.items())


def test_every_person_frame_counted_is_either_changed_or_reported_left_as_it_was():
    """The GUI's "x / 199 person-frames" then "191 poses": the rest are the person-frames a fill
    leaves as they were, heard one by one (on_unchanged)."""
    video = Video(source="mem", num_frames=21, width=64, height=64)
    for f in (0, 10, 20):
        video.set_pose(f, 1, keyframe(np.full((J, 2), float(f))))
    for c in fill(video, None, "linear"):
        video.set_pose(c.frame, c.track_id, c.pose)
    video.set_pose(20, 1, keyframe(np.full((J, 2), 40.0)))  # the second gap's end moved
    counted, left = [], []
    changes = fill(video, None, "linear", progress=lambda done, total: counted.append(total),
                   on_unchanged=lambda frame, tid: left.append((frame, tid)))
    assert sorted(c.frame for c in changes) == list(range(11, 20))  # re-filled towards the moved keyframe
    assert left == [(f, 1) for f in range(1, 10)]  # the first gap: the pose it had already
    assert counted[-1] == len(changes) + len(left) == 18


def moving_square_clip(n=9, size=(160, 120), seed=3):
    """A textured square on a textured background, moving with known, accelerating motion."""
    rng = np.random.default_rng(seed)
    w, h = size
    bg = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3)).astype(np.uint8), (0, 0), 1.5)
    tex = cv2.GaussianBlur(rng.integers(0, 255, (40, 40, 3)).astype(np.uint8), (0, 0), 1.2)
    offsets = [(30 + 0.35 * t * t, 30 + 1.5 * t) for t in range(n)]  # top-left corner per frame
    images = []
    for ox, oy in offsets:
        m = np.float32([[1, 0, ox], [0, 1, oy]])
        layer = cv2.warpAffine(tex, m, (w, h), flags=cv2.INTER_LINEAR)
        mask = cv2.warpAffine(np.ones((40, 40), np.float32), m, (w, h), flags=cv2.INTER_LINEAR)[..., None]
        images.append((layer * mask + bg * (1 - mask)).astype(np.uint8))
    return images, np.array(offsets)


@pytest.mark.parametrize("method", ["flow", "flow-farneback"])
def test_flow_follows_a_moving_textured_square(method):
    images, offsets = moving_square_clip()
    local = np.array([[10.0, 10.0], [30.0, 12.0], [20.0, 20.0], [12.0, 28.0], [28.0, 28.0]])  # inside the square
    video = Video(source="mem", num_frames=len(images), width=160, height=120)
    vis = np.zeros(J, np.uint8)
    vis[:5] = 2
    xy = np.zeros((J, 2))
    for f in (0, len(images) - 1):
        xy[:5] = local + offsets[f]
        video.set_pose(f, 1, keyframe(xy, vis))
    frames = ArrayFrames(images)
    changes = fill(video, frames, method)
    assert len(changes) == len(images) - 2
    worst_linear = 0.0
    for c in changes:
        truth = local + offsets[c.frame]
        err = np.linalg.norm(c.pose.xy[:5] - truth, axis=1)
        assert err.max() < 1.2, (c.frame, err)
        lerp = local + offsets[0] + (offsets[-1] - offsets[0]) * c.frame / (len(images) - 1)
        worst_linear = max(worst_linear, np.abs(lerp - truth).max())
        assert c.pose.method == method
        assert set(c.pose.provenance[:5]) == {Provenance.PROPAGATED}
        assert ((c.pose.confidence >= 0) & (c.pose.confidence <= 1)).all()
    assert worst_linear > 3  # the motion is not linear: the flow really followed the pixels
    # each frame is read once per span, whatever the number of tracks
    assert frames.reads == len(images)


def test_flow_is_deterministic_and_shares_flow_between_tracks():
    images, offsets = moving_square_clip(n=7)
    video = Video(source="mem", num_frames=len(images), width=160, height=120)
    vis = np.zeros(J, np.uint8)
    vis[:2] = 2
    for tid, local in ((1, [[10.0, 10.0], [20.0, 20.0]]), (2, [[25.0, 15.0], [15.0, 30.0]])):
        for f in (0, len(images) - 1):
            xy = np.zeros((J, 2))
            xy[:2] = np.array(local) + offsets[f]
            video.set_pose(f, tid, keyframe(xy, vis))
    frames = ArrayFrames(images)
    first = fill(video, frames, "flow")
    assert frames.reads == len(images)  # two tracks, one pass over the frames
    second = fill(video, ArrayFrames(images), "flow")
    assert [(c.frame, c.track_id) for c in first] == [(c.frame, c.track_id) for c in second]
    assert all(a.pose.same_as(b.pose, atol=0) for a, b in zip(first, second))


def test_flow_needs_frames():
    video, _, _ = two_keyframe_video()
    with pytest.raises(PoseWarperError, match="needs the video's frames"):
        fill(video, None, "flow")


def test_unknown_method_and_fusion_are_refused():
    video, _, _ = two_keyframe_video()
    with pytest.raises(PoseWarperError, match="unknown auto-fill method"):
        fill(video, None, "magic")
    with pytest.raises(PoseWarperError, match="unknown fusion"):
        fill(video, None, "linear", fusion="vote")


def test_posewarper_uses_the_shipped_model_and_names_it_when_missing(tmp_path, monkeypatch):
    from posewarper_core import resources

    assert resources.default_model_path().name == "posewarper_default.pt"
    monkeypatch.setattr(resources, "DEFAULT_MODEL", tmp_path / "posewarper_default.pt")
    video, _, _ = two_keyframe_video()
    with pytest.raises(PoseWarperError, match="posewarper_default.pt is missing"):
        fill(video, ArrayFrames([np.zeros((8, 8, 3), np.uint8)] * 16), "posewarper")


def test_refine_smooths_only_auto_joints():
    video = Video(source="mem", num_frames=9, width=64, height=64)
    video.set_pose(0, 1, keyframe(np.zeros((J, 2))))
    video.set_pose(8, 1, keyframe(np.full((J, 2), 8.0)))
    filled = changed_poses(fill(video, None, "linear"))
    jitter = filled[(4, 1)].copy()
    jitter.xy[:, 0] += 2.0  # a bump at frame 4
    jitter.provenance[1] = Provenance.CORRECTED  # ... but joint 1 is the annotator's
    filled[(4, 1)] = jitter
    refined = {(c.frame, c.track_id): c.pose for c in refine_poses(video, filled)}
    p4 = refined[(4, 1)]
    assert abs(p4.xy[0, 0] - 4.0) < abs(jitter.xy[0, 0] - 4.0)  # pulled back towards the line
    assert p4.xy[1, 0] == jitter.xy[1, 0]  # the corrected joint did not move
    assert all(not p.keyframe for p in refined.values())


def test_fill_and_refine_commands_go_through_the_project_store(tmp_path, capsys):
    from posewarper_core.cli import main
    from posewarper_core.store import ProjectStore

    images, offsets = moving_square_clip(n=9)
    folder = tmp_path / "clip"
    folder.mkdir()
    for i, im in enumerate(images):
        cv2.imwrite(str(folder / f"{i:04d}.png"), im[..., ::-1])
    local = np.array([[10.0, 10.0], [30.0, 12.0], [20.0, 20.0]])
    vis = np.zeros(J, np.uint8)
    vis[:3] = 2
    video = Video(source="clip", num_frames=len(images), width=160, height=120)
    for f in (0, 8):
        xy = np.zeros((J, 2))
        xy[:3] = local + offsets[f]
        video.set_pose(f, 1, keyframe(xy, vis))
    manual = Pose.empty(J)
    manual.xy[1] = (5.0, 6.0)
    manual.visibility[1] = Visibility.VISIBLE
    manual.provenance[1] = Provenance.MANUAL
    manual.confidence[1] = 1.0
    video.set_pose(4, 1, manual)
    project = tmp_path / "p.pwproj"
    with ProjectStore.create(project) as store:
        vid = store.add_video(video)
    assert main(["fill", str(project), "--method", "flow"]) == 0
    assert "7 poses written" in capsys.readouterr().out
    with ProjectStore.open(project) as store:
        filled = store.project.video(vid)
        for f in range(1, 8):
            p = filled.pose(f, 1)
            assert p.method == "flow" and p.provenance[0] == Provenance.PROPAGATED
            assert np.linalg.norm(p.xy[0] - (local[0] + offsets[f])) < 1.5
        assert tuple(filled.pose(4, 1).xy[1]) == (5.0, 6.0)  # the annotator's joint survived
        assert filled.pose(4, 1).provenance[1] == Provenance.MANUAL
    assert main(["fill", str(project), "--no-tune"]) == 0  # posewarper, without tuning on the keyframes
    out = capsys.readouterr()
    assert "7 poses written" in out.out and "tuning" not in out.err
    with ProjectStore.open(project) as store:
        assert {store.project.video(vid).pose(f, 1).method for f in (1, 2, 3, 5, 6, 7)} == {"posewarper"}
    assert main(["refine", str(project)]) == 0
    from posewarper_core import nets

    model = nets.save_model(tmp_path / "tiny.pt", nets.build_model(nets.named_config("tiny")))
    assert main(["refine", str(project), "--model", str(model), "--device", "cpu"]) == 0
    with ProjectStore.open(project) as store:
        assert tuple(store.project.video(vid).pose(4, 1).xy[1]) == (5.0, 6.0)


def test_posewarper_with_an_identity_network_holds_the_keyframes(tmp_path):
    """A network fresh from initialisation warps nothing (zero offsets, identity kernels), so each
    side holds its keyframe and the distance fusion gives the lerp: the crop, heatmap and decode
    round trip of the posewarper method loses (almost) nothing."""
    from posewarper_core import nets

    model_path = nets.save_model(tmp_path / "tiny.pt", nets.build_model(nets.named_config("tiny")))
    images, offsets = moving_square_clip(n=6)
    video = Video(source="mem", num_frames=len(images), width=160, height=120)
    vis = np.zeros(J, np.uint8)
    vis[:6] = 2
    rng = np.random.default_rng(0)
    a_xy, b_xy = np.zeros((J, 2)), np.zeros((J, 2))
    a_xy[:6] = rng.uniform(65, 75, (6, 2))
    b_xy[:6] = a_xy[:6] + rng.uniform(-4, 4, (6, 2))
    # A large box keeps the joints near the middle of the tiny model's 16x16 heatmaps, away
    # from borders where any decoder is biased.
    video.set_pose(0, 1, keyframe(a_xy, vis, bbox=(-30, -30, 200, 200)))
    video.set_pose(5, 1, keyframe(b_xy, vis, bbox=(-30, -30, 200, 200)))
    changes = fill(video, ArrayFrames(images), "posewarper", model_path=model_path, device="cpu")
    assert [c.frame for c in changes] == [1, 2, 3, 4]
    for c in changes:
        w = c.frame / 5
        np.testing.assert_allclose(c.pose.xy[:6], (1 - w) * a_xy[:6] + w * b_xy[:6], atol=0.05)
        assert c.pose.method == "posewarper" and set(c.pose.provenance[:6]) == {Provenance.PROPAGATED}
        assert ((c.pose.confidence >= 0) & (c.pose.confidence <= 1)).all()


def test_refine_with_the_network_uses_its_aggregation_and_spares_user_joints(tmp_path):
    from posewarper_core import nets
    from posewarper_core.autofill.posewarper_method import PoseWarperMethod

    method = PoseWarperMethod(nets.save_model(tmp_path / "tiny.pt", nets.build_model(nets.named_config("tiny"))),
                              device="cpu")
    images, _ = moving_square_clip(n=5)
    video = Video(source="mem", num_frames=5, width=160, height=120)
    cluster = np.random.default_rng(0).uniform(-1, 1, (J, 2))
    video.set_pose(0, 1, keyframe(cluster + 90.0, bbox=(40, 40, 100, 100)))
    video.set_pose(4, 1, keyframe(cluster + (94.0, 90.0), bbox=(44, 40, 100, 100)))
    filled = changed_poses(fill(video, None, "linear"))
    p2 = filled[(2, 1)]
    p2.provenance[0] = Provenance.CORRECTED
    before = p2.xy.copy()
    seen = []
    method.model.aggregate = lambda crops: seen.append(crops.shape) or _peaks_at_centre(crops, method)
    refined = {(c.frame, c.track_id): c.pose for c in refine_poses(video, filled, method=method, frames=ArrayFrames(images))}
    assert seen == [(3, 5, 3, 64, 64)]  # three filled frames, five crops each, in one batch
    assert set(refined) == {(1, 1), (2, 1), (3, 1)}
    assert tuple(refined[(2, 1)].xy[0]) == tuple(before[0])  # the corrected joint stays
    np.testing.assert_allclose(refined[(2, 1)].xy[1:], np.tile([92.0, 90.0], (J - 1, 1)), atol=0.05)  # the peak: box centre


def _peaks_at_centre(crops, method):
    """Stand-in aggregation output: a confident peak at the crop's centre for every joint."""
    import torch

    from posewarper_core import heatmaps

    w, h = method.input_size[0] // 4, method.input_size[1] // 4
    hm = heatmaps.render(np.full((J, 2), (w / 2, h / 2)), np.ones(J, bool), size=(h, w), sigma=2.0, subpixel=True)
    return torch.from_numpy(hm)[None].repeat(crops.shape[0], 1, 1, 1)


def test_flow_extrapolates_beyond_the_keyframes_within_the_limit():
    images, offsets = moving_square_clip(n=9)
    local = np.array([[10.0, 10.0], [30.0, 12.0], [20.0, 20.0]])
    video = Video(source="mem", num_frames=len(images), width=160, height=120)
    vis = np.zeros(J, np.uint8)
    vis[:3] = 2
    for f in (3, 5):
        xy = np.zeros((J, 2))
        xy[:3] = local + offsets[f]
        video.set_pose(f, 1, keyframe(xy, vis))
    changes = {c.frame: c.pose for c in fill(video, ArrayFrames(images), "flow", extrapolate=2)}
    assert sorted(changes) == [1, 2, 4, 6, 7]  # two frames each way, not further
    for f, p in changes.items():
        assert np.linalg.norm(p.xy[:3] - (local + offsets[f]), axis=1).max() < 1.2, f
    # one keyframe only: lower confidence than a frame as far from keyframes on both sides
    assert changes[6].confidence[0] < changes[4].confidence[0]


def test_flow_seeded_posewarper_with_an_identity_network_gives_the_flow_result(tmp_path):
    """Flow-seeded: DIS moves the joints and the network adds a residual. A network fresh from
    initialisation adds none, so the seeded method follows the moving square as flow does."""
    from posewarper_core import nets
    from posewarper_core.autofill.posewarper_method import PoseWarperMethod

    model = nets.build_model(nets.named_config("tiny"))
    path = nets.save_model(tmp_path / "seeded.pt", model, nets.named_config("tiny"),
                           provenance={"data": {"seed": "flow"}})
    method = PoseWarperMethod(path, device="cpu")
    assert method.seed == "flow"  # the model file says it was trained on flow-seeded pairs
    assert PoseWarperMethod(path, device="cpu", seed=None).seed is None
    images, offsets = moving_square_clip()
    local = np.array([[10.0, 10.0], [30.0, 12.0], [20.0, 20.0], [12.0, 28.0], [28.0, 28.0]])
    video = Video(source="mem", num_frames=len(images), width=160, height=120)
    vis = np.zeros(J, np.uint8)
    vis[:5] = 2
    xy = np.zeros((J, 2))
    for f in (0, len(images) - 1):
        xy[:5] = local + offsets[f]
        video.set_pose(f, 1, keyframe(xy, vis, bbox=(0, 0, 160, 120)))
    changes = fill(video, ArrayFrames(images), method)
    assert [c.frame for c in changes] == list(range(1, len(images) - 1))
    for c in changes:
        err = np.linalg.norm(c.pose.xy[:5] - (local + offsets[c.frame]), axis=1)
        assert err.max() < 1.2, (c.frame, err)
        assert c.pose.method == "posewarper"
    with pytest.raises(PoseWarperError, match="seed"):
        PoseWarperMethod(path, device="cpu", seed="sparkles")


def test_every_method_name_has_a_class_with_the_flags_the_gui_reads():
    """The fill panel asks method_class for every name it lists (the remembered one at start-up):
    a name without a class made choosing it raise."""
    from posewarper_core.autofill import METHODS, Method, method_class

    for name in METHODS:
        cls = method_class(name)
        assert issubclass(cls, Method), name
        assert isinstance(cls.needs_frames, bool) and isinstance(cls.tunable, bool) and isinstance(cls.uses_torch, bool)


def test_linear_and_flow_confidence_mark_the_joint_likeliest_off():
    """Between two keyframes, the straight line is least sure of a joint that moved far between
    them, mid-span; flow's confidence is its two chains' agreement (confidence.py)."""
    from posewarper_core.autofill.confidence import joint_confidence, linear_confidence
    from posewarper_core.autofill.engine import Span

    xy = np.array([[100.0, 100.0], [100.0, 200.0], [150.0, 300.0]])
    a = Pose.manual(xy, np.full(3, 2, np.uint8), keyframe=True)
    moved = xy.copy()
    moved[2] += (60.0, 0.0)  # the third joint swings far, the others stay
    b = Pose.manual(moved, np.full(3, 2, np.uint8), keyframe=True)
    span = Span(before=0, after=10, first=1, last=9)
    c = linear_confidence(span, [a], [b], half_life=8.0)[0]  # (T, J)
    assert ((c > 0) & (c <= 1)).all()
    assert (c[:, 2] < c[:, 0]).all()  # the joint that moved is the least sure
    assert c[4, 0] < c[0, 0] and c[4, 2] < c[0, 2]  # mid-span less sure than next to a keyframe
    # flow: chains that agree are sure, chains that disagree by a tenth of the person are not
    t = np.full((1, 1, 1), 0.5)
    sizes = np.full((1, 1, 1), 200.0)
    no_drift = np.zeros((1, 2, 2))
    conf = joint_confidence(np.array([[[0.0, 20.0]]]), no_drift, no_drift, t, sizes)[0, 0]
    assert conf[0] == 1.0 and abs(conf[1] - np.exp(-1)) < 1e-9


def test_suggested_joints_on_a_keyframe_are_not_anchors():
    """A keyframe's joints still only suggested (not accepted) are not spread by a fill: the
    frames between get those joints from the other keyframe alone, or not at all."""
    video, a, b = two_keyframe_video(n=11)
    guess = a.copy()
    guess.provenance[[0, 1]] = Provenance.SUGGESTED  # joints 0 and 1: in b too
    guess.provenance[4] = Provenance.SUGGESTED  # joint 4 is in a only: suggested there, so in no anchor
    guess.confidence[[0, 1, 4]] = 0.0
    video.set_pose(0, 1, guess)
    for c in fill(video, None, "linear"):
        p = c.pose
        np.testing.assert_allclose(p.xy[0], b.xy[0])  # from b alone, not pulled towards the guess
        np.testing.assert_allclose(p.xy[1], b.xy[1])
        assert p.visibility[4] == 0 and p.provenance[4] == Provenance.NONE
        np.testing.assert_allclose(p.xy[2], ((1 - c.frame / 10) * a.xy + c.frame / 10 * b.xy)[2])  # accepted joints anchor
    assert video.pose(0, 1).provenance[4] == Provenance.SUGGESTED  # the keyframe itself is untouched


def test_a_keyframe_of_suggested_joints_only_does_not_split_the_gap():
    """E on a frame between two keyframes, the suggestion not accepted, then Fill: the gap was cut
    there and each half copied from one keyframe (every joint of the new keyframe is left out of
    the anchors). Now the gap runs across it, filled from both labelled keyframes, and the
    suggestion stays as it is; accepted, it is an anchor."""
    from posewarper_core.suggest.suggest import accept, place_suggestion

    video, a, b = two_keyframe_video(n=21)  # keyframes 0 and 20
    first, last = 0, 20
    guess = Pose(xy=0.5 * a.xy + 20.0, visibility=a.visibility.copy(),  # inside the 320 x 320 picture
                 provenance=np.full(a.num_joints, Provenance.SUGGESTED), confidence=np.zeros(a.num_joints, np.float32),
                 method="suggestion")
    mid = (first + last) // 2
    video.set_pose(mid, 1, place_suggestion(None, guess))
    pa, pb = video.pose(first, 1), video.pose(last, 1)
    both = pa.labelled() & pb.labelled()
    (gap,) = plan_gaps(video)  # one gap, its frame left out: counted person-frames square with the changes
    assert (gap.first, gap.last, gap.inside, gap.num_frames) == (1, 19, (mid,), 18)
    changes = fill(video, None, "linear")
    assert mid not in {c.frame for c in changes} and len(changes) == 18  # the suggestion is never overwritten
    for c in changes:
        t = (c.frame - first) / (last - first)
        np.testing.assert_allclose(c.pose.xy[both], ((1 - t) * pa.xy + t * pb.xy)[both], atol=1e-6)
    alone = Video(source="mem", num_frames=5, width=320, height=320)  # nothing else: nothing to fill, no error
    alone.set_pose(2, 1, place_suggestion(None, guess))
    assert plan_gaps(alone, extrapolate=3) == []
    video.set_pose(mid, 1, accept(video.pose(mid, 1)))  # accepted: now it anchors
    frames = {c.frame: c.pose for c in fill(video, None, "linear")}
    t = (mid - 1 - first) / (mid - first)
    np.testing.assert_allclose(frames[mid - 1].xy[both], ((1 - t) * pa.xy + t * (0.5 * a.xy + 20.0))[both], atol=1e-6)


def test_filled_joints_carried_out_of_the_picture_are_left_unlabelled():
    """A trial's walker left the picture: the fill carried her joints to x = -92 and the export
    wrote them as visible. A filled joint outside the frame is no label; a frame with none left
    gets no pose."""
    video = Video(source="mem", num_frames=11, width=320, height=240)
    xy = np.stack([np.linspace(100, 140, J), np.linspace(50, 200, J)], axis=1)
    leaving = xy.copy()
    leaving[:, 0] -= 150.0  # every joint moves 150 px left: those from x < 150 end past the edge
    video.set_pose(0, 1, keyframe(xy, np.full(J, 2, np.uint8)))
    video.set_pose(10, 1, keyframe(leaving, np.full(J, 2, np.uint8)))
    out = {c.frame: c.pose for c in fill(video, None, "linear")}
    for f, pose in out.items():
        inside = (xy[:, 0] - 15.0 * f) >= 0
        assert (pose.labelled() == inside).all(), f
        assert (pose.xy[pose.labelled()] >= 0).all()
    gone = Video(source="mem", num_frames=11, width=320, height=240)  # carried wholly out: no pose at all
    gone.set_pose(0, 1, keyframe(xy, np.full(J, 2, np.uint8)))
    gone.set_pose(10, 1, keyframe(xy - (400.0, 0.0), np.full(J, 2, np.uint8)))
    assert sorted(c.frame for c in fill(gone, None, "linear")) == [1, 2, 3]  # 140 - 40 f < 0 from frame 4 on


def test_a_fill_run_again_keeps_suggested_joints_e_put_on_a_filled_pose():
    """E over a filled pose adds suggestions for the joints the fill has not (it stays a filled
    pose): the next fill must not wipe them before the annotator accepts or drags them."""
    from posewarper_core.correction import apply_changes
    from posewarper_core.suggest.suggest import place_suggestion

    video, a, b = two_keyframe_video(n=11)
    apply_changes(video, fill(video, None, "linear"))
    filled = video.pose(5, 1)
    free = np.flatnonzero(~filled.labelled())
    assert len(free)  # joint 5 is in neither keyframe
    guess = Pose(xy=np.full((J, 2), 77.0), visibility=np.full(J, 2, np.uint8),
                 provenance=np.full(J, Provenance.SUGGESTED), confidence=np.zeros(J, np.float32), method="suggestion")
    video.set_pose(5, 1, place_suggestion(filled, guess))
    apply_changes(video, fill(video, None, "linear"))
    again = video.pose(5, 1)
    assert not again.keyframe and (again.provenance[free] == Provenance.SUGGESTED).all()
    np.testing.assert_allclose(again.xy[free], 77.0)
