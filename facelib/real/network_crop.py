"""A trained network as the face detector: a photograph cropped round its face the
way the training photographs were cropped, where OpenCV's detector cannot see it.

The data set's photographs are crops round each face's landmark box
(:func:`facelib.world.scenes.frame_faces`), and the networks read a face well only in
that framing (chapter 05 measures it). A photograph as the camera framed it (the
real-face check's, a small or turned face that the Haar cascade misses) is cropped
here by a single-view network's own landmarks:

1. the network reconstructs the photograph (at first the whole of it, resampled to
   its size) and its 68 landmark vertices are projected through the camera it
   estimates, with the intrinsics it was trained to assume (``K_default``);
2. their box (:func:`~facelib.geometry.framing.landmark_box`), mapped back to the
   photograph's pixels, is framed (:class:`~facelib.geometry.framing.Framing`) into
   the next crop, resampled from the photograph itself
   (:func:`~facelib.real.detector.crop_image`);
3. ``passes`` times: each pass sees the face in the framing it was trained on a little
   better than the last.

Pixel convention: pixel centres at integer coordinates, x right, y down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from facelib.geometry.camera import project
from facelib.geometry.framing import Crop, Framing, landmark_box
from facelib.real.detector import crop_image

__all__ = ["NetworkCrops", "network_landmarks", "crop_by_network"]


@dataclass(frozen=True)
class NetworkCrops:
    """``images`` (..., 3, S, S) uint8: the photographs cropped round their faces;
    ``crops``: each one's :class:`~facelib.geometry.framing.Crop` of its photograph
    (a flat list, the photographs in row-major order); ``landmarks`` (..., 68, 2) px:
    where the last pass put the landmarks, in the photographs' pixels."""

    images: torch.Tensor
    crops: list[Crop]
    landmarks: np.ndarray


def network_landmarks(
    network: torch.nn.Module,
    images: torch.Tensor,
    morphable_model,
    landmark_ids: np.ndarray,
    K: torch.Tensor | None = None,
) -> np.ndarray:
    """(B, 68, 2) px: where a single-view ``network``'s reconstruction of each of
    ``images`` (B, 3, S, S) uint8 puts the landmark vertices ``landmark_ids`` (68,) of
    ``morphable_model``, projected through its estimated camera and the photographs'
    intrinsics ``K`` (3, 3) px, given to the network too (None: the intrinsics it
    assumes, ``network.K_default``)."""
    device = next(network.parameters()).device
    with torch.no_grad():
        images = images.to(device)
        pred = network(images) if K is None else network(images, K.to(device))
    if pred.q is None or pred.t is None:
        raise ValueError(
            "cropping by a network needs one that estimates cameras (a single-view "
            "network); a shape-only network cannot say where the face is"
        )
    shapes = morphable_model.shape(pred.alpha.cpu().double())
    points = shapes[:, np.asarray(landmark_ids)]  # (B, 68, 3)
    K = (network.K_default if K is None else K).cpu().double()
    K = K.expand(len(points), 3, 3)
    uv = project(
        points[:, None], K[:, None], pred.q.cpu().double(), pred.t.cpu().double()
    )
    return uv[:, 0].numpy()


def _cropped(photos: list[np.ndarray], crops: list[Crop]) -> torch.Tensor:
    """(B, 3, S, S) uint8: each photograph (H, H, 3) resampled in its crop."""
    return torch.stack(
        [
            torch.from_numpy(np.array(crop_image(p, c))).permute(2, 0, 1)
            for p, c in zip(photos, crops)
        ]
    )


def crop_by_network(
    images: torch.Tensor,
    network: torch.nn.Module,
    morphable_model,
    landmark_ids: np.ndarray,
    framing: Framing,
    *,
    passes: int = 2,
) -> NetworkCrops:
    """Crop each of the square photographs ``images`` (..., 3, H, H) uint8 round its
    face with ``framing``, found by the single-view ``network`` in ``passes`` rounds
    (see the module doc); the crops have the network's size S."""
    if passes < 1:
        raise ValueError(f"passes must be at least 1, got {passes}")
    if (
        images.dim() < 4
        or images.shape[-3] != 3
        or images.shape[-2] != images.shape[-1]
    ):
        raise ValueError(
            "expected square photographs (..., 3, H, H) uint8, got "
            f"{tuple(images.shape)}"
        )
    S = int(network.image_size)
    H = int(images.shape[-1])
    lead = tuple(images.shape[:-3])
    flat = images.reshape(-1, 3, H, H).cpu()
    photos = [im.permute(1, 2, 0).contiguous().numpy() for im in flat]
    crops = [Crop(0.0, 0.0, float(H), S) for _ in photos]  # the whole photograph
    landmarks = np.zeros((len(photos), 68, 2))
    for _ in range(passes):
        seen = _cropped(photos, crops)
        in_crops = network_landmarks(network, seen, morphable_model, landmark_ids)
        landmarks = np.stack([c.to_image(uv) for c, uv in zip(crops, in_crops)])
        crops = [framing.crop(landmark_box(uv), S) for uv in landmarks]
    return NetworkCrops(
        images=_cropped(photos, crops).reshape(*lead, 3, S, S),
        crops=crops,
        landmarks=landmarks.reshape(*lead, 68, 2),
    )
