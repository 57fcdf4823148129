"""Files we write (exports, models, bench results) appear whole, and with the permissions a plain
open() would give them: others on a shared machine can read an export unless the umask says not."""
from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from posewarper_core import POSETRACK17, FrameRef, Pose, Video, nets
from posewarper_core.atomic_file import replacing
from posewarper_core.formats import export_videos


@pytest.fixture
def umask():
    """Set the process's umask for one test (it is process-wide: restored afterwards)."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_files_follow_the_umask_and_replaced_ones_keep_their_mode(tmp_path, umask):
    umask(0o022)
    with replacing(tmp_path / "a.txt") as out:
        out.write("one")
    assert mode(tmp_path / "a.txt") == 0o644
    umask(0o027)
    with replacing(tmp_path / "b.bin", binary=True) as out:
        out.write(b"\x00\x01")
    assert mode(tmp_path / "b.bin") == 0o640 and (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    os.chmod(tmp_path / "a.txt", 0o600)  # the user made it private: a new version stays private
    with replacing(tmp_path / "a.txt") as out:
        out.write("two ü")
    assert mode(tmp_path / "a.txt") == 0o600 and (tmp_path / "a.txt").read_text(encoding="utf-8") == "two ü"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    target = tmp_path / "keep.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with replacing(target) as out:
            out.write("half of the new")
            raise RuntimeError("disk full, say")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.json"]


def test_exports_and_models_are_readable_by_others(tmp_path, umask):
    umask(0o022)
    (tmp_path / "0.jpg").write_bytes(b"")
    video = Video(str(tmp_path), 1, 64, 48, video_id=1, name="clip", frames=[FrameRef("0.jpg", 1, 1)])
    video.set_pose(0, 1, Pose.manual(np.full((17, 2), 3.0), np.full(17, 2)))
    for fmt in ("coco", "posetrack18"):
        export_videos(POSETRACK17, [video], tmp_path / f"{fmt}.json", fmt)
        assert mode(tmp_path / f"{fmt}.json") == 0o644  # tempfile.mkstemp made them 0600
    cfg = nets.LIGHT_CONFIGS["tiny"]
    path = nets.save_model(tmp_path / "model.pt", nets.build_model(cfg), cfg, {"recipe": "tiny"})
    assert mode(path) == 0o644
    assert nets.load_model(path, device="cpu")[1] == cfg
