"""Derived clips (posewarper derive-clip): written where the user says, re-read, joints where the
pixels put them; never written into the source clip's folder."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from posewarper_core.cli import main
from posewarper_core.derived_clips import write_derived_clip
from posewarper_core.errors import OutputError, PoseWarperError
from posewarper_core.evaluation import load_ground_truth
from posewarper_core.skeleton import POSETRACK17
from test_bench_cli import make_clip

LEFT_WRIST, RIGHT_WRIST = POSETRACK17.index("left_wrist"), POSETRACK17.index("right_wrist")


def read_rgb(path):
    return cv2.imread(str(path))[..., ::-1]


def test_mirror_pair_is_re_read_with_the_mirrored_person_a_second_track(tmp_path):
    gt_path = make_clip(tmp_path / "clip")
    _, src, _ = load_ground_truth(gt_path)
    r = write_derived_clip(gt_path, tmp_path / "pair", mirror_pair=True)
    skeleton, pair, _ = load_ground_truth(tmp_path / "pair" / "posetrack18.json")
    w = src.width
    assert pair.num_frames == src.num_frames and pair.height == src.height
    assert pair.width == r["width"] == 2 * w - r["overlap"] and 0 <= r["overlap"] <= w
    assert sorted(pair.tracks) == [0, 1] and pair.tracks[1].name == "mirror of person 0"
    # The people stand close: boxes touch on about half the frames (the overlap is a median).
    assert r["touching_frames"] >= pair.num_frames / 2
    x_orig, x_mirror = (0, w - r["overlap"]) if r["mirror_side"] == "right" else (w - r["overlap"], 0)
    for f in range(src.num_frames):
        s, a, b = src.pose(f, 0), pair.pose(f, 0), pair.pose(f, 1)
        np.testing.assert_allclose(a.xy[a.labelled()], s.xy[s.labelled()] + [x_orig, 0], atol=1e-3)
        assert a.head_box[0] == pytest.approx(s.head_box[0] + x_orig, abs=1e-3)
        # The mirror's left wrist is the source's right wrist, mirrored: x -> w - 1 - x.
        assert b.xy[LEFT_WRIST, 0] == pytest.approx(x_mirror + w - 1 - s.xy[RIGHT_WRIST, 0], abs=1e-3)
        assert b.xy[LEFT_WRIST, 1] == pytest.approx(s.xy[RIGHT_WRIST, 1], abs=1e-3)
        assert b.labelled().sum() == s.labelled().sum()
    # The pixels: the original person is in front, whole; the mirrored one is the mirrored source
    # where the original does not cover it (checked on the last frame's person centres).
    f = src.num_frames - 1
    frame = read_rgb(tmp_path / "pair" / pair.frames[f].file_name)
    source = read_rgb(gt_path.parent / src.frames[f].file_name)
    s = src.pose(f, 0)
    cx, cy = np.rint(s.xy[s.labelled()].mean(axis=0)).astype(int)
    assert np.abs(frame[cy, cx + x_orig].astype(int) - source[cy, cx]).max() <= 2
    b = pair.pose(f, 1)
    if not (b.visibility[b.labelled()] == 1).any():
        mx = x_mirror + (w - 1 - cx)
        assert np.abs(frame[cy, mx].astype(int) - source[cy, cx]).max() <= 2


def test_every_n_keeps_every_nth_frame_and_its_labels(tmp_path):
    gt_path = make_clip(tmp_path / "clip")
    _, src, _ = load_ground_truth(gt_path)
    r = write_derived_clip(gt_path, tmp_path / "every3", every=3)
    _, fast, _ = load_ground_truth(tmp_path / "every3" / "posetrack18.json")
    kept = list(range(0, src.num_frames, 3))
    assert r["frames"] == fast.num_frames == len(kept) and fast.width == src.width
    for i, f in enumerate(kept):
        np.testing.assert_allclose(fast.pose(i, 0).xy, src.pose(f, 0).xy, atol=1e-3)
        assert np.array_equal(read_rgb(tmp_path / "every3" / fast.frames[i].file_name),
                              read_rgb(gt_path.parent / src.frames[f].file_name))  # PNG: lossless


def test_refuses_the_source_folder_and_a_folder_with_frames(tmp_path, capsys):
    gt_path = make_clip(tmp_path / "clip")
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "clip").rglob("*"))
    for out in (tmp_path / "clip", tmp_path / "clip" / "derived"):
        with pytest.raises(OutputError, match="source clip's folder"):
            write_derived_clip(gt_path, out, mirror_pair=True)
    assert main(["derive-clip", "--gt", str(gt_path), "--out", str(tmp_path / "clip" / "x"), "--every", "2"]) == 2
    assert "never written beside its source" in capsys.readouterr().err
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "clip").rglob("*")) == before
    with pytest.raises(PoseWarperError, match="nothing to derive"):
        write_derived_clip(gt_path, tmp_path / "out")
    with pytest.raises(PoseWarperError, match="--every must be 1 or more, got 0"):
        write_derived_clip(gt_path, tmp_path / "out", every=0)
    assert not (tmp_path / "out").exists()
    assert main(["derive-clip", "--gt", str(gt_path), "--out", str(tmp_path / "out"), "--mirror-pair"]) == 0
    assert "2 tracks; mirror on the" in capsys.readouterr().out
    with pytest.raises(OutputError, match="not empty"):
        write_derived_clip(gt_path, tmp_path / "out", every=2)


def test_every_n_and_the_mirror_pair_together(tmp_path):
    gt_path = make_clip(tmp_path / "clip")
    _, src, _ = load_ground_truth(gt_path)
    r = write_derived_clip(gt_path, tmp_path / "both", every=2, mirror_pair=True)
    _, out, _ = load_ground_truth(tmp_path / "both" / "posetrack18.json")
    assert out.num_frames == r["frames"] == len(range(0, src.num_frames, 2)) and sorted(out.tracks) == [0, 1]
    x_orig = 0 if r["mirror_side"] == "right" else src.width - r["overlap"]
    np.testing.assert_allclose(out.pose(3, 0).xy[out.pose(3, 0).labelled()],
                               src.pose(6, 0).xy[src.pose(6, 0).labelled()] + [x_orig, 0], atol=1e-3)


def test_demo_clip_is_written_with_its_labels_and_head_boxes_and_re_read(tmp_path, capsys):
    from posewarper_core.demo_clip import load_labels
    from posewarper_core.evaluation import reference_kind
    from posewarper_core.resources import DEMO_DIR
    from posewarper_core.video import open_video

    out = tmp_path / "demo_clip"
    assert main(["derive-clip", "--demo", "--out", str(out)]) == 0
    assert "230 frames of 1768x994, 38 labelled poses" in capsys.readouterr().out
    skeleton, gt, open_source = load_ground_truth(out / "posetrack18.json")
    labels = load_labels()
    assert gt.num_frames == 230 and reference_kind(gt) == "head"
    assert sorted(gt.poses) == sorted(int(f) for f in labels["poses"])
    top, bottom = skeleton.index("head_top"), skeleton.index("head_bottom")
    for frame, by_track in labels["poses"].items():
        for tid, joints in by_track.items():
            pose = gt.pose(int(frame), int(tid))
            for name, (x, y, v) in joints.items():
                assert pose.xy[skeleton.index(name)] == pytest.approx([x, y], abs=0.01)
                assert pose.visibility[skeleton.index(name)] == v
            assert pose.labelled().sum() == len(joints)
            side = pose.head_box[2]
            if {"head_top", "head_bottom"} <= set(joints):
                assert side == pytest.approx(float(np.linalg.norm(pose.xy[top] - pose.xy[bottom])), abs=0.01)
            else:  # the person's head size on their nearest frame with a head
                assert side > 20
    # the frames are the clip's own (JPEG: within a few grey levels)
    with open_video(DEMO_DIR / labels["video"]) as video, open_source() as frames:
        diff = np.abs(video.frame(120).astype(int) - frames.frame(120).astype(int))
        assert frames.frame(120).shape == (994, 1768, 3) and diff.mean() < 3


def test_demo_clip_is_never_written_beside_the_demo_and_takes_no_other_options(tmp_path, capsys):
    from posewarper_core.demo_clip import write_demo_clip
    from posewarper_core.resources import DEMO_DIR

    with pytest.raises(OutputError, match="inside the source clip's folder"):
        write_demo_clip(DEMO_DIR / "clip")
    assert not (DEMO_DIR / "clip").exists()
    assert main(["derive-clip", "--demo", "--out", str(tmp_path / "x"), "--every", "2"]) != 0
    assert "leave out --every and --mirror-pair" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
