"""Frame-exact video access: every read returns exactly the frame asked for.

The test videos are generated here and carry their frame number in the pixels (tests/videogen.py),
so a wrong frame is caught whatever the codec does to the picture.
"""
from __future__ import annotations

import json
import random
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from posewarper_core import FrameRef, Video, VideoError
from posewarper_core.cli import main as cli_main
from posewarper_core.video import (
    DEFAULT_CACHE_BYTES, ImageFolderSource, PyAVSource, natural_key, open_frames, open_video,
)

from videogen import counter_frame, counter_video, image_folder, read_counter, write_video

N = 240
W, H = 160, 96
FRAME_BYTES = W * H * 3
# Irregular frame durations of 20..89 ms: a reader that computes time x fps gets these wrong.
VFR_PTS = np.concatenate([[0], np.cumsum(np.random.default_rng(7).integers(20, 90, N - 1))])


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("videos")
    return {
        "h264_bframes": counter_video(d / "h264.mp4", N, gop=30, bframes=3),
        "mpeg4_avi": counter_video(d / "mpeg4.avi", N, codec="mpeg4", gop=24, bframes=2),
        "h264_vfr": counter_video(d / "vfr.mp4", N, gop=30, bframes=3, pts=VFR_PTS, time_base=Fraction(1, 1000)),
        "h264_mpegts": counter_video(d / "h264.ts", N, gop=30, bframes=3),
        "images": image_folder(d / "images", N),
    }


def picture_types(path: Path) -> list[str]:
    with av.open(str(path)) as c:
        return [av.video.frame.PictureType(f.pict_type).name for f in c.decode(video=0)]


def mixed_requests(n_frames: int, count: int, seed: int) -> list[int]:
    """Mostly random jumps, with steps forward and back as an annotator makes them."""
    rng = random.Random(seed)
    out, last = [], 0
    for _ in range(count):
        r = rng.random()
        if r < 0.6:
            last = rng.randrange(n_frames)
        elif r < 0.8:
            last = min(n_frames - 1, last + rng.randint(1, 6))
        else:
            last = max(0, last - rng.randint(1, 3))
        out.append(last)
    return out


def test_generated_videos_have_b_frames_and_irregular_timing(videos):
    for name in ("h264_bframes", "mpeg4_avi", "h264_vfr"):
        types = picture_types(videos[name])
        assert len(types) == N
        assert types.count("B") > N // 3, name
    with av.open(str(videos["h264_vfr"])) as c:
        s = c.streams.video[0]
        pts = sorted(p.pts for p in c.demux(s) if p.size)
        gaps = np.diff(pts)
    assert len(set(gaps.tolist())) > 10  # really variable frame rate


@pytest.mark.parametrize("name", ["h264_bframes", "mpeg4_avi", "h264_vfr", "h264_mpegts", "images"])
def test_1000_random_reads_return_exactly_the_requested_frame(videos, name):
    # No cache: every read that is not the next frame really seeks or decodes forward.
    rng = random.Random(1)
    requests = [rng.randrange(N) for _ in range(1000)] + mixed_requests(N, 300, seed=1)
    with open_video(videos[name], max_cache_bytes=0) as src:
        assert len(src) == N and (src.width, src.height) == (W, H)
        wrong = [(i, got) for i in requests if (got := read_counter(src.frame(i))) != i]
        assert wrong == []
        if isinstance(src, PyAVSource):
            assert src.seek_count > 800  # the reads above did seek


@pytest.mark.parametrize("name", ["h264_bframes", "mpeg4_avi", "h264_vfr"])
def test_reads_through_a_small_cache_are_exact(videos, name):
    # The cache also keeps frames a seek decoded on its way: those must be the right ones too.
    with open_video(videos[name], max_cache_bytes=40 * FRAME_BYTES) as src:
        for i in mixed_requests(N, 400, seed=2):
            assert read_counter(src.frame(i)) == i
            assert src.cache_bytes <= 40 * FRAME_BYTES
        cached = [i for i in range(N) if src.cached(i)]
        assert cached
        assert all(read_counter(src.frame(i)) == i for i in cached)


def test_stream_without_timestamps_is_counted_from_the_start(tmp_path):
    # A raw H.264 stream has no timestamps at all: frames are numbered by decoding from the start.
    path = counter_video(tmp_path / "raw.h264", 90, gop=30, bframes=3)
    with open_video(path, max_cache_bytes=0) as src:
        assert len(src) == 90
        rng = random.Random(4)
        requests = [rng.randrange(90) for _ in range(60)] + list(range(40, 50))
        assert [read_counter(src.frame(i)) for i in requests] == requests


def test_sequential_reads_and_small_forward_jumps_do_not_seek(videos):
    with open_video(videos["h264_bframes"], max_cache_bytes=0) as src:
        seeks = src.seek_count  # opening decoded frame 0
        assert [read_counter(src.frame(i)) for i in range(1, N)] == list(range(1, N))
        assert src.seek_count == seeks
        src.frame(100)
        seeks = src.seek_count
        assert read_counter(src.frame(103)) == 103  # same GOP: decode on, no seek
        assert src.seek_count == seeks
        assert read_counter(src.frame(50)) == 50  # backwards: must seek
        assert src.seek_count == seeks + 1


def test_stepping_back_after_a_jump_hits_the_cache(videos):
    with open_video(videos["h264_bframes"]) as src:
        src.frame(158)  # keyframes are 0, 30, ..., 150
        decoded = src.decoded_count
        for i in range(157, 151, -1):
            assert src.cached(i)
            assert read_counter(src.frame(i)) == i
        assert src.decoded_count == decoded


def test_variable_frame_rate_timestamps_are_the_stored_ones(videos):
    with open_video(videos["h264_vfr"]) as src:
        np.testing.assert_allclose(src.timestamps(), VFR_PTS / 1000.0, atol=1e-6)
        assert src.fps == pytest.approx((N - 1) / (VFR_PTS[-1] / 1000.0))
    with open_video(videos["h264_bframes"]) as src:
        np.testing.assert_allclose(src.timestamps(), np.arange(N) / 25.0, atol=1e-6)
        assert src.fps == pytest.approx(25.0)


def test_concurrent_readers_get_their_own_frames(videos):
    # The GUI decodes ahead in a worker while the main thread reads: no mix-ups, no crashes.
    with open_video(videos["h264_bframes"], max_cache_bytes=30 * FRAME_BYTES) as src:
        errors = []

        def reader(seed):
            try:
                for i in mixed_requests(N, 150, seed):
                    if read_counter(src.frame(i)) != i:
                        errors.append(i)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=reader, args=(s,)) for s in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []


def test_cache_memory_stays_within_its_bound(videos):
    bound = 10 * FRAME_BYTES + FRAME_BYTES // 2
    with open_video(videos["h264_bframes"], max_cache_bytes=bound) as src:
        assert src.max_cache_bytes == bound
        for i in mixed_requests(N, 200, seed=3) + list(range(N)):
            src.frame(i)
            assert src.cache_bytes <= bound
        assert src.cache_bytes > 0
        # The most recent frames are the ones kept; reading them again decodes nothing.
        assert all(src.cached(i) for i in range(N - 10, N)) and not src.cached(0)
        decoded = src.decoded_count
        src.frame(N - 5)
        assert src.decoded_count == decoded
    with open_video(videos["images"], max_cache_bytes=bound) as src:
        for i in range(N):
            src.frame(i)
        assert src.cache_bytes <= bound and sum(map(src.cached, range(N))) == 10
    with open_video(videos["h264_bframes"]) as src:
        assert src.max_cache_bytes == DEFAULT_CACHE_BYTES


def test_frames_are_rgb_and_read_only(videos, tmp_path):
    with open_video(videos["images"]) as src:
        img = src.frame(5)
        assert img.dtype == np.uint8 and img.shape == (H, W, 3)
        np.testing.assert_array_equal(img, counter_frame(5, W, H))
        with pytest.raises(ValueError):
            img[0, 0] = 1  # it is the cache's copy
    # Colour order: a red image stays red through the video path too.
    red = np.zeros((64, 64, 3), np.uint8)
    red[..., 0] = 220
    path = write_video(tmp_path / "red.mp4", [red] * 3)
    with open_video(path) as src:
        r, g, b = src.frame(1).reshape(-1, 3).mean(axis=0)
        assert r > 180 and g < 40 and b < 40


def test_display_rotation_is_applied(tmp_path):
    # Phones record portrait video as landscape frames plus a "rotate 90 degrees clockwise" flag.
    path = tmp_path / "portrait.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.set_display_rotation(-90)  # counter-clockwise degrees, as FFmpeg counts
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(counter_frame(i, W, H), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    with open_video(path) as src:
        assert (src.width, src.height) == (H, W)
        img = src.frame(3)
        assert img.shape == (W, H, 3)
        assert read_counter(np.rot90(img, 1)) == 3  # turning it back counter-clockwise restores it


def test_image_folders_are_sorted_naturally(tmp_path):
    assert sorted(["10.jpg", "2.jpg", "1.jpg", "frame_9.png", "frame_10.png"], key=natural_key) == [
        "1.jpg", "2.jpg", "10.jpg", "frame_9.png", "frame_10.png",
    ]
    folder = image_folder(tmp_path / "seq", 12, ext=".jpg")
    (folder / "notes.txt").write_text("not an image")
    with open_video(folder) as src:
        assert isinstance(src, ImageFolderSource)
        assert [p.name for p in src.files] == [f"{i}.jpg" for i in range(12)]
        assert [read_counter(src.frame(i)) for i in range(12)] == list(range(12))
        assert np.isnan(src.timestamps()).all() and src.fps is None


def test_from_files_keeps_the_given_order(tmp_path):
    folder = image_folder(tmp_path / "seq", 5)
    order = [3, 0, 4]
    with ImageFolderSource.from_files([folder / f"{i}.png" for i in order], fps=10.0) as src:
        assert [read_counter(src.frame(k)) for k in range(3)] == order
        np.testing.assert_allclose(src.timestamps(), [0.0, 0.1, 0.2])


def test_open_frames_resolves_the_video_source(videos, tmp_path):
    base = videos["images"].parent
    posetrack_like = Video(
        source="images", num_frames=3, width=W, height=H,
        frames=[FrameRef("7.png"), FrameRef("8.png"), FrameRef("100.png")],
    )
    with open_frames(posetrack_like, base_dir=base) as src:
        assert [read_counter(src.frame(k)) for k in range(3)] == [7, 8, 100]
    plain = Video(source="h264.mp4", num_frames=N, width=W, height=H)
    with open_frames(plain, base_dir=base) as src:
        assert read_counter(src.frame(17)) == 17
    with pytest.raises(VideoError, match="expects 99"):
        open_frames(Video(source="h264.mp4", num_frames=99, width=W, height=H, name="x"), base_dir=base)
    missing = Video(source="images", num_frames=1, width=W, height=H, frames=[FrameRef("gone.png")])
    with pytest.raises(VideoError, match="gone.png.*frame 0"):
        open_frames(missing, base_dir=base)


# ------------------------------------------------------------------------------------------ errors


def test_missing_file_and_empty_folder(tmp_path):
    with pytest.raises(VideoError, match="nope.mp4"):
        open_video(tmp_path / "nope.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoError, match="empty.*no images"):
        open_video(tmp_path / "empty")


def test_text_file_named_mp4(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 50)
    with pytest.raises(VideoError, match="notes.mp4"):
        open_video(fake)


def test_truncated_videos(videos, tmp_path):
    # MP4 as written (index at the end): the index is gone.
    data = videos["h264_bframes"].read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match="cut.mp4"):
        open_video(cut)
    # MP4 with its index in front ("faststart"): the index promises frames that are not there.
    src = av.open(str(videos["h264_bframes"]))
    fast = tmp_path / "fast.mp4"
    with av.open(str(fast), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    src.close()
    with open_video(fast) as ok:
        assert len(ok) == N
    data = fast.read_bytes()
    cut_fast = tmp_path / "cut_fast.mp4"
    cut_fast.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(VideoError, match=r"cut_fast.mp4: truncated.*240 frames"):
        open_video(cut_fast)


def test_unsupported_codec(tmp_path):
    # An AVI whose codec tag FFmpeg does not know (as with a proprietary camera codec).
    data = counter_video(tmp_path / "ok.avi", 10, codec="mpeg4", bframes=0).read_bytes()
    assert b"FMP4" in data
    odd = tmp_path / "camera.avi"
    odd.write_bytes(data.replace(b"FMP4", b"QQZZ"))
    with pytest.raises(VideoError, match="camera.avi: unsupported video codec"):
        open_video(odd)


def test_unreadable_image_names_file_and_frame(tmp_path):
    folder = image_folder(tmp_path / "seq", 6)
    (folder / "3.png").write_bytes(b"\x89PNG broken")
    with open_video(folder) as src:
        assert read_counter(src.frame(2)) == 2
        with pytest.raises(VideoError, match=r"3\.png: frame 3"):
            src.frame(3)
        assert read_counter(src.frame(4)) == 4  # one bad image does not break the others


def test_out_of_range_and_closed(videos):
    with open_video(videos["h264_bframes"]) as src:
        for bad in (-1, N):
            with pytest.raises(VideoError, match=rf"frame {bad} is outside .*0\.\.{N - 1}"):
                src.frame(bad)
        with pytest.raises(TypeError):
            src.frame(1.5)
    with pytest.raises(VideoError, match="closed"):
        src.frame(3)


# --------------------------------------------------------------------------------------- benchmark


def test_bench_video_command_writes_its_numbers(videos, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert cli_main(["bench-video", str(videos["h264_bframes"]), "--seeks", "20", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "random seek" in printed and "frames/s" in printed
    r = json.loads(out.read_text())
    assert r["num_frames"] == N and r["random_seek"]["seeks"] == 20
    assert r["sequential"]["frames_per_s"] > 0 and r["cache"]["held_mb"] <= r["cache"]["bound_mb"]
    assert cli_main(["bench-video", str(tmp_path / "missing.mp4")]) == 2


def test_bench_video_times_the_seek_proxy(videos, tmp_path):
    out = tmp_path / "bench.json"
    assert cli_main(["bench-video", str(videos["h264_bframes"]), "--seeks", "10", "--proxy", "--json", str(out)]) == 0
    p = json.loads(out.read_text())["proxy"]
    assert p["mb"] > 0 and p["build_frames_per_s"] > 0 and p["max_keyframe_gap"] <= 8
    assert p["random_seek"]["frames_decoded_per_seek"] <= 8  # the source's GOP is 30


def test_raw_frames_and_keyframe_gap(videos):
    with open_video(videos["h264_bframes"]) as src:
        assert src.max_keyframe_gap == 30
        for i in (5, 6, 7, 100, 3):  # forward steps and seeks
            frame = src.raw_frame(i)
            assert isinstance(frame, av.VideoFrame) and frame.format.name == "yuv420p"
            assert read_counter(frame.to_ndarray(format="rgb24")) == i
        assert not src.cached(100)  # raw frames bypass the cache
    with open_video(videos["mpeg4_avi"]) as src:
        assert src.max_keyframe_gap == 24


def test_an_aborted_read_leaves_the_reader_exact(videos):
    from posewarper_core.errors import Cancelled

    with open_video(videos["h264_bframes"], max_cache_bytes=FRAME_BYTES * 40) as src:
        asked = []
        with pytest.raises(Cancelled, match="frame 55"):
            src.frame(55, abort=lambda: asked.append(1) or len(asked) >= 3)  # gives up after 3 frames
        assert len(asked) == 3 and not src.cached(55)
        for i in (56, 55, 57, 20, 21, 200):  # the decoder goes on from where it stopped, or seeks
            assert read_counter(src.frame(i, abort=lambda: False)) == i
