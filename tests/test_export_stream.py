"""Exports are written streaming (bounded memory), byte for byte as the writers wrote them when
they built the whole document first: expected files in tests/data/export_golden, written by
tests/export_cases.py with those writers."""
from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from export_cases import FixedClock, golden_files, varied_videos
from posewarper_core.formats import coco, export_videos, import_file, write_coco, write_posetrack18
from posewarper_core.skeleton import POSETRACK17

GOLDEN = Path(__file__).parent / "data" / "export_golden"


@pytest.fixture
def fixed_clock(monkeypatch):
    monkeypatch.setattr(coco, "datetime", type("FixedDatetime", (), {"datetime": FixedClock,
                                                                     "timezone": datetime.timezone}))


def test_streamed_exports_are_byte_identical_to_the_whole_document_writers(tmp_path, fixed_clock):
    files = golden_files(write_coco, write_posetrack18, tmp_path)
    assert len(files) == 8
    for path in files:
        assert path.read_bytes() == (GOLDEN / path.name).read_bytes(), path.name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in files)  # no spool left


def test_project_export_through_a_snapshot_is_byte_identical(tmp_path, fixed_clock):
    """The same videos stored in a project and exported from the file (poses streamed from SQLite)."""
    from posewarper_core.project_snapshot import ProjectSnapshot
    from posewarper_core.store import ProjectStore

    videos = varied_videos()
    with ProjectStore.create(tmp_path / "p.pwproj") as store:
        for video in videos:
            store.add_video(video)
    out = tmp_path / "out"
    out.mkdir()
    with ProjectSnapshot(tmp_path / "p.pwproj") as snap:
        for include_auto, suffix in ((True, "all"), (False, "no_auto")):
            snap_videos = [snap.project.videos[v.video_id] for v in videos]
            for v in snap_videos:
                v.source = f"{v.source}"
            export_videos(POSETRACK17, snap_videos, out / f"coco_{suffix}.json", "coco", include_auto, "/data",
                          pose_frames=snap.pose_frames, images="all")
            for v in snap_videos:
                export_videos(POSETRACK17, [v], out / f"pt_{v.video_id}_{suffix}.json", "posetrack18", include_auto,
                              "/data", pose_frames=snap.pose_frames)
    for path in sorted(out.iterdir()):
        assert path.read_bytes() == (GOLDEN / path.name).read_bytes(), path.name


def test_coco_export_lists_only_frames_with_poses_unless_asked(tmp_path):
    """By default a COCO export's images are the frames with an annotation (pose or ignore
    region); images="all" keeps every frame. Both read back with every pose on its frame."""
    videos = varied_videos()
    few = export_videos(POSETRACK17, videos, tmp_path / "few.json", "coco")
    every = export_videos(POSETRACK17, videos, tmp_path / "all.json", "coco", images="all")
    doc = json.loads((tmp_path / "few.json").read_text())
    assert every["images"] == sum(v.num_frames for v in videos) > few["images"] == len(doc["images"])
    listed = {(i["video_id"], i["frame_index"]) for i in doc["images"]}
    expected = {(v.video_id, f) for v in videos for f in range(v.num_frames) if v.poses.get(f) or f in v.ignore_regions}
    assert listed == expected
    assert few["annotations"] == every["annotations"] == sum(v.pose_count() for v in videos)
    image_ids = {i["id"] for i in doc["images"]}
    assert all(a["image_id"] in image_ids for a in doc["annotations"])
    _, back = import_file(tmp_path / "few.json", check_frames=False)
    for original, read in zip(videos, back):
        assert read.num_frames == original.num_frames
        assert set(read.poses) == set(original.poses)
        for f, by_track in original.poses.items():
            for t, pose in by_track.items():
                assert read.pose(f, t).same_as(pose)


def test_a_video_nobody_is_labelled_in_still_exports_as_coco_that_reads_back(tmp_path):
    """With only frames with poses listed, a video without any would list no image at all: a file
    no reader opens ("lists no images"). Its frames are listed all the same."""
    from posewarper_core.annotation import Video

    labelled = varied_videos()[0]
    empty = Video(video_id=labelled.video_id + 1, source=str(tmp_path / "empty.mp4"), num_frames=6, width=64,
                  height=48, fps=25.0, name="empty")
    export_videos(POSETRACK17, [labelled, empty], tmp_path / "out.json", "coco")
    doc = json.loads((tmp_path / "out.json").read_text())
    assert sorted(i["frame_index"] for i in doc["images"] if i["video_id"] == empty.video_id) == list(range(6))
    _, back = import_file(tmp_path / "out.json", check_frames=False)
    assert [v.num_frames for v in back] == [labelled.num_frames, 6] and not back[1].poses
    export_videos(POSETRACK17, [empty], tmp_path / "only_empty.json", "coco")
    _, back = import_file(tmp_path / "only_empty.json", check_frames=False)
    assert back[0].num_frames == 6


def test_export_command_images_option_and_info_stream_the_project(capsys, tmp_path):
    from posewarper_core.cli import main
    from posewarper_core.store import ProjectStore

    videos = varied_videos()
    with ProjectStore.create(tmp_path / "p.pwproj") as store:
        for video in videos:
            store.add_video(video)
    for images, count in (([], sum(len(set(v.poses) | set(v.ignore_regions)) for v in videos)),
                          (["--images", "all"], sum(v.num_frames for v in videos))):
        assert main(["export", str(tmp_path / "p.pwproj"), "-o", str(tmp_path / "c.json"), "--format", "coco",
                     *images]) == 0
        assert len(json.loads((tmp_path / "c.json").read_text())["images"]) == count
    capsys.readouterr()
    assert main(["info", str(tmp_path / "p.pwproj"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [v["poses"] for v in info["videos"]] == [v.pose_count() for v in sorted(videos, key=lambda v: v.video_id)]
    first = info["videos"][0]
    assert first["per_track"][1]["poses"] == sum(1 for by in videos[0].poses.values() if 1 in by)
    assert first["frames_with_poses"] == len(videos[0].poses)


def test_the_export_report_says_what_was_written_and_what_was_left_out_and_why(tmp_path):
    """The words the export box shows, from the summary of real exports."""
    import numpy as np

    from posewarper_core import Pose, Provenance, Track, Video
    from posewarper_core.formats.report import describe_export

    video = Video("clip.mp4", 10, 64, 48, name="clip", video_id=1)
    video.tracks = {1: Track(1), 2: Track(2)}
    xy, vis = np.full((17, 2), 20.0), np.full(17, 2)
    video.set_pose(0, 1, Pose.manual(xy, vis))
    filled = Pose.manual(xy, vis, keyframe=False)
    filled.provenance[:] = Provenance.PROPAGATED
    video.set_pose(1, 1, filled)
    checked = filled.copy()
    checked.reviewed = True
    video.set_pose(2, 1, checked)
    half = Pose.manual(xy, vis)
    half.provenance[10:] = Provenance.SUGGESTED  # 7 joints suggested, not accepted
    video.set_pose(0, 2, half)
    only = Pose.manual(xy, vis)
    only.provenance[:] = Provenance.SUGGESTED
    video.set_pose(3, 2, only)

    text = describe_export(export_videos(POSETRACK17, [video], tmp_path / "pt.json", "posetrack18"))
    lines = text.splitlines()
    assert lines[0] == f"Wrote {tmp_path / 'pt.json'} (PoseTrack 2018)."
    assert lines[1] == "It holds 1 video, 10 frames listed, 4 poses: 2 keyframes, 2 auto-filled (1 of them reviewed)."
    assert lines[2:] == ["Left out:",
                         "  • 1 pose made only of suggested joints not yet accepted (A accepts them)",
                         "  • 7 suggested joints not yet accepted, from poses written without them"]

    whole = filled.copy()  # every joint of a filled pose corrected by hand
    whole.provenance[:] = Provenance.CORRECTED
    video.set_pose(4, 1, whole)
    text = describe_export(export_videos(POSETRACK17, [video], tmp_path / "pt.json", "posetrack18"))
    assert text.splitlines()[1] == ("It holds 1 video, 10 frames listed, 5 poses: 2 keyframes, 2 auto-filled (1 of "
                                    "them reviewed), 1 filled and then corrected whole by hand.")
    del video.poses[4]

    text = describe_export(export_videos(POSETRACK17, [video], tmp_path / "gt.json", "coco", include_auto=False))
    assert "It holds 1 video, 1 frame listed of 10, 2 poses: 2 keyframes, 0 auto-filled" in text
    assert "  • 9 frames with no pose (a COCO export lists the frames with poses" in text
    assert "  • 2 auto-filled poses, as asked (filled poses left out)" in text

    del video.poses[3]
    video.poses[0][2] = Pose.manual(xy, vis)
    text = describe_export(export_videos(POSETRACK17, [video], tmp_path / "pt.json", "posetrack18"))
    assert text.endswith("Nothing was left out.")
