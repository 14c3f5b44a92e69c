"""Photographs on disk to the crops a network reads.

:func:`read_photo` reads a JPEG or PNG file of any size as RGB, turned upright by its
EXIF orientation; transparent pixels are laid over mid-grey. :func:`find_face` runs
OpenCV's face detector (:func:`facelib.real.detector.detect_faces`: its weights ship
inside the ``opencv-python-headless`` 4.x wheel, so nothing is downloaded, and it runs
on the CPU in milliseconds; dlib's HOG detector would need a compiler at install time).
Its frontal cascade finds faces turned up to about 45°; the profile cascade is not used,
because its boxes frame a face differently and the framing is measured for one kind.
:func:`frame_photo` crops the face exactly as the data set frames its photographs: a
:class:`~facelib.geometry.framing.Framing` of the detector's box measured on the data
set's own photographs, and returns the crop's intrinsics for the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facelib.geometry.camera import intrinsics_from_fov
from facelib.geometry.framing import Crop, Framing
from facelib.real.detector import crop_image, detect_faces

__all__ = [
    "FaceNotFound",
    "read_photo",
    "find_face",
    "FramedPhoto",
    "frame_photo",
    "DEFAULT_FOV_DEG",
]

#: the horizontal field of view assumed for a photograph (a phone's main camera
#: in landscape is about 65°; EXIF focal lengths are not trusted to be there)
DEFAULT_FOV_DEG = 60.0


class FaceNotFound(ValueError):
    """No face (or not the face asked for) in a photograph."""


def read_photo(path: str | Path) -> np.ndarray:
    """The photograph at ``path`` (JPEG, PNG, or anything Pillow reads) as (H, W, 3)
    uint8 RGB, upright (EXIF orientation applied); transparent pixels over grey."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no photograph at {path}")
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or (
                im.mode == "P" and "transparency" in im.info
            ):
                rgba = im.convert("RGBA")
                grey = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
                im = Image.alpha_composite(grey, rgba)
            return np.asarray(im.convert("RGB")).copy()
    except UnidentifiedImageError as err:
        raise ValueError(
            f"{path} is not an image Pillow can read (expected a JPEG or PNG)"
        ) from err


def find_face(image: np.ndarray, *, face: int = 0, name: str = "photograph"):
    """The box ``x0, y0, side`` (px) of the ``face``-th largest face in ``image`` (H,
    W, 3) uint8 (0: the largest). Small photographs are enlarged for the detector
    (its smallest face is 24 px). Raises :class:`FaceNotFound` naming ``name``."""
    upscale = max(1, int(np.ceil(256 / min(image.shape[:2]))))
    boxes = detect_faces(image, upscale=upscale, min_side=24)
    if len(boxes) == 0:
        raise FaceNotFound(
            f"{name}: no face found (OpenCV's frontal face detector); use a photograph "
            "where the face is turned less than about 45° and at least 24 px wide"
        )
    if not 0 <= face < len(boxes):
        raise FaceNotFound(
            f"{name}: asked for face {face} but found {len(boxes)} "
            f"(faces are numbered from 0, largest first)"
        )
    return boxes[face], len(boxes)


@dataclass(frozen=True)
class FramedPhoto:
    """A photograph and its face crop: ``image`` (H, W, 3) uint8 as read, ``K`` (3,
    3) px its intrinsics, ``box`` the detection ``x0, y0, side``, ``crop`` the
    :class:`~facelib.geometry.framing.Crop`, ``crop_image`` (S, S, 3) uint8 and
    ``crop_K`` (3, 3) px, the crop's intrinsics; ``faces`` how many faces the
    detector found."""

    name: str
    image: np.ndarray
    K: np.ndarray
    box: np.ndarray
    crop: Crop
    crop_image: np.ndarray
    crop_K: np.ndarray
    faces: int


def frame_photo(
    image: np.ndarray,
    framing: Framing,
    size: int,
    *,
    face: int = 0,
    fov_deg: float = DEFAULT_FOV_DEG,
    name: str = "photograph",
) -> FramedPhoto:
    """Detect the face in ``image`` and crop it with ``framing`` to ``size`` px; the
    photograph's intrinsics come from its horizontal field of view ``fov_deg``."""
    box, n = find_face(image, face=face, name=name)
    H, W = image.shape[:2]
    K = intrinsics_from_fov(fov_deg, W, H).double().numpy()
    crop = framing.crop(box, size)
    return FramedPhoto(
        name, image, K, box, crop, crop_image(image, crop), crop.intrinsics(K), n
    )
