"""Training: pairs carry the right targets, training lowers the loss and the auto-fill error on a
generated video with known motion, adaptation helps on a project's own keyframes, checkpoints
resume, `posewarper train` writes a model with its provenance, and DDP runs under torchrun."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from posewarper_core import autofill, nets
from posewarper_core.annotation import Pose, Video
from posewarper_core.errors import Cancelled, ModelError, PoseWarperError
from posewarper_core.skeleton import POSETRACK17
from posewarper_core.training import TrainConfig, adapt, load_checkpoint, train
from posewarper_core.training import figures, warps
from posewarper_core.training.recipes import TINY_MODEL
from posewarper_core.training.samples import Augment
from posewarper_core.training.datasets import Mixture, VideoPairs, WarpPairs, keyframe_anchors

SIZE = 128  # generated frames are SIZE x SIZE


def tiny_config():
    """The tiny recipe's model: small enough for tests."""
    return nets.ModelConfig(**TINY_MODEL)


class ArrayFrames:
    """Frames held in memory with the VideoSource reading interface."""

    def __init__(self, frames):
        self.frames = frames
        self.num_frames = len(frames)
        self.height, self.width = frames[0].shape[:2]
        self.fps = 25.0

    def __len__(self):
        return self.num_frames

    def frame(self, i):
        return self.frames[i]


def _base_pose(rng):
    """A standing figure (PoseTrack-17 joints) about 70 px tall near the image centre."""
    xy = np.zeros((17, 2))
    xy[1], xy[2] = (0, -30), (0, -42)
    xy[5], xy[6] = (-10, -26), (10, -26)
    xy[7], xy[8] = (-14, -12), (14, -12)
    xy[9], xy[10] = (-16, 0), (16, 0)
    xy[11], xy[12] = (-7, 2), (7, 2)
    xy[13], xy[14] = (-8, 18), (8, 18)
    xy[15], xy[16] = (-8, 34), (8, 34)
    vis = np.ones(17, bool)
    vis[[0, 3, 4]] = False
    return xy + (SIZE / 2, SIZE / 2 - 4), vis


def _rotate(p, centre, angle):
    c, s = np.cos(angle), np.sin(angle)
    d = p - centre
    return centre + np.array([c * d[0] - s * d[1], s * d[0] + c * d[1]])


def make_clip(num_frames=15, seed=0, stride=7):
    """A figure walking right while swinging its arms and legs over a textured background.

    Returns (video with every frame labelled and keyframes every `stride` frames, frames)."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (SIZE // 8, SIZE // 8, 3)).astype(np.float32)
    bg = np.clip(cv2.resize(noise, (SIZE * 2, SIZE), interpolation=cv2.INTER_CUBIC), 0, 255)
    base, vis = _base_pose(rng)
    style = figures.random_style(rng, 28.0)
    video = Video(source="generated", num_frames=num_frames, width=SIZE, height=SIZE,
                  name=f"generated-{seed}", keyframe_stride=stride)
    frames = []
    for t in range(num_frames):
        xy = base.copy() + (1.2 * t - 8, 0)
        swing = 0.6 * np.sin(t * 0.45)
        for sh, el, wr, sign in ((5, 7, 9, 1), (6, 8, 10, -1)):
            xy[el] = _rotate(xy[el], xy[sh], sign * swing)
            xy[wr] = _rotate(xy[wr], xy[sh], sign * swing * 1.4)
        for hip, knee, ankle, sign in ((11, 13, 15, -1), (12, 14, 16, 1)):
            xy[knee] = _rotate(xy[knee], xy[hip], sign * swing * 0.7)
            xy[ankle] = _rotate(xy[ankle], xy[hip], sign * swing * 0.7)
        shift = int(round(t * 0.6))  # the camera pans a little
        canvas = np.ascontiguousarray(bg[:, shift:shift + SIZE]).astype(np.uint8)
        frames.append(figures.draw_figure(canvas, xy, vis, style))
        pose = Pose.manual(xy, np.where(vis, 2, 0), keyframe=(t % stride == 0 or t == num_frames - 1))
        video.set_pose(t, 1, pose)
    return video, ArrayFrames(frames)


def keyframes_only(video):
    """The annotator's view: only the keyframes are labelled."""
    v = Video(source=video.source, num_frames=video.num_frames, width=video.width, height=video.height,
              name=video.name, keyframe_stride=video.keyframe_stride)
    for f in video.keyframes(1):
        v.set_pose(f, 1, video.pose(f, 1).copy())
    return v


def fill_error(model, config, truth, frames, tmp_path, name):
    """Median pixel error of `posewarper` auto-fill against the generated ground truth."""
    path = tmp_path / f"{name}.pt"
    nets.save_model(path, model, config, {"test": name})
    changes = autofill.fill(keyframes_only(truth), frames, method="posewarper", model_path=path, device="cpu")
    errors = []
    for ch in changes:
        gt = truth.pose(ch.frame, ch.track_id)
        m = gt.labelled() & ch.pose.labelled()
        errors.append(np.linalg.norm(ch.pose.xy[m] - gt.xy[m], axis=1))
    assert errors, "auto-fill filled nothing"
    return float(np.median(np.concatenate(errors)))


def pair_loss(model, dataset):
    """The training loss on every pair of a dataset, in eval mode, without gradients."""
    from torch.utils.data import default_collate

    from posewarper_core.training.loop import heatmap_loss

    model.eval()
    b = default_collate([dataset[i] for i in range(len(dataset))])
    with torch.no_grad():
        pred = model.propagate(b["image_a"], b["image_b"], b["heatmaps_a"])
    return float(heatmap_loss(pred, b["heatmaps_b"], b["weight"]))


# --- pairs carry exact targets ----------------------------------------------------------------

def test_random_warp_moves_points_with_the_image():
    """A random warp's point mapping lands where the image content went."""
    rng = np.random.default_rng(3)
    img = np.zeros((96, 80, 3), np.uint8)
    pts = np.array([[20.0, 30.0], [50.0, 60.0], [40.0, 20.0]])
    for x, y in pts:
        cv2.circle(img, (int(x), int(y)), 3, (255, 255, 255), -1)
    field = warps.random_field((80, 96), rng, amplitude=4.0, joints=pts)
    moved = warps.map_points(field, pts)
    warped = warps.warp_image(img, field)
    assert np.abs(moved - pts).max() > 1.0  # the warp really moved them
    for (x, y) in moved:
        patch = warped[int(round(y)) - 1:int(round(y)) + 2, int(round(x)) - 1:int(round(x)) + 2, 0]
        assert patch.mean() > 150, f"no bright dot at the mapped point ({x:.1f}, {y:.1f})"


def test_video_pairs_crop_both_frames_alike_and_score_joints_labelled_in_both():
    video, frames = make_clip(num_frames=5)
    pose = video.pose(3, 1)
    pose.visibility[9] = 0  # left wrist unlabelled in frame 3
    cfg = tiny_config()
    ds = VideoPairs([(video, frames)], tuple(cfg.input_size), 2.0, delta_range=(1, 2))
    assert len(ds) == 2 * 4 + 2 * 3  # ordered pairs 1 or 2 frames apart
    by_pair = {p[2:]: i for i, p in enumerate(ds.pairs)}
    item = ds[by_pair[(1, 3)]]
    w, h = cfg.input_size
    assert item["image_a"].shape == (3, h, w) and item["heatmaps_b"].shape == (17, h // 4, w // 4)
    assert item["weight"][9] == 0 and item["weight"][5] == 1 and item["weight"][0] == 0
    assert item["heatmaps_a"][0].abs().sum() == 0  # nose never labelled -> empty map


def test_no_pairs_names_the_video():
    video, frames = make_clip(num_frames=3)
    with pytest.raises(PoseWarperError, match="generated-0"):
        VideoPairs([(video, frames)], (64, 64), 2.0, delta_range=(5, 9))


# --- training learns ----------------------------------------------------------------------------

@pytest.mark.slow
def test_training_lowers_loss_and_autofill_error(tmp_path):
    """Trained on a video's labelled neighbouring frames, the network follows the motion: the
    loss falls and `posewarper` auto-fill from keyframes every 7 frames gets closer to the truth."""
    torch.manual_seed(0)
    truth, frames = make_clip(num_frames=15, seed=1)
    cfg = tiny_config()
    model = nets.build_model(cfg)
    before = fill_error(model, cfg, truth, frames, tmp_path, "before")  # untrained = identity warp
    pairs = VideoPairs([(truth, frames)], tuple(cfg.input_size), cfg.sigma, delta_range=(1, 1),
                       aug=Augment.none())
    loss_before = pair_loss(model, pairs)
    train(model, cfg, pairs, TrainConfig(steps=40, batch_size=8, lr=3e-3, warmup_steps=5,
                                         freeze_backbone=False, threads=1))
    loss_after = pair_loss(model, pairs)
    assert loss_after < 0.5 * loss_before, f"loss {loss_before:.5f} -> {loss_after:.5f}"
    after = fill_error(model, cfg, truth, frames, tmp_path, "after")
    assert after < 0.7 * before, f"auto-fill median error {before:.2f} px -> {after:.2f} px"


@pytest.mark.slow
def test_adapt_learns_from_keyframes_and_leaves_input_model(tmp_path):
    torch.manual_seed(0)
    truth, frames = make_clip(num_frames=15, seed=3)
    keys = keyframes_only(truth)
    cfg = tiny_config()
    model = nets.build_model(cfg)
    original = {k: v.clone() for k, v in model.state_dict().items()}
    key_pairs = VideoPairs([(keys, frames)], tuple(cfg.input_size), cfg.sigma, delta_range=(1, 14),
                           aug=Augment.none())
    loss_before = pair_loss(model, key_pairs)
    calls = []
    adapted = adapt(model, cfg, keys, frames, steps=60, batch_size=8, lr=3e-3,
                    progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (60, 60)
    assert all(torch.equal(original[k], v) for k, v in model.state_dict().items())
    loss_after = pair_loss(adapted, key_pairs)
    assert loss_after < 0.8 * loss_before, f"keyframe-pair loss {loss_before:.5f} -> {loss_after:.5f}"
    fill_error(adapted, cfg, truth, frames, tmp_path, "adapted")  # the adapted model fills the video


def test_adapt_can_be_cancelled_and_needs_keyframes():
    truth, frames = make_clip(num_frames=8)
    cfg = tiny_config()
    model = nets.build_model(cfg)
    with pytest.raises(Cancelled):
        adapt(model, cfg, keyframes_only(truth), frames, steps=50, cancel=lambda: True)
    empty = Video(source="x", num_frames=8, width=SIZE, height=SIZE, name="empty-clip")
    with pytest.raises(PoseWarperError, match="keyframe"):
        adapt(model, cfg, empty, frames, steps=5)


# --- checkpoints and the command ------------------------------------------------------------------

def _warp_dataset(cfg, length=64):
    truth, frames = make_clip(num_frames=8)
    anchor, _ = keyframe_anchors([(keyframes_only(truth), frames)])
    return Mixture([WarpPairs(anchor, tuple(cfg.input_size), 2.0, length=length)])


def test_checkpoint_resumes_and_records_provenance(tmp_path):
    cfg = tiny_config()
    ds = _warp_dataset(cfg)
    tc = TrainConfig(steps=4, batch_size=4, checkpoint_every=2, threads=1)
    train(nets.build_model(cfg), cfg, ds, tc, tmp_path, data_provenance={"source": "generated"})
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["step"] == 4 and ckpt["provenance"]["data"] == {"source": "generated"}
    assert ckpt["provenance"]["time"] and "command" in ckpt["provenance"]
    assert ckpt["train_config"]["steps"] == 4
    model, loaded_cfg = nets.load_model(tmp_path / "model.pt")
    assert loaded_cfg == cfg
    # Same folder, more steps: continues from step 4 instead of starting over.
    tc6 = TrainConfig(steps=6, batch_size=4, checkpoint_every=2, threads=1)
    result = train(nets.build_model(cfg), cfg, ds, tc6, tmp_path)
    assert result["steps"] == 6 and len(result["history"]) == 6
    assert load_checkpoint(tmp_path / "checkpoint.pt")["provenance"]["resumed_from_step"] == 4


def test_resume_refuses_a_different_model(tmp_path):
    cfg = tiny_config()
    ds = _warp_dataset(cfg)
    train(nets.build_model(cfg), cfg, ds, TrainConfig(steps=1, batch_size=2, threads=1), tmp_path)
    other = nets.ModelConfig(**{**TINY_MODEL, "input_size": (96, 96)})
    with pytest.raises(ModelError, match="checkpoint.pt"):
        train(nets.build_model(other), other, ds, TrainConfig(steps=2, batch_size=2, threads=1), tmp_path)


def _write_inputs(tmp_path):
    """A tiny background video and a Bonn-style motion file, so the command needs no shared data."""
    video, frames = make_clip(num_frames=10)
    path = tmp_path / "bg.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (SIZE, SIZE))
    for f in frames.frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    names = list(figures.BONN_TO_POSETRACK)
    index = [figures.BONN_TO_POSETRACK[n] for n in names]
    kps = [[[float(x), float(y), 2] for x, y in video.pose(t, 1).xy[index]] for t in range(10)]
    motion = tmp_path / "motion.json"
    motion.write_text(json.dumps({"joint_names": names, "sequences": {"s1": {"persons": [{"id": 0, "keypoints": kps}]}}}))
    return path, motion


def _cli_env():
    return dict(os.environ, OMP_NUM_THREADS="1")


def test_train_command_writes_model_with_provenance(tmp_path):
    from posewarper_core.cli import main

    bg, motion = _write_inputs(tmp_path)
    out = tmp_path / "run"
    code = main(["train", "--recipe", "tiny", "--steps", "3", "--batch-size", "2", "--out", str(out),
                 "--frames", str(bg), "--motion", str(motion), "--threads", "1",
                 "--export", str(tmp_path / "exported.pt")])
    assert code == 0
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["step"] == 3
    assert "--recipe tiny" in ckpt["provenance"]["command"]
    assert "motion.json" in ckpt["provenance"]["data"]["motion"]
    model, cfg = nets.load_model(tmp_path / "exported.pt")
    assert cfg == tiny_config()


def test_train_command_names_a_bad_recipe(capsys):
    from posewarper_core.cli import main

    assert main(["train", "--recipe", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


@pytest.mark.slow
def test_ddp_two_processes_on_cpu(tmp_path):
    """torchrun with two CPU processes (gloo): both train, rank 0 alone writes the checkpoint."""
    bg, motion = _write_inputs(tmp_path)
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "posewarper_core", "train", "--recipe", "tiny", "--steps", "2", "--batch-size", "2", "--out", str(out),
           "--frames", str(bg), "--motion", str(motion), "--threads", "1", "--device", "cpu"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=_cli_env(), timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["step"] == 2 and ckpt["world_size"] == 2
    assert res.stdout.count("trained 2 steps") == 1  # only rank 0 reports


def test_train_command_on_posetrack18_file_resumes_from_a_model(tmp_path):
    """`posewarper train --recipe posetrack --data FILE --init MODEL`: pairs from a PoseTrack18
    file's labelled frames, starting from a model file whose configuration it keeps."""
    from posewarper_core.annotation import FrameRef
    from posewarper_core.cli import main
    from posewarper_core.formats import write_posetrack18

    truth, frames = make_clip(num_frames=6)
    (tmp_path / "frames").mkdir()
    truth.frames = []
    for i, f in enumerate(frames.frames):
        name = f"frames/{i:06d}.png"
        cv2.imwrite(str(tmp_path / name), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        truth.frames.append(FrameRef(name, image_id=10000 + i, frame_id=10000 + i))
    truth.source = str(tmp_path)
    labels = tmp_path / "labels.json"
    write_posetrack18(labels, POSETRACK17, truth)
    cfg = tiny_config()
    nets.save_model(tmp_path / "init.pt", nets.build_model(cfg), cfg, {"test": "init"})
    out = tmp_path / "run"
    code = main(["train", "--recipe", "posetrack", "--data", str(labels), "--init", str(tmp_path / "init.pt"),
                 "--steps", "2", "--batch-size", "2", "--out", str(out), "--threads", "1"])
    assert code == 0
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["provenance"]["data"]["posetrack"] == [str(labels.resolve())]
    assert nets.load_model(out / "model.pt")[1] == cfg


def test_flow_seeded_pairs_start_from_the_flow_and_align_frame_a():
    """A pair where B is A shifted by (3, 2) crop pixels: the seeded input heatmaps sit on B's
    joints (where DIS moved A's), and crop A pulled by the flow looks like crop B."""
    from posewarper_core import heatmaps
    from posewarper_core.training.flow_seeded import FlowSeededPairs, to_uint8
    from posewarper_core.training.recipes import get_recipe
    from posewarper_core.training.samples import pack

    size, shift = (64, 96), np.array([3.0, 2.0])
    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.integers(0, 255, (140, 110, 3)).astype(np.uint8), (0, 0), 2.0)
    crop_a = np.ascontiguousarray(big[20:116, 20:84])
    crop_b = np.ascontiguousarray(big[18:114, 17:81])  # content moves by +3 in x, +2 in y
    xy_a = rng.uniform([16, 24], [48, 72], (17, 2))
    vis = np.ones(17, bool)
    item = pack(crop_a, crop_b, xy_a, vis, xy_a + shift, vis, size, 2.0)

    class One(torch.utils.data.Dataset):
        def __len__(self):
            return 1

        def __getitem__(self, i):
            return item

    seeded = FlowSeededPairs(One(), size, 2.0)[0]
    xy_hm, _ = heatmaps.decode_subpixel(seeded["heatmaps_a"].numpy())
    np.testing.assert_allclose(xy_hm * 4, xy_a + shift, atol=0.5)
    target, _ = heatmaps.decode_subpixel(seeded["heatmaps_b"].numpy())
    np.testing.assert_allclose(target * 4, xy_a + shift, atol=0.3)  # sub-pixel target
    inner = (slice(8, -8), slice(8, -8))
    pulled = to_uint8(seeded["image_a"]).astype(float)[inner]
    unaligned = np.abs(crop_a.astype(float)[inner] - crop_b.astype(float)[inner]).mean()
    assert np.abs(pulled - crop_b.astype(float)[inner]).mean() < 0.3 * unaligned
    assert get_recipe("flowseed").flow_seeded and not get_recipe("default").flow_seeded


def test_adapting_a_flow_seeded_model_keeps_it_flow_seeded(tmp_path):
    """A flow-seeded model adapts on flow-seeded pairs and the adapted file still says so, so
    auto-fill keeps feeding it DIS flow."""
    from posewarper_core.autofill.posewarper_method import PoseWarperMethod
    from posewarper_core.training.adapt import adapt_file, flow_seed

    truth, frames = make_clip(num_frames=8)
    cfg = tiny_config()
    path = nets.save_model(tmp_path / "seeded.pt", nets.build_model(cfg), cfg, provenance={"data": {"seed": "flow"}})
    adapted = adapt_file(path, keyframes_only(truth), frames, out_path=tmp_path / "adapted.pt", steps=3, device="cpu")
    model, _ = nets.load_model(adapted)
    assert flow_seed(model) == "flow"
    assert PoseWarperMethod(adapted, device="cpu").seed == "flow"


def test_motion_from_the_dev_clips_stays_out_of_training(tmp_path):
    """The label-only Bonn set also holds the dev clip's labels: training leaves that sequence
    out (the dev clips are for validation only)."""
    from posewarper_core.training.figures import load_bonn_motion
    from posewarper_core.training.recipes import dev_clip_sequences

    person = {"id": 1, "keypoints": [[[10.0 * j, 5.0 * j, 2] for j in range(14)]] * 10}
    names = ["right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist",
             "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "upper_neck", "head_top"]
    path = tmp_path / "motion.json"
    path.write_text(json.dumps({"joint_names": names, "sequences": {
        "000001": {"persons": [person]}, "060470979": {"persons": [person, person]}}}))
    assert len(load_bonn_motion(path)) == 3
    kept = load_bonn_motion(path, exclude={"060470979"})
    assert [t.name.split("/")[0] for t in kept] == ["000001"]
    from posewarper_core.training.recipes import SHARED_DATA

    if (SHARED_DATA / "dev" / "bonn_060470979").is_dir():
        assert "060470979" in dev_clip_sequences()


class _RunsCode:
    """Pickles to 'call open(marker, "w")': loading it unsafely creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _crafted_checkpoint(folder, marker):
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"model_state": {}, "optimizer_state": {}, "step": 0, "history": [], "payload": _RunsCode(marker)},
               folder / "checkpoint.pt")
    return folder / "checkpoint.pt"


def test_a_crafted_checkpoint_is_refused_and_never_runs_code(tmp_path, capsys):
    """Resuming reads the checkpoint weights-only: one that needs pickle to build an object (here
    a call of open) is refused with a message naming it, and the call never happens."""
    from posewarper_core.cli import main
    from posewarper_core.nets.matcher import MatcherConfig
    from posewarper_core.training.matcher_training import MatcherTraining, train_matcher

    marker = tmp_path / "ran"
    bg, motion = _write_inputs(tmp_path)
    ckpt = _crafted_checkpoint(tmp_path / "run", marker)
    code = main(["train", "--recipe", "tiny", "--steps", "1", "--batch-size", "2", "--out", str(tmp_path / "run"),
                 "--frames", str(bg), "--motion", str(motion), "--threads", "1"])
    err = capsys.readouterr().err
    assert code != 0 and str(ckpt) in err and "refused" in err
    assert not marker.exists()
    with pytest.raises(ModelError, match="refused"):
        load_checkpoint(ckpt)
    assert not marker.exists()
    # the keyframe matcher's training resumes through the same reader
    ckpt = _crafted_checkpoint(tmp_path / "matcher", marker)
    with pytest.raises(ModelError, match="refused") as info:
        train_matcher(MatcherConfig(), None, MatcherTraining(steps=1), tmp_path / "matcher")
    assert str(ckpt) in str(info.value) and not marker.exists()
