"""Frame-exact access to a video file (PyAV) or a folder of images, with a bounded frame cache.

Frame i is the i-th frame in presentation order, fixed when the source is opened: a video's
packets are demuxed once and `sorted(pts)[i]` is frame i's timestamp, so B-frames, a non-zero
start and variable frame rate need no frame-rate arithmetic. Reading frame i seeks to the
keyframe before it and decodes forward until the frame with exactly that pts comes out;
reading i + 1 next just keeps decoding. Decoded frames live in an LRU cache bounded in bytes.

Sources are thread-safe: the GUI decodes ahead in a worker while the main thread reads frames
that are already cached (cache hits never wait for a decode in progress).
"""
from __future__ import annotations

import bisect
import os
import re
import threading
from collections import OrderedDict
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator, Sequence

import av
import cv2
from av.video.reformatter import VideoReformatter
import numpy as np

from .annotation import Video
from .errors import Cancelled, VideoError

DEFAULT_CACHE_BYTES = 512 * 1024 * 1024
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})

# Decoding forward from the current position beats a seek unless the keyframe a seek would
# land on is more than this many frames ahead of it (a seek costs a flush and a decoder restart).
SEEK_COST_FRAMES = 4
_BACKOFF_SECONDS = 1.0
SMALL_FRAME_PIXELS = 640 * 480
# A seek decodes (and caches) every frame this close before the wanted one, so that stepping
# back from it is a cache hit; earlier frames that nothing refers to are skipped.
KEEP_BEFORE = 8


def natural_key(name: str) -> tuple:
    """Sort key that orders embedded numbers by value: 2.jpg < 10.jpg."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name))


class _PendingFrame:
    """A decoded frame kept in its native format until someone asks for it (no RGB cost before)."""

    __slots__ = ("frame", "nbytes")

    def __init__(self, frame: av.VideoFrame):
        self.frame = frame
        self.nbytes = sum(p.buffer_size for p in frame.planes)

    def to_rgb(self) -> np.ndarray:
        return upright_rgb(self.frame)


_reformatters = threading.local()


def display_turns(frame: av.VideoFrame) -> int:
    """Quarter turns (counter-clockwise) that make a decoded frame upright (phone video)."""
    return round(frame.rotation / 90) % 4 if frame.side_data else 0


def upright_rgb(frame: av.VideoFrame) -> np.ndarray:
    """A decoded frame as the read-only upright RGB array that VideoSource.frame returns."""
    # frame.to_ndarray(format=...) would set up a new colour converter for every frame, which
    # costs more than the conversion itself; one converter per thread is reused instead.
    reformatter = getattr(_reformatters, "rgb", None)
    if reformatter is None:
        reformatter = _reformatters.rgb = VideoReformatter()
    rgb = reformatter.reformat(frame, format="rgb24").to_ndarray()
    turns = display_turns(frame)
    if turns:  # phones store portrait video sideways with a display rotation (counter-clockwise)
        rgb = np.rot90(rgb, turns)
    rgb = np.ascontiguousarray(rgb)
    rgb.flags.writeable = False  # the cache hands out the same array: nobody may draw on it
    return rgb


class FrameCache:
    """LRU map frame index -> RGB array (or a pending decoded frame), bounded in bytes.

    A value larger than the whole bound is not kept. Thread-safe.
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES):
        if max_bytes < 0:
            raise ValueError(f"cache size must be >= 0 bytes, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[int, np.ndarray | _PendingFrame] = OrderedDict()
        self._nbytes = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, index: int) -> bool:
        return index in self._items

    def get(self, index: int) -> np.ndarray | None:
        with self._lock:
            value = self._items.get(index)
            if value is None:
                return None
            self._items.move_to_end(index)
            if isinstance(value, _PendingFrame):
                rgb = value.to_rgb()
                self._nbytes -= value.nbytes
                self._items[index] = rgb
                self._nbytes += rgb.nbytes
                self._evict()
                return rgb
            return value

    def put(self, index: int, value: np.ndarray | _PendingFrame) -> None:
        with self._lock:
            old = self._items.pop(index, None)
            if old is not None:
                self._nbytes -= old.nbytes
            if value.nbytes > self.max_bytes:
                return
            self._items[index] = value
            self._nbytes += value.nbytes
            self._evict()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._nbytes = 0

    def _evict(self) -> None:
        while self._nbytes > self.max_bytes:
            _, value = self._items.popitem(last=False)
            self._nbytes -= value.nbytes


class VideoSource:
    """Random access to the frames of a video file or an ordered set of images.

    `frame(i)` returns frame i (0-based, presentation order) as a read-only (H, W, 3) uint8 RGB
    array; copy it before drawing on it. Videos with a display rotation (portrait phone video)
    come upright, and width/height are those of the upright frames. Use as a context manager
    or call close().
    """

    path: Path
    num_frames: int
    width: int
    height: int
    fps: float | None

    def __init__(self, path: Path, max_cache_bytes: int = DEFAULT_CACHE_BYTES):
        self.path = Path(path)
        self._cache = FrameCache(max_cache_bytes)
        self._lock = threading.RLock()  # guards the decoder; the cache has its own lock
        self._closed = False
        self._abort: Callable[[], bool] | None = None  # the current frame() call's abort test

    def __len__(self) -> int:
        return self.num_frames

    def __enter__(self) -> "VideoSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, {self.num_frames} frames, {self.width}x{self.height})"

    @property
    def cache_bytes(self) -> int:
        """Bytes the frame cache holds now (never more than max_cache_bytes)."""
        return self._cache.nbytes

    @property
    def max_cache_bytes(self) -> int:
        return self._cache.max_bytes

    def cached(self, i: int) -> bool:
        """True if frame i would be returned without decoding (cheap; for prefetching)."""
        return i in self._cache

    def frame(self, i: int, abort: Callable[[], bool] | None = None) -> np.ndarray:
        """Frame i as a read-only (height, width, 3) uint8 RGB array.

        `abort()` is asked between decoded frames: when it returns True the read gives up with
        Cancelled (the frames decoded so far stay cached). For readers that serve whoever asked
        last, so that a new request need not wait for a stale one's whole GOP."""
        i = self._check_index(i)
        rgb = self._cache.get(i)
        if rgb is not None:
            return rgb
        with self._lock:
            if self._closed:
                raise VideoError(f"{self.path}: the video is closed")
            rgb = self._cache.get(i)  # another thread may have decoded it meanwhile
            if rgb is None:
                self._abort = abort
                try:
                    rgb = self._read(i)
                finally:
                    self._abort = None
                self._cache.put(i, rgb)
        return rgb

    def timestamps(self) -> np.ndarray:
        """Each frame's time in seconds from the first frame (NaN when the source has no clock)."""
        raise NotImplementedError

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._cache.clear()
            self._release()

    def _check_index(self, i) -> int:
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"frame index must be an integer, got {i!r}")
        i = int(i)
        if not 0 <= i < self.num_frames:
            raise VideoError(f"{self.path}: frame {i} is outside the video's frames 0..{self.num_frames - 1}")
        return i

    def _read(self, i: int) -> np.ndarray:
        """Decode frame i (called with the decoder lock held). May cache other frames it passes."""
        raise NotImplementedError

    def _release(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# Image folders


class ImageFolderSource(VideoSource):
    """Images as frames, in the order given (a folder's images are sorted naturally)."""

    def __init__(
        self,
        folder: Path | str,
        max_cache_bytes: int = DEFAULT_CACHE_BYTES,
        fps: float | None = None,
        *,
        files: Sequence[Path | str] | None = None,
    ):
        super().__init__(Path(folder), max_cache_bytes)
        if files is None:
            files = list_images(self.path)
        self.files = [Path(f) for f in files]
        if not self.files:
            raise VideoError(f"{self.path}: no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
        for n, f in enumerate(self.files):
            try:
                found = f.is_file()
            except OSError as exc:  # e.g. a name longer than the file system allows
                raise VideoError(f"{f}: image file of frame {n} cannot exist ({exc.strerror})") from None
            if not found:
                raise VideoError(f"{f}: image file of frame {n} does not exist")
        self.num_frames = len(self.files)
        self.fps = fps
        first = self._load(0)
        self.height, self.width = first.shape[:2]
        self._cache.put(0, first)

    @classmethod
    def from_files(
        cls, paths: Sequence[Path | str], max_cache_bytes: int = DEFAULT_CACHE_BYTES, fps: float | None = None
    ) -> "ImageFolderSource":
        """Frames from an explicit ordered list of image files (e.g. a PoseTrack sequence)."""
        paths = [Path(p) for p in paths]
        folder = Path(os.path.commonpath([str(p.parent) for p in paths])) if paths else Path(".")
        return cls(folder, max_cache_bytes, fps, files=paths)

    def timestamps(self) -> np.ndarray:
        if self.fps:
            return np.arange(self.num_frames, dtype=np.float64) / self.fps
        return np.full(self.num_frames, np.nan)

    def _read(self, i: int) -> np.ndarray:
        rgb = self._load(i)
        if rgb.shape[:2] != (self.height, self.width):
            raise VideoError(
                f"{self.files[i]}: frame {i} is {rgb.shape[1]}x{rgb.shape[0]}, "
                f"the other frames are {self.width}x{self.height}"
            )
        return rgb

    def _load(self, i: int) -> np.ndarray:
        path = self.files[i]
        try:
            data = np.fromfile(path, dtype=np.uint8)  # works for any path, unlike cv2.imread
        except OSError as exc:
            raise VideoError(f"{path}: cannot read the image of frame {i} ({exc.strerror or exc})") from exc
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        if bgr is None:
            raise VideoError(f"{path}: frame {i} is not a readable image")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        rgb.flags.writeable = False
        return rgb


def list_images(folder: Path) -> list[Path]:
    """The image files of a folder in the order they are its frames (natural order of names)."""
    if not folder.is_dir():
        raise VideoError(f"{folder}: no such folder")
    try:
        names = [e.name for e in os.scandir(folder) if e.is_file() and not e.name.startswith(".")]
    except OSError as exc:
        raise VideoError(f"{folder}: cannot list the folder ({exc.strerror or exc})") from exc
    names = [n for n in names if Path(n).suffix.lower() in IMAGE_EXTENSIONS]
    return [folder / n for n in sorted(names, key=natural_key)]


# ---------------------------------------------------------------------------------------------
# Video files


class _Missed(Exception):
    """The decoder went past the wanted frame, or ended, without producing it."""


class PyAVSource(VideoSource):
    """A video file decoded with PyAV (FFmpeg); frames indexed by presentation timestamp."""

    def __init__(
        self,
        path: Path | str,
        max_cache_bytes: int = DEFAULT_CACHE_BYTES,
        *,
        thread_type: str = "AUTO",
        threads: int | None = None,
    ):
        """`threads`: decoder threads; None picks one for small frames, else FFmpeg's choice."""
        super().__init__(Path(path), max_cache_bytes)
        self.seek_count = 0  # seeks done so far (for tests and the benchmark)
        self.decoded_count = 0  # frames that came out of the decoder so far
        self._thread_type = thread_type
        self._threads = threads
        if not self.path.exists():
            raise VideoError(f"{self.path}: no such file")
        if self.path.is_dir():
            raise VideoError(f"{self.path}: is a folder, not a video file")
        self._container = None
        try:
            self._open_container()
            self._build_index()
            # Decoding frame 0 proves that the codec works and gives the real frame size.
            first = self._read(0)
        except VideoError:
            self._release()
            raise
        except (av.FFmpegError, OSError, ValueError) as exc:
            self._release()
            raise VideoError(f"{self.path}: not a readable video ({_describe(exc)})") from exc
        self.height, self.width = first.shape[:2]
        self._cache.put(0, first)

    # -- opening --------------------------------------------------------------------------------

    def _open_container(self) -> None:
        self._container = av.open(str(self.path), "r")
        self._stream = _video_stream(self._container, self.path)
        ctx = self._stream.codec_context
        self.codec = ctx.name
        threads = self._threads
        if threads is None:
            # Below about VGA, thread start-up and flushing on every seek cost more than they gain.
            threads = 1 if ctx.width * ctx.height <= SMALL_FRAME_PIXELS else 0
        ctx.thread_type = self._thread_type
        ctx.thread_count = threads

    def _build_index(self) -> None:
        """Demux once: frame i's pts is sorted(pts)[i]; note which frames start a keyframe."""
        stream = self._stream
        packets: list[tuple[int | None, int | None, bool]] = []  # (pts, dts, keyframe), decode order
        start_ts = None  # the smallest pts or dts: seeking there goes to the start
        stored = 0  # packets in the file, including those that show no frame
        try:
            for packet in self._container.demux(stream):
                if packet.pts is None and packet.dts is None and packet.size == 0:
                    continue  # PyAV's flush packet at the end
                stored += 1
                if packet.size == 0 or packet.is_discard:
                    continue  # a dropped frame (AVI); a frame an edit list cuts away (MP4)
                pts = packet.pts if packet.pts is not None else packet.dts
                packets.append((pts, packet.dts, packet.is_keyframe))
                for t in (packet.pts, packet.dts):
                    if t is not None and (start_ts is None or t < start_ts):
                        start_ts = t
        except av.FFmpegError as exc:
            raise VideoError(
                f"{self.path}: the video is damaged or truncated after {len(packets)} frames ({_describe(exc)})"
            ) from exc
        # Data before the first keyframe cannot be decoded (e.g. an MPEG-TS cut mid-GOP).
        first_key = next((n for n, (*_, key) in enumerate(packets) if key), 0)
        packets = packets[first_key:]
        pts = [t for t, _, _ in packets]
        keyframes = [(t, t if d is None else d) for t, d, key in packets if key]  # (pts, dts)
        ordinal = any(t is None for t in pts)
        if not pts:
            raise VideoError(f"{self.path}: contains no video frames")
        declared = stream.frames
        if declared and stored < declared * 0.98 - 2:
            # The header promises frames whose data is missing: the file was cut short. (Formats
            # without a frame count, such as Matroska or MPEG-TS, open with the frames there.)
            raise VideoError(f"{self.path}: truncated: the header lists {declared} frames, only {stored} are there")
        if not ordinal and len(set(pts)) != len(pts):
            ordinal = True  # timestamps do not identify frames: count them from the start instead
        self._ordinal = ordinal
        self.num_frames = len(pts)
        self._time_base = stream.time_base or Fraction(1, 1)
        if ordinal:
            self._pts = np.arange(len(pts), dtype=np.int64)
            self._key_index = [0]
            self._key_seek_limit = [None]
        else:
            self._pts = np.array(sorted(pts), dtype=np.int64)
            keyframes.sort()
            self._key_index = [int(np.searchsorted(self._pts, t)) for t, _ in keyframes] or [0]
            # Demuxers seek by a timestamp between a keyframe's dts and pts (MP4 shifts dts by
            # the first frame's delay): to land on keyframe k, seek below keyframe k+1's dts.
            self._key_seek_limit = [d - 1 for _, d in keyframes[1:]] + [None]
        self._index_of = {int(p): n for n, p in enumerate(self._pts)}
        self._start_ts = start_ts
        # The mean rate of the frames themselves: headers are often wrong for variable rate.
        span = float((self._pts[-1] - self._pts[0]) * self._time_base) if not ordinal else 0.0
        rate = stream.average_rate or stream.guessed_rate
        self.fps = (self.num_frames - 1) / span if span > 0 else float(rate) if rate else None
        self._frames: Iterator[av.VideoFrame] | None = None  # the decoder's output, once started
        self._last = None  # index of the last frame the decoder produced
        self._skip_below = None  # non-reference frames shown before this pts need no decoding
        self._trusted_from = None  # pts of the keyframe decoding restarted from

    def timestamps(self) -> np.ndarray:
        if self._ordinal:
            if self.fps:
                return np.arange(self.num_frames, dtype=np.float64) / self.fps
            return np.full(self.num_frames, np.nan)
        return (self._pts - self._pts[0]).astype(np.float64) * float(self._time_base)

    # -- decoding -------------------------------------------------------------------------------

    @property
    def max_keyframe_gap(self) -> int:
        """The most frames a seek may have to decode to reach a frame (the longest GOP)."""
        if self._ordinal:
            return self.num_frames  # no seeking: reads go forward from the start
        starts = self._key_index + [self.num_frames]
        return max(b - a for a, b in zip(starts, starts[1:]))

    def raw_frame(self, i: int) -> av.VideoFrame:
        """Frame i as the decoder gives it (native pixel format, display rotation not applied),
        bypassing the cache; reading i + 1 next just keeps decoding. For transcoding."""
        i = self._check_index(i)
        with self._lock:
            if self._closed:
                raise VideoError(f"{self.path}: the video is closed")
            return self._decode(i)

    def _read(self, i: int) -> np.ndarray:
        return upright_rgb(self._decode(i))

    def _decode(self, i: int) -> av.VideoFrame:
        if self._container is None:
            raise VideoError(f"{self.path}: the video is closed")
        try:
            if self._last is not None and self._last < i and self._forward_is_cheaper(i):
                try:
                    return self._decode_until(i)
                except _Missed:
                    pass
            return self._seek_and_decode(i)
        except av.FFmpegError as exc:
            self._frames = None
            self._last = None
            raise VideoError(f"{self.path}: frame {i} could not be decoded ({_describe(exc)})") from exc

    def _keyframe_before(self, i: int) -> int:
        """Position in _key_index of the last keyframe at or before frame i (-1 if none)."""
        return bisect.bisect_right(self._key_index, i) - 1

    def _forward_is_cheaper(self, i: int) -> bool:
        k = self._keyframe_before(i)
        return self._ordinal or k < 0 or self._key_index[k] <= self._last + SEEK_COST_FRAMES

    def _seek_and_decode(self, i: int) -> av.VideoFrame:
        """Seek to the keyframe before frame i and decode forward; back off if that overshoots."""
        k = self._keyframe_before(i)
        if k < 0 or self._ordinal:
            return self._decode_from_start(i)
        # Seek no further than just before the next keyframe's dts, else demuxers that seek by
        # dts land on that keyframe when frame i is shown just before it.
        limit = self._key_seek_limit[k]
        target = int(self._pts[i]) if limit is None else min(int(self._pts[i]), limit)
        backoff = 0.0
        while True:
            seek_ts = target - int(backoff / self._time_base)
            if seek_ts <= self._pts[0]:
                break
            self._restart(seek_ts)
            try:
                return self._decode_until(i)
            except _Missed:
                backoff = backoff * 2 if backoff else _BACKOFF_SECONDS
        return self._decode_from_start(i)

    def _decode_from_start(self, i: int) -> av.VideoFrame:
        if not self._ordinal:
            try:
                self._restart(self._start_ts)
                return self._decode_until(i)
            except (_Missed, av.FFmpegError):
                pass  # seeking to the start is not exact in every format (MPEG-TS): reopen
        self._restart(None)
        try:
            return self._decode_until(i)
        except _Missed:
            raise VideoError(f"{self.path}: frame {i} could not be decoded") from None

    def _restart(self, seek_ts: int | None) -> None:
        """Seek the demuxer to seek_ts (backward, to a keyframe), or reopen the file if None."""
        self.seek_count += 1
        self._frames = None
        if seek_ts is None:
            self._container.close()
            self._open_container()
            self._last = -1 if self._ordinal else None
            self._trusted_from = self._pts[0]  # the real start: every frame decodes whole
        else:
            self._container.seek(seek_ts, stream=self._stream, backward=True, any_frame=False)
            self._last = None
            self._trusted_from = None  # until the first keyframe comes out
        self._frames = self._decode_packets()

    def _decode_packets(self) -> Iterator[av.VideoFrame]:
        ctx = self._stream.codec_context
        for packet in self._container.demux(self._stream):
            if packet.size == 0 and (packet.pts is not None or packet.dts is not None):
                continue  # an empty packet would tell the decoder that the stream has ended
            # Frames well before the wanted one that no other frame refers to need no decoding.
            limit = self._skip_below
            skip = limit is not None and packet.pts is not None and packet.pts < limit
            ctx.skip_frame = "NONREF" if skip else "DEFAULT"
            yield from ctx.decode(packet)

    def _decode_until(self, i: int) -> av.VideoFrame:
        """Pull frames from the decoder until frame i; cache the frames passed on the way (in
        their native format: only the frame asked for is converted to RGB)."""
        if self._frames is None:
            raise _Missed
        if not self._ordinal:  # (counting frames needs every frame)
            self._skip_below = int(self._pts[max(0, i - KEEP_BEFORE)])
        try:
            for frame in self._frames:
                self.decoded_count += 1
                n = self._index(frame)
                if n is None:
                    continue
                self._last = n
                if n == i:
                    return frame
                if n > i:
                    raise _Missed
                if n not in self._cache:
                    self._cache.put(n, _PendingFrame(frame))
                if self._abort is not None and self._abort():
                    # The decoder stays where it is: a later read may go on from here.
                    raise Cancelled(f"{self.path}: reading frame {i} was given up at frame {n}")
        finally:
            self._skip_below = None
        self._frames = None  # the decoder is drained
        raise _Missed

    def _index(self, frame: av.VideoFrame) -> int | None:
        """The index of a decoded frame, or None if it cannot be trusted to be complete."""
        if self._ordinal:
            return self._last + 1
        if frame.pts is None:
            return None
        if self._trusted_from is None:
            # After a seek, frames are whole only from the first keyframe on; leading frames of
            # an open GOP (pts before that keyframe) may refer to pictures we never decoded.
            if not frame.key_frame:
                return None
            self._trusted_from = frame.pts
        if frame.pts < self._trusted_from:
            return None
        return self._index_of.get(frame.pts)

    def _release(self) -> None:
        self._frames = None
        if self._container is not None:
            self._container.close()
            self._container = None


def _describe(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


# ---------------------------------------------------------------------------------------------
# Opening


def _video_stream(container, path) -> "av.video.stream.VideoStream":
    """The container's first video stream that is not cover art, with a decoder; VideoError naming
    `path` if none (opening a video and checking a file before a project is made both ask here)."""
    for stream in container.streams.video:
        if not (stream.disposition & av.stream.Disposition.attached_pic):  # cover art, not video
            if stream.codec_context is None:
                raise VideoError(f"{path}: unsupported video codec (FFmpeg has no decoder for it)")
            return stream
    raise VideoError(f"{path}: has no video stream")


def check_video_file(path: Path | str) -> None:
    """Raise VideoError naming the problem unless `path` is a file with a video stream: a quick
    look at the header only (nothing decoded, no index built), before a new project is asked for."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such file" if not path.exists() else f"{path}: is a folder, not a video file")
    try:
        with av.open(str(path), "r") as container:
            _video_stream(container, path)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise VideoError(f"{path}: not a readable video ({_describe(exc)})") from exc


def open_video(path: Path | str, max_cache_bytes: int = DEFAULT_CACHE_BYTES) -> VideoSource:
    """Open a video file (PyAV) or a folder of images (sorted naturally) for frame-exact reading."""
    path = Path(path)
    if path.is_dir():
        return ImageFolderSource(path, max_cache_bytes)
    if not path.exists():
        raise VideoError(f"{path}: no such file or folder")
    return PyAVSource(path, max_cache_bytes)


def open_frames(video: Video, base_dir: Path | str | None = None, max_cache_bytes: int = DEFAULT_CACHE_BYTES) -> VideoSource:
    """The frames of an annotation Video.

    With `video.frames` set (imported PoseTrack/COCO), frame i is the image
    `source / frames[i].file_name`; otherwise `source` is opened as a video file or folder.
    A relative `source` is resolved against `base_dir` (the project's folder).
    """
    source = Path(video.source)
    if base_dir is not None and not source.is_absolute():
        source = Path(base_dir) / source
    if video.frames:
        frames = ImageFolderSource.from_files([source / ref.file_name for ref in video.frames], max_cache_bytes)
    else:
        frames = open_video(source, max_cache_bytes)
    if video.num_frames > 0 and frames.num_frames != video.num_frames:
        n = frames.num_frames
        frames.close()
        raise VideoError(f"{source}: has {n} frames, but video {video.name or video.video_id} expects {video.num_frames}")
    return frames
