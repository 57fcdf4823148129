"""Background work: decoding frames ahead of the user, building the seek proxy, and auto-fill.

FrameLoader follows SLEAP's LoadImageWorker: the UI posts the frame it wants and only the
latest request is served, so scrubbing never queues a backlog. After serving, it decodes a
few frames ahead (in the direction the user is moving) into a small QImage cache; the UI reads
that cache synchronously, so stepping through cached frames costs no thread round trip.

When nothing is asked for, it decodes the keyframe slots (every `stride`-th frame and the
last, where annotators jump to) nearest the current frame into a second cache, in one forward pass (a
random seek costs a whole GOP; a forward pass costs one frame), so a jump to a keyframe shows
the exact frame at once.

`start_proxy()` builds (once per video, at low priority) a short-GOP copy of a long-GOP video
(posewarper_core.proxy) and, when it is ready, the loader reads from it: any frame is then a
few decodes away instead of a whole GOP.
"""
from __future__ import annotations

import os
import threading
import time

import cv2
import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtGui import QImage

from posewarper_core import proxy as proxies
from posewarper_core.errors import Cancelled, PoseWarperError

from . import navigation

BYTES_PER_PIXEL = 4  # QImage.Format_RGB32


def to_qimage(rgb: np.ndarray) -> QImage:
    """An RGB array as a QImage with memory of its own, in the format Qt paints fastest (RGB32:
    scaling a 24-bit image converts every pixel on every repaint)."""
    h, w = rgb.shape[:2]
    img = QImage(w, h, QImage.Format_RGB32)  # bytes B, G, R, 255 in memory (little-endian ARGB)
    view = np.ndarray((h, w, 4), np.uint8, img.bits(), 0, (img.bytesPerLine(), 4, 1))
    cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGRA, dst=view)
    return img


def rgb_of(img: QImage) -> np.ndarray:
    """to_qimage undone: the RGB array of an RGB32 QImage (a copy)."""
    view = np.ndarray((img.height(), img.width(), 4), np.uint8, img.constBits(), 0, (img.bytesPerLine(), 4, 1))
    return cv2.cvtColor(view, cv2.COLOR_BGRA2RGB)


class FrameCache:
    """QImages of decoded frames near the current one, bounded in bytes; shared by the loader
    and the UI. When full, the frame farthest from `centre` goes first: the frames just ahead
    of the user, read ahead a while ago, must outlive those far behind."""

    def __init__(self, max_bytes: int = 192 * 2**20):
        self.max_bytes = max_bytes
        self.centre = 0
        self._items: dict[int, QImage] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, i: int) -> QImage | None:
        with self._lock:
            return self._items.get(i)

    def __contains__(self, i: int) -> bool:
        with self._lock:
            return i in self._items

    def put(self, i: int, img: QImage) -> None:
        with self._lock:
            if i in self._items:
                return
            self._items[i] = img
            self._bytes += img.sizeInBytes()
            while self._bytes > self.max_bytes and len(self._items) > 1:
                far = max(self._items, key=lambda f: abs(f - self.centre))
                self._bytes -= self._items.pop(far).sizeInBytes()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def keys(self) -> list[int]:
        with self._lock:
            return list(self._items)

    def discard(self, i: int) -> None:
        with self._lock:
            img = self._items.pop(i, None)
            if img is not None:
                self._bytes -= img.sizeInBytes()


def lower_thread_priority() -> None:
    """Make the calling thread (and the codec threads it starts later) yield the CPU to the UI
    and the frame loader. Linux nice values are per thread; elsewhere this does nothing."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass


class ProxyBuilder(QThread):
    """Opens, or builds first, the seek proxy of a video (posewarper_core.proxy) at low priority.
    While `pause()` is true (the user is moving through the video) it waits between frames."""

    progress = Signal(int, int)
    ready = Signal(object)  # the opened proxy (a VideoSource)
    failed = Signal(str)

    def __init__(self, source, folder=None, parent=None, pause=None):
        super().__init__(parent)
        self.source, self.folder = source, folder
        self._pause = pause
        self._cancel = threading.Event()
        self._shown = -1

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        lower_thread_priority()
        try:
            proxy = proxies.ensure_proxy(self.source, self.folder, progress=self._progress,
                                         cancel=self._cancel.is_set)
        except Cancelled:
            return
        except (PoseWarperError, OSError, ValueError) as exc:
            self.failed.emit(str(exc))
            return
        except Exception as exc:  # an FFmpeg error: the GUI keeps reading the original
            self.failed.emit(f"{type(exc).__name__}: {exc}")
            return
        if self._cancel.is_set():
            proxy.close()
            return
        self.ready.emit(proxy)

    def _progress(self, done: int, total: int) -> None:
        while self._pause is not None and self._pause() and not self._cancel.is_set():
            time.sleep(0.05)
        percent = 100 * done // max(1, total)
        if percent != self._shown:  # a signal per percent, not per frame
            self._shown = percent
            self.progress.emit(done, total)


class _LoaderWorker(QObject):
    frameReady = Signal(int, QImage)
    failed = Signal(int, str)

    def __init__(self, loader: "FrameLoader"):
        super().__init__()
        self.loader = loader

    @Slot()
    def serve(self) -> None:
        ld = self.loader
        ld._switch_source()
        i = ld._take_request()
        if i is None:
            return
        img = ld.cached(i)
        if img is None:
            try:
                # A newer request (or the switch to the proxy) stops this decode between frames.
                img = to_qimage(ld.source.frame(i, abort=ld._has_request))
            except Cancelled:
                ld._ask_again(i)  # unless someone asked for another frame since
                return
            except (PoseWarperError, OSError, ValueError) as exc:
                self.failed.emit(i, str(exc))
                return
            ld.cache.put(i, img)
        self.frameReady.emit(i, img)
        self._read_ahead(i)
        self._fill_slots(i)

    def _read_ahead(self, i: int) -> None:
        ld = self.loader
        for f in ld.ahead_of(i):
            if ld._has_request():  # the user moved on: serve that first
                return
            if f in ld.cache or f in ld.slots:
                continue
            try:
                ld.cache.put(f, to_qimage(ld.source.frame(f, abort=ld._has_request)))
            except (PoseWarperError, OSError, ValueError):  # (Cancelled included)
                return

    def _fill_slots(self, i: int) -> None:
        """Idle work: decode the keyframe slots nearest frame i that are not cached yet."""
        ld = self.loader
        wanted = ld.slots_wanted(i)
        keep = set(wanted)
        for f in ld.slots.keys():  # slots now far from the user make room for near ones
            if f not in keep:
                ld.slots.discard(f)
        # Ascending order: the decoder runs forward through the video instead of seeking.
        for f in sorted(wanted):
            if ld._has_request():
                return
            if f in ld.slots:
                continue
            img = ld.cache.get(f)
            try:
                ld.slots.put(f, img if img is not None else to_qimage(ld.source.frame(f, abort=ld._has_request)))
            except (PoseWarperError, OSError, ValueError):  # (Cancelled included)
                return
        ld.slotsFilled.emit()


class FrameLoader(QObject):
    """Owns the decode thread and the source (closed by stop()). `request(i)` returns at once;
    `frameReady(i, image)` follows."""

    frameReady = Signal(int, QImage)
    failed = Signal(int, str)
    slotsFilled = Signal()  # the keyframe slots near the current frame are all decoded
    proxyProgress = Signal(int, int)  # frames of the seek proxy built so far, of all
    proxyReady = Signal(str)  # the loader now reads this proxy file
    proxyFailed = Signal(str)
    _wake = Signal()

    def __init__(self, source, ahead: int = 12, parent=None, *, cache_bytes: int = 192 * 2**20,
                 slot_bytes: int = 340 * 2**20):
        """`cache_bytes` bounds the recent/read-ahead QImages, `slot_bytes` the keyframe slots
        decoded at idle time (0 turns that off)."""
        super().__init__(parent)
        self.source = source
        self.ahead = ahead
        self.stride = 10
        self.direction = 1
        self.cache = FrameCache(cache_bytes)
        self.slots = FrameCache(slot_bytes)
        self.proxy_path: str | None = None  # the proxy file the loader reads, once it does
        self._lock = threading.Lock()
        self._wanted: int | None = None
        self._next_source = None
        self._builder: ProxyBuilder | None = None
        self._stopping = False
        self._last = 0
        self._asked_at = -1e9  # time.monotonic() of the last request
        self._thread = QThread()
        self._thread.setObjectName("frame-loader")
        self._worker = _LoaderWorker(self)
        self._worker.moveToThread(self._thread)
        self._wake.connect(self._worker.serve)
        self._worker.frameReady.connect(self.frameReady)
        self._worker.failed.connect(self.failed)
        self._thread.start()

    def request(self, i: int) -> QImage | None:
        """Ask for frame i. Returns the image at once if it is cached (then reads ahead anyway)."""
        self.direction = -1 if i < self._last else 1
        self._last = i
        self._asked_at = time.monotonic()
        self.cache.centre = self.slots.centre = i
        with self._lock:
            self._wanted = i
        self._wake.emit()
        return self.cached(i)

    def cached(self, i: int) -> QImage | None:
        """Frame i if it is decoded already (recent frames or keyframe slots), else None."""
        img = self.slots.get(i)
        return img if img is not None else self.cache.get(i)

    def start_proxy(self, folder=None, min_pixels: int = proxies.SMALL_FRAME_PIXELS) -> bool:
        """Build (or find) the seek proxy in the background and read from it once it is ready.
        False if the video needs none (image folders, short GOPs, frames under `min_pixels`)."""
        if self._builder is not None or not proxies.worth_a_proxy(self.source, min_pixels):
            return False
        self._builder = ProxyBuilder(self.source, folder, self, pause=self._user_is_moving)
        self._builder.progress.connect(self.proxyProgress)
        self._builder.failed.connect(self.proxyFailed)
        self._builder.ready.connect(self._proxy_ready)
        self._builder.start()
        return True

    def _user_is_moving(self) -> bool:
        """A frame was asked for in the last half second (then background builds wait)."""
        return time.monotonic() - self._asked_at < 0.5

    def _proxy_ready(self, proxy) -> None:
        if self._stopping:
            proxy.close()
            return
        with self._lock:
            self._next_source = proxy
        self.proxy_path = str(proxy.path)
        self._wake.emit()  # the worker switches before it serves the next frame
        self.proxyReady.emit(self.proxy_path)

    def _switch_source(self) -> None:
        """(Worker thread.) Read from the proxy from now on; the original is closed, which
        frees its decoder cache. Frames decoded from either are the same frames."""
        with self._lock:
            new, self._next_source = self._next_source, None
        if new is not None:
            old, self.source = self.source, new
            old.close()

    def slots_wanted(self, i: int) -> list[int]:
        """The keyframe slots (multiples of the stride and the last frame, navigation.is_slot)
        nearest frame i that fit the slot budget."""
        k = self.stride
        n = len(self.source)
        if k <= 1 or self.slots.max_bytes <= 0 or n == 0:
            return []
        frame_bytes = max(1, int(self.source.width) * int(self.source.height) * BYTES_PER_PIXEL)
        room = self.slots.max_bytes // frame_bytes
        wanted = navigation.slots(n, k)
        if room >= len(wanted):
            return wanted
        return sorted(wanted, key=lambda f: (abs(f - i), f))[:room]

    def ahead_of(self, i: int) -> list[int]:
        """Frames worth decoding next: the next few in the direction of travel, then the
        neighbouring keyframe slots (where annotators jump to)."""
        n = len(self.source)
        near = [i + self.direction * k for k in range(1, self.ahead + 1)]
        k = self.stride
        slots = [(i // k + s) * k for s in (1, 2, -1)] if k > 1 else []
        return [f for f in near + slots if 0 <= f < n]

    def _take_request(self) -> int | None:
        with self._lock:
            i, self._wanted = self._wanted, None
            return i

    def _ask_again(self, i: int) -> None:
        """Put back a request whose decode gave way, unless a newer one has come in."""
        with self._lock:
            if self._wanted is None and not self._stopping:
                self._wanted = i
        self._wake.emit()

    def _has_request(self) -> bool:
        """True when background work should give way: a frame is wanted or the loader stops."""
        with self._lock:
            return self._wanted is not None or self._stopping or self._next_source is not None

    def stop(self) -> None:
        """Stop decoding and building, and close the source (and the proxy)."""
        with self._lock:
            self._wanted = None
            self._stopping = True
        if self._builder is not None:
            self._builder.cancel()
            self._builder.wait(30000)
        self._thread.quit()
        self._thread.wait(5000)
        with self._lock:
            pending, self._next_source = self._next_source, None
        for source in (pending, self.source):
            if source is not None:
                source.close()


class AutofillWorker(QThread):
    """Runs autofill.fill off the UI thread. Results arrive as `batch` signals (queued to the
    UI thread, which applies them through the store); `finishedWith` reports how it ended.

    `open_frames` (() -> VideoSource, or None for methods that need no frames) runs on the worker
    thread: opening a video indexes the whole file, which would freeze the UI for a moment."""

    batch = Signal(object)  # list[PoseChange]
    progress = Signal(int, int)
    setupProgress = Signal(int, int)  # the method's one-off work first (posewarper: tuning steps)
    finishedWith = Signal(str, str)  # status ("done" | "cancelled" | "failed"), message
    # where what is left to fill starts, after a batch (queued after it, so it lands after it)
    resumeFrom = Signal(int)

    def __init__(self, fill, video, open_frames, method: str, track_ids=None, frame_range=None, parent=None):
        super().__init__(parent)
        self._fill = fill
        self.video, self.open_frames, self.method = video, open_frames, method
        self.frames = None
        self.track_ids, self.frame_range = track_ids, frame_range
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        delivered, unchanged, counted = [], [], [0]
        try:
            self.frames = self.open_frames() if self.open_frames is not None else None
            result = self._fill(
                self.video, self.frames, self.method, track_ids=self.track_ids, frame_range=self.frame_range,
                progress=lambda done, total: (counted.__setitem__(0, int(total)),
                                              self.progress.emit(int(done), int(total))),
                setup_progress=lambda step, steps: self.setupProgress.emit(int(step), int(steps)),
                cancel=self._cancel.is_set,
                on_changes=lambda changes: (delivered.append(len(changes)), self.batch.emit(list(changes))),
                on_unchanged=lambda frame, tid: unchanged.append((frame, tid)),
                resume_from=lambda frame: self.resumeFrom.emit(int(frame)),
            )
            if not delivered and result:  # an engine that only returns at the end
                self.batch.emit(list(result))
            self.finishedWith.emit("done", self._done_text(sum(delivered) or len(result or []), unchanged,
                                                           counted[0]))
        except Cancelled:
            self.finishedWith.emit("cancelled", f"{sum(delivered)} poses kept")
        except PoseWarperError as exc:
            self.finishedWith.emit("failed", str(exc))
        except Exception as exc:  # an engine bug must not take the GUI down
            self.finishedWith.emit("failed", f"{type(exc).__name__}: {exc}")
        finally:
            close = getattr(self.frames, "close", None)
            if close is not None:
                close()

    def _done_text(self, n_changed: int, unchanged: list, total: int) -> str:
        """"191 poses", and why that is fewer than the person-frames the progress counted (a trial
        saw "x / 199 person-frames", then "191 poses"): the person-frames the fill left as they
        were. Re-filling the demo's jumper (posewarper, nothing edited) changed 117 of 200: the
        rest already had the very pose it gave."""
        text = f"{n_changed} poses"
        if not unchanged:
            return text
        there = [self.video.pose(f, t) for f, t in unchanged]
        reviewed = sum(p is not None and p.reviewed for p in there)
        same = sum(p is not None and not p.reviewed for p in there)
        why = [f"{reviewed} reviewed, kept"] if reviewed else []
        if same:
            why.append(f"{same} already had the pose it gives")
        if len(unchanged) > same + reviewed:
            why.append(f"{len(unchanged) - same - reviewed} had no joint to fill from")
        return f"{text}; {len(unchanged)} of {total} person-frames left as they were ({', '.join(why)})"
