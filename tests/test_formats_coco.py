"""COCO keypoints files: exports load and evaluate with pycocotools; foreign files group into
videos sensibly; bad files give one FormatError naming the file and the entry."""
import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from posewarper_core import COCO17, POSETRACK17, FormatError, FrameRef, Pose, Provenance, Skeleton, Video, Visibility
from posewarper_core.formats import detect_format, import_file, read_coco, write_coco


def _video(folder: Path, skeleton: Skeleton, n=4, video_id=1) -> Video:
    folder.mkdir(parents=True, exist_ok=True)
    video = Video(str(folder), n, 200, 100, video_id=video_id, name=folder.name,
                  frames=[FrameRef(f"{i:04d}.jpg", video_id * 1000 + i, None) for i in range(n)])
    for ref in video.frames:
        (folder / ref.file_name).write_bytes(b"")
    rng = np.random.default_rng(video_id)
    for f in range(n):
        for t in (0, 1):
            vis = rng.integers(0, 3, skeleton.num_joints)
            vis[:4] = 2
            video.set_pose(f, t, Pose.manual(rng.uniform(10, 90, (skeleton.num_joints, 2)) + [100 * t, 0], vis))
    return video


@pytest.mark.parametrize("skeleton", [POSETRACK17, COCO17, Skeleton("fly", ("a", "b", "c"), ((0, 1),), sigmas=(0.05,) * 3)])
def test_export_loads_and_evaluates_with_pycocotools(tmp_path, skeleton):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    videos = [_video(tmp_path / "a", skeleton, video_id=1), _video(tmp_path / "b", skeleton, video_id=2)]
    videos[0].ignore_regions[1] = [np.array([[150.0, 0], [199, 0], [199, 99]])]
    out = tmp_path / "gt.json"
    summary = write_coco(out, skeleton, videos)
    assert summary["images"] == 8 and summary["annotations"] == 16 and summary["ignore_regions"] == 1
    doc = json.loads(out.read_text())
    cat = doc["categories"][0]
    assert cat["keypoints"] == list(skeleton.joints) and cat["skeleton"] == skeleton.coco_skeleton()
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(out))
        # detections: the ground truth itself, one joint nudged in one pose
        dts = [{"image_id": a["image_id"], "category_id": 1, "keypoints": list(a["keypoints"]), "score": 0.9}
               for a in doc["annotations"] if not a["iscrowd"]]
        dts[0]["keypoints"][0] += 0.5
        evaluator = COCOeval(gt, gt.loadRes(dts), iouType="keypoints")
        evaluator.params.kpt_oks_sigmas = np.array(skeleton.sigmas)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    assert len(gt.getImgIds()) == 8 and len(gt.getAnnIds(iscrowd=False)) == 16
    assert evaluator.stats[0] == pytest.approx(1.0)
    ann = doc["annotations"][0]
    assert ann["area"] == pytest.approx(ann["bbox"][2] * ann["bbox"][3]) and ann["bbox_estimated"] is True
    assert {"track_id", "num_keypoints", "iscrowd", "scores", "keypoint_provenance", "keyframe"} <= set(ann)


def _foreign_doc():
    """A COCO file from another tool: no video ids, frames in folders, some without tracks."""
    images = [{"id": i + 1, "file_name": f"{clip}/frame{k}.png", "width": 64, "height": 48}
              for i, (clip, k) in enumerate([("runA", 10), ("runA", 2), ("runB", 1), ("runA", 1)])]
    kps = [0] * 51
    kps[0:3] = [5, 6, 1]
    kps[15:18] = [20, 21, 2]
    annotations = [
        {"id": 1, "image_id": 2, "category_id": 1, "keypoints": kps, "num_keypoints": 2, "bbox": [1, 1, 30, 30],
         "area": 900, "iscrowd": 0, "track_id": 4},
        {"id": 2, "image_id": 2, "category_id": 1, "keypoints": kps, "num_keypoints": 2, "area": 1, "iscrowd": 0},
        {"id": 3, "image_id": 2, "category_id": 1, "keypoints": kps, "num_keypoints": 2, "area": 1, "iscrowd": 0},
        {"id": 4, "image_id": 1, "category_id": 1, "iscrowd": 1, "bbox": [0, 0, 10, 5], "area": 50,
         "segmentation": {"counts": "abc", "size": [48, 64]}},
        {"id": 5, "image_id": 3, "category_id": 9, "bbox": [0, 0, 3, 3], "area": 9, "iscrowd": 0},
    ]
    categories = [{"id": 1, "name": "person", "supercategory": "person", "keypoints": list(COCO17.joints),
                   "skeleton": COCO17.coco_skeleton()}, {"id": 9, "name": "ball", "supercategory": "sports"}]
    return {"images": images, "annotations": annotations, "categories": categories}


@pytest.fixture
def foreign(tmp_path):
    doc = _foreign_doc()
    for img in doc["images"]:
        (tmp_path / img["file_name"]).parent.mkdir(exist_ok=True)
        (tmp_path / img["file_name"]).write_bytes(b"")
    path = tmp_path / "person_keypoints.json"
    path.write_text(json.dumps(doc))
    return path


def test_foreign_file_groups_videos_by_folder(foreign, tmp_path):
    assert detect_format(foreign) == "coco"
    skeleton, videos = import_file(foreign)
    assert skeleton == COCO17
    run_a, run_b = videos
    assert (run_a.name, run_a.num_frames, run_b.name, run_b.num_frames) == ("runA", 3, "runB", 1)
    assert [f.file_name for f in run_a.frames] == ["runA/frame1.png", "runA/frame2.png", "runA/frame10.png"]
    assert Path(run_a.source) == tmp_path.resolve() and run_a.labelled_frames == {0, 1, 2}
    assert sorted(run_a.poses[1]) == [4, 5, 6]  # untracked people each get a track of their own
    pose = run_a.pose(1, 4)
    assert pose.visibility[0] == Visibility.OCCLUDED and pose.visibility[5] == Visibility.VISIBLE
    assert pose.bbox == (1, 1, 30, 30) and run_a.pose(1, 5).bbox is None
    assert run_a.ignore_regions[2][0].tolist() == [[0, 0], [10, 0], [10, 5], [0, 5]]  # crowd box
    assert run_b.pose_count() == 0  # the ball is not a person


def test_video_id_attribute_groups_and_frame_id_orders(tmp_path):
    images = [{"id": i, "file_name": f"f{i}.jpg", "width": 8, "height": 8, "video_id": 7 + i % 2,
               "frame_id": 100 - i} for i in range(4)]
    for img in images:
        (tmp_path / img["file_name"]).write_bytes(b"")
    doc = {"images": images, "annotations": [], "categories": [
        {"id": 1, "name": "person", "keypoints": list(POSETRACK17.joints), "skeleton": []}]}
    (tmp_path / "x.json").write_text(json.dumps(doc))
    _, videos = read_coco(tmp_path / "x.json")
    assert [[f.file_name for f in v.frames] for v in videos] == [["f2.jpg", "f0.jpg"], ["f3.jpg", "f1.jpg"]]
    assert [v.video_id for v in videos] == [7, 8]


@pytest.mark.parametrize("mutate, entry, message", [
    (lambda d: d["annotations"][0].__setitem__("category_id", 3), "annotations[0] (id 1)", "category_id 3 is not in categories"),
    (lambda d: d["annotations"][0]["keypoints"].append(1), "annotations[0] (id 1)", "keypoints has 52 numbers, expected 51"),
    (lambda d: d["annotations"][0]["keypoints"].__setitem__(16, 1e300), "annotations[0] (id 1)", "outside"),
    (lambda d: d["annotations"][0].__setitem__("track_id", -2), "annotations[0] (id 1)", "track_id must be at least 0"),
    (lambda d: d["images"][0].__setitem__("width", "64"), "images[0] (id 1)", "width must be an integer, got a string"),
    (lambda d: d["images"][3].__setitem__("file_name", "runA/frame2.png"), "images[3] (id 4)", "duplicate file_name"),
    (lambda d: d["categories"].append(dict(d["categories"][0], id=2, keypoints=["a"], skeleton=[])), "categories[2] (id 2)", "one skeleton per file"),
    (lambda d: d["annotations"][3].__setitem__("segmentation", [[1, 2, 3]]), "annotations[3] (id 4)", "segmentation[0]"),
    (lambda d: d.pop("categories"), None, "'categories' is missing"),
])
def test_bad_entries_are_named(foreign, mutate, entry, message):
    doc = json.loads(foreign.read_text())
    mutate(doc)
    foreign.write_text(json.dumps(doc))
    with pytest.raises(FormatError) as info:
        read_coco(foreign)
    assert info.value.entry == entry and message in str(info.value) and str(foreign) in str(info.value)


def test_missing_frame_is_named(foreign):
    (foreign.parent / "runA" / "frame10.png").unlink()
    with pytest.raises(FormatError, match=r"images\[0\] \(id 1\): frame file 'runA/frame10.png' not found"):
        read_coco(foreign)


def test_auto_provenance_and_method_survive(tmp_path):
    video = _video(tmp_path / "v", POSETRACK17, n=2)
    auto = video.pose(1, 0).copy()
    auto.provenance[auto.labelled()] = Provenance.INTERPOLATED
    auto.confidence[:] = 0.25
    auto.keyframe, auto.method = False, "linear"
    video.set_pose(1, 0, auto)
    write_coco(tmp_path / "out.json", POSETRACK17, [video])
    _, (back,) = read_coco(tmp_path / "out.json")
    assert back.pose(1, 0).same_as(auto) and back.pose(0, 0).same_as(video.pose(0, 0))


def test_labels_stating_another_image_size_than_the_frames_are_refused(foreign):
    """Another clip's labels over frames whose names match: the first frame's size on disk
    differs from the size the file states, and the import says so (nothing is read)."""
    import cv2

    for name in ("frame1.png", "frame2.png", "frame10.png"):
        cv2.imwrite(str(foreign.parent / "runA" / name), np.zeros((48, 64, 3), np.uint8))
    doc = json.loads(foreign.read_text())
    for img in doc["images"]:
        img.update(width=64, height=48)
    foreign.write_text(json.dumps(doc))
    assert import_file(foreign)[1][0].width == 64  # as on disk: read
    for img in doc["images"]:
        img.update(width=320, height=240)
    foreign.write_text(json.dumps(doc))
    with pytest.raises(FormatError, match=r"gives the images as 320x240, but .*frame1.png is 64x48") as err:
        import_file(foreign)
    assert err.value.entry.endswith(".width/height") and str(foreign.name) in str(err.value)
