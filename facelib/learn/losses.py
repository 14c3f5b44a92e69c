"""The training losses: the paper's single-term reprojection loss (Eq. 2) and the 3D
shape error that trains MV Shape-Concat.

Eq. 2:

    L = sum_{v=1..V} || P(q_v, t_v)(s_H) - P(q̂_v, t̂_v)(ŝ_H) ||²

``s`` is the ground-truth shape and ``ŝ = m + Φ α̂`` the predicted one (Eq. 1); ``P(q,
t)`` projects every 3D point to the image with ``K [R(q) | t]`` followed by the division
by depth (Eq. 3-4, see :func:`facelib.geometry.camera.project`). The ground-truth shape
seen through the ground-truth camera of each view is compared with the predicted shape
seen through the predicted camera of that view, over all P points of the 3DMM. One term,
no weights: shape and pose are learnt together because a wrong shape and a wrong pose
both move the projected points.

Normalisation: the squared distance is summed over the two pixel coordinates and over
the V views, and *averaged* over the P points (so the value does not depend on the mesh
resolution); the unit is pixels². With one view this is the single-view loss of section
3.1.

MV Shape-Concat has no camera: it is trained on the mean squared vertex error of the 3D
shape (mm², :func:`shape_loss`). :func:`network_loss` picks a network's loss.
"""

from __future__ import annotations

import torch

from facelib.geometry.camera import project
from facelib.learn.nets import NETWORKS, Prediction

__all__ = [
    "reprojection_loss",
    "scene_projections",
    "pixel_loss",
    "shape_loss",
    "network_loss",
]


def reprojection_loss(
    *,
    shape_pred: torch.Tensor,
    q_pred: torch.Tensor,
    t_pred: torch.Tensor,
    shape_true: torch.Tensor,
    q_true: torch.Tensor,
    t_true: torch.Tensor,
    K: torch.Tensor,
    reduction: str = "mean",
) -> torch.Tensor:
    """Eq. 2 for a batch of scenes with V views each.

    Args:
        shape_pred, shape_true: shapes in mm, model frame, ``(..., P, 3)``.
        q_pred, q_true: camera rotations per view, quaternions real part first, ``(...,
        V, 4)``. t_pred, t_true: camera translations per view in mm, ``(..., V, 3)``.
        K: intrinsics per view in pixels, ``(..., V, 3, 3)`` (the same K for truth and
        prediction).
        reduction: ``"mean"`` over the batch dimensions (a scalar), ``"sum"``, or
        ``"none"`` (shape ``(...)``).

    Returns:
        pixels², summed over views and averaged over points.
    """
    if (
        shape_pred.shape != shape_true.shape
        or shape_pred.dim() < 2
        or shape_pred.shape[-1] != 3
    ):
        raise ValueError(
            "expected predicted and true shapes (..., P, 3) of equal shape, got "
            f"{tuple(shape_pred.shape)} "
            f"and {tuple(shape_true.shape)}"
        )
    batch = shape_pred.shape[:-2]
    for name, x, tail in (
        ("q_pred", q_pred, (4,)),
        ("q_true", q_true, (4,)),
        ("t_pred", t_pred, (3,)),
        ("t_true", t_true, (3,)),
        ("K", K, (3, 3)),
    ):
        if (
            x.dim() != len(batch) + 1 + len(tail)
            or tuple(x.shape[: len(batch)]) != tuple(batch)
            or tuple(x.shape[len(batch) + 1 :]) != tail
        ):
            layout = ", ".join(["..."] * bool(batch) + ["V"] + [str(d) for d in tail])
            raise ValueError(
                f"expected {name} ({layout}) with batch {tuple(batch)}, got "
                f"{tuple(x.shape)}"
            )
    V = K.shape[len(batch)]
    if any(x.shape[len(batch)] != V for x in (q_pred, q_true, t_pred, t_true)):
        raise ValueError(f"every camera tensor needs the same number of views V = {V}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(
            f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}"
        )
    uv_pred, uv_true = scene_projections(
        shape_pred, q_pred, t_pred, shape_true, q_true, t_true, K
    )
    return pixel_loss(uv_pred, uv_true, reduction)


def scene_projections(
    shape_pred: torch.Tensor,
    q_pred: torch.Tensor,
    t_pred: torch.Tensor,
    shape_true: torch.Tensor,
    q_true: torch.Tensor,
    t_true: torch.Tensor,
    K: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The predicted and the true projections (..., V, P, 2) px of Eq. 2: each shape
    (..., P, 3) mm through its own cameras (..., V, ...) (no checks; see
    :func:`reprojection_loss`)."""
    uv_true = project(shape_true.unsqueeze(-3), K, q_true, t_true)
    # a guessed camera may put points behind itself early in training: that costs
    # pixels, it does not stop the run
    uv_pred = project(shape_pred.unsqueeze(-3), K, q_pred, t_pred, in_front=False)
    return uv_pred, uv_true


def pixel_loss(
    uv_pred: torch.Tensor, uv_true: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """Eq. 2 from the projections (..., V, P, 2) px of :func:`scene_projections`:
    squared pixel distances summed over views, averaged over points, then reduced
    over the scenes as ``reduction`` says."""
    per_scene = (uv_pred - uv_true).pow(2).sum(dim=-1).mean(dim=-1).sum(dim=-1)  # (...)
    if reduction == "none":
        return per_scene
    return per_scene.mean() if reduction == "mean" else per_scene.sum()


def shape_loss(shape_pred: torch.Tensor, shape_true: torch.Tensor) -> torch.Tensor:
    """Mean squared vertex error (a scalar, mm²) of shapes ``(..., P, 3)`` mm against
    the truth in the same frame: the squared distance of each vertex, averaged over
    vertices and scenes."""
    return (shape_pred - shape_true).pow(2).sum(-1).mean()


def network_loss(
    network: str,
    pred: Prediction,
    shape_pred: torch.Tensor,
    *,
    K: torch.Tensor,
    q: torch.Tensor,
    t: torch.Tensor,
    shapes: torch.Tensor,
) -> torch.Tensor:
    """The loss (a scalar) that trains ``network`` (one of
    :data:`facelib.learn.nets.NETWORKS`): :func:`shape_loss` (mm²) for ``"mv_shape"``,
    :func:`reprojection_loss` (px²) otherwise.

    Args:
        pred: the network's output (its cameras: q (B, N, 4), t (B, N, 3) mm).
        shape_pred: the predicted shapes (B, P, 3) mm (``m + Φ α̂``).
        K, q, t: the true cameras (B, N, 3, 3) px, (B, N, 4), (B, N, 3) mm.
        shapes: the true shapes (B, P, 3) mm.
    """
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {NETWORKS}, got {network!r}")
    if network == "mv_shape":
        return shape_loss(shape_pred, shapes)
    return reprojection_loss(
        shape_pred=shape_pred,
        q_pred=pred.q,
        t_pred=pred.t,
        shape_true=shapes,
        q_true=q,
        t_true=t,
        K=K,
    )
