"""`posewarper bench-effort` end to end on a small generated clip: the simulated annotator's
numbers are those a person would pay, the files are written, bad input is refused."""
from __future__ import annotations

import json

import cv2
import pytest
from test_bench_cli import make_clip

from posewarper_core import effort
from posewarper_core.cli import main
from posewarper_core.evaluation import load_ground_truth

FIELDS = {"strategy", "k", "clicks", "looks", "effort", "residual_error"}


def test_bench_effort_writes_table_json_and_curve(tmp_path, capsys):
    gt = make_clip(tmp_path / "clip", n=13)
    out, png = tmp_path / "effort.json", tmp_path / "curve.png"
    argv = ["bench-effort", "--gt", str(gt), "--strategy", "cvat-like,uniform,guided", "--k", "4,12",
            "--method", "flow", "--json", str(out), "--plot", str(png)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "cvat-like" in text and "guided" in text and "to reach residual <= 2 %" in text
    data = json.loads(out.read_text())
    results = data["results"]
    assert [(r["strategy"], r["k"]) for r in results] == [
        (s, k) for s in ("cvat-like", "uniform", "guided") for k in (4, 12)]
    for r in results:
        assert FIELDS <= set(r)
        assert r["effort"] == r["clicks"] + r["looks"]
        assert 0.0 <= r["residual_error"] <= 1.0
    by = {(r["strategy"], r["k"]): r for r in results}
    # cvat-like: 15 joints on the first keyframe from scratch; every other frame looked at once
    cvat = by[("cvat-like", 4)]
    assert cvat["looks"] == 13 - 4 and cvat["residual_error"] == 0.0 and cvat["clicks"] >= 15
    # the square accelerates off the straight line: flow's proposals make guided's keyframes cheaper
    assert by[("guided", 12)]["clicks"] < by[("cvat-like", 12)]["clicks"]
    img = cv2.imread(str(png))
    assert img is not None and img.shape[0] > 300 and img.std() > 5


def test_the_simulated_annotator_sees_what_is_off_only(shared_data):
    """On a dev clip: the ground truth itself needs no correction and has no residual error; a
    copied-on keyframe costs a click for each joint that moved beyond the tolerance."""
    _, gt, _ = load_ground_truth(shared_data / "dev" / "jhmdb_goal_keeping" / "posetrack18.json")
    a = effort.Annotator(gt)
    assert a.residual_error(gt) == 0.0
    assert a.off_joints(gt.pose(5, 0), 5, 0) == {}
    assert len(a.off_joints(None, 5, 0)) == int(gt.pose(5, 0).labelled().sum())
    pose, clicks = a.label_keyframe(gt.pose(0, 0), 39, 0)
    assert clicks == len(a.off_joints(gt.pose(0, 0), 39, 0)) > 0
    assert a.off_joints(pose, 39, 0) == {}


@pytest.mark.parametrize("argv, message", [
    (["--strategy", "magic"], "unknown strategy magic"),
    (["--k", "1"], "--k needs strides of 2 or more"),
    (["--k", "five"], "--k must be comma-separated whole numbers"),
    (["--json", "/nonexistent/dir/x.json"], "does not exist"),
])
def test_bench_effort_refuses_bad_input(tmp_path, capsys, argv, message):
    gt = make_clip(tmp_path / "clip", n=5, images=False)
    assert main(["bench-effort", "--gt", str(gt), "--method", "linear"] + argv) == 2
    assert message in capsys.readouterr().err


def test_bench_effort_names_a_missing_file(tmp_path, capsys):
    assert main(["bench-effort", "--gt", str(tmp_path / "nope.json")]) == 2
    assert "nope.json: no such ground-truth file" in capsys.readouterr().err


def test_review_done_threshold_is_chosen_on_another_clip(tmp_path, capsys):
    gt = make_clip(tmp_path / "clip", n=13)
    train = tmp_path / "train.json"
    assert main(["bench-effort", "--gt", str(gt), "--strategy", "uniform,guided", "--k", "6", "--method", "flow",
                 "--stop", "0.25", "--json", str(train)]) == 0
    results = json.loads(train.read_text())["results"]
    chosen = effort.choose_stop(results, 0.25)
    assert chosen >= 0.25
    assert all(effort.result_at(r, chosen)["residual_error"] <= 0.02 for r in results)
    out = tmp_path / "test.json"
    assert main(["bench-effort", "--gt", str(gt), "--strategy", "uniform", "--k", "6", "--method", "flow",
                 "--stop-from", str(train), "--json", str(out)]) == 0
    assert f"review done below {chosen} (chosen on {train})" in capsys.readouterr().out
    assert json.loads(out.read_text())["stop_below"] == chosen
    (tmp_path / "bad.json").write_text("{}")
    assert main(["bench-effort", "--gt", str(gt), "--stop-from", str(tmp_path / "bad.json")]) == 2
    assert "bad.json: not a bench-effort JSON file" in capsys.readouterr().err


def test_keyframe_suggestions_save_keyframe_clicks(tmp_path):
    """uniform-suggested shows each keyframe after the person's first the keyframe suggestion (the
    pose carried from the previous keyframe, and the pose model where it is installed); on the
    drifting square the copied previous pose (uniform) is off by more than the tolerance at every
    keyframe, the carried one is not. The clicks before review are the keyframes' clicks."""
    gt_path = make_clip(tmp_path / "clip", n=13)
    skeleton, gt, open_source = load_ground_truth(gt_path)
    frames = open_source()
    keyframe_clicks = {}
    for strategy in ("uniform", "uniform-suggested"):
        run = effort.simulate(gt, frames, "flow", strategy, 4, skeleton=skeleton).result()
        keyframe_clicks[strategy] = run["curve"][0][3]
        assert run["keyframes"] == 4
    labelled = int(gt.pose(0, 0).labelled().sum())
    assert keyframe_clicks["uniform"] == 4 * labelled  # every copied joint is off
    assert keyframe_clicks["uniform-suggested"] <= labelled + 3  # the first keyframe from scratch, the rest carried
