"""Export -> import gives back the model exactly, in both formats, for random videos; and the
dev clips' PoseTrack files import with their frames on disk and survive import -> export -> import."""
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posewarper_core import COCO17, POSETRACK17, FrameRef, Pose, Provenance, Skeleton, Track, Video
from posewarper_core.errors import FormatError
from posewarper_core.formats import export_videos, import_file, read_coco, read_posetrack18, write_coco, write_posetrack18

TINY = Skeleton("fly", ("head", "thorax", "tail"), ((0, 1), (1, 2)), flip_pairs=(), sigmas=(0.03, 0.05, 0.07))
AUTO = (Provenance.PROPAGATED, Provenance.INTERPOLATED)
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)


def assert_same_video(a: Video, b: Video) -> None:
    """Equal in every field the formats carry (poses compared with Pose.same_as)."""
    for field in ("num_frames", "width", "height", "fps", "name", "video_id", "keyframe_stride", "vid_id",
                  "frames", "labelled_frames"):
        assert getattr(a, field) == getattr(b, field), field
    assert Path(a.source).resolve() == Path(b.source).resolve()
    assert {f: r for f, r in a.ignore_regions.items() if r}.keys() == b.ignore_regions.keys()
    for f, regions in b.ignore_regions.items():
        assert len(regions) == len(a.ignore_regions[f])
        for ra, rb in zip(a.ignore_regions[f], regions):
            assert np.array_equal(np.asarray(ra, float).reshape(-1, 2), rb)
    assert a.tracks == b.tracks
    assert {f: set(p) for f, p in a.poses.items() if p} == {f: set(p) for f, p in b.poses.items()}
    for f, by_track in b.poses.items():
        for t, pose in by_track.items():
            assert a.poses[f][t].same_as(pose, atol=0), (f, t)


@st.composite
def poses(draw, skeleton: Skeleton, width: int, height: int) -> Pose:
    n = skeleton.num_joints
    vis = np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), np.uint8)
    coord = st.floats(-0.4, 1.4, allow_nan=False)
    xy = np.array([[draw(coord) * width, draw(coord) * height] for _ in range(n)])
    # Every provenance an export writes (SUGGESTED joints are never exported: test_suggest.py).
    kinds = [p for p in Provenance if p not in (Provenance.NONE, Provenance.SUGGESTED)]
    prov = np.array([draw(st.sampled_from(kinds)) if v else Provenance.NONE for v in vis], np.uint8)
    conf = np.array(draw(st.lists(st.floats(0, 1, width=32), min_size=n, max_size=n)), np.float32)
    box = st.none() | st.tuples(*[st.floats(-50, 2000, allow_nan=False)] * 2, *[st.floats(0, 900)] * 2)
    return Pose(np.where(vis[:, None] > 0, xy, 0.0), vis, prov, conf, keyframe=draw(st.booleans()),
                method=draw(st.none() | st.sampled_from(["posewarper", "linear", "flow-dis"])),
                bbox=draw(box), head_box=draw(box), reviewed=draw(st.booleans()))


@st.composite
def videos(draw) -> tuple[Skeleton, Video]:
    skeleton = draw(st.sampled_from([POSETRACK17, COCO17, TINY]))
    n = draw(st.integers(1, 6))
    w, h = draw(st.integers(16, 1920)), draw(st.integers(16, 1080))
    video = Video(
        source="", num_frames=n, width=w, height=h, fps=draw(st.none() | st.floats(1, 240)),
        name=draw(text), video_id=draw(st.integers(1, 9)), keyframe_stride=draw(st.integers(1, 30)),
        vid_id=draw(st.none() | st.from_regex(r"[0-9]{1,8}", fullmatch=True)),
        labelled_frames=set(draw(st.lists(st.integers(0, n - 1), max_size=n))),
    )
    if draw(st.booleans()):
        base = draw(st.integers(0, 10**11))
        ids = sorted(draw(st.sets(st.integers(base, base + 10**6), min_size=n, max_size=n)))
        video.frames = [FrameRef(f"img/{i:03d}.jpg", ids[i], ids[i]) for i in range(n)]
    point = st.tuples(st.floats(-100, w + 100), st.floats(-100, h + 100))
    for f in draw(st.sets(st.integers(0, n - 1), max_size=2)):
        video.ignore_regions[f] = [np.array(draw(st.lists(point, min_size=3, max_size=5)))
                                   for _ in range(draw(st.integers(1, 2)))]
    for tid in draw(st.sets(st.integers(0, 1000), max_size=3)):
        video.tracks[tid] = Track(tid, draw(text))
        for f in draw(st.sets(st.integers(0, n - 1), max_size=n)):
            pose = draw(poses(skeleton, w, h))
            if not pose.is_absent_mark():  # "not in view" marks are never exported (test_absent_mark.py)
                video.set_pose(f, tid, pose)
    return skeleton, video


def _with_frames_on_disk(video: Video, folder: Path) -> None:
    """Give the video a real source: its frame files, or a video file it stands for."""
    if video.frames is not None:
        (folder / "img").mkdir()
        for ref in video.frames:
            (folder / ref.file_name).write_bytes(b"")
        video.source = str(folder)
    else:
        (folder / "clip.mp4").write_bytes(b"")
        video.source = str(folder / "clip.mp4")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(videos(), st.sampled_from(["posetrack18", "coco"]))
def test_export_then_import_restores_the_model(case, fmt):
    skeleton, video = case
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _with_frames_on_disk(video, tmp)
        out = tmp / "out" / "a.json"
        if fmt == "posetrack18":
            write_posetrack18(out, skeleton, video)
            skel2, back = read_posetrack18(out)
        else:
            write_coco(out, skeleton, [video])
            skel2, (back,) = read_coco(out)
        assert skel2 == skeleton
        assert_same_video(video, back)
        # import -> export -> import: the second export is the same file as the first
        again = tmp / "out" / "b.json"
        export_videos(skel2, [back], again, fmt, images="all")  # as write_coco: every frame an image
        a, b = json.loads(out.read_text()), json.loads(again.read_text())
        a.pop("info", None), b.pop("info", None)
        assert a == b
        assert_same_video(back, import_file(again)[1][0])


def test_two_videos_in_one_coco_file_stay_apart(tmp_path):
    vids = []
    for k in (1, 2):
        folder = tmp_path / f"clip{k}"
        folder.mkdir()
        video = Video(str(folder), 3, 64, 48, video_id=k, name=f"clip{k}",
                      frames=[FrameRef(f"{i}.jpg", 100 * k + i, None) for i in range(3)])
        _touch(folder, video)
        video.set_pose(1, 7, Pose.manual(np.full((17, 2), 10.0 * k), np.full(17, 2)))
        vids.append(video)
    write_coco(tmp_path / "both.json", POSETRACK17, vids)
    _, back = read_coco(tmp_path / "both.json")
    assert [v.name for v in back] == ["clip1", "clip2"]
    assert back[1].pose(1, 7).xy[0, 0] == 20.0
    assert Path(back[1].source) == tmp_path / "clip2"


def _touch(folder: Path, video: Video) -> None:
    for ref in video.frames:
        (folder / ref.file_name).write_bytes(b"")


def keyframe_and_filled(tmp_path) -> tuple[Video, Pose, Pose]:
    """A 4-frame video (its file empty), a keyframe pose and the same pose as auto-filled."""
    video = Video(str(tmp_path / "clip.mp4"), 4, 100, 100)
    (tmp_path / "clip.mp4").write_bytes(b"")
    key = Pose.manual(np.full((17, 2), 50.0), np.full(17, 2))
    filled = key.copy()
    filled.provenance[:] = Provenance.PROPAGATED
    filled.keyframe, filled.method = False, "posewarper"
    return video, key, filled


def test_without_auto_leaves_auto_joints_and_auto_only_poses_out(tmp_path):
    video, key, auto = keyframe_and_filled(tmp_path)
    mixed = auto.copy()
    mixed.provenance[3] = Provenance.CORRECTED
    video.set_pose(0, 1, key)
    video.set_pose(1, 1, auto)
    video.set_pose(2, 1, mixed)
    for fmt in ("posetrack18", "coco"):
        full = export_videos(POSETRACK17, [video], tmp_path / f"all_{fmt}.json", fmt)
        assert full["auto_poses"] == 2 and full["left_out_auto"] == 0
        doc = json.loads((tmp_path / f"all_{fmt}.json").read_text())
        marked = [a for a in doc["annotations"] if a.get("propagated")]
        assert len(marked) == 2 and marked[0]["method"] == "posewarper"
        assert marked[0]["keypoint_provenance"][0] == "propagated"

        summary = export_videos(POSETRACK17, [video], tmp_path / f"gt_{fmt}.json", fmt, include_auto=False,
                                images="all")
        assert summary["annotations"] == 2 and summary["left_out_auto"] == 1
        _, (back,) = import_file(tmp_path / f"gt_{fmt}.json")
        assert back.pose(1, 1) is None
        assert back.pose(0, 1).same_as(key)
        assert list(np.flatnonzero(back.pose(2, 1).labelled())) == [3]
        assert back.pose(2, 1).provenance[3] == Provenance.CORRECTED
        gt = json.loads((tmp_path / f"gt_{fmt}.json").read_text())
        assert [img["is_labeled"] for img in gt["images"]] == [True, False, True, False]
        assert back.labelled_frames == set()  # as declared in the model: labelled only by its poses


def test_reviewed_only_writes_the_filled_poses_an_annotator_accepted(tmp_path):
    """include_auto="reviewed": a reviewed filled pose is written whole, an unreviewed one is left out
    whole, even with a joint corrected by hand; "all" and "none" are True and False."""
    video, key, doubtful = keyframe_and_filled(tmp_path)
    accepted = doubtful.copy()
    accepted.xy[:, 0] += 5
    accepted.reviewed = True
    touched = doubtful.copy()  # unreviewed, one joint moved by hand: left out whole (one joint is no pose)
    touched.provenance[3] = Provenance.CORRECTED
    video.set_pose(0, 1, key)
    video.set_pose(1, 1, accepted)
    video.set_pose(2, 1, doubtful)
    video.set_pose(3, 1, touched)
    for fmt in ("posetrack18", "coco"):
        path = tmp_path / f"reviewed_{fmt}.json"
        summary = export_videos(POSETRACK17, [video], path, fmt, include_auto="reviewed", images="all")
        assert summary["auto"] == "reviewed"
        assert summary["annotations"] == 2 and summary["auto_poses"] == 1 and summary["left_out_auto"] == 2
        _, (back,) = import_file(path)
        assert back.pose(0, 1).same_as(key)
        assert back.pose(1, 1).same_as(accepted) and back.pose(1, 1).reviewed
        assert back.pose(2, 1) is None
        assert back.pose(3, 1) is None
        assert json.loads(path.read_text())["posewarper"]["include_auto"] == "reviewed"
        for old, new in ((True, "all"), (False, "none")):
            a = export_videos(POSETRACK17, [video], tmp_path / "a.json", fmt, include_auto=old)
            b = export_videos(POSETRACK17, [video], tmp_path / "b.json", fmt, include_auto=new)
            assert {k: v for k, v in a.items() if k not in ("path", "files")} == \
                {k: v for k, v in b.items() if k not in ("path", "files")}
            assert import_file(tmp_path / "a.json")[1][0].pose_count() == import_file(tmp_path / "b.json")[1][0].pose_count()
        with pytest.raises(FormatError, match="choose from all, reviewed, none"):
            export_videos(POSETRACK17, [video], tmp_path / "bad.json", fmt, include_auto="some")
        assert not (tmp_path / "bad.json").exists()


@pytest.mark.parametrize("clip", ["bonn_060470979", "jhmdb_goal_keeping"])
def test_dev_clips_import_with_their_frames(shared_data, clip, tmp_path):
    path = shared_data / "dev" / clip / "posetrack18.json"
    skeleton, video = read_posetrack18(path)
    raw = json.loads(path.read_text())
    assert skeleton == POSETRACK17
    assert video.num_frames == len(raw["images"]) == len(list((path.parent / "frames").iterdir()))
    assert Path(video.source) == path.parent.resolve()
    for i, ref in enumerate(video.frames):
        assert (Path(video.source) / ref.file_name).is_file()
        assert ref.file_name == f"frames/{i + 1:05d}" + Path(ref.file_name).suffix  # sorted by frame_id
    assert video.pose_count() == len(raw["annotations"])
    assert video.labelled_frames == set(range(video.num_frames))
    first = raw["annotations"][0]
    pose = video.pose(0, first["track_id"])
    kp = np.array(first["keypoints"], float).reshape(-1, 3)
    assert np.array_equal(pose.labelled(), kp[:, 2] > 0)
    assert np.allclose(pose.xy[kp[:, 2] > 0], kp[kp[:, 2] > 0, :2])
    assert pose.keyframe and set(pose.provenance[pose.labelled()]) == {Provenance.MANUAL}
    from posewarper_core.video import open_frames

    with open_frames(video) as frames:
        assert frames.frame(0).shape == (video.height, video.width, 3)

    for fmt in ("posetrack18", "coco"):
        export_videos(skeleton, [video], tmp_path / f"{fmt}.json", fmt)
        _, (back,) = import_file(tmp_path / f"{fmt}.json")
        video.video_id = back.video_id  # COCO numbers the videos of its file
        assert_same_video(video, back)


def test_every_dev_posetrack_file_imports_with_frames_on_disk(shared_data):
    files = sorted((shared_data / "dev").glob("*/posetrack18.json"))
    assert files
    for path in files:
        _, video = read_posetrack18(path)  # checks every frame file exists
        assert video.num_frames == len(video.frames) == len(json.loads(path.read_text())["images"])
        assert all((Path(video.source) / ref.file_name).is_file() for ref in video.frames)
        assert video.width > 0 and video.height > 0 and video.pose_count() > 0


@pytest.mark.parametrize("fmt", ["posetrack18", "coco"])
def test_lists_written_item_by_item_are_the_same_text(tmp_path, fmt):
    """Exports stream their lists an item at a time (bounded memory; a GUI thread keeps running
    meanwhile): the file must be the very text one json.dumps call would give, and import back
    the same."""
    folder = tmp_path / "clip"
    folder.mkdir()
    video = Video(str(folder), 5, 64, 48, video_id=1, name="clip", frames=[FrameRef(f"{i}.jpg", 10 + i, 10 + i) for i in range(5)])
    _touch(folder, video)
    video.tracks[1], video.tracks[2] = Track(1, "a"), Track(2, "b ü")
    for f in range(5):
        for t in (1, 2):
            video.set_pose(f, t, Pose.manual(np.full((17, 2), 1.5 * f + t), np.full(17, 2)))
    out = tmp_path / "out.json"
    export_videos(POSETRACK17, [video], out, fmt)
    text = out.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))
    assert len(json.loads(text)["annotations"]) == 10
    assert_same_video(video, import_file(out)[1][0])


def test_import_names_an_unknown_format_before_reading_and_parses_the_file_once(tmp_path, monkeypatch):
    from posewarper_core import FormatError
    from posewarper_core.formats import common

    out = tmp_path / "out.json"
    video = Video(str(tmp_path), 1, 64, 48, video_id=1, name="clip", frames=[FrameRef("0.jpg", 1, 1)])
    (tmp_path / "0.jpg").write_bytes(b"")
    video.set_pose(0, 1, Pose.manual(np.full((17, 2), 3.0), np.full(17, 2)))
    export_videos(POSETRACK17, [video], out, "coco")
    with pytest.raises(FormatError, match=r"out\.json.*unknown format 'csv'; known: posetrack18, coco"):
        import_file(out, "csv")
    parsed = []
    real = common.json.loads
    monkeypatch.setattr(common.json, "loads", lambda *a, **k: parsed.append(1) or real(*a, **k))
    assert_same_video(video, import_file(out)[1][0])
    assert len(parsed) == 1  # detecting the format does not parse the file a second time
