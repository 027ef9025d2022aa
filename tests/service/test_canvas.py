"""The chart's canvas: where text, lines and fills land in pixels from the top-left corner."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from service.canvas import Box, Canvas


def pixels(canvas: Canvas) -> np.ndarray:
    with Image.open(io.BytesIO(canvas.png())) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def white(width: int = 200, height: int = 100) -> Canvas:
    canvas = Canvas(width, height, 100)
    canvas.fill(Box(0, 0, width, height), "#ffffff")
    return canvas


def ink(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the dark pixels."""
    return np.nonzero(image.sum(axis=2) < 300)


def test_text_sits_on_its_bottom_row_aligned_at_its_column() -> None:
    for align, expected_left in (("left", 50), ("center", 50 - 14), ("right", 50 - 29)):
        canvas = white()
        width = canvas.text_size("Mgy", 10)[0]
        assert abs(width - 29) <= 2
        canvas.text(50, 60, "Mgy", 10, align)
        rows, columns = ink(pixels(canvas))
        assert 58 <= rows.max() <= 62 and rows.min() >= 60 - canvas.text_size("Mgy", 10)[1] - 1
        assert abs(columns.min() - expected_left) <= 3, align


def test_vertical_text_ends_at_its_column_centred_on_its_row() -> None:
    canvas = white()
    canvas.text(50, 50, "dim 0", 10, vertical=True)
    rows, columns = ink(pixels(canvas))
    assert 47 <= columns.max() <= 52 and columns.min() >= 50 - 16
    assert abs((rows.min() + rows.max()) / 2 - 50) <= 3


def test_fills_lines_and_clipping() -> None:
    canvas = white()
    canvas.fill(Box(10, 20, 60, 40), "#1f77b4")
    clip = Box(100, 0, 150, 100)
    canvas.horizontal(50, 80, 190, "#000000", 2.0, clip=clip)
    image = pixels(canvas)
    assert tuple(image[30, 35]) == (0x1F, 0x77, 0xB4)
    assert tuple(image[10, 35]) == (255, 255, 255)
    rows, columns = ink(image)
    line = rows >= 45
    assert columns[line].min() >= 99 and columns[line].max() <= 150
    assert canvas.png() == canvas.png()
