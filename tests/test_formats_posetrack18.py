"""PoseTrack 2018 files: what official files look like imports as expected; bad files give one
FormatError that names the file and the entry, and nothing is written."""
import json
from pathlib import Path

import numpy as np
import pytest

from posewarper_core import POSETRACK17, FormatError, Pose, Provenance, Video, Visibility
from posewarper_core.formats import detect_format, export_videos, import_file, read_posetrack18, write_posetrack18


def official_doc(n_frames=3, labelled=(1,)):
    """A file shaped like the official PoseTrack 2018 val files: 0/1 visibility, large frame ids,
    no image size, file names relative to the dataset root, frames listed out of order."""
    images = [{"file_name": f"images/val/000342_mpii_test/{i:06d}.jpg", "id": 10003420000 + i,
               "frame_id": 10003420000 + i, "vid_id": "000342", "nframes": n_frames, "is_labeled": i in labelled,
               "ignore_regions_x": [], "ignore_regions_y": []} for i in range(n_frames)]
    images.reverse()
    kps = [0.0] * 51
    for j, (x, y) in {0: (10, 20), 1: (12, 30), 5: (30, 40), 6: (0, 0)}.items():
        kps[3 * j: 3 * j + 3] = [x, y, 1]
    annotations = [{"id": 57, "image_id": 10003420001, "track_id": 3, "category_id": 1, "keypoints": kps,
                    "bbox": [1, 2, 30, 40], "bbox_head": [5, 6, 10, 12], "scores": []}]
    images[0]["ignore_regions_x"] = [[1, 50, 50]]
    images[0]["ignore_regions_y"] = [[1, 1, 40]]
    categories = [{"supercategory": "person", "id": 1, "name": "person", "keypoints": list(POSETRACK17.joints),
                   "skeleton": POSETRACK17.coco_skeleton()}]
    return {"images": images, "annotations": annotations, "categories": categories}


def write_frames(root: Path, doc: dict, size=(64, 48)) -> None:
    import cv2

    for img in doc["images"]:
        file = root / img["file_name"]
        file.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(file), np.zeros((size[1], size[0], 3), np.uint8))


@pytest.fixture
def official(tmp_path):
    """posetrack_data/annotations/val/000342_mpii_test.json beside images/val/000342_mpii_test/."""
    doc = official_doc()
    write_frames(tmp_path, doc)
    path = tmp_path / "posetrack_data" / "annotations" / "val" / "000342_mpii_test.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(doc))
    return path


def test_official_layout_imports(official, tmp_path):
    skeleton, video = read_posetrack18(official)
    assert skeleton == POSETRACK17 and detect_format(official) == "posetrack18"
    assert Path(video.source) == tmp_path.resolve()  # file names start at the dataset root
    assert (video.num_frames, video.width, video.height) == (3, 64, 48)  # size read from the frame
    assert video.name == "000342_mpii_test" and video.vid_id == "000342"
    assert [f.frame_id for f in video.frames] == [10003420000, 10003420001, 10003420002]  # sorted, not listed order
    assert video.labelled_frames == {1}  # unlabelled frames are frames too
    assert list(video.ignore_regions) == [2] and video.ignore_regions[2][0].tolist() == [[1, 1], [50, 1], [50, 40]]
    pose = video.pose(1, 3)
    assert list(np.flatnonzero(pose.labelled())) == [0, 1, 5]  # v=1 at exactly (0, 0) means missing
    assert (pose.visibility[pose.labelled()] == Visibility.VISIBLE).all()  # official 1 = labelled
    assert pose.keyframe and (pose.provenance[pose.labelled()] == Provenance.MANUAL).all()
    assert pose.confidence[0] == 1 and pose.confidence[2] == 0
    assert pose.bbox == (1, 2, 30, 40) and pose.head_box == (5, 6, 10, 12)


def test_occlusion_flag_kept_when_the_file_uses_two(official):
    doc = json.loads(official.read_text())
    kps = doc["annotations"][0]["keypoints"]
    kps[2], kps[5] = 2, 1
    official.write_text(json.dumps(doc))
    pose = read_posetrack18(official)[1].pose(1, 3)
    assert pose.visibility[0] == Visibility.VISIBLE and pose.visibility[1] == Visibility.OCCLUDED


def test_export_writes_posetrack_fields(official, tmp_path):
    skeleton, video = read_posetrack18(official)
    out = tmp_path / "out.json"
    summary = write_posetrack18(out, skeleton, video)
    assert summary["images"] == 3 and summary["annotations"] == 1
    doc = json.loads(out.read_text())
    img = doc["images"][1]
    assert img["file_name"] == "images/val/000342_mpii_test/000001.jpg"
    assert (img["id"], img["frame_id"], img["vid_id"], img["nframes"], img["is_labeled"]) == (
        10003420001, 10003420001, "000342", 3, True)
    ann = doc["annotations"][0]
    assert ann["image_id"] == 10003420001 and ann["track_id"] == 3 and len(ann["keypoints"]) == 51
    assert ann["keypoints"][:3] == [10.0, 20.0, 2] and ann["keypoints"][6:9] == [0, 0, 0]
    assert ann["bbox_head"] == [5, 6, 10, 12] and ann["scores"][0] == 1.0 and ann["propagated"] is False
    assert doc["categories"][0]["keypoints"][1:3] == ["head_bottom", "head_top"]
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed into place


def test_several_videos_go_to_a_folder(tmp_path):
    vids = []
    for k in (1, 2):
        (tmp_path / f"v{k}.mp4").write_bytes(b"")
        vids.append(Video(str(tmp_path / f"v{k}.mp4"), 2, 32, 32, video_id=k, name="same name"))
    summary = export_videos(POSETRACK17, vids, tmp_path / "out", "posetrack18")
    assert sorted(Path(f).name for f in summary["files"]) == ["same_name_1.json", "same_name_2.json"]
    assert summary["images"] == 4
    with pytest.raises(FormatError, match="give a folder"):
        export_videos(POSETRACK17, vids, tmp_path / "v1.mp4", "posetrack18")
    # a new name ending in .json is meant as a file (a trial got a folder called e_after_E.json)
    with pytest.raises(FormatError, match=r"give a folder \(this name ends in .json\), or export one video"):
        export_videos(POSETRACK17, vids, tmp_path / "both.json", "posetrack18")
    assert not (tmp_path / "both.json").exists()


def _bad(tmp_path, official, mutate) -> FormatError:
    doc = json.loads(official.read_text())
    mutate(doc)
    official.write_text(json.dumps(doc))
    with pytest.raises(FormatError) as info:
        read_posetrack18(official)
    assert str(official) in str(info.value)
    return info.value


@pytest.mark.parametrize("mutate, entry, message", [
    (lambda d: d["annotations"][0]["keypoints"].pop(), "annotations[0] (id 57)", "keypoints has 50 numbers, expected 51"),
    (lambda d: d["annotations"][0]["keypoints"].__setitem__(0, float("nan")), "annotations[0] (id 57)", "keypoints[0] (x of nose) is NaN"),
    (lambda d: d["annotations"][0]["keypoints"].__setitem__(1, float("inf")), "annotations[0] (id 57)", "is infinite"),
    (lambda d: d["annotations"][0]["keypoints"].__setitem__(15, 5000), "annotations[0] (id 57)", "far outside the 64x48 image"),
    (lambda d: d["annotations"][0]["keypoints"].__setitem__(2, 3), "annotations[0] (id 57)", "must be 0, 1 or 2"),
    (lambda d: d["annotations"][0]["keypoints"].__setitem__(3, True), "annotations[0] (id 57)", "keypoints[3] (x of head_bottom) must be a number, got a boolean"),
    (lambda d: d["annotations"][0]["keypoints"].__setitem__(4, 10**400), "annotations[0] (id 57)", "keypoints[4] (y of head_bottom) is too large"),
    (lambda d: d["annotations"][0]["keypoints"].__setitem__(0, -2e7), "annotations[0] (id 57)", "keypoints[0] (x of nose) is -2e+07, outside ±1e+07"),
    (lambda d: d["annotations"][0].__setitem__("scores", [1] * 16 + ["high"]), "annotations[0] (id 57)", "scores[16] must be a number, got a string"),
    (lambda d: d["annotations"][0].__setitem__("keypoint_provenance", ["manual"] * 16 + [["x"]]), "annotations[0] (id 57)", "keypoint_provenance[16] = ['x'] is not one of"),
    (lambda d: d["annotations"][0].__setitem__("keypoint_provenance", ["Manual"] * 16 + ["guessed"]), "annotations[0] (id 57)", "keypoint_provenance[16] = 'guessed' is not one of"),
    (lambda d: d["annotations"][0].__setitem__("image_id", 5), "annotations[0] (id 57)", "image_id 5 is not in images"),
    (lambda d: d["annotations"][0].__setitem__("category_id", 2), "annotations[0] (id 57)", "category_id 2"),
    (lambda d: d["annotations"][0].__setitem__("track_id", "three"), "annotations[0] (id 57)", "track_id must be an integer, got a string"),
    (lambda d: d["annotations"].append(dict(d["annotations"][0])), "annotations[1] (id 57)", "duplicate annotation id 57"),
    (lambda d: d["annotations"].append(dict(d["annotations"][0], id=58)), "annotations[1] (id 58)", "track 3 already has a pose"),
    (lambda d: d["images"][1].__setitem__("id", d["images"][0]["id"]), "images[1] (id 10003420002)", "duplicate image id"),
    (lambda d: d["images"][1].__setitem__("file_name", "images/val/x/9.jpg"), "images[1] (id 10003420001)", "frame file 'images/val/x/9.jpg' not found"),
    (lambda d: d["images"][0].pop("file_name"), "images[0] (id 10003420002)", "'file_name' is missing"),
    (lambda d: d["images"][0].__setitem__("ignore_regions_y", []), "images[0] (id 10003420002)", "ignore_regions_x has 1 regions"),
    (lambda d: d["images"][2].__setitem__("vid_id", "7"), "images[2] (id 10003420000)", "one video"),
    (lambda d: d["annotations"][0].__setitem__("bbox", [1, 2, -3, 4]), "annotations[0] (id 57)", "negative size"),
    (lambda d: d["categories"][0]["keypoints"].pop(), "categories[0] (id 1)", "skeleton[2] = [17, 15] is outside 1..16"),
    (lambda d: d["categories"][0].update(keypoints=["a", "b"], skeleton=[]), "annotations[0] (id 57)", "keypoints has 51 numbers, expected 6 (2 joints x 3)"),
    (lambda d: d.__setitem__("annotations", {}), None, "'annotations' must be a list, got an object"),
    # another clip's labels over frames whose names match (a trial): the size on disk tells
    (lambda d: [img.update(width=320, height=240) for img in d["images"]], "images[2] (id 10003420000).width/height",
     "gives the images as 320x240, but"),
])
def test_bad_entries_are_named(tmp_path, official, mutate, entry, message):
    err = _bad(tmp_path, official, mutate)
    assert err.entry == entry
    assert message in str(err)


def test_malformed_json_gives_line_and_column(official):
    official.write_text(official.read_text()[:-40])
    with pytest.raises(FormatError, match=r"not valid JSON: .* line 1 column \d+"):
        read_posetrack18(official)
    official.write_text("")
    with pytest.raises(FormatError, match="empty"):
        import_file(official)


def test_check_frames_off_reads_label_files_alone(tmp_path):
    path = tmp_path / "labels_only.json"
    path.write_text(json.dumps(official_doc()))
    with pytest.raises(FormatError, match="not found"):
        read_posetrack18(path)
    _, video = read_posetrack18(path, check_frames=False)
    assert video.num_frames == 3 and video.pose_count() == 1 and video.width == 0


def test_export_refuses_a_bad_pose_and_writes_nothing(tmp_path):
    video = Video(str(tmp_path), 2, 100, 100, frames=None)
    pose = Pose.manual(np.full((17, 2), 50.0), np.full(17, 2))
    pose.xy[4] = (1e6, 5)
    video.set_pose(1, 2, pose)
    out = tmp_path / "out.json"
    with pytest.raises(FormatError) as info:
        write_posetrack18(out, POSETRACK17, video)
    assert info.value.entry == "video 0, frame 1, track 2" and "joint 4" in str(info.value)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    (tmp_path / "v.mp4").write_bytes(b"")
    video = Video(str(tmp_path / "v.mp4"), 2, 100, 100)
    out = tmp_path / "out.json"
    out.write_text("old")

    def fail(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", fail)
    with pytest.raises(FormatError, match="No space left"):
        write_posetrack18(out, POSETRACK17, video)
    assert out.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "v.mp4"]


def test_a_pose_without_a_head_box_gets_one_from_head_top_and_head_bottom(tmp_path):
    """PoseTrack's evaluation reads each person's head size from bbox_head; a trial's export of
    poses made in the tool had none. A square of side |head_top - head_bottom| between the two,
    flagged estimated, which reading leaves out again; a pose lacking either joint gets none."""
    video = Video(str(tmp_path), 2, 100, 100, frames=None)
    xy = np.full((17, 2), 50.0)
    top, bottom = POSETRACK17.index("head_top"), POSETRACK17.index("head_bottom")
    xy[top], xy[bottom] = (40.0, 10.0), (40.0, 26.0)
    video.set_pose(0, 1, Pose.manual(xy, np.full(17, 2)))
    vis = np.full(17, 2)
    vis[top] = 0
    video.set_pose(1, 1, Pose.manual(xy, vis))
    path = tmp_path / "out.json"
    write_posetrack18(path, POSETRACK17, video)
    first, second = json.loads(path.read_text())["annotations"]
    assert first["bbox_head"] == [32.0, 10.0, 16.0, 16.0] and first["bbox_head_estimated"] is True
    assert "bbox_head" not in second
    _, back = read_posetrack18(path, check_frames=False)
    assert back.pose(0, 1).head_box is None  # estimated: not a label to keep
