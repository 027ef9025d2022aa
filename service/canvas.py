"""``Canvas``: an image drawn with matplotlib's Agg rasteriser (antialiased paths, markers and
text, as matplotlib's figures draw them) without its figures and artists, addressed in pixels
from the top-left corner; PNG bytes out."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.backend_bases import GraphicsContextBase
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.colors import to_rgb
from matplotlib.font_manager import FontProperties
from matplotlib.path import Path
from matplotlib.transforms import Affine2D, Bbox, IdentityTransform
from numpy.typing import ArrayLike

TEXT_COLOR = "#000000"
FONT_FAMILY = "DejaVu Sans"
"""matplotlib's own font, shipped in its wheel."""

PNG_COMPRESSION = 3
"""zlib level of the PNG (0-9): 3 is as small as the default 6 here, and faster."""

CIRCLE = Path.unit_circle()
_IDENTITY = IdentityTransform()


@dataclass(frozen=True)
class Box:
    """A rectangle in pixels from the image's top-left corner."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top


class Canvas:
    """An Agg image addressed in pixels from its top-left corner; sizes of lines, markers and
    text in points (scaled by the dpi)."""

    def __init__(self, width: int, height: int, dpi: int) -> None:
        self.renderer = RendererAgg(width, height, dpi)
        self.width, self.height, self.dpi = width, height, dpi
        self._fonts: dict[float, FontProperties] = {}
        self._text_sizes: dict[tuple[str, float], tuple[float, float, float]] = {}

    def text_size(self, text: str, size_pt: float) -> tuple[float, float, float]:
        """(width, height, descent) of ``text`` in pixels."""
        key = (text, size_pt)
        if key not in self._text_sizes:
            width, height, descent = self.renderer.get_text_width_height_descent(
                text, self._font(size_pt), ismath=False
            )
            self._text_sizes[key] = (float(width), float(height), float(descent))
        return self._text_sizes[key]

    def fill(
        self,
        box: Box,
        color: str,
        *,
        alpha: float = 1.0,
        clip: Box | None = None,
        edge: tuple[str, float] | None = None,
    ) -> None:
        """``box`` filled; ``edge`` as :meth:`polygon`'s."""
        xs = np.array([box.left, box.right, box.right, box.left])
        ys = np.array([box.top, box.top, box.bottom, box.bottom])
        self.polygon(xs, ys, color, alpha=alpha, clip=clip, edge=edge)

    def polygon(
        self,
        xs: ArrayLike,
        ys: ArrayLike,
        color: str,
        *,
        alpha: float = 1.0,
        clip: Box | None = None,
        edge: tuple[str, float] | None = None,
    ) -> None:
        """A filled polygon; ``edge`` (colour, width in points) outlines it."""
        gc = self._gc(edge[0] if edge else color, edge[1] if edge else 0.0, alpha, clip)
        points = self._points(xs, ys)
        path = Path(np.concatenate([points, points[:1]]), closed=True)  # the last closes
        self.renderer.draw_path(gc, path, _IDENTITY, (*to_rgb(color), alpha))
        gc.restore()

    def line(
        self,
        xs: ArrayLike,
        ys: ArrayLike,
        color: str,
        width_pt: float,
        *,
        alpha: float = 1.0,
        dashes: tuple[float, float] | None = None,
        clip: Box | None = None,
    ) -> None:
        gc = self._gc(color, width_pt, alpha, clip)
        if dashes is not None:
            gc.set_dashes(0, list(dashes))
        self.renderer.draw_path(gc, Path(self._points(xs, ys)), _IDENTITY)
        gc.restore()

    def vertical(
        self, x: float, top: float, bottom: float, color: str, width_pt: float, **style: Any
    ) -> None:
        """A vertical line at column ``x``; ``style``: :meth:`line`'s keywords."""
        self.line([x, x], [top, bottom], color, width_pt, **style)

    def horizontal(
        self, y: float, left: float, right: float, color: str, width_pt: float, **style: Any
    ) -> None:
        """A horizontal line on row ``y``; ``style``: :meth:`line`'s keywords."""
        self.line([left, right], [y, y], color, width_pt, **style)

    def markers(
        self,
        xs: ArrayLike,
        ys: ArrayLike,
        color: str,
        size_pt: float,
        *,
        shape: Path = CIRCLE,
        clip: Box | None = None,
    ) -> None:
        """``shape`` (unit size) at each point, ``size_pt`` across, edged in its colour."""
        if np.size(xs) == 0:
            return
        gc = self._gc(color, 1.0, 1.0, clip)
        radius = self.renderer.points_to_pixels(size_pt) / 2
        scale = Affine2D().scale(radius)
        points = Path(self._points(xs, ys))
        self.renderer.draw_markers(gc, shape, scale, points, _IDENTITY, to_rgb(color))
        gc.restore()

    def text(
        self,
        x: float,
        bottom: float,
        text: str,
        size_pt: float,
        align: str = "left",
        *,
        color: str = TEXT_COLOR,
        vertical: bool = False,
    ) -> None:
        """``text`` whose box's bottom (descent included) is on row ``bottom``, aligned at
        column ``x`` (left, center, right). ``vertical`` turns it a quarter anticlockwise: then
        its box's right edge is on column ``x`` and its middle on row ``bottom``."""
        width, _, _ = self.text_size(text, size_pt)
        gc = self._gc(color, 1.0, 1.0, None)
        font = self._font(size_pt)
        if vertical:
            self.renderer.draw_text(gc, x, bottom + width / 2, text, font, 90)
        else:
            shift = {"left": 0.0, "center": width / 2, "right": width}[align]
            self.renderer.draw_text(gc, x - shift, bottom, text, font, 0)
        gc.restore()

    def png(self) -> bytes:
        from PIL import Image

        pixels = Image.frombuffer(
            "RGBA", (self.width, self.height), self.renderer.buffer_rgba(), "raw", "RGBA", 0, 1
        )
        buffer = io.BytesIO()
        rgb = pixels.convert("RGB")  # the background is opaque: RGB is smaller and as exact
        rgb.save(buffer, format="PNG", compress_level=PNG_COMPRESSION, dpi=(self.dpi, self.dpi))
        return buffer.getvalue()

    def _points(self, xs: ArrayLike, ys: ArrayLike) -> np.ndarray:
        """Pixels from the top-left as Agg's points, from the bottom-left."""
        return np.column_stack(
            [np.asarray(xs, dtype=np.float64), self.height - np.asarray(ys, dtype=np.float64)]
        )

    def _gc(
        self, color: str, width_pt: float, alpha: float, clip: Box | None
    ) -> GraphicsContextBase:
        gc = self.renderer.new_gc()
        gc.set_foreground(color)
        gc.set_linewidth(width_pt)
        gc.set_alpha(alpha)
        gc.set_antialiased(True)
        gc.set_joinstyle("round")
        gc.set_capstyle("butt")
        if clip is not None:
            gc.set_clip_rectangle(
                Bbox.from_extents(
                    clip.left, self.height - clip.bottom, clip.right, self.height - clip.top
                )
            )
        return gc

    def _font(self, size_pt: float) -> FontProperties:
        if size_pt not in self._fonts:
            self._fonts[size_pt] = FontProperties(family=FONT_FAMILY, size=size_pt)
        return self._fonts[size_pt]
