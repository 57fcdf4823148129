"""Seek proxies: the short-GOP copy holds exactly the source's frames, and a broken, cut-short
or cancelled proxy never gets used."""
from __future__ import annotations

import os
from fractions import Fraction

import av
import numpy as np
import pytest

from posewarper_core import proxy as proxies
from posewarper_core.errors import Cancelled
from posewarper_core.video import PyAVSource, open_video

from videogen import counter_frame, counter_video, image_folder, read_counter, textured_frames, write_video

N = 120
W, H = 160, 96


@pytest.fixture(scope="module")
def long_gop(tmp_path_factory):
    """A video with B-frames and a keyframe every 60 frames, as cameras write them."""
    return counter_video(tmp_path_factory.mktemp("src") / "long_gop.mp4", N, gop=60, bframes=3)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_proxy_frame_i_is_source_frame_i(long_gop, tmp_path):
    with open_video(long_gop) as source:
        assert source.max_keyframe_gap == 60 and proxies.worth_a_proxy(source, min_pixels=0)
        assert not proxies.worth_a_proxy(source)  # 160x96: decoding a whole GOP is quick anyway
        done = []
        proxy = proxies.ensure_proxy(source, tmp_path, progress=lambda d, n: done.append((d, n)))
        with proxy:
            assert done[-1] == (N, N) and len(done) == N
            assert proxy.path.parent == tmp_path and proxy.path.suffix == ".mkv"
            assert (proxy.num_frames, proxy.width, proxy.height) == (N, W, H)
            assert proxy.max_keyframe_gap <= proxies.PROXY_GOP and not proxies.worth_a_proxy(proxy, min_pixels=0)
            for i in [0, 1, 2, 29, 59, 60, 61, 99, 118, 119, 7, 64, 33]:  # out of order: seeks
                assert read_counter(proxy.frame(i)) == i
                assert psnr(proxy.frame(i), source.frame(i)) > 30


def test_textured_frames_keep_their_detail(tmp_path):
    src = write_video(tmp_path / "camera.mp4", textured_frames(24, 320, 192), gop=24, bframes=2)
    with open_video(src) as source, proxies.ensure_proxy(source, tmp_path / "proxies") as proxy:
        for i in (0, 5, 13, 23):
            assert psnr(proxy.frame(i), source.frame(i)) > 30
            assert read_counter(proxy.frame(i)[:192, :320]) == i


def test_variable_frame_rate_and_rotation(tmp_path):
    pts = np.cumsum(np.random.default_rng(3).integers(20, 90, 40)) - 20
    vfr = counter_video(tmp_path / "vfr.mp4", 40, gop=40, bframes=2, pts=pts, time_base=Fraction(1, 1000))
    portrait = tmp_path / "portrait.mp4"
    with av.open(str(portrait), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.set_display_rotation(-90)
        for i in range(20):
            frame = av.VideoFrame.from_ndarray(counter_frame(i, W, H), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    for path in (vfr, portrait):
        with open_video(path) as source, proxies.ensure_proxy(source, tmp_path / "proxies") as proxy:
            assert (proxy.num_frames, proxy.width, proxy.height) == (source.num_frames, source.width, source.height)
            for i in range(0, source.num_frames, 3):
                assert psnr(proxy.frame(i), source.frame(i)) > 30
            if path == portrait:
                assert read_counter(np.rot90(proxy.frame(7), 1)) == 7  # upright, as the source reads


def test_cancelling_leaves_no_file(long_gop, tmp_path):
    calls = []
    with pytest.raises(Cancelled):
        proxies.build_proxy(long_gop, tmp_path, progress=lambda d, n: calls.append(d), cancel=lambda: len(calls) >= 10)
    assert list(tmp_path.iterdir()) == []
    with open_video(long_gop) as source:
        assert proxies.open_proxy(source, tmp_path) is None


def test_cut_short_or_garbage_proxy_is_deleted_and_rebuilt(long_gop, tmp_path):
    with open_video(long_gop) as source:
        path = proxies.build_proxy(long_gop, tmp_path)
        whole = path.read_bytes()
        path.write_bytes(whole[: len(whole) // 2])  # as a full disk or a crash would leave it
        assert proxies.open_proxy(source, tmp_path) is None
        assert not path.exists()
        path.write_bytes(b"\x1a\x45\xdf\xa3 not really a video")
        assert proxies.open_proxy(source, tmp_path) is None and not path.exists()
        with proxies.ensure_proxy(source, tmp_path) as proxy:  # built again, whole
            assert proxy.num_frames == N and read_counter(proxy.frame(N - 1)) == N - 1


def test_a_proxy_of_other_frames_is_not_used(long_gop, tmp_path):
    other = counter_video(tmp_path / "other.mp4", N, gop=60, bframes=3, width=W + 16)
    with open_video(long_gop) as source:
        path = proxies.proxy_path(long_gop, tmp_path / "proxies")
        built = proxies.build_proxy(other, tmp_path / "proxies")
        os.replace(built, path)  # someone else's proxy under this video's name
        assert proxies.open_proxy(source, tmp_path / "proxies") is None and not path.exists()


def test_editing_the_source_changes_its_proxy_name(tmp_path):
    src = counter_video(tmp_path / "clip.mp4", 30, gop=30)
    before = proxies.proxy_path(src, tmp_path)
    counter_video(src, 31, gop=30)
    assert proxies.proxy_path(src, tmp_path) != before


def test_abandoned_partial_files_are_cleaned_up(long_gop, tmp_path):
    final = proxies.proxy_path(long_gop, tmp_path)
    dead = tmp_path / f"{final.stem}.999999999-1.part.mkv"  # no such process
    dead.write_bytes(b"half a proxy")
    proxies.build_proxy(long_gop, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [final.name]


def test_prune_removes_the_least_recently_used(tmp_path):
    for n, name in enumerate(["old", "mid", "new"]):
        p = tmp_path / f"{name}.mkv"
        p.write_bytes(b"x" * 1000)
        os.utime(p, (1000 + n, 1000 + n))
    removed = proxies.prune(tmp_path, keep_bytes=2000, keep=tmp_path / "old.mkv")
    assert [p.name for p in removed] == ["mid.mkv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.mkv", "old.mkv"]


def test_image_folders_and_short_gops_need_no_proxy(tmp_path):
    with open_video(image_folder(tmp_path / "images", 12)) as folder:
        assert not proxies.worth_a_proxy(folder, min_pixels=0)
    short = counter_video(tmp_path / "short.mp4", 40, gop=8, bframes=0)
    with PyAVSource(short) as source:
        assert source.max_keyframe_gap == 8 and not proxies.worth_a_proxy(source, min_pixels=0)
