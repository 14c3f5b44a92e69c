"""The trained networks on a real person: a real textured scan photographed in our
framing and reconstructed from those photographs.

The scan (:func:`facelib.real.scan.load_james`) is put in the model frame by the rigid
motion that best aligns its 51 landmarks with the 3DMM mean's, and rendered with its
own photographic texture, as three photographs at yaw -45°, 0° and +45°, at the data
set's image size and field of view, from several distances and under several lights
(:class:`RealFaceSettings`). The photographs are framed by the camera; each is cropped
round the face as our photographs are, by the single-view network's own landmarks
(:mod:`facelib.real.network_crop`). Every row of Table 1 then reconstructs him from
each set of three (:func:`facelib.evaluation.table1.predict_rows`), and each
reconstruction is scored with ARMSE against the scan (cropped like a 3DFAW scan). The
mean face, the answer of a network that learned nothing, is the row to beat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from facelib.data.dataset import Dataset
from facelib.data.scan import RawScan
from facelib.data.template import IBUG51
from facelib.evaluation.table1 import ROWS, predict_rows, score_captures, score_rows
from facelib.geometry.camera import (
    intrinsics_from_fov,
    orbit_pose,
)
from facelib.geometry.procrustes import similarity_transform
from facelib.graphics.render import Lighting, render
from facelib.real.network_crop import crop_by_network, network_landmarks
from facelib.real.realism import data_framing, projected_landmarks
from facelib.real.scan import TexturedScan

__all__ = [
    "SpanCheck",
    "span_check",
    "LandmarkCheck",
    "landmark_check",
    "average_landmarks",
    "landmark_nme",
    "RealFaceSettings",
    "RealFacePhotographs",
    "pose_like_mean",
    "photograph_real_face",
    "photograph_in_data_framing",
    "data_framing",
    "predict_real_face",
    "score_real_face",
    "reconstruct_real_face",
]


@dataclass(frozen=True)
class RealFaceSettings:
    """The photographs of the real face: ``yaws_deg`` per set, ``distances_mm`` and
    ``lights`` (unit direction towards the light in the model frame, ambient and
    diffuse intensity) crossed, over a plain background of grey level
    ``background``."""

    yaws_deg: tuple[float, ...] = (-45.0, 0.0, 45.0)
    distances_mm: tuple[float, ...] = (480.0, 570.0, 660.0)
    lights: tuple[tuple[tuple[float, float, float], float, float], ...] = (
        ((0.0, 0.0, -1.0), 0.45, 0.6),
        ((0.5, -0.4, -0.77), 0.35, 0.75),
        ((-0.6, -0.2, -0.77), 0.35, 0.75),
        ((0.0, -0.7, -0.71), 0.4, 0.7),
    )
    background: float = 0.45


@dataclass
class RealFacePhotographs:
    """images (C, Y, 3, S, S) uint8: one set of Y photographs (increasing yaw) per
    condition; conditions: (C,) names ``"light i, d mm"``; ``distances_mm`` (C,): each
    set's camera distance (empty when not known)."""

    images: torch.Tensor
    conditions: list[str]
    distances_mm: tuple[float, ...] = ()


def pose_like_mean(scan: RawScan, mean_shape: np.ndarray, landmark_ids) -> RawScan:
    """``scan`` moved by the rigid motion (no scale) that best aligns its 51 landmarks
    with those of ``mean_shape`` (P, 3) (``landmark_ids`` (68,) its landmark
    vertices)."""
    lm = scan.landmarks[IBUG51]
    known = np.isfinite(lm).all(1)
    motion = similarity_transform(
        lm[known], mean_shape[np.asarray(landmark_ids)[IBUG51][known]], scale=False
    )
    return RawScan(
        motion.apply(scan.vertices), scan.faces, motion.apply(scan.landmarks)
    )


def photograph_real_face(
    face: TexturedScan,
    image_size: int,
    fov_deg: float,
    settings: RealFaceSettings = RealFaceSettings(),
) -> RealFacePhotographs:
    """Render ``face`` (already in the model frame) with its texture; see the module
    doc."""
    yaws = torch.tensor(settings.yaws_deg, dtype=torch.float64)
    Y = len(yaws)
    verts = torch.from_numpy(face.scan.vertices).float()
    faces = torch.from_numpy(face.scan.faces)
    uv = torch.from_numpy(face.uv).float()
    texture = (
        torch.from_numpy(np.array(face.texture)).permute(2, 0, 1).float()[None] / 255.0
    )
    K = intrinsics_from_fov(fov_deg, image_size, image_size).expand(Y, 3, 3)
    images, names, distances = [], [], []
    for i, (direction, ambient, diffuse) in enumerate(settings.lights):
        for d in settings.distances_mm:
            angles = torch.stack([yaws, torch.zeros(Y), torch.zeros(Y)], -1)
            q, t = orbit_pose(angles, torch.full((Y,), float(d), dtype=torch.float64))
            light = torch.nn.functional.normalize(
                torch.tensor(direction, dtype=torch.float32), dim=0
            ).expand(Y, 3)
            bg = torch.full((Y, 3, image_size, image_size), settings.background)
            out = render(
                verts.expand(Y, -1, -1),
                faces,
                torch.zeros(Y, len(verts), 3),
                K,
                q.float(),
                t.float(),
                None,
                bg,
                lighting=Lighting.simple(light, ambient, diffuse),
                uv=uv,
                texture=texture.expand(Y, -1, -1, -1),
            ).images
            images.append((out * 255).round().to(torch.uint8))
            names.append(f"light {i + 1}, {d:.0f} mm")
            distances.append(float(d))
    return RealFacePhotographs(torch.stack(images), names, tuple(distances))


def photograph_in_data_framing(
    face: TexturedScan,
    data: Dataset,
    settings: RealFaceSettings = RealFaceSettings(),
) -> tuple[RealFacePhotographs, RawScan]:
    """A real textured scan (in its own frame) posed like the 3DMM mean
    (:func:`pose_like_mean`) and photographed (:func:`photograph_real_face`) at the
    data set's image size and field of view (that of its phone's focal length, ``K[0,
    0]`` of the first photograph, px). Returns the photographs and the posed scan, which
    their reconstructions are scored against (:func:`reconstruct_real_face`)."""
    focal = float(data.array("K")[0, 0, 0, 0])
    fov_deg = float(np.degrees(2 * np.arctan(data.image_size / 2 / focal)))
    model, template = data.morphable_model, data.template
    posed = pose_like_mean(face.scan, model.mean, template.landmarks)
    photos = photograph_real_face(
        TexturedScan(posed, face.uv, face.texture), data.image_size, fov_deg, settings
    )
    return photos, posed


def predict_real_face(
    photographs: RealFacePhotographs,
    data: Dataset,
    networks: dict[str, torch.nn.Module],
    *,
    cropped_by: str | None = "SV",
    passes: int = 2,
) -> list[dict[str, np.ndarray]]:
    """Every row of Table 1 (:data:`ROWS`) on each condition's set of photographs: per
    condition, the predicted shape (P, 3) mm of every row.

    The photographs come as the camera framed them. With ``cropped_by`` (a network's
    name in ``networks``, a single-view one) each is first cropped round the face the
    way the data set's photographs are (:func:`data_framing`), by that network's own
    landmarks in ``passes`` rounds
    (:func:`facelib.real.network_crop.crop_by_network`); ``None`` feeds them as they
    are."""
    images = photographs.images
    if cropped_by is not None:
        if cropped_by not in networks:
            raise ValueError(
                f"cropped_by={cropped_by!r} is not one of the networks "
                f"{sorted(networks)}; name a single-view network, or pass None"
            )
        images = crop_by_network(
            images,
            networks[cropped_by],
            data.morphable_model,
            data.template.landmarks,
            data_framing(data),
            passes=passes,
        ).images
    with torch.no_grad():
        return [
            predict_rows(frames, data.morphable_model, networks)[0] for frames in images
        ]


def score_real_face(
    shapes: list[dict[str, np.ndarray]],
    scan: RawScan,
    data: Dataset,
    *,
    workers: int = 1,
) -> dict[str, np.ndarray]:
    """ARMSE (mm) against ``scan`` of every row of Table 1 (:data:`ROWS`) on each
    condition, (C,) per row, from the shapes :func:`predict_real_face` returned; scored
    in ``workers`` processes (:func:`facelib.evaluation.table1.score_captures`; the
    same numbers for any number)."""
    template = data.template
    scored = score_captures(
        shapes,
        template.faces,
        template.landmarks,
        [scan] * len(shapes),
        workers=workers,
    )
    return {row: np.array([s[row].armse_mm for s in scored]) for row in ROWS}


def reconstruct_real_face(
    photographs: RealFacePhotographs,
    scan: RawScan,
    data: Dataset,
    networks: dict[str, torch.nn.Module],
    *,
    cropped_by: str | None = "SV",
) -> dict[str, np.ndarray]:
    """ARMSE (mm) of every row of Table 1 (:data:`ROWS`) on each condition, (C,) per
    row: each set of photographs reconstructed (:func:`predict_real_face`, cropped by
    the network ``cropped_by``) and scored against ``scan``
    (:func:`score_real_face`)."""
    shapes = predict_real_face(photographs, data, networks, cropped_by=cropped_by)
    return score_real_face(shapes, scan, data)


@dataclass(frozen=True)
class SpanCheck:
    """ARMSE (mm) against a real scan of: the 3DMM ``mean`` face, the scan's
    ``registration`` onto the template, and that registration's ``projection`` onto
    the 3DMM (the closest face the 3DMM can make). ``coefficients``: the projection's
    (K,), in standard deviations."""

    mean: float
    registration: float
    projection: float
    coefficients: np.ndarray

    @property
    def reduction(self) -> float:
        """How much of the mean face's error the projection removes, in [0, 1]."""
        return 1.0 - self.projection / self.mean


def span_check(scan: RawScan, registered: np.ndarray, data: Dataset) -> SpanCheck:
    """Does the 3DMM span a real face? ``registered`` (P, 3): the template registered
    onto ``scan`` (:func:`facelib.world.registration.register`); it is aligned onto
    the 3DMM's mean by a similarity, projected onto the model's subspace
    (:meth:`~facelib.geometry.morphable_model.MorphableModel.coefficients`), and every
    shape is scored with ARMSE against the scan."""
    model, template = data.morphable_model, data.template
    mean = model.mean
    aligned = similarity_transform(registered, mean).apply(registered)
    alpha = model.coefficients(torch.from_numpy(aligned))
    projection = model.shape(alpha).numpy()
    scored = score_rows(
        {"mean": mean, "registration": registered, "projection": projection},
        template.faces,
        template.landmarks,
        scan,
    )
    return SpanCheck(
        mean=scored["mean"].armse_mm,
        registration=scored["registration"].armse_mm,
        projection=scored["projection"].armse_mm,
        coefficients=alpha.numpy(),
    )


@dataclass(frozen=True)
class LandmarkCheck:
    """Where a network's reconstruction puts a real face's 68 landmarks in its
    photograph: ``predicted`` (68, 2) px (the reconstruction's landmark vertices
    projected through its estimated camera), ``annotated`` (68, 2) px, and the mean
    distance between them divided by the annotated outer inter-ocular distance
    (``nme``, iBUG 36-45)."""

    predicted: np.ndarray
    annotated: np.ndarray
    nme: float


def landmark_nme(predicted: np.ndarray, annotated: np.ndarray) -> float:
    """Mean distance between two sets of 68 landmarks (68, 2) px over the annotated
    outer inter-ocular distance (iBUG 36-45)."""
    interocular = np.linalg.norm(annotated[36] - annotated[45])
    return float(np.linalg.norm(predicted - annotated, axis=1).mean() / interocular)


def landmark_check(
    image: np.ndarray,
    annotated: np.ndarray,
    network: torch.nn.Module,
    data: Dataset,
    K: torch.Tensor,
) -> LandmarkCheck:
    """Reconstruct one photograph (S, S, 3) uint8 with a single-view ``network`` and
    project its landmarks with its camera and the intrinsics ``K`` (3, 3) it was
    trained with; compare with the ``annotated`` landmarks (68, 2) px."""
    x = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)[None]
    model, landmark_ids = data.morphable_model, data.template.landmarks
    uv = network_landmarks(network, x, model, landmark_ids, K)[0]
    return LandmarkCheck(uv, annotated, landmark_nme(uv, annotated))


def average_landmarks(data: Dataset, subjects: np.ndarray, max_yaw_deg: float = 20.0):
    """Where the landmarks fall, on average, in our near-frontal photographs of
    ``subjects`` (|yaw| below ``max_yaw_deg``): (68, 2) px. The baseline of
    :func:`landmark_check`: a face placed where faces usually are, learned nothing."""
    uv, yaw = projected_landmarks(data, subjects)
    return uv[yaw.abs() < max_yaw_deg].mean(0).numpy()
