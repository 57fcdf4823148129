"""Other people close to a person (suggest/others.py): the pose model does not see them, and a model
joint that lies on someone else is not taken, in the suggestions and in the default fill's step 5."""
from __future__ import annotations

import numpy as np
import pytest

from posewarper_core.annotation import Pose, Provenance, Video
from posewarper_core.autofill.confidence import person_sizes
from posewarper_core.autofill import fill
from posewarper_core.autofill.engine import PeopleAround, Span
from posewarper_core.autofill.linear import LinearMethod
from posewarper_core.autofill.pose_model_fusion import PoseModelFusion
from posewarper_core.skeleton import POSETRACK17
from posewarper_core.suggest import Suggester
from posewarper_core.suggest.blazepose import LANDMARK_NAMES, Landmarks
from posewarper_core.suggest.others import nearer_someone_else, shown_to_model

from test_autofill import ArrayFrames
from test_pose_model_fusion import FIGURE, JOINTS, LEFT_WRIST, carried_on_frame_5, figure_pose, truth

FLIP = POSETRACK17.flip_permutation()
APART = 60.0  # the second figure stands this far right of the first: their extents overlap by 10 px


def test_the_model_sees_the_other_persons_extent_grey_except_where_it_overlaps_this_one():
    own = np.array([[10.0, 10.0], [30.0, 50.0], [np.nan, np.nan]])
    other = np.array([[25.0, 20.0], [60.0, 70.0], [np.nan, np.nan]])
    shown = shown_to_model((100, 100), own, [other])
    assert shown[40, 45] == False  # noqa: E712 - the other person, outside this one's extent
    assert shown[30, 28] == True  # noqa: E712 - both extents: may be this person's
    assert shown[5, 5] and shown[90, 90]  # nobody: unchanged
    within = np.zeros((100, 100), bool)
    within[:, :50] = True  # an own-person mask from the caller stays the limit
    assert not shown_to_model((100, 100), own, [other], within)[30, 60]
    assert shown_to_model((100, 100), own, [], None) is None  # nobody else: no mask at all


def test_a_model_joint_on_someone_elses_joint_or_its_left_right_twin_is_dropped():
    own, other = truth(5), truth(5) + (APART, 0.0)
    model = own.copy()
    model[LEFT_WRIST] = other[LEFT_WRIST] + (1.0, 1.0)  # the other person's left wrist
    right_wrist = POSETRACK17.index("right_wrist")
    model[right_wrist] = other[LEFT_WRIST]  # their left wrist taken for this one's right: a mirror confusion
    theirs = nearer_someone_else(model, own, [other], FLIP)
    assert theirs[LEFT_WRIST] and theirs[right_wrist]
    assert not theirs[[j for j in JOINTS if j not in (LEFT_WRIST, right_wrist)]].any()
    unknown = own.copy()
    unknown[LEFT_WRIST] = np.nan  # no own joint to compare with: kept
    assert not nearer_someone_else(model, unknown, [other], FLIP)[LEFT_WRIST]


class TwoPeopleModel:
    """BlazePose's interface on frames whose pixel (0, 0) holds the frame index: the figure of the
    crop's person (left or right of x = 200), 4 px off, except that on the left person's crop its
    left wrist is the right person's (the crop holds both). Records the masks it is given."""

    def __init__(self):
        self.masks = []

    def landmarks(self, rgb, roi, mask=None, passes=1):
        self.masks.append((int(rgb[0, 0, 0]), roi.cx, mask))
        right = roi.cx > truth(int(rgb[0, 0, 0]))[JOINTS, 0].mean() + APART / 2
        at = truth(int(rgb[0, 0, 0])) + (APART if right else 0.0, 0.0) + (4.0, -3.0)
        if not right:
            at[LEFT_WRIST] = truth(int(rgb[0, 0, 0]))[LEFT_WRIST] + (APART + 4.0, -3.0)
        xy, conf = np.zeros((len(LANDMARK_NAMES), 2)), np.zeros(len(LANDMARK_NAMES))
        for name in FIGURE:
            i = LANDMARK_NAMES.index(name)
            xy[i], conf[i] = at[POSETRACK17.index(name)], 0.95
        return Landmarks(xy=xy, confidence=conf, presence=1.0, roi=roi)


class NumberedFrames(ArrayFrames):
    """Still frames of one texture, pixel (0, 0) holding `number(i)` (what the fake model reads)."""

    def __init__(self, n=11, shape=(300, 420), number=lambda i: i):
        texture = np.random.default_rng(0).integers(0, 255, (*shape, 3)).astype(np.uint8)
        images = []
        for i in range(n):
            images.append(texture.copy())
            images[-1][0, 0] = number(i)
        super().__init__(images)


def test_the_fill_keeps_a_lost_wrist_off_the_person_standing_next_to_it():
    """The left person's wrist is lost by the chains (30 px off, unsure); the model, looking at a
    crop with both, puts it on the right person's wrist: the fill keeps the carried wrist there."""
    shifted = lambda f: truth(f) + (APART, 0.0)  # noqa: E731
    before = [figure_pose(truth(0), 1.0, True), figure_pose(shifted(0), 1.0, True)]
    after = [figure_pose(truth(10), 1.0, True), figure_pose(shifted(10), 1.0, True)]
    filled = {(0, 5): carried_on_frame_5(), (1, 5): figure_pose(shifted(5), 0.97)}
    out = PoseModelFusion(model=TwoPeopleModel()).correct(NumberedFrames(), Span(0, 10, 1, 9), before, after, filled,
                                                          person_sizes(before, after)[:, 0, 0], lambda: None)
    np.testing.assert_allclose(out[(0, 5)].xy[LEFT_WRIST], filled[(0, 5)].xy[LEFT_WRIST])
    assert out[(0, 5)].confidence[LEFT_WRIST] == pytest.approx(filled[(0, 5)].confidence[LEFT_WRIST])
    assert np.linalg.norm(out[(1, 5)].xy[JOINTS] - shifted(5)[JOINTS], axis=1).max() < 1.0  # the right one is fine
    # Alone in the span, the same model's wrist is taken (what the rule prevents above).
    alone = PoseModelFusion(model=TwoPeopleModel()).correct(
        NumberedFrames(), Span(0, 10, 1, 9), before[:1], after[:1], {(0, 5): filled[(0, 5)]},
        person_sizes(before[:1], after[:1])[:, 0, 0], lambda: None)
    assert np.linalg.norm(alone[(0, 5)].xy[LEFT_WRIST] - shifted(5)[LEFT_WRIST]) < 5.0


def test_a_suggestions_model_sees_the_neighbour_greyed_out():
    frames = NumberedFrames(number=lambda i: 5)  # still frames: the carried pose is the keyframe's
    video = Video(source="x", num_frames=frames.num_frames, width=frames.width, height=frames.height)
    vis = figure_pose(truth(5), 1.0, True).visibility
    video.set_pose(0, 0, Pose.manual(truth(5), vis))
    video.set_pose(0, 1, Pose.manual(truth(5) + (APART, 0.0), vis))
    suggester = Suggester(POSETRACK17, use_model=False)
    suggester.model, suggester.missing = TwoPeopleModel(), None
    found = suggester.suggest_frame(video, frames, 3)
    assert found[0].pose is not None and found[1].pose is not None
    # Pixels inside each one's own crop mask (their extent grown by MASK_MARGIN) but on the other:
    y = int(truth(5)[LEFT_WRIST, 1])
    lo, hi = truth(5)[JOINTS, 0].min(), truth(5)[JOINTS, 0].max()  # the left one's extent; the right's is + APART
    on_right_only, on_left_only = int(hi) + 40, int(lo + APART) - 30
    left = [m for f, cx, m in suggester.model.masks if cx < (lo + hi) / 2 + APART / 2]
    right = [m for f, cx, m in suggester.model.masks if cx > (lo + hi) / 2 + APART / 2]
    assert left and right
    assert all(m[y, int(lo) + 2] and not m[y, on_right_only] for m in left)  # the left one's crop: the right one grey
    assert all(m[y, int(hi + APART) - 2] and not m[y, on_left_only] for m in right)


def test_a_suggestion_for_one_person_runs_no_flow_for_the_others():
    """The others' positions come free (labels on the frame, chains already flowed here) or not at all."""
    frames = NumberedFrames(number=lambda i: 5)
    video = Video(source="x", num_frames=frames.num_frames, width=frames.width, height=frames.height)
    vis = figure_pose(truth(5), 1.0, True).visibility
    video.set_pose(0, 0, Pose.manual(truth(5), vis))
    video.set_pose(0, 1, Pose.manual(truth(5) + (APART, 0.0), vis))
    suggester = Suggester(POSETRACK17, use_model=False)
    suggester.suggest_frame(video, frames, 3, [0])
    reads = frames.reads
    assert suggester.others_on(video, frames, 3, 0) == [] and frames.reads == reads  # 1's chain never ran
    suggester.suggest_frame(video, frames, 3, [1])  # now it has reached frame 3
    reads = frames.reads
    (other,) = suggester.others_on(video, frames, 3, 0)
    assert frames.reads == reads
    np.testing.assert_allclose(other[JOINTS], truth(5)[JOINTS] + (APART, 0.0), atol=0.5)
    video.set_pose(3, 1, Pose.manual(truth(5) + (APART + 7.0, 0.0), vis))  # labelled here: the label counts
    np.testing.assert_allclose(suggester.others_on(video, frames, 3, 0)[0][JOINTS], truth(5)[JOINTS] + (APART + 7.0, 0.0))


class LostWristThenModel(LinearMethod):
    """The straight line (exact for the walking figure), then the left person's left wrist lost (30 px
    off, unsure) as a flow chain can lose it, then the pose model's step, as the default fill runs it.
    `blind`: the step is not told who else is on the frame (what it was before PeopleAround)."""

    name = "linear+model"

    def __init__(self, blind=False):
        self.step, self.blind = PoseModelFusion(model=TwoPeopleModel()), blind

    def correct(self, frames, span, before, after, filled, check, around=lambda frame: []):
        lost = {}
        for (i, frame), pose in filled.items():
            pose = pose.copy()
            if pose.xy[LEFT_WRIST, 0] < truth(frame)[LEFT_WRIST, 0] + APART / 2:  # the left person
                pose.xy[LEFT_WRIST] += (30.0, 0.0)
                pose.confidence[LEFT_WRIST] = 0.1
            lost[(i, frame)] = pose
        return self.step.correct(frames, span, before, after, lost, person_sizes(before, after)[:, 0, 0], check,
                                 (lambda frame: []) if self.blind else around)


def two_people_keyframed(marks_right_at=()):
    video = Video(source="two.mp4", num_frames=11, width=420, height=300)
    for f in (0, 10):
        video.set_pose(f, 0, figure_pose(truth(f), 1.0, True))
        right = Pose.absent_mark(POSETRACK17.num_joints) if f in marks_right_at else figure_pose(truth(f) + (APART, 0.0), 1.0, True)
        video.set_pose(f, 1, right)
    return video


def test_filling_one_person_keeps_their_lost_wrist_off_the_neighbour_nobody_filled_yet():
    """The GUI's G fills the selected person alone; the neighbour is only keyframed. Where their
    keyframes put them counts as their place: the model's wrist on them is not taken."""
    video = two_people_keyframed()
    changes = fill(video, NumberedFrames(), LostWristThenModel(), track_ids=[0])
    assert [c.track_id for c in changes] == [0] * 9
    for c in changes:
        carried = truth(c.frame)[LEFT_WRIST] + (30.0, 0.0)
        np.testing.assert_allclose(c.pose.xy[LEFT_WRIST], carried)
    # Not told who else is there, the step takes the neighbour's wrist (what the rule prevents).
    blind = fill(video, NumberedFrames(), LostWristThenModel(blind=True), track_ids=[0])
    neighbours = [np.linalg.norm(c.pose.xy[LEFT_WRIST] - (truth(c.frame)[LEFT_WRIST] + (APART, 0.0))) for c in blind]
    assert max(neighbours) < 5.0


def test_people_around_a_frame_come_from_this_fill_the_video_or_the_line_between_their_keyframes():
    video = two_people_keyframed()
    filled_right = figure_pose(truth(3) + (APART + 2.0, 0.0), 0.9)
    video.set_pose(3, 1, filled_right)
    around = PeopleAround(video)
    outside = around.outside([0])
    np.testing.assert_allclose(outside(3)[0][JOINTS], filled_right.xy[JOINTS])  # their fill in the video
    np.testing.assert_allclose(outside(4)[0][JOINTS], (truth(4) + (APART, 0.0))[JOINTS])  # between their keyframes
    assert np.isnan(outside(4)[0][POSETRACK17.index("head_top")]).all()  # unlabelled stays unknown
    fresh = figure_pose(truth(4) + (APART - 1.0, 0.0), 0.9)
    around.add({(4, 1): fresh})  # filled earlier in the same run
    np.testing.assert_allclose(around.outside([0])(4)[0][JOINTS], fresh.xy[JOINTS])
    assert around.outside([0, 1])(4) == []
    # After a "not in view" mark nobody is expected in between.
    assert PeopleAround(two_people_keyframed(marks_right_at=(10,))).outside([0])(4) == []


def test_people_around_a_frame_lie_between_keyframes_that_bound_a_gap_not_on_a_suggestion():
    # A suggestion nobody accepted yet (E) on frame 6 is not where the neighbour is known to be:
    # frame 4 lies on the line between their keyframes 0 and 10, as the fill's gaps run.
    video = two_people_keyframed()
    guess = figure_pose(truth(6) + (APART + 40.0, 0.0), 1.0, True)
    guess.provenance[guess.labelled()] = Provenance.SUGGESTED
    video.set_pose(6, 1, guess)
    np.testing.assert_allclose(PeopleAround(video).outside([0])(4)[0][JOINTS], (truth(4) + (APART, 0.0))[JOINTS])
