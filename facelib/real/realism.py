"""Realism checks that do not depend on our world: real photographs and a face detector
trained on real faces.

* :func:`real_crops`: the real photographs (:mod:`facelib.real.photos`) cropped the way
  our photographs frame a face (a :class:`~facelib.real.detector.Framing` measured on
  them), at our image size, with their landmarks carried into the crop;
* :func:`detection_rate`: the share of images in which OpenCV's frontal-face detector
  finds a face. A detector trained on real photographs finds faces in real photographs
  at this size; the closer our photographs' rate is to theirs, the more our faces look
  like faces to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from facelib.data.dataset import Dataset
from facelib.geometry.camera import project, quaternion_to_yaw_pitch_roll
from facelib.real.detector import (
    Framing,
    crop_image,
    detect_faces,
    landmark_box,
    landmark_framing,
    measure_framing,
)
from facelib.real.photos import load_real_photos

__all__ = [
    "RealCrop",
    "real_crops",
    "detection_rate",
    "projected_landmarks",
    "data_framing",
    "OurFraming",
    "our_framing",
]


@dataclass(frozen=True)
class RealCrop:
    """A real photograph cropped like ours: ``image`` (S, S, 3) uint8, ``landmarks``
    (68, 2) in the crop's pixels or ``None``, and where its box came from
    (``"landmarks"`` for annotated photographs, ``"detector"`` otherwise)."""

    name: str
    image: np.ndarray
    landmarks: np.ndarray | None
    box_from: str


def real_crops(
    by_landmarks: Framing, by_detector: Framing, size: int
) -> list[RealCrop]:
    """Every real photograph's face cropped to ``size`` pixels like our photographs.

    Annotated photographs are boxed round their landmarks (:func:`landmark_box`) and
    framed with ``by_landmarks`` (measured on our photographs' projected landmarks,
    :func:`~facelib.real.detector.landmark_framing`), so that the crop does not depend
    on the detector finding that particular face; the others are boxed by the
    detector's largest face and framed with ``by_detector``
    (:func:`~facelib.real.detector.measure_framing`). Photographs with neither are
    skipped."""
    out = []
    for photo in load_real_photos():
        if photo.landmarks is not None:
            box, framing = landmark_box(photo.landmarks), by_landmarks
            box_from = "landmarks"
        else:
            found = detect_faces(photo.image)
            if not len(found):
                continue
            box, framing, box_from = found[0], by_detector, "detector"
        crop = framing.crop(box, size)
        landmarks = None if photo.landmarks is None else crop.to_crop(photo.landmarks)
        out.append(
            RealCrop(photo.name, crop_image(photo.image, crop), landmarks, box_from)
        )
    return out


def detection_rate(images: np.ndarray, *, upscale: int = 4) -> float:
    """The share of ``images`` (n, S, S, 3) uint8 in which the detector finds at least
    one face (images enlarged ``upscale`` times first)."""
    if len(images) == 0:
        raise ValueError("no images to run the detector on")
    return float(np.mean([len(detect_faces(im, upscale=upscale)) > 0 for im in images]))


def projected_landmarks(data: Dataset, subjects) -> tuple[torch.Tensor, torch.Tensor]:
    """Where the 68 landmarks of ``subjects``' faces fall in their training
    photographs, (n, V, 68, 2) px (projected through the photographs' cameras), and
    each photograph's yaw (n, V) in degrees."""
    K, q, t = (data.tensor(name, subjects) for name in ("K", "q", "t"))
    shapes = data.tensor("shapes", subjects)[:, None, data.template.landmarks]
    return project(shapes, K, q, t), quaternion_to_yaw_pitch_roll(q)[..., 0]


def data_framing(data: Dataset, n_subjects: int = 200) -> Framing:
    """How the data set's photographs frame a face's landmark box: the median framing
    (:func:`~facelib.real.detector.landmark_framing`) of the photographs of its first
    ``n_subjects`` training subjects."""
    uv, _ = projected_landmarks(data, data.subjects("train")[:n_subjects])
    return landmark_framing(uv.reshape(-1, 68, 2).numpy(), data.image_size)


@dataclass(frozen=True)
class OurFraming:
    """How our near-frontal photographs frame a face: ``images`` (n, S, S, 3) uint8,
    their projected ``landmarks`` (n, 68, 2) px, and the two framings measured on them
    (``by_landmarks`` for landmark boxes, ``by_detector`` for the detector's boxes)."""

    images: np.ndarray
    landmarks: np.ndarray
    by_landmarks: Framing
    by_detector: Framing


def our_framing(data: Dataset, subjects, max_yaw_deg: float = 25.0) -> OurFraming:
    """Measure :class:`OurFraming` on the photographs of ``subjects`` whose yaw is
    below ``max_yaw_deg`` in magnitude."""
    uv, yaw = (
        x.reshape(-1, *x.shape[2:]).numpy() for x in projected_landmarks(data, subjects)
    )
    frontal = np.abs(yaw) < max_yaw_deg
    S = data.image_size
    images = np.asarray(data.images[np.asarray(subjects)]).reshape(-1, 3, S, S)
    images = images[frontal].transpose(0, 2, 3, 1)
    by_detector, _, _ = measure_framing(images)
    return OurFraming(
        images, uv[frontal], landmark_framing(uv[frontal], S), by_detector
    )
