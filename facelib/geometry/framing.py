"""Face crops: how a face's box becomes the square photograph a network sees.

One framing serves every photograph, ours and real ones. A face's *box* is a square
``x0, y0, side`` in pixels (x right, y down, pixel centres at integers; the box spans
``[x0, x0 + side] x [y0, y0 + side]``): a face detector's detection, or the box round
68 iBUG landmarks (:func:`landmark_box`) where the landmarks are known. A
:class:`Framing` turns a box into a :class:`Crop` (``margin`` box sides wide, centred
``shift`` box sides from the box's centre), resampled to the network's size.

Cropping and resampling a photograph is a change of the camera's intrinsics: the crop of
a pinhole photograph with intrinsics ``K`` is a pinhole photograph with
:meth:`Crop.intrinsics` ``(K)``. The face world renders its training photographs
directly with the crop's intrinsics (:func:`crop_intrinsics`, batched), which is
exactly rendering a large photograph and cropping it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "Crop",
    "Framing",
    "landmark_box",
    "landmark_boxes",
    "framed_crops",
    "crop_intrinsics",
]


@dataclass(frozen=True)
class Crop:
    """A square region of an image: top-left corner ``x0, y0`` (pixel-centre
    coordinates of the region's corner, i.e. the region spans ``[x0 - 0.5, x0 - 0.5 +
    side]``) and ``side`` in pixels, to be resampled to ``size`` pixels."""

    x0: float
    y0: float
    side: float
    size: int

    @property
    def scale(self) -> float:
        """Crop pixels per image pixel."""
        return self.size / self.side

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Image pixel coordinates (..., 2) to the crop's pixel coordinates."""
        return (np.asarray(points) - [self.x0 - 0.5, self.y0 - 0.5]) * self.scale - 0.5

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """The crop's pixel coordinates (..., 2) back to the image's."""
        return (np.asarray(points) + 0.5) / self.scale + [self.x0 - 0.5, self.y0 - 0.5]

    def intrinsics(self, K: np.ndarray) -> np.ndarray:
        """The intrinsics (3, 3) px of the crop of a photograph with intrinsics ``K``
        (3, 3) px: a point that ``K`` puts at pixel ``p`` lands at ``to_crop(p)``."""
        K = np.asarray(K, dtype=np.float64)
        if K.shape != (3, 3):
            raise ValueError(f"expected intrinsics K (3, 3), got {K.shape}")
        out = K.copy()
        out[:2] *= self.scale
        out[0, 2] -= (self.x0 - 0.5) * self.scale + 0.5
        out[1, 2] -= (self.y0 - 0.5) * self.scale + 0.5
        return out


@dataclass(frozen=True)
class Framing:
    """How a face's box becomes a crop: the crop's side is ``margin`` box sides and
    its centre is the box's centre plus ``shift`` (x, y) box sides."""

    margin: float
    shift: tuple[float, float]

    def __post_init__(self):
        if not (np.isfinite(self.margin) and self.margin > 0):
            raise ValueError(f"a framing's margin must be positive, got {self.margin}")

    def crop(self, box: np.ndarray, size: int) -> Crop:
        """The crop (resampled to ``size`` pixels) for a box ``x0, y0, side``."""
        x0, y0, side = (float(v) for v in framed_crops(np.asarray(box), self))
        return Crop(x0, y0, side, size)


def landmark_box(landmarks: np.ndarray) -> np.ndarray:
    """A square box ``x0, y0, side`` round 68 iBUG landmarks (n, 2): centred on them,
    as wide as the larger of their width and height. Where no detector is run (an
    annotated photograph, a rendered one), this box stands in for a detection."""
    points = np.ascontiguousarray(landmarks, dtype=np.float64)
    return landmark_boxes(torch.from_numpy(points)).numpy()


def landmark_boxes(landmarks: torch.Tensor) -> torch.Tensor:
    """:func:`landmark_box` of every set of landmarks (..., L, 2) px: (..., 3)."""
    lo, hi = landmarks.amin(-2), landmarks.amax(-2)
    side = (hi - lo).amax(-1, keepdim=True)
    corner = (lo + hi) / 2 - side / 2
    return torch.cat([corner, side], -1)


def framed_crops(boxes, framing: Framing):
    """The crops ``x0, y0, side`` (..., 3) (as :class:`Crop`: the corner is the
    centre of the corner pixel) that ``framing`` makes of boxes (..., 3); numpy arrays
    or torch tensors."""
    x0, y0, side = boxes[..., 0], boxes[..., 1], boxes[..., 2]
    cx = x0 + side / 2 + framing.shift[0] * side
    cy = y0 + side / 2 + framing.shift[1] * side
    crop_side = framing.margin * side
    stack = torch.stack if isinstance(boxes, torch.Tensor) else np.stack
    # a Crop's corner is the centre of its corner pixel: half a pixel inside
    return stack([cx - crop_side / 2 + 0.5, cy - crop_side / 2 + 0.5, crop_side], -1)


def crop_intrinsics(K: torch.Tensor, crops: torch.Tensor, size: int) -> torch.Tensor:
    """:meth:`Crop.intrinsics` batched: intrinsics (..., 3, 3) px of photographs and
    their crops (..., 3) ``x0, y0, side`` resampled to ``size`` pixels."""
    scale = size / crops[..., 2]
    out = K.clone()
    out[..., :2, :] = K[..., :2, :] * scale[..., None, None]
    out[..., 0, 2] -= (crops[..., 0] - 0.5) * scale + 0.5
    out[..., 1, 2] -= (crops[..., 1] - 0.5) * scale + 0.5
    return out
