"""Seek proxies: a short-GOP copy of a video, so that any frame decodes in milliseconds.

Camera and web video keeps a keyframe every 2-10 s, and B-frames: reaching a random frame
means decoding a whole GOP (120-250 ms at 1080p here). A proxy re-encodes every frame, at full
size, as H.264 with a keyframe every PROXY_GOP frames and no B-frames (x264 ultrafast: no
CABAC, no deblocking, cheap to decode), so a random frame costs at most PROXY_GOP decodes.

Proxy frame i is source frame i: the source is read through PyAVSource (the frame indexing
everything else uses) and frame i is written with pts i; a proxy is only used if its frame
count and size match. Only the GUI's display reads proxies; auto-fill, training and export
read the original.

Proxies live in a cache folder, named by a hash of the source's path, size and modification
time (an edited source gets a new proxy). A build writes to a temporary name and renames the
file when it is complete, so a cancelled or crashed build leaves nothing under the final name;
a proxy that does not open, or has the wrong frames, is deleted (and can be built again).
"""
from __future__ import annotations

import hashlib
import os
import threading
from fractions import Fraction
from pathlib import Path
from typing import Callable

import av

from .errors import Cancelled, VideoError
from .video import SMALL_FRAME_PIXELS, PyAVSource, VideoSource, display_turns, upright_rgb

PROXY_GOP = 8
PROXY_FORMAT_VERSION = 1  # part of the file name: a new recipe never reads an old proxy
PROXY_CACHE_BYTES = 256 * 2**20  # the proxy's decoder cache (half the GUI's for the original)
DEFAULT_KEEP_BYTES = 20 * 2**30  # the cache folder is pruned to this, least recently used first
_METADATA_KEY = "POSEWARPER_PROXY"
_SUFFIX = ".mkv"  # Matroska: readable up to the last whole frame if something cuts it short
_ENCODER_OPTIONS = {
    "preset": "ultrafast",
    "crf": "18",  # about 40 dB PSNR on the demo: joints stay as sharp as in the source
    "x264-params": f"keyint={PROXY_GOP}:min-keyint={PROXY_GOP}:bframes=0:scenecut=0",
}


def default_folder() -> Path:
    """Where proxies are kept: $POSEWARPER_PROXY_DIR, else the user's cache folder."""
    explicit = os.environ.get("POSEWARPER_PROXY_DIR")
    if explicit:
        return Path(explicit)
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "posewarper" / "proxies"


def source_key(source_path: Path | str) -> str:
    """Identifies a source file's current content cheaply: path, size and modification time."""
    path = Path(source_path).resolve()
    st = path.stat()
    text = f"{PROXY_FORMAT_VERSION}|{path}|{st.st_size}|{st.st_mtime_ns}"
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:24]


def proxy_path(source_path: Path | str, folder: Path | str | None = None) -> Path:
    folder = Path(folder) if folder is not None else default_folder()
    return folder / f"{source_key(source_path)}{_SUFFIX}"


def worth_a_proxy(source: VideoSource, min_pixels: int = SMALL_FRAME_PIXELS) -> bool:
    """True for a video file where some frame lies more than PROXY_GOP frames after its keyframe
    (image folders and short-GOP video are random access already), with frames of at least
    `min_pixels` (below VGA size even a long GOP decodes in a few tens of milliseconds)."""
    return (isinstance(source, PyAVSource) and source.max_keyframe_gap > PROXY_GOP
            and source.width * source.height >= min_pixels)


def open_proxy(source: VideoSource, folder: Path | str | None = None,
               max_cache_bytes: int = PROXY_CACHE_BYTES) -> PyAVSource | None:
    """The finished proxy of `source` if there is a valid one, else None. An invalid file
    (unreadable, cut short, other frames) is deleted so that it gets built again."""
    path = proxy_path(source.path, folder)
    if not path.is_file():
        return None
    try:
        proxy = _open_checked(path, source, max_cache_bytes)
    except VideoError:
        path.unlink(missing_ok=True)
        return None
    try:
        os.utime(path)  # marks it as recently used for prune()
    except OSError:
        pass
    return proxy


def ensure_proxy(source: VideoSource, folder: Path | str | None = None, *,
                 progress: Callable[[int, int], None] | None = None,
                 cancel: Callable[[], bool] | None = None,
                 max_cache_bytes: int = PROXY_CACHE_BYTES) -> PyAVSource:
    """Open the proxy of `source`, building it first if there is no valid one."""
    proxy = open_proxy(source, folder, max_cache_bytes)
    if proxy is not None:
        return proxy
    path = build_proxy(source.path, folder, progress=progress, cancel=cancel)
    proxy = open_proxy(source, folder, max_cache_bytes)
    if proxy is None:
        raise VideoError(f"{path}: the proxy just built for {source.path} does not match its frames")
    prune(path.parent, keep=path)
    return proxy


def build_proxy(source_path: Path | str, folder: Path | str | None = None, *,
                progress: Callable[[int, int], None] | None = None,
                cancel: Callable[[], bool] | None = None) -> Path:
    """Transcode the video into its proxy file and return the file's path.

    `progress(done, total)` is called after each frame; `cancel()` returning True stops the
    build (raising Cancelled) and removes the partial file."""
    source_path = Path(source_path)
    final = proxy_path(source_path, folder)
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_parts(final)
    part = final.with_name(f"{final.stem}.{os.getpid()}-{threading.get_native_id()}.part{_SUFFIX}")
    try:
        with PyAVSource(source_path, max_cache_bytes=0) as source:
            _transcode(source, part, progress, cancel)
        os.replace(part, final)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return final


def prune(folder: Path | str, keep_bytes: int = DEFAULT_KEEP_BYTES, keep: Path | None = None) -> list[Path]:
    """Delete the least recently used proxies until the folder holds at most keep_bytes."""
    folder = Path(folder)
    try:
        files = [p for p in folder.iterdir() if p.suffix == _SUFFIX and ".part" not in p.name]
        stats = {p: p.stat() for p in files}
    except OSError:
        return []
    total = sum(st.st_size for st in stats.values())
    removed = []
    for p in sorted(files, key=lambda p: stats[p].st_mtime):
        if total <= keep_bytes:
            break
        if keep is not None and p == keep:
            continue
        p.unlink(missing_ok=True)
        total -= stats[p].st_size
        removed.append(p)
    return removed


def _transcode(source: PyAVSource, part: Path, progress, cancel) -> None:
    n = source.num_frames
    key = source_key(source.path)
    with av.open(str(part), "w", format="matroska") as out:
        out.metadata[_METADATA_KEY] = f"{key} {n}"
        stream = None
        for i in range(n):
            if cancel is not None and cancel():
                raise Cancelled(f"proxy of {source.path}: cancelled at frame {i} of {n}")
            frame = source.raw_frame(i)
            if display_turns(frame):  # store the frames upright: the proxy has no rotation tag
                frame = av.VideoFrame.from_ndarray(upright_rgb(frame), format="rgb24")
            if stream is None:
                stream = _add_stream(out, frame, source.fps)
            if frame.format.name != stream.pix_fmt:
                frame = frame.reformat(format=stream.pix_fmt)
            frame.pts = i
            frame.time_base = stream.codec_context.time_base
            frame.pict_type = av.video.frame.PictureType.NONE  # let the encoder place keyframes
            out.mux(stream.encode(frame))
            if progress is not None:
                progress(i + 1, n)
        out.mux(stream.encode())


def _add_stream(out, first: av.VideoFrame, fps: float | None):
    rate = int(round(fps)) if fps and 1 <= fps <= 240 else 25
    stream = out.add_stream("libx264", rate=rate)
    stream.width, stream.height = first.width, first.height
    # 4:2:0 needs even sizes; x264 takes odd ones in 4:4:4.
    stream.pix_fmt = "yuv420p" if first.width % 2 == 0 and first.height % 2 == 0 else "yuv444p"
    ctx = stream.codec_context
    ctx.time_base = Fraction(1, rate)
    # The RGB conversion picks its matrix (BT.601 / 709 ...) from this tag: keep the source's.
    ctx.colorspace = first.colorspace
    ctx.color_primaries = first.color_primaries
    ctx.color_trc = first.color_trc
    stream.options = dict(_ENCODER_OPTIONS)
    return stream


def _open_checked(path: Path, source: VideoSource, max_cache_bytes: int) -> PyAVSource:
    """Open a proxy file; VideoError unless it holds exactly the frames of `source`."""
    n = source.num_frames
    try:
        with av.open(str(path)) as container:
            tag = container.metadata.get(_METADATA_KEY, "")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise VideoError(f"{path}: not a readable proxy ({exc})") from exc
    if tag != f"{source_key(source.path)} {n}":
        raise VideoError(f"{path}: is not the proxy of {source.path} ({tag or 'no proxy tag'})")
    # One decoder thread: frame threads make each seek wait for the pipeline to fill (measured:
    # twice the CPU time per random seek at 1080p).
    proxy = PyAVSource(path, max_cache_bytes, threads=1)
    try:
        if proxy.num_frames != n or (proxy.width, proxy.height) != (source.width, source.height):
            raise VideoError(f"{path}: has {proxy.num_frames} frames of {proxy.width}x{proxy.height}, "
                             f"the source {n} of {source.width}x{source.height}")
        proxy.frame(n - 1)  # the last frame decodes: the file is whole
    except BaseException:
        proxy.close()
        raise
    return proxy


def _remove_abandoned_parts(final: Path) -> None:
    """Partial files of this proxy left by a process that no longer runs (a crashed build)."""
    for p in final.parent.glob(f"{final.stem}.*.part{_SUFFIX}"):
        pid = p.name[len(final.stem) + 1:].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_alive(int(pid)):
            p.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, but not ours to signal
    return True
