"""The pose model's step of the default fill (autofill/pose_model_fusion.py): per joint, the
carried position and the model's weighed by their expected errors; confidence lowered where
they disagree; the fill runs without ai-edge-litert."""
from __future__ import annotations

import numpy as np
import pytest

from posewarper_core.annotation import Pose, Provenance
from posewarper_core.autofill import fill, make_method
from posewarper_core.autofill.confidence import person_sizes
from posewarper_core.autofill.engine import Span
from posewarper_core.autofill.keyframe_match import MatchedFlowMethod
from posewarper_core.autofill.pose_model_fusion import PoseModelFusion
from posewarper_core.nets.matcher import KeyframeMatcher
from posewarper_core.skeleton import POSETRACK17
from posewarper_core.suggest.blazepose import LANDMARK_NAMES, Landmarks

from test_autofill import ArrayFrames
from test_matcher import drifting_keyframed_video

# A standing figure (PoseTrack order) about 200 px tall; it walks 5 px right per frame.
FIGURE = {
    "nose": (100, 40), "left_shoulder": (120, 70), "right_shoulder": (80, 70), "left_elbow": (130, 110),
    "right_elbow": (70, 110), "left_wrist": (135, 150), "right_wrist": (65, 150), "left_hip": (115, 150),
    "right_hip": (85, 150), "left_knee": (117, 195), "right_knee": (83, 195), "left_ankle": (118, 240),
    "right_ankle": (82, 240),
}
JOINTS = [POSETRACK17.index(name) for name in FIGURE]
LEFT_WRIST, RIGHT_WRIST = POSETRACK17.index("left_wrist"), POSETRACK17.index("right_wrist")


def truth(frame: int) -> np.ndarray:
    xy = np.zeros((POSETRACK17.num_joints, 2))
    for name, p in FIGURE.items():
        xy[POSETRACK17.index(name)] = np.array(p, float) + (5.0 * frame, 0.0)
    return xy


class FrameNumbers:
    """Frames whose pixels hold their own index (what the fake model reads)."""

    def frame(self, i: int) -> np.ndarray:
        return np.full((8, 8, 3), i, np.uint8)


class FakeModel:
    """BlazePose's interface: landmarks where the figure is on that frame, `shift` px off (a
    convention the per-person offsets learned on the keyframes must take out)."""

    def __init__(self, shift=(4.0, -3.0), elsewhere=0.0):
        self.shift = np.array(shift)
        self.elsewhere = elsewhere

    def landmarks(self, rgb, roi, mask=None, passes=1):
        xy = np.zeros((len(LANDMARK_NAMES), 2))
        conf = np.zeros(len(LANDMARK_NAMES))
        at = truth(int(rgb[0, 0, 0])) + self.shift + (self.elsewhere, 0.0)
        for name in FIGURE:
            i = LANDMARK_NAMES.index(name)
            xy[i], conf[i] = at[POSETRACK17.index(name)], 0.95
        return Landmarks(xy=xy, confidence=conf, presence=1.0, roi=roi)


def figure_pose(xy: np.ndarray, confidence: float, keyframe_: bool = False) -> Pose:
    vis = np.zeros(POSETRACK17.num_joints, np.uint8)
    vis[JOINTS] = 2
    pose = Pose.manual(np.where(vis[:, None] > 0, xy, 0.0), vis, keyframe=keyframe_)
    if not keyframe_:
        pose.provenance[JOINTS] = Provenance.PROPAGATED
        pose.confidence[:] = np.where(vis > 0, confidence, 0.0)
    return pose


def carried_on_frame_5(conf_left_wrist: float = 0.1):
    """Frame 5 as the chains carried it: the left wrist lost (30 px off, unsure), the right wrist
    3 px off but sure, the rest right and sure."""
    xy = truth(5)
    xy[LEFT_WRIST] += (30.0, 0.0)
    xy[RIGHT_WRIST] += (0.0, 3.0)
    pose = figure_pose(xy, 0.97)
    pose.confidence[LEFT_WRIST] = conf_left_wrist
    return pose


def run_step(model) -> tuple[Pose, Pose]:
    before, after = [figure_pose(truth(0), 1.0, True)], [figure_pose(truth(10), 1.0, True)]
    carried = carried_on_frame_5()
    step = PoseModelFusion(model=model)
    out = step.correct(FrameNumbers(), Span(0, 10, 1, 9), before, after, {(0, 5): carried},
                       person_sizes(before, after)[:, 0, 0], lambda: None)
    return carried, out[(0, 5)]


def test_a_lost_joint_moves_to_the_model_and_a_sure_one_stays():
    carried, fused = run_step(FakeModel())
    right = truth(5)
    # the lost wrist lands where the model (offsets taken out) puts it
    assert np.linalg.norm(fused.xy[LEFT_WRIST] - right[LEFT_WRIST]) < 1.0
    # the sure joints barely move (the model's error floor outweighs their own)
    others = [j for j in JOINTS if j != LEFT_WRIST]
    assert np.abs(fused.xy[others] - carried.xy[others]).max() < 0.5
    # and the lost wrist is now marked far less sure than the joints both sources agree on
    assert fused.confidence[LEFT_WRIST] < 0.3 * carried.confidence[LEFT_WRIST]  # 30 px apart: exp(-1.5)
    # the right wrist, 3 px from the model: within the model's usual miss (its floor, 0.02 x 200 px)
    # that says nothing against it, so its confidence stands
    assert fused.confidence[RIGHT_WRIST] == pytest.approx(carried.confidence[RIGHT_WRIST])
    assert fused.confidence[others].min() > 0.9
    assert fused.labelled()[JOINTS].all() and fused.provenance[LEFT_WRIST] == Provenance.PROPAGATED


def test_a_model_that_found_someone_else_changes_nothing():
    carried, fused = run_step(FakeModel(elsewhere=150.0))
    assert np.allclose(fused.xy, carried.xy) and np.allclose(fused.confidence, carried.confidence)


def test_the_default_fill_runs_without_ai_edge_litert(monkeypatch):
    from posewarper_core.suggest import blazepose

    monkeypatch.setattr(blazepose, "runtime_missing", lambda: "pose suggestions need the optional package "
                        "ai-edge-litert (pip install ai-edge-litert); everything else works without it")
    images, offsets, local, video = drifting_keyframed_video()
    method = MatchedFlowMethod(KeyframeMatcher(), device="cpu", learned=False)
    assert method.pose_model is None and "ai-edge-litert" in method.notice
    switched_off = MatchedFlowMethod(KeyframeMatcher(), device="cpu", learned=False, pose_model=False)
    assert switched_off.notice is None  # asked for: nothing to tell
    changes = fill(video, ArrayFrames(images), method)
    same = fill(video, ArrayFrames(images), switched_off)
    assert len(changes) == len(images) - 2
    for a, b in zip(changes, same):
        assert np.allclose(a.pose.xy, b.pose.xy)
        assert np.linalg.norm(a.pose.xy[:5] - (local + offsets[a.frame]), axis=1).max() < 1.5


def test_the_demo_jumpers_flip_is_marked_less_sure_than_her_run_up(tmp_path):
    """On the bundled demo the jumper turns upside down in mid-air (frames ~173-186, between her
    keyframes 160 and 190): the default fill is least sure there."""
    pytest.importorskip("ai_edge_litert")
    from app.demo import build_demo
    from posewarper_core.store import ProjectStore
    from posewarper_core.video import open_frames

    with ProjectStore.open(build_demo(tmp_path / "demo.pwproj")) as store:
        video = store.project.video(sorted(store.project.videos)[0])
        frames = open_frames(video, base_dir=store.base_dir)
        try:
            method = make_method("posewarper", tune=False)
            assert method.pose_model is not None
            changes = fill(video, frames, method, track_ids=[1], frame_range=(151, 189))
        finally:
            frames.close()
    conf = {c.frame: c.pose.confidence[c.pose.labelled()].mean() for c in changes}
    run_up = np.mean([conf[f] for f in range(151, 160)])
    flip = np.mean([conf[f] for f in range(173, 187)])
    assert flip < 0.1 * run_up


def test_past_the_last_keyframe_the_model_only_lowers_the_confidence_where_it_disagrees():
    """One keyframe cannot check the model's error: the carried joints stay where they are, and
    the one the model puts elsewhere is marked less sure than the others."""
    before = [figure_pose(truth(0), 1.0, True)]
    carried = carried_on_frame_5(conf_left_wrist=0.5)
    carried.confidence[:] = np.where(carried.labelled(), 0.5, 0.0)  # one-sided: all alike
    step = PoseModelFusion(model=FakeModel())
    out = step.correct(FrameNumbers(), Span(0, None, 1, 9), before, None, {(0, 5): carried},
                       person_sizes(before, before)[:, 0, 0], lambda: None)[(0, 5)]
    assert np.allclose(out.xy, carried.xy)
    others = [j for j in JOINTS if j not in (LEFT_WRIST, RIGHT_WRIST)]
    assert out.confidence[LEFT_WRIST] < 0.5 * out.confidence[others].min()


class JitteryModel(FakeModel):
    """The left wrist `jitter` px to the right on even frames and to the left on odd ones: the
    model's frame-to-frame noise."""

    def __init__(self, jitter: float):
        super().__init__()
        self.jitter = jitter

    def landmarks(self, rgb, roi, mask=None, passes=1):
        lm = super().landmarks(rgb, roi, mask, passes)
        frame = int(rgb[0, 0, 0])
        if frame not in (0, 10):  # the keyframes: the offsets are learned there
            lm.xy[LANDMARK_NAMES.index("left_wrist")] += (self.jitter * (-1) ** frame, 0.0)
        return lm


def test_the_models_frame_to_frame_noise_is_averaged_out_of_a_lost_joint():
    """The chains lost the left wrist on every filled frame (30 px off, unsure); the model finds it
    each time but 6 px off, alternately left and right. Weighed frame by frame the fill takes the
    jitter over; averaged over nearby frames it lands within a few px of the truth."""
    before, after = [figure_pose(truth(0), 1.0, True)], [figure_pose(truth(10), 1.0, True)]
    filled = {}
    for f in range(1, 10):
        xy = truth(f)
        xy[LEFT_WRIST] += (30.0, 0.0)
        filled[(0, f)] = figure_pose(xy, 0.97)
        filled[(0, f)].confidence[LEFT_WRIST] = 0.1
    sizes = person_sizes(before, after)[:, 0, 0]
    miss = {}
    for window in (0, 2):
        step = PoseModelFusion(model=JitteryModel(6.0), window=window)
        out = step.correct(FrameNumbers(), Span(0, 10, 1, 9), before, after, filled, sizes, lambda: None)
        miss[window] = [np.linalg.norm(out[(0, f)].xy[LEFT_WRIST] - truth(f)[LEFT_WRIST]) for f in range(3, 8)]
        others = [j for j in JOINTS if j != LEFT_WRIST]
        assert all(np.abs(out[(0, f)].xy[others] - filled[(0, f)].xy[others]).max() < 0.5 for f in range(1, 10))
    assert min(miss[0]) > 5.0  # the jitter, taken over
    assert max(miss[2]) < 2.0  # five looks, alternating: 1.2 px


def test_averaged_corrections_mean_over_the_window_and_ignore_unused_joints():
    from posewarper_core.autofill.pose_model_fusion import averaged_corrections

    used = {(0, f): np.array([True, f != 2]) for f in (1, 2, 3)}
    corrections = {(0, f): np.array([[float(f), 0.0], [10.0, 0.0]]) for f in (1, 2, 3)}
    corrections[(0, 2)][1] = np.nan  # the model had nothing there, and that joint is not used
    out = averaged_corrections(corrections, used, window=1)
    assert np.allclose(out[(0, 2)][0], [2.0, 0.0])  # (1 + 2 + 3) / 3
    assert np.allclose(out[(0, 1)][0], [1.5, 0.0])  # frames 1 and 2
    assert np.allclose(out[(0, 1)][1], [10.0, 0.0]) and np.allclose(out[(0, 3)][1], [10.0, 0.0])
    assert np.allclose(out[(0, 2)][1], 0.0)  # unused: no correction
    assert np.allclose(averaged_corrections(corrections, used, window=0)[(0, 1)][0], [1.0, 0.0])
