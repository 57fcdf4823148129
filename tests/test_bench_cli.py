"""`posewarper bench` end to end on a small generated clip, and its refusals of bad input."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from posewarper_core.cli import main
from posewarper_core.skeleton import POSETRACK17

KEYS = {"reference", "at_0.5", "at_0.2", "median_error_px", "scored_joints", "person_frames_per_second",
        "setup_seconds", "confidence_auroc", "off_joints", "confidence_auroc_at_0.2"}
GROUPS = {"Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean"}


def make_clip(folder, n=13, size=(120, 96), images=True):
    """A textured square drifting over a textured background, with a 'person' whose joints sit
    on the square, written as a PoseTrack18 file with file_names relative to it."""
    rng = np.random.default_rng(7)
    w, h = size
    bg = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3)).astype(np.uint8), (0, 0), 1.5)
    tex = cv2.GaussianBlur(rng.integers(0, 255, (40, 40, 3)).astype(np.uint8), (0, 0), 1.2)
    local = rng.uniform(6, 34, (17, 2))
    (folder / "frames").mkdir(parents=True)
    imgs, anns = [], []
    for t in range(n):
        ox, oy = 20 + 0.25 * t * t, 20 + 1.0 * t
        m = np.float32([[1, 0, ox], [0, 1, oy]])
        layer = cv2.warpAffine(tex, m, (w, h))
        mask = cv2.warpAffine(np.ones((40, 40), np.float32), m, (w, h))[..., None]
        name = f"frames/{t:06d}.png"
        if images:
            cv2.imwrite(str(folder / name), (layer * mask + bg * (1 - mask)).astype(np.uint8))
        imgs.append({"file_name": name, "id": 1000 + t, "frame_id": 1000 + t, "vid_id": "1", "nframes": n,
                     "is_labeled": True, "width": w, "height": h})
        kp = np.concatenate([local + (ox, oy), np.full((17, 1), 2.0)], axis=1)
        kp[3:5] = 0  # ears are never labelled in PoseTrack
        anns.append({"id": t + 1, "image_id": 1000 + t, "track_id": 0, "category_id": 1,
                     "keypoints": kp.ravel().round(3).tolist(), "bbox": [ox, oy, 40, 40],
                     "bbox_head": [ox + 10, oy, 12, 10]})
    cat = {"id": 1, "name": "person", "supercategory": "person", "keypoints": list(POSETRACK17.joints),
           "skeleton": POSETRACK17.coco_skeleton()}
    gt = folder / "gt.json"
    gt.write_text(json.dumps({"images": imgs, "annotations": anns, "categories": [cat]}))
    return gt


def test_bench_writes_the_agreed_json(tmp_path, capsys):
    gt = make_clip(tmp_path / "clip")
    out = tmp_path / "bench.json"
    assert main(["bench", "--gt", str(gt), "--k", "4", "--method", "linear,flow", "--refine", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "linear" in table and "flow" in table and "Mean" in table
    assert "ground truth: 0 of 165 labels flagged by `posewarper check`, 0 of them on the kept keyframes" in table
    data = json.loads(out.read_text())
    assert set(data) == {"linear", "flow", "linear+refine", "flow+refine"}
    for r in data.values():
        assert set(r) == KEYS
        assert r["reference"] == "head"
        assert set(r["at_0.5"]) == GROUPS and set(r["at_0.2"]) == GROUPS
        assert r["scored_joints"] == 9 * 15  # 9 filled frames, 15 labelled joints
        assert r["person_frames_per_second"] > 0
    # the square accelerates: flow follows it, the straight line does not
    assert data["flow"]["median_error_px"] < 0.5 < data["linear"]["median_error_px"]
    assert data["flow"]["at_0.2"]["Mean"] >= data["linear"]["at_0.2"]["Mean"]


def run_error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    return err


def test_bench_refuses_bad_input(tmp_path, capsys, monkeypatch):
    gt = make_clip(tmp_path / "clip", n=6)
    out = tmp_path / "out.json"
    assert "at least 2" in run_error(capsys, ["bench", "--gt", str(gt), "--k", "1", "--json", str(out)])
    missing = tmp_path / "none.pt"
    err = run_error(capsys, ["bench", "--gt", str(gt), "--k", "3", "--method", "posewarper", "--model", str(missing)])
    assert "none.pt" in err
    # Without --model the shipped default is used; if it has gone missing, the error names it.
    from posewarper_core import resources

    monkeypatch.setattr(resources, "DEFAULT_MODEL", tmp_path / "gone" / "posewarper_default.pt")
    err = run_error(capsys, ["bench", "--gt", str(gt), "--k", "3", "--method", "posewarper"])
    assert "posewarper_default.pt" in err and "missing" in err
    assert "unknown method" in run_error(capsys, ["bench", "--gt", str(gt), "--k", "3", "--method", "magic"])
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    assert "empty.json" in run_error(capsys, ["bench", "--gt", str(empty), "--k", "3", "--method", "linear"])
    assert "nothing.json" in run_error(capsys, ["bench", "--gt", str(tmp_path / "nothing.json"), "--k", "3",
                                                "--method", "linear"])
    assert not out.exists()


def test_bench_adapt_without_a_learned_method_says_so(tmp_path, capsys):
    gt = make_clip(tmp_path / "clip", n=6)
    assert main(["bench", "--gt", str(gt), "--k", "3", "--method", "linear", "--adapt"]) == 0
    assert "--adapt only affects learned methods" in capsys.readouterr().out


def test_mismatched_model_file_is_a_clear_error(tmp_path, capsys):
    from posewarper_core import nets

    if not hasattr(nets, "load_model"):
        pytest.skip("the network (posewarper_core.nets) is not there yet")
    gt = make_clip(tmp_path / "clip", n=6)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    err = run_error(capsys, ["bench", "--gt", str(gt), "--k", "3", "--method", "posewarper", "--model", str(bad)])
    assert "bad.pt" in err


def test_bench_each_person_fills_person_by_person_and_scores_every_person(tmp_path):
    gt = make_clip(tmp_path / "clip")
    data = json.loads(gt.read_text())
    second = []
    for a in data["annotations"]:  # a second person on the same square, joints 2 px apart
        kp = np.array(a["keypoints"], float).reshape(17, 3)
        kp[kp[:, 2] > 0, :2] += 2.0
        second.append({**a, "id": a["id"] + 100, "track_id": 1, "keypoints": kp.ravel().round(3).tolist()})
    data["annotations"] += second
    gt.write_text(json.dumps(data))
    together, each = tmp_path / "together.json", tmp_path / "each.json"
    assert main(["bench", "--gt", str(gt), "--k", "4", "--method", "linear", "--json", str(together)]) == 0
    assert main(["bench", "--gt", str(gt), "--k", "4", "--method", "linear", "--each-person", "--json", str(each)]) == 0
    a, b = json.loads(together.read_text())["linear"], json.loads(each.read_text())["linear"]
    assert b["scored_joints"] == 2 * 9 * 15  # both people, every filled frame
    for key in ("at_0.5", "at_0.2", "median_error_px", "confidence_auroc"):
        assert a[key] == b[key]  # the straight line does not depend on who is filled with whom
