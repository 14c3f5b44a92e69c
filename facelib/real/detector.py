"""Face detection and face crops: the same framing for real photographs and ours.

The detector is OpenCV 4.x's Haar cascade for frontal faces (Viola-Jones, trained on
real faces, shipped with OpenCV). A detection is a square box ``(x, y, side)`` in
pixels round the eyes, nose and mouth. A :class:`Framing` turns a box into the square
crop a network expects: ``margin`` times the box's side, its centre moved by ``shift``
box sides. The data set chapter measures the framing of our own photographs with this
detector (:func:`measure_framing`), so that a real photograph cropped with it frames
the face as the training photographs do.

Pixel convention: pixel centres at integer coordinates, x right, y down.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from facelib.geometry.framing import Crop, Framing, landmark_box
from facelib.real.assets import package_file

__all__ = [
    "Crop",
    "Framing",
    "detect_faces",
    "crop_image",
    "measure_framing",
    "landmark_box",
    "landmark_framing",
]

_CASCADE = "data/haarcascade_frontalface_default.xml"
_DETECTOR = None


def _detector():
    global _DETECTOR
    if _DETECTOR is None:
        import cv2

        _DETECTOR = cv2.CascadeClassifier(str(package_file("cv2", _CASCADE)))
        if _DETECTOR.empty():
            raise RuntimeError(f"OpenCV could not read its face cascade {_CASCADE}")
    return _DETECTOR


def detect_faces(image: np.ndarray, *, upscale: int = 1, min_side: int = 24):
    """Faces in ``image`` (H, W, 3) uint8: boxes (n, 3) ``x0, y0, side``, largest
    first; a box is the square ``[x0, x0 + side] x [y0, y0 + side]`` in the image's
    pixel coordinates (pixel centres at integers). ``upscale``: enlarge the image
    first by this factor (the cascade's smallest face is 24 pixels). Boxes narrower
    than ``min_side`` pixels (after upscaling) are not reported."""
    import cv2

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}"
        )
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if upscale > 1:
        grey = cv2.resize(
            grey, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_LINEAR
        )
    found = _detector().detectMultiScale(
        grey, scaleFactor=1.1, minNeighbors=4, minSize=(min_side, min_side)
    )
    boxes = np.asarray(found, dtype=np.float64).reshape(-1, 4)
    boxes = boxes[np.argsort(-boxes[:, 2])]
    # OpenCV's box covers the (upscaled) pixels x .. x + w - 1, i.e. [x, x + w] with
    # pixel edges at integers; back to the image's pixels, centres at integers
    x0 = boxes[:, 0] / upscale - 0.5
    y0 = boxes[:, 1] / upscale - 0.5
    return np.stack([x0, y0, boxes[:, 2] / upscale], -1)


def crop_image(image: np.ndarray, crop: Crop) -> np.ndarray:
    """The region ``crop`` of ``image`` (H, W, 3) uint8, resampled to (size, size, 3)
    (bilinear, antialiased when shrinking; outside the image: edge pixels repeated)."""
    H, W = image.shape[:2]
    reach = max(crop.side, -crop.x0, -crop.y0, crop.x0 + crop.side - W)
    reach = max(reach, crop.y0 + crop.side - H)
    pad = int(np.ceil(reach)) + 2
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    # PIL's boxes use pixel edges at integers: the region's left edge x0 - 0.5 in
    # pixel-centre coordinates is x0 in PIL's
    left, top = crop.x0 + pad, crop.y0 + pad
    box = (left, top, left + crop.side, top + crop.side)
    out = Image.fromarray(padded).resize(
        (crop.size, crop.size), Image.Resampling.BILINEAR, box=box, reducing_gap=None
    )
    return np.asarray(out)


def measure_framing(
    images: np.ndarray, *, upscale: int = 4
) -> tuple[Framing, float, np.ndarray]:
    """How our photographs frame the face, in the detector's terms.

    Runs :func:`detect_faces` on ``images`` (n, S, S, 3) uint8 and keeps the images
    with exactly one face. Returns the :class:`Framing` that maps a box back to the
    whole photograph (medians of ``S / side`` and of the offset of the image's centre
    from the box's, in box sides), the detection rate (share of images with exactly
    one face) and the boxes (n, 3), NaN where no single face was found.
    """
    boxes = np.full((len(images), 3), np.nan)
    for i, image in enumerate(images):
        found = detect_faces(image, upscale=upscale)
        if len(found) == 1:
            boxes[i] = found[0]
    ok = np.isfinite(boxes[:, 0])
    if not ok.any():
        raise ValueError("the detector found no single face in any of the images")
    S = images.shape[1]
    side = boxes[ok, 2]
    centre = boxes[ok, :2] + side[:, None] / 2
    offset = ((S - 1) / 2 - centre) / side[:, None]
    framing = Framing(
        margin=float(np.median(S / side)),
        shift=(float(np.median(offset[:, 0])), float(np.median(offset[:, 1]))),
    )
    return framing, float(ok.mean()), boxes


def landmark_framing(landmarks: np.ndarray, size: int) -> Framing:
    """How our photographs frame the face in terms of :func:`landmark_box`: from the
    projected landmarks (n, 68, 2) of n of our photographs of ``size`` pixels, the
    medians of ``size / side`` and of the image centre's offset from the box's centre,
    in box sides."""
    boxes = np.stack([landmark_box(lm) for lm in landmarks])
    side = boxes[:, 2]
    centre = boxes[:, :2] + side[:, None] / 2
    offset = ((size - 1) / 2 - centre) / side[:, None]
    return Framing(
        margin=float(np.median(size / side)),
        shift=(float(np.median(offset[:, 0])), float(np.median(offset[:, 1]))),
    )
