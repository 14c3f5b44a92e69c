"""Validation metrics of a network on a data set's subjects, and the 3DMM-mean
baseline.

:func:`validate` runs a network on the validation scenes (every photograph for the
single-view network; the N photographs nearest -45°..45° for the multi-view networks,
:func:`facelib.learn.views.select_views`) and averages, over the scenes and their
photographs, the errors of :class:`Metrics`: the loss the network trains on, the
reprojection of the 3DMM points, the 3D shape with and without alignment, and the
cameras. Early stopping during training watches the loss; the other numbers are for
people.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from facelib.data.dataset import Dataset
from facelib.geometry.procrustes import similarity_transform
from facelib.learn.batches import SceneSampler, seeded_generator
from facelib.learn.losses import (
    Objective,
    network_loss,
    pixel_loss,
    scene_projections,
)
from facelib.learn.nets import NETWORKS, Prediction

__all__ = [
    "Metrics",
    "MeanShapeBaseline",
    "validate",
    "vertex_rms",
    "aligned_vertex_rms",
    "rotation_error_deg",
    "translation_error_mm",
    "reprojection_error_px",
    "identity_signal_px",
]


@dataclass
class Metrics:
    """Validation metrics, means over the validation scenes (the shape and the loss) or
    over their photographs (the cameras and the reprojection); ``nan`` where a network
    has no cameras.

    Attributes:
        reprojection_px: distance (px) between the true and the predicted projections
            of every 3DMM point, averaged over points (:func:`reprojection_error_px`).
        shape_mm: vertex RMS error (mm) of the predicted shape against the truth, in
            the same model frame, no alignment (:func:`vertex_rms`).
        shape_aligned_mm: the same after a similarity alignment of the prediction onto
            the truth: the shape alone, as ARMSE sees it.
        rotation_deg: angle (degrees) of the rotation from the true camera rotation to
            the predicted one (:func:`rotation_error_deg`).
        translation_mm: distance (mm) between the true and the predicted camera
            translations (:func:`translation_error_mm`).
        loss: the training loss (:func:`facelib.learn.losses.network_loss`; px² or,
            for MV Shape-Concat, mm²).
    """

    reprojection_px: float
    shape_mm: float
    shape_aligned_mm: float
    rotation_deg: float
    translation_mm: float
    loss: float


class MeanShapeBaseline(torch.nn.Module):
    """The paper's "3DMM Mean" baseline: always the model's mean shape (α = 0), no
    cameras. Takes images (B, ...) of any layout (and ignores their intrinsics)."""

    def __init__(self, n_modes: int):
        super().__init__()
        self.n_modes = n_modes

    def forward(
        self, images: torch.Tensor, K: torch.Tensor | None = None
    ) -> Prediction:
        return Prediction(
            alpha=torch.zeros(images.shape[0], self.n_modes, device=images.device),
            q=None,
            t=None,
        )


def vertex_rms(shape_pred: torch.Tensor, shape_true: torch.Tensor) -> torch.Tensor:
    """Vertex RMS error (...,) in mm of shapes (..., P, 3) mm against the truth, in the
    same frame."""
    return (shape_pred - shape_true).pow(2).sum(-1).mean(-1).sqrt()


def aligned_vertex_rms(
    shape_pred: torch.Tensor, shape_true: torch.Tensor
) -> torch.Tensor:
    """Vertex RMS error (...,) in mm of shapes (..., P, 3) mm after the least-squares
    similarity (rotation, translation, scale; Umeyama) of each prediction onto its
    truth, in float64, without forming the aligned shapes.

    With x, y the centred prediction and truth, σx² = mean |x|², σy² = mean |y|² and
    S the singular values of C = mean y xᵀ, the best similarity leaves
    ``σy² - (S1 + S2 + d S3)² / σx²`` (d = the sign of det C: no reflection). The
    difference costs precision only near a perfect fit: about 1e-6 mm for shapes
    that align exactly (the square root of float64's rounding of σy²).
    """
    x = shape_pred.double()
    y = shape_true.double()
    x = x - x.mean(-2, keepdim=True)
    y = y - y.mean(-2, keepdim=True)
    P = x.shape[-2]
    cov = y.transpose(-1, -2) @ x / P  # (..., 3, 3)
    S = torch.linalg.svdvals(cov)
    d = torch.where(torch.linalg.det(cov) < 0, -1.0, 1.0).to(S)
    trace = S[..., 0] + S[..., 1] + d * S[..., 2]
    var_x = x.pow(2).sum(-1).mean(-1)
    var_y = y.pow(2).sum(-1).mean(-1)
    return (var_y - trace.pow(2) / var_x).clamp_min(0.0).sqrt()


def rotation_error_deg(q_pred: torch.Tensor, q_true: torch.Tensor) -> torch.Tensor:
    """Angle (...,) in degrees, in [0, 180], of the rotation between two camera
    rotations given as unit quaternions (..., 4) (q and -q are the same rotation)."""
    dot = (q_pred * q_true).sum(-1).abs().clamp(max=1.0)
    return torch.rad2deg(2 * torch.acos(dot))


def translation_error_mm(t_pred: torch.Tensor, t_true: torch.Tensor) -> torch.Tensor:
    """Distance (...,) in mm between camera translations (..., 3) mm."""
    return (t_pred - t_true).norm(dim=-1)


def reprojection_error_px(
    shape_pred: torch.Tensor,
    q_pred: torch.Tensor,
    t_pred: torch.Tensor,
    shape_true: torch.Tensor,
    q_true: torch.Tensor,
    t_true: torch.Tensor,
    K: torch.Tensor,
) -> torch.Tensor:
    """Mean distance (B, N) in px between the true shape (B, P, 3) mm seen through the
    true cameras and the predicted shape seen through the predicted cameras (q (B, N,
    4), t (B, N, 3) mm, intrinsics K (B, N, 3, 3) px), over the P points."""
    uv_pred, uv_true = scene_projections(
        shape_pred, q_pred, t_pred, shape_true, q_true, t_true, K
    )
    return (uv_pred - uv_true).norm(dim=-1).mean(-1)


def identity_signal_px(data: Dataset, subjects: np.ndarray) -> torch.Tensor:
    """What Eq. 2 can see of each subject's identity, in its own units: the mean
    distance (B, V) in px, over the 3DMM points, between the projections through each
    photograph's true camera of the true shape and of the 3DMM mean moved onto it by
    the least-squares similarity (Umeyama), so that only the shape differs, not its
    pose or size.

    A network whose reprojection error (:func:`reprojection_error_px`, the same
    average) is larger than this is told by the loss mostly about its cameras: the
    gradient on its shape coefficients is then more camera error than identity.

    Args:
        data: the data set (shapes (n, P, 3) mm, cameras K, q, t per photograph).
        subjects: the B subject ids.
    """
    subjects = np.asarray(subjects)
    mean = np.asarray(data.morphable_model.mean, dtype=np.float64)
    shapes = np.asarray(data.array("shapes")[subjects], dtype=np.float64)
    aligned = np.stack([similarity_transform(mean, s).apply(mean) for s in shapes])
    K, q, t = (data.tensor(name, subjects) for name in ("K", "q", "t"))
    return reprojection_error_px(
        torch.from_numpy(aligned), q, t, torch.from_numpy(shapes), q, t, K
    )


@torch.no_grad()
def validate(
    model: torch.nn.Module,
    data: Dataset,
    subjects: np.ndarray,
    *,
    network: str,
    n_views: int | None = None,
    device: str = "cpu",
    batch_size: int = 64,
    bf16: bool = False,
    objective: Objective = Objective(),
) -> Metrics:
    """The :class:`Metrics` of ``model`` on ``subjects`` (see the module doc).

    Args:
        model: the network (put in evaluation mode here); its input is images (B, 3, S,
            S) uint8 for ``network="sv"``, (B, N, 3, S, S) otherwise.
        data: the data set.
        subjects: subject ids (n,).
        network: one of :data:`facelib.learn.nets.NETWORKS`; decides the input and the
            loss (``"mv_shape"``: no cameras).
        n_views: N, the photographs of a multi-view scene (unused for ``"sv"``).
        device: where the network runs.
        batch_size: scenes per forward pass.
        bf16: run the network under bf16 autocast (as training does with
            ``precision="bf16"``; the metrics are computed in float32 either way).
        objective: the loss of :attr:`Metrics.loss` (a network with cameras; the
            paper's Eq. 2 by default). The virtual cameras of ``"virtual_views"``
            come from a generator seeded by the batch's position: the same for every
            call.
    """
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {NETWORKS}, got {network!r}")
    if network != "sv" and n_views is None:
        raise ValueError(
            f"network={network!r} sees N photographs per scene: pass n_views=N"
        )
    model.eval()
    scenes = SceneSampler(data, subjects, None if network == "sv" else n_views)
    dev = torch.device(device)
    morphable_model = data.morphable_model
    sums = {
        "reprojection_px": 0.0,
        "shape_mm": 0.0,
        "shape_aligned_mm": 0.0,
        "rotation_deg": 0.0,
        "translation_mm": 0.0,
        "loss": 0.0,
    }
    n_scenes = n_photos = 0
    eq2 = objective.kind == "reprojection"  # from the projections made for the metrics
    for start in range(0, len(scenes), batch_size):
        ids = np.arange(start, min(start + batch_size, len(scenes)))
        images, K, q, t, shapes = scenes.validation_batch(ids, device=dev)
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=bf16):
            pred = model(*((images[:, 0], K[:, 0]) if network == "sv" else (images, K)))
        if bf16:  # the metrics in float32
            pred = Prediction(
                *(
                    None if x is None else x.float()
                    for x in (pred.alpha, pred.q, pred.t)
                )
            )
        shape_pred = morphable_model.shape(pred.alpha)
        if pred.q is not None:  # Eq. 2 and the reprojection from one projection
            uv_pred, uv_true = scene_projections(
                shape_pred, pred.q, pred.t, shapes, q, t, K
            )
        if network != "mv_shape" and pred.q is not None and eq2:
            loss = pixel_loss(uv_pred, uv_true)
        else:
            loss = network_loss(
                network,
                pred,
                shape_pred,
                K=K,
                q=q,
                t=t,
                shapes=shapes,
                objective=objective,
                morphable_model=morphable_model,
                generator=seeded_generator(0, start),
            )
        sums["loss"] += float(loss) * len(ids)
        sums["shape_mm"] += float(vertex_rms(shape_pred, shapes).sum())
        sums["shape_aligned_mm"] += float(aligned_vertex_rms(shape_pred, shapes).sum())
        if pred.q is not None:
            reprojection = (uv_pred - uv_true).norm(dim=-1).mean(-1)
            sums["reprojection_px"] += float(reprojection.sum())
            sums["rotation_deg"] += float(rotation_error_deg(pred.q, q).sum())
            sums["translation_mm"] += float(translation_error_mm(pred.t, t).sum())
        n_scenes += len(ids)
        n_photos += int(q.shape[0] * q.shape[1])
    has_pose = network != "mv_shape"
    return Metrics(
        reprojection_px=sums["reprojection_px"] / n_photos if has_pose else math.nan,
        shape_mm=sums["shape_mm"] / n_scenes,
        shape_aligned_mm=sums["shape_aligned_mm"] / n_scenes,
        rotation_deg=sums["rotation_deg"] / n_photos if has_pose else math.nan,
        translation_mm=sums["translation_mm"] / n_photos if has_pose else math.nan,
        loss=sums["loss"] / n_scenes,
    )
