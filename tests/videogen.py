"""Synthetic test videos whose frames carry their own index in the pixels.

`counter_frame(i)` paints the bits of i as black/white blocks big enough to survive lossy
compression; `read_counter(rgb)` reads them back, so a test can tell exactly which frame a
reader returned. `textured_frames` makes heavier, camera-like footage for benchmarks.
"""
from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Sequence

import av
import cv2
import numpy as np

COLS, ROWS = 4, 3  # 12 bits: frame numbers up to 4095
MAX_COUNTER = 2 ** (COLS * ROWS) - 1


def counter_frame(i: int, width: int = 160, height: int = 96) -> np.ndarray:
    """An RGB image (height, width, 3) whose blocks spell the bits of i (bit 0 top-left)."""
    if not 0 <= i <= MAX_COUNTER:
        raise ValueError(f"counter {i} does not fit in {COLS * ROWS} bits")
    img = np.full((height, width, 3), 40, np.uint8)
    bw, bh = width // COLS, height // ROWS
    for bit in range(COLS * ROWS):
        if (i >> bit) & 1:
            r, c = divmod(bit, COLS)
            img[r * bh:(r + 1) * bh, c * bw:(c + 1) * bw] = 215
    return img


def read_counter(rgb: np.ndarray) -> int:
    """The number painted by counter_frame, read from the centre of each block."""
    h, w = rgb.shape[:2]
    bw, bh = w // COLS, h // ROWS
    value = 0
    for bit in range(COLS * ROWS):
        r, c = divmod(bit, COLS)
        y0, x0 = r * bh + bh // 4, c * bw + bw // 4
        if rgb[y0:y0 + bh // 2, x0:x0 + bw // 2].mean() > 128:
            value |= 1 << bit
    return value


def write_video(
    path: Path | str,
    frames: Iterable[np.ndarray],
    *,
    codec: str = "libx264",
    rate: int = 25,
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    gop: int = 30,
    bframes: int = 3,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode RGB frames. `pts` (in `time_base` units) gives irregular timestamps (variable rate)."""
    path = Path(path)
    frames = iter(frames)
    first = next(frames)
    h, w = first.shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = gop
        stream.codec_context.max_b_frames = bframes
        opts = dict(options or {})
        if codec == "libx264":
            # Fixed B-frame pattern (b-adapt=0) so B-frames occur whatever the content.
            opts.setdefault("x264-params", f"keyint={gop}:min-keyint={gop}:bframes={bframes}:b-adapt=0:scenecut=0")
            opts.setdefault("preset", "veryfast")
        stream.options = opts
        if time_base is not None:
            stream.codec_context.time_base = time_base
            stream.time_base = time_base
        for i, rgb in enumerate(itertools.chain([first], frames)):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            if pts is not None:
                frame.pts = int(pts[i])
                frame.time_base = time_base
            else:
                frame.pts = i
                frame.time_base = Fraction(1, rate)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def counter_video(path: Path | str, n: int, width: int = 160, height: int = 96, **kw) -> Path:
    """A video whose frame i shows the number i."""
    return write_video(path, (counter_frame(i, width, height) for i in range(n)), **kw)


def image_folder(folder: Path | str, n: int, width: int = 160, height: int = 96, ext: str = ".png") -> Path:
    """Images 0.png, 1.png, ... (unpadded, so only a natural sort orders them) showing their index."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        cv2.imwrite(str(folder / f"{i}{ext}"), counter_frame(i, width, height)[:, :, ::-1])
    return folder


def textured_frames(n: int, width: int = 1920, height: int = 1080, seed: int = 0) -> Iterable[np.ndarray]:
    """Camera-like footage: a panning, blurred noise texture with moving shapes and a counter."""
    rng = np.random.default_rng(seed)
    pad = 64
    texture = rng.integers(0, 256, (height + 2 * pad, width + 2 * pad, 3), dtype=np.uint8)
    texture = cv2.GaussianBlur(texture, (0, 0), 2.0)
    shapes = [
        (rng.uniform(0, width), rng.uniform(0, height), rng.uniform(-9, 9), rng.uniform(-6, 6),
         int(rng.integers(30, 160)), tuple(int(c) for c in rng.integers(0, 256, 3)))
        for _ in range(12)
    ]
    for i in range(n):
        dx = int(pad + pad * np.sin(i / 40.0))
        dy = int(pad + pad * np.cos(i / 55.0))
        img = texture[dy:dy + height, dx:dx + width].copy()
        for x, y, vx, vy, r, color in shapes:
            cx = int((x + vx * i) % width)
            cy = int((y + vy * i) % height)
            cv2.circle(img, (cx, cy), r, color, -1)
        small = counter_frame(i, 320, 192)
        img[:192, :320] = small
        yield img
