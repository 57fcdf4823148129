"""Keyframe suggestions: BlazePose on the CPU, its mapping to the skeleton, the two sources and
their bad-input rules, and that an export never writes a suggestion as a label."""
import json
import sys

import numpy as np
import pytest

from posewarper_core.annotation import Pose, Provenance, Video
from posewarper_core.effort import empty_like
from posewarper_core.evaluation import load_ground_truth
from posewarper_core.skeleton import POSETRACK17
from posewarper_core.suggest import Suggester, runtime_missing
from posewarper_core.suggest.blazepose import Roi, detector_anchors
from posewarper_core.suggest.mapping import roi_from_pose, skeleton_from_landmarks

needs_model = pytest.mark.skipif(runtime_missing() is not None, reason=str(runtime_missing()))


class Frames:
    """A frame source of fixed arrays."""

    def __init__(self, images):
        self.images = images
        self.height, self.width = images[0].shape[:2]
        self.num_frames = len(images)

    def frame(self, i):
        return self.images[i]


@pytest.fixture
def jhmdb(shared_data):
    skeleton, gt, open_source = load_ground_truth(shared_data / "dev" / "jhmdb_goal_keeping" / "posetrack18.json")
    return skeleton, gt, open_source()


def test_roi_maps_crop_pixels_back_to_the_image():
    roi = Roi(100.0, 80.0, 64.0, 0.4)
    pts = np.array([[0.0, 0.0], [256.0, 256.0], [128.0, 10.0]])
    m = roi.to_crop(256)
    back = roi.to_image(pts, 256)
    assert np.allclose(back @ m[:, :2].T + m[:, 2], pts)
    assert np.allclose(roi.to_image([[128, 128]], 256), [[100, 80]])


def test_detector_anchor_layout_matches_the_model_output():
    anchors = detector_anchors()
    assert anchors.shape == (2254, 2)
    assert np.allclose(anchors[0], [0.5 / 28, 0.5 / 28]) and np.allclose(anchors[-1], [6.5 / 7, 6.5 / 7])


@needs_model
def test_blazepose_finds_the_goalkeeper_where_the_labels_are(jhmdb):
    skeleton, gt, frames = jhmdb
    from posewarper_core.suggest import BlazePose

    model = BlazePose()
    label = gt.pose(0, next(iter(gt.poses[0])))
    xy, conf = skeleton_from_landmarks(model.landmarks(frames.frame(0), roi_from_pose(label, skeleton)), skeleton)
    m = label.labelled() & (conf > 0.5)
    size = max(label.joint_extent()[2:])
    assert m.sum() >= 10
    assert np.median(np.linalg.norm(xy[m] - label.xy[m], axis=1)) < 0.1 * size
    # The detector, on the whole frame with nobody labelled: one person, hips where the labels are.
    found = model.detect(frames.frame(0))
    assert found and found[0][0] > 0.5
    hips = label.xy[[skeleton.index("left_hip"), skeleton.index("right_hip")]].mean(axis=0)
    assert np.hypot(found[0][1].cx - hips[0], found[0][1].cy - hips[1]) < 0.15 * size


@needs_model
def test_suggestion_fills_a_new_keyframe_and_is_never_a_label(jhmdb):
    skeleton, gt, frames = jhmdb
    tid = next(iter(gt.poses[0]))
    video = empty_like(gt, 7)  # the clip with its people, nobody labelled
    g0 = gt.pose(0, tid)
    video.set_pose(0, tid, Pose.manual(g0.xy, g0.visibility))
    s = Suggester(skeleton).suggest(video, frames, 7, tid)
    assert s.pose is not None
    g7 = gt.pose(7, tid)
    m = s.pose.labelled() & g7.labelled()
    assert m.sum() >= 10
    assert (s.pose.provenance[s.pose.labelled()] == Provenance.SUGGESTED).all()
    assert np.median(np.linalg.norm(s.pose.xy[m] - g7.xy[m], axis=1)) < 0.1 * max(g7.joint_extent()[2:])


def test_without_the_runtime_the_carried_pose_still_comes_and_the_message_says_what_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    assert "ai-edge-litert" in runtime_missing()
    rng = np.random.default_rng(0)
    base = (rng.random((120, 160, 3)) * 255).astype(np.uint8)
    images = [np.roll(base, 2 * i, axis=1) for i in range(4)]  # texture moving 2 px right a frame
    video = Video(source="x", num_frames=4, width=160, height=120, tracks={})
    xy = np.array([[60 + 3 * (j % 5), 30 + 4 * j] for j in range(17)], float)
    video.set_pose(0, 1, Pose.manual(xy, np.full(17, 2)))
    s = Suggester(POSETRACK17).suggest(video, Frames(images), 3, 1)
    assert "ai-edge-litert" in s.message
    assert s.pose is not None and np.allclose(s.pose.xy[:, 0] - xy[:, 0], 6, atol=1.0)


def test_a_suggested_joint_carried_past_the_pictures_edge_is_left_out(monkeypatch):
    """A trial accepted E's suggestion with six joints past the frame's right edge; they are no
    labels there (the fill leaves such joints out too)."""
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    rng = np.random.default_rng(0)
    base = (rng.random((120, 160, 3)) * 255).astype(np.uint8)
    images = [np.roll(base, 2 * i, axis=1) for i in range(4)]  # texture moving 2 px right a frame
    video = Video(source="x", num_frames=4, width=160, height=120, tracks={})
    xy = np.array([[140 + 4 * (j % 5), 30 + 4 * j] for j in range(17)], float)  # x 140..156
    video.set_pose(0, 1, Pose.manual(xy, np.full(17, 2)))
    s = Suggester(POSETRACK17).suggest(video, Frames(images), 3, 1)  # carried 6 px right: 146..162
    inside = xy[:, 0] + 6 < 160
    assert (s.pose.labelled() == inside).all() and (s.pose.xy[s.pose.labelled(), 0] < 160).all()


@needs_model
@pytest.mark.parametrize("case, frame_image, box, message", [
    ("empty frame", np.zeros((120, 160, 3), np.uint8), (40, 20, 60, 90), "empty"),
    ("small person", None, (40, 20, 10, 20), "under 40 px"),
    ("crop outside", None, (500, 400, 60, 90), "outside the frame"),
])
def test_bad_input_gives_no_suggestion_and_a_message(case, frame_image, box, message):
    rng = np.random.default_rng(1)
    image = frame_image if frame_image is not None else (rng.random((120, 160, 3)) * 255).astype(np.uint8)
    video = Video(source="x", num_frames=1, width=160, height=120, tracks={})
    s = Suggester(POSETRACK17).suggest(video, Frames([image]), 0, 5, box=box)
    assert s.pose is None and message in s.message


def test_frame_outside_the_video_is_named():
    video = Video(source="x", num_frames=3, width=160, height=120, tracks={})
    s = Suggester(POSETRACK17, use_model=False).suggest(video, Frames([np.zeros((120, 160, 3), np.uint8)] * 3), 9, 1)
    assert s.pose is None and "frame 9" in s.message


def test_export_never_writes_suggested_joints(tmp_path):
    from posewarper_core.formats.posetrack18 import read_posetrack18, write_posetrack18

    video = Video(source="clip", num_frames=2, width=100, height=100, tracks={})
    pose = Pose.manual(np.full((17, 2), 50.0), np.full(17, 2))
    pose.provenance[5:] = Provenance.SUGGESTED  # joints 5.. proposed, not yet accepted
    video.set_pose(0, 1, pose)
    path = tmp_path / "out.json"
    write_posetrack18(path, POSETRACK17, video)
    kps = json.loads(path.read_text())["annotations"][0]["keypoints"]
    assert all(v > 0 for v in kps[2:15:3]) and not any(kps[15:])
    _, back = read_posetrack18(path, check_frames=False)
    assert back.pose(0, 1).labelled().sum() == 5


def test_choose_keeps_the_carried_pose_when_the_model_found_someone_else():
    carried = np.array([[10.0 * j, 0.0] for j in range(17)])
    model = carried + [500.0, 0.0]  # another person, far off
    xy, chosen = __import__("posewarper_core.suggest.suggest", fromlist=["choose"]).choose(
        carried, model, np.ones(17), side=100.0)
    assert chosen.all() and np.allclose(xy, carried)
    near = carried.copy()
    near[3] += [2.0, 0.0]  # agrees: averaged
    near[9] += [40.0, 0.0]  # one joint off the carried one: the model's
    xy, _ = __import__("posewarper_core.suggest.suggest", fromlist=["choose"]).choose(carried, near, np.ones(17), 100.0)
    assert np.allclose(xy[3], carried[3] + [1.0, 0.0]) and np.allclose(xy[9], near[9])


@needs_model
def test_bench_suggest_writes_the_json_the_issue_names(tmp_path, shared_data):
    from posewarper_core.cli import main

    out = tmp_path / "s.json"
    assert main(["bench-suggest", "--gt", str(shared_data / "dev" / "jhmdb_goal_keeping" / "posetrack18.json"),
                 "--k", "15", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    for entry in (r, r["sources"]["carried"], r["sources"]["blazepose"], r["sources"]["quick"]):
        assert {"Mean", "Wrist", "Head"} <= set(entry["at_0.5"]) and "Mean" in entry["at_0.2"]
        assert entry["median_error_px"] > 0
    assert r["seconds_per_person"] > 0 and r["at_0.5"]["Mean"] >= 90


@needs_model
def test_the_quick_suggestion_runs_no_flow_and_leaves_the_full_one_as_it_was(jhmdb):
    skeleton, gt, frames = jhmdb
    tid = next(iter(gt.poses[0]))
    video = empty_like(gt, 7)
    g = gt.pose(0, tid)
    video.set_pose(0, tid, Pose.manual(g.xy, g.visibility, keyframe=True))
    s = Suggester(skeleton)  # frame 3: the goalkeeper is still inside the crop of his pose on frame 0
    assert not s.chain_ready(video, frames, 3, tid)
    q = s.quick(video, frames, 3, tid)
    assert not s.chain_ready(video, frames, 3, tid)  # no flow was run for it
    truth = gt.pose(3, tid)
    both = q.pose.labelled() & truth.labelled()
    assert both.sum() >= 10 and (q.pose.provenance[q.pose.labelled()] == Provenance.SUGGESTED).all()
    length = np.ptp(truth.xy[truth.labelled()], axis=0).max()
    assert np.median(np.linalg.norm(q.pose.xy[both] - truth.xy[both], axis=1)) < 0.1 * length
    full = s.suggest(video, frames, 3, tid)
    fresh = Suggester(skeleton).suggest(video, frames, 3, tid)  # the same without a quick one before
    np.testing.assert_array_equal(full.pose.xy, fresh.pose.xy)


@needs_model
def test_a_quick_suggestion_far_from_the_start_runs_the_model_once_and_reads_no_frame(jhmdb):
    """Jumping late into a clip with several keyframes: the first guess must not wait for the model
    on every earlier keyframe (1.4-3.1 s on the demo's late frames) nor decode the frame shown."""
    skeleton, gt, frames = jhmdb
    tid = next(iter(gt.poses[0]))
    video = empty_like(gt, 7)
    for k in (0, 7, 14, 21):
        g = gt.pose(k, tid)
        video.set_pose(k, tid, Pose.manual(g.xy, g.visibility, keyframe=True))
    s = Suggester(skeleton)
    runs, reads = [], []
    run_model = s.run_model
    s.run_model = lambda *a, **kw: (runs.append(1), run_model(*a, **kw))[1]

    class Counting:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def frame(self, i):
            reads.append(i)
            return self.inner.frame(i)

    counted = Counting(frames)
    q = s.quick(video, counted, 24, tid, image=frames.frame(24))
    assert q.pose is not None and q.pose.labelled().sum() >= 10
    assert len(runs) == 1 and reads == []  # the frame's model run only; nothing decoded
    # A learning run stopped after the first keyframe gives no offsets but keeps the model's look there,
    stopped = iter([False, True])
    assert s.learn(video, counted, tid, 24, stop=lambda: next(stopped)) is None
    assert len(runs) == 2
    # which the next first guess then uses; the full learning runs the model on the other three only.
    s.learn(video, counted, tid, 24)
    assert len(runs) == 5


@needs_model
def test_detector_fill_puts_joints_near_the_labels_and_keeps_the_annotators(jhmdb):
    from posewarper_core import autofill

    skeleton, gt, frames = jhmdb
    tid = next(iter(gt.poses[0]))
    video = empty_like(gt, 7)  # the clip with its people, nobody labelled
    for f in (0, 7):
        g = gt.pose(f, tid)
        video.set_pose(f, tid, Pose.manual(g.xy, g.visibility))
    hand = Pose.manual(np.full((17, 2), 5.0), np.r_[np.full(1, 2), np.zeros(16)], keyframe=False)
    video.set_pose(3, tid, hand)  # an annotator's nose on a frame in between
    changes = {(c.frame, c.track_id): c.pose for c in autofill.fill(video, frames, "detector")}
    assert sorted(f for f, _ in changes) == [1, 2, 3, 4, 5, 6]
    p4, g4 = changes[(4, tid)], gt.pose(4, tid)
    m = p4.labelled() & g4.labelled()
    assert p4.method == "detector" and m.sum() >= 10
    assert np.median(np.linalg.norm(p4.xy[m] - g4.xy[m], axis=1)) < 0.1 * max(g4.joint_extent()[2:])
    assert np.allclose(changes[(3, tid)].xy[0], 5.0)


def test_templates_drop_a_whole_pose_at_the_click():
    from posewarper_core.suggest import template

    video = Video(source="x", num_frames=10, width=640, height=480, tracks={})
    std = template.average(video, POSETRACK17, at=(300, 200))  # nothing labelled: a standing person
    assert std.labelled().all() and (std.provenance == Provenance.SUGGESTED).all()
    assert np.allclose(std.xy[POSETRACK17.index("left_hip")][1], 200)
    assert 0.9 * 96 < np.ptp(std.xy[:, 1]) < 1.1 * 96  # a fifth of the frame's height
    xy = np.array([[100 + 2 * j, 50 + 10 * j] for j in range(17)], float)
    vis = np.full(17, 2)
    vis[3:5] = 0
    video.set_pose(2, 1, Pose.manual(xy, vis))
    vis4 = vis.copy()
    vis4[9] = 1  # an occluded wrist on the keyframe the template copies
    video.set_pose(4, 1, Pose.manual(xy + 40, vis4))
    prev = template.from_keyframe(video, 1, 5, at=(0, 0))
    assert np.allclose(prev.xy[prev.labelled()].mean(axis=0), (xy[vis > 0] + 40).mean(axis=0) - _centre_of(xy[vis > 0] + 40))
    assert not prev.labelled()[3:5].any()
    assert prev.visibility[9] == 1 and prev.visibility[10] == 2  # occluded stays occluded
    avg = template.average(video, POSETRACK17, at=(320, 240))
    assert not avg.labelled()[3:5].any() and np.isclose(np.ptp(avg.xy[avg.labelled(), 1]), 160)


def _centre_of(pts):
    return (pts.min(axis=0) + pts.max(axis=0)) / 2


@needs_model
def test_detector_suggests_people_on_a_frame_nobody_is_labelled_in(jhmdb):
    from posewarper_core.suggest import detect_people

    skeleton, gt, frames = jhmdb
    poses, message = detect_people(Suggester(skeleton), frames, 20)
    g = gt.pose(20, next(iter(gt.poses[20])))
    assert poses and not message
    m = poses[0].labelled() & g.labelled()
    assert m.sum() >= 10 and np.median(np.linalg.norm(poses[0].xy[m] - g.xy[m], axis=1)) < 0.1 * max(g.joint_extent()[2:])
    empty, message = detect_people(Suggester(skeleton), Frames([np.zeros((240, 320, 3), np.uint8)]), 0)
    assert empty == [] and "empty" in message


def test_a_suggestion_never_overwrites_a_filled_joint_even_a_doubted_one():
    """Measured on the dev clips: a suggestion over the fill's doubted joints broke more than it
    fixed (place_suggestion's docstring), so filled joints stay, whatever their confidence."""
    from posewarper_core.suggest import place_suggestion

    filled = Pose(xy=np.full((17, 2), 10.0), visibility=np.full(17, 2), provenance=np.full(17, Provenance.PROPAGATED),
                  confidence=np.r_[np.full(5, 0.9), np.full(12, 0.05)].astype(np.float32), method="posewarper")
    filled.visibility[16], filled.provenance[16] = 0, Provenance.NONE  # one joint the fill has not
    sug = Pose(xy=np.full((17, 2), 99.0), visibility=np.full(17, 2), provenance=np.full(17, Provenance.SUGGESTED),
               confidence=np.zeros(17), method="suggestion")
    out = place_suggestion(filled, sug)
    assert (out.xy[:16] == 10).all() and (out.provenance[:16] == Provenance.PROPAGATED).all()
    assert out.provenance[16] == Provenance.SUGGESTED and (out.xy[16] == 99).all()
    assert not out.keyframe  # still a filled pose: its filled joints anchor no fill


def test_a_person_just_added_gets_the_found_person_nobody_is_labelled_as():
    from posewarper_core.suggest import new_person_among

    def person(cx, cy):
        xy = np.array([[cx + dx, cy + dy] for dx, dy in np.random.default_rng(0).uniform(-20, 20, (17, 2))])
        return Pose.manual(xy, np.full(17, 2))

    labelled = person(100, 100)
    found = [person(102, 98), person(300, 100), person(500, 120)]  # best first: the labelled one, then two more
    assert new_person_among(found, [labelled]) is found[1]  # the best not labelled already
    own = Pose.manual(np.array([[495.0, 110.0]] + [[0, 0]] * 16), np.r_[2, np.zeros(16)])  # one joint placed
    assert new_person_among(found, [labelled], own) is found[2]  # the one nearest the joints placed
    assert new_person_among(found[:1], [labelled]) is None


def test_a_suggestion_never_overwrites_a_labelled_joint_and_accepting_makes_it_the_annotators():
    from posewarper_core.suggest import accept, place_suggestion

    mine = Pose.manual(np.full((17, 2), 10.0), np.r_[np.full(3, 2), np.zeros(14)], keyframe=False)
    mine.provenance[2] = Provenance.CORRECTED
    sug = Pose(xy=np.full((17, 2), 99.0), visibility=np.full(17, 2), provenance=np.full(17, Provenance.SUGGESTED),
               confidence=np.zeros(17), method="suggestion")
    placed = place_suggestion(mine, sug)
    assert np.allclose(placed.xy[:3], 10.0) and list(placed.provenance[:3]) == [1, 1, Provenance.CORRECTED]
    assert (placed.provenance[3:] == Provenance.SUGGESTED).all() and placed.keyframe
    one = accept(placed, joints=[5])
    assert one.provenance[5] == Provenance.MANUAL and (one.provenance[6:] == Provenance.SUGGESTED).all()
    everything = accept(placed)
    assert set(everything.provenance.tolist()) == {Provenance.MANUAL, Provenance.CORRECTED} and everything.method is None


def test_a_kept_flow_chain_carries_exactly_as_the_fills_chain_and_resumes_after_a_stop(jhmdb):
    """The chain the GUI extends ahead (stopped part way, resumed later) gives the carried pose the
    fill's one-sided DIS chain gives in one go; an edited keyframe starts a new chain."""
    from posewarper_core.autofill.engine import Span
    from posewarper_core.autofill.flow import FlowMethod
    from posewarper_core.suggest.carry import Carrier

    skeleton, gt, frames = jhmdb
    tid = next(iter(gt.poses[0]))
    video = empty_like(gt, 7)
    g0 = gt.pose(0, tid)
    video.set_pose(0, tid, Pose.manual(g0.xy, g0.visibility, keyframe=True))
    side, _ = FlowMethod("dis").propagate(frames, Span(0, None, 9, 9), [video.pose(0, tid)], None, lambda: None)
    carrier = Carrier(frames)
    calls = []
    got = carrier.extend(video, tid, 0, 9, stop=lambda: calls.append(1) or len(calls) > 3)
    assert got is not None and got[0] == 0 and got[2] == 3  # three frame pairs, then told to stop
    carried = carrier.carry(video, 9, tid, 0)  # resumed from frame 3
    m = g0.labelled()
    np.testing.assert_allclose(carried[m], side.xy[0, 0][m], atol=1e-6)
    assert np.isnan(carried[~m]).all()
    moved = video.pose(0, tid).copy()
    moved.xy[m] += (7.0, 0.0)
    video.set_pose(0, tid, moved)
    again = carrier.carry(video, 9, tid, 0)
    assert np.median(again[m, 0] - carried[m, 0]) > 4  # from the edited keyframe, not the kept chain


@needs_model
def test_a_corrected_keyframe_changes_the_learned_offsets_and_the_next_suggestion(jhmdb):
    skeleton, gt, frames = jhmdb
    tid = next(iter(gt.poses[0]))
    video = empty_like(gt, 7)
    for f in (0, 7):
        g = gt.pose(f, tid)
        video.set_pose(f, tid, Pose.manual(g.xy, g.visibility, keyframe=True))
    kept = Suggester(skeleton)
    before = kept.suggest(video, frames, 14, tid).model
    corrected = video.pose(7, tid).copy()
    corrected.xy[corrected.labelled()] += (5.0, 0.0)  # the annotator moves keyframe 7's joints right
    video.set_pose(7, tid, corrected)
    after = kept.suggest(video, frames, 14, tid).model
    fresh = Suggester(skeleton).suggest(video, frames, 14, tid).model
    ok = np.isfinite(before[:, 0]) & np.isfinite(after[:, 0])
    assert np.median(after[ok, 0] - before[ok, 0]) > 1.0  # the offsets follow the correction
    np.testing.assert_allclose(after, fresh, atol=1e-6)  # as if learned from scratch


@needs_model
def test_the_detector_finds_small_pedestrians_and_says_why_when_it_finds_nobody(shared_data):
    """opencv_vtest.avi's pedestrians are 80-90 px tall in 768 x 576: half-frame tiles find them.
    On a frame with nobody, the message says what size is found and what to do instead."""
    import cv2

    from posewarper_core.suggest import detect_people

    cap = cv2.VideoCapture(str(shared_data / "demo" / "opencv_vtest.avi"))
    ok, bgr = cap.read()
    cap.release()
    assert ok
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    suggester = Suggester(POSETRACK17)
    poses, message = detect_people(suggester, Frames([rgb]), 0)
    assert len(poses) >= 3, message
    for pose in poses:
        x, y, w, h = pose.joint_extent()
        assert 0 <= x and x + w <= 768 and 0 <= y and y + h <= 576 and h < 150  # pedestrians, not the frame
        assert (pose.provenance[pose.labelled()] == Provenance.SUGGESTED).all()
    smooth = np.broadcast_to(np.linspace(0, 255, 768, dtype=np.uint8)[None, :, None], (576, 768, 3)).copy()
    poses, message = detect_people(suggester, Frames([smooth]), 0)
    assert poses == [] and "nobody found on frame 0" in message and "1/6 of the frame's height" in message
    assert "template" in message
