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

The loss ablation (the chapter after the multi-view one) trains the same networks on
the alternatives of the paper's reference [13] (Ramon et al. 2019, arXiv 1908.09001),
named by an :class:`Objective`:

* ``"multi_term"``, the usual weighted loss (:func:`multi_term_loss`): the mean squared
  error of the 3DMM coefficients, plus β times the quaternion error, plus γ times the
  translation error (mm²): two weights to tune;
* ``"virtual_views"``, Eq. 2 plus the implicit regulariser of [13]
  (:func:`virtual_view_loss`): the predicted and the true shape are also compared
  through random *virtual* cameras around the head, which no photograph shows. It
  has the same unit as Eq. 2 (px²) and adds no weight.

One more, ours (the single-view chapter measures why): ``"decoupled"``, Eq. 2 split in
two reprojection terms (:func:`decoupled_reprojection_loss`), the predicted shape seen
through the *true* camera and the *true* shape seen through the predicted camera, each
against the true shape through the true camera. Same unit (px²), no weight, the same
minimum as Eq. 2; but the shape coefficients are told only about the shape, never
about the camera's error, which at 64 px is several times the identity's own signal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from facelib.geometry.camera import orbit_pose, project
from facelib.geometry.morphable_model import MorphableModel
from facelib.learn.nets import NETWORKS, Prediction

__all__ = [
    "LOSSES",
    "Objective",
    "reprojection_loss",
    "multi_term_loss",
    "quaternion_error",
    "virtual_cameras",
    "virtual_view_loss",
    "decoupled_reprojection_loss",
    "scene_projections",
    "pixel_loss",
    "shape_loss",
    "network_loss",
]


#: what a network with cameras can train on (see the module doc)
LOSSES = ("reprojection", "multi_term", "virtual_views", "decoupled")

#: the random virtual cameras of ``"virtual_views"``: yaw and pitch ranges (degrees)
#: around the head, and the cameras drawn per photograph of a scene
VIRTUAL_YAW_DEG = 90.0
VIRTUAL_PITCH_DEG = 45.0
VIRTUAL_PER_VIEW = 1


@dataclass(frozen=True)
class Objective:
    """The loss a network with cameras trains on (one of :data:`LOSSES`).

    Attributes:
        kind: ``"reprojection"`` (Eq. 2, the paper's), ``"multi_term"``,
            ``"virtual_views"`` or ``"decoupled"`` (see the module doc).
        beta: ``"multi_term"`` only: the weight of the quaternion error.
        gamma: ``"multi_term"`` only: the weight of the translation error (per mm²).
    """

    kind: str = "reprojection"
    beta: float = 1.0
    gamma: float = 1.0

    def __post_init__(self):
        if self.kind not in LOSSES:
            raise ValueError(f"the loss must be one of {LOSSES}, got {self.kind!r}")
        for name in ("beta", "gamma"):
            x = getattr(self, name)
            if (
                not isinstance(x, (int, float))
                or isinstance(x, bool)
                or not math.isfinite(x)
                or x <= 0
            ):
                raise ValueError(
                    f"the multi-term loss weight {name} must be a finite number > 0, "
                    f"got {x!r}"
                )

    @property
    def label(self) -> str:
        """A short name for tables: ``Eq. 2``, ``Eq. 2 + virtual views``, ``β=…,
        γ=…``."""
        if self.kind == "reprojection":
            return "Eq. 2"
        if self.kind == "virtual_views":
            return "Eq. 2 + virtual views"
        if self.kind == "decoupled":
            return "Eq. 2, decoupled"
        return f"β={self.beta:g}, γ={self.gamma:g}"


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


def quaternion_error(q_pred: torch.Tensor, q_true: torch.Tensor) -> torch.Tensor:
    """Squared distance (...,) between unit quaternions (..., 4), the nearer of q and
    -q (the same rotation): ``min(|q̂ - q|², |q̂ + q|²) = 2 - 2 |<q̂, q>|``, in [0, 2]
    (about θ²/4 for a rotation error of θ radians)."""
    q_pred = q_pred / q_pred.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    q_true = q_true / q_true.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    return 2.0 - 2.0 * (q_pred * q_true).sum(-1).abs()


def multi_term_loss(
    *,
    alpha_pred: torch.Tensor,
    alpha_true: torch.Tensor,
    q_pred: torch.Tensor,
    q_true: torch.Tensor,
    t_pred: torch.Tensor,
    t_true: torch.Tensor,
    beta: float,
    gamma: float,
) -> torch.Tensor:
    """The weighted multi-term loss of [13]'s baseline (a scalar):

        L = mean_k (α̂_k - α_k)²
            + β · mean_v e_q(q̂_v, q_v)
            + γ · mean_v,i (t̂_vi - t_vi)²

    Args:
        alpha_pred, alpha_true: standard-normal 3DMM coefficients (B, K); the true ones
            are the truth's projection on the model
            (:meth:`~facelib.geometry.morphable_model.MorphableModel.coefficients`).
        q_pred, q_true: rotations per view (B, V, 4); e_q is
            :func:`quaternion_error`.
        t_pred, t_true: translations per view (B, V, 3) mm.
        beta, gamma: the weights (γ per mm²).

    Returns:
        the mean over the batch; unitless for α and q, mm² · γ for t.
    """
    if alpha_pred.shape != alpha_true.shape:
        raise ValueError(
            f"expected predicted and true coefficients of one shape, got "
            f"{tuple(alpha_pred.shape)} and {tuple(alpha_true.shape)}"
        )
    if q_pred.shape != q_true.shape or t_pred.shape != t_true.shape:
        raise ValueError(
            "expected predicted and true cameras of one shape, got q "
            f"{tuple(q_pred.shape)} vs {tuple(q_true.shape)}, t {tuple(t_pred.shape)} "
            f"vs {tuple(t_true.shape)}"
        )
    coefficients = (alpha_pred - alpha_true).pow(2).mean()
    rotation = quaternion_error(q_pred, q_true).mean()
    translation = (t_pred - t_true).pow(2).mean()
    return coefficients + beta * rotation + gamma * translation


def virtual_cameras(
    t_true: torch.Tensor, n: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random virtual cameras per scene looking at the model origin: yaw uniform
    in ±:data:`VIRTUAL_YAW_DEG`, pitch in ±:data:`VIRTUAL_PITCH_DEG`, no roll, each
    at the distance of the scene's first true camera from the origin.

    Args:
        t_true: true translations (B, V, 3) mm.
        n: cameras per scene.
        generator: the CPU generator the angles come from.

    Returns:
        q (B, n, 4) and t (B, n, 3) mm on ``t_true``'s device and dtype.
    """
    B = t_true.shape[0]
    u = torch.rand(B, n, 2, generator=generator, dtype=torch.float64)
    spread = torch.tensor([VIRTUAL_YAW_DEG, VIRTUAL_PITCH_DEG], dtype=torch.float64)
    yaw_pitch = (2.0 * u - 1.0) * spread
    angles = torch.cat([yaw_pitch, torch.zeros(B, n, 1, dtype=torch.float64)], -1)
    distance = t_true[:, 0].detach().double().cpu().norm(dim=-1)  # (B,)
    q, t = orbit_pose(angles, distance[:, None].expand(B, n))
    return q.to(t_true), t.to(t_true)


def virtual_view_loss(
    *,
    shape_pred: torch.Tensor,
    shape_true: torch.Tensor,
    K: torch.Tensor,
    t_true: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:
    """[13]'s implicit regulariser (a scalar, px²): the predicted and the true shapes
    (B, P, 3) mm through the same random virtual cameras (:func:`virtual_cameras`,
    :data:`VIRTUAL_PER_VIEW` per photograph, with the intrinsics (B, V, 3, 3) px of
    the scene's first photograph), squared pixel distances averaged over the points
    and the cameras, times V: the virtual views weigh as much as the V photographs
    of Eq. 2. Mean over the batch."""
    V = K.shape[1]
    q_v, t_v = virtual_cameras(t_true, VIRTUAL_PER_VIEW * V, generator)
    K_v = K[:, :1].expand(-1, q_v.shape[1], -1, -1)
    uv_pred, uv_true = scene_projections(
        shape_pred, q_v, t_v, shape_true, q_v, t_v, K_v
    )
    per_camera = (uv_pred - uv_true).pow(2).sum(-1).mean(-1)  # (B, n)
    return V * per_camera.mean()


def decoupled_reprojection_loss(
    *,
    shape_pred: torch.Tensor,
    q_pred: torch.Tensor,
    t_pred: torch.Tensor,
    shape_true: torch.Tensor,
    q_true: torch.Tensor,
    t_true: torch.Tensor,
    K: torch.Tensor,
) -> torch.Tensor:
    """Eq. 2 in two terms that share its unit (px²) and its minimum, scene mean:

        sum_v || P(q_v, t_v)(ŝ) - P(q_v, t_v)(s) ||² + || P(q̂_v, t̂_v)(s) - P(q_v,
        t_v)(s) ||²

    (each averaged over the P points as in :func:`pixel_loss`). The first reaches only
    the predicted shape ŝ (B, P, 3) mm, the second only the predicted cameras q̂ (B, N,
    4), t̂ (B, N, 3) mm; the true ones are ``shape_true``, ``q_true``, ``t_true`` and
    the intrinsics ``K`` (B, N, 3, 3) px."""
    uv_shape, uv_true = scene_projections(
        shape_pred, q_true, t_true, shape_true, q_true, t_true, K
    )
    uv_camera = project(shape_true.unsqueeze(-3), K, q_pred, t_pred, in_front=False)
    return pixel_loss(uv_shape, uv_true) + pixel_loss(uv_camera, uv_true)


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
    objective: Objective = Objective(),
    morphable_model: MorphableModel | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The loss (a scalar) that trains ``network`` (one of
    :data:`facelib.learn.nets.NETWORKS`): :func:`shape_loss` (mm²) for ``"mv_shape"``,
    otherwise what ``objective`` names: :func:`reprojection_loss` (px², the paper's),
    :func:`multi_term_loss`, Eq. 2 plus :func:`virtual_view_loss` (px²) or
    :func:`decoupled_reprojection_loss` (px²).

    Args:
        pred: the network's output (its cameras: q (B, N, 4), t (B, N, 3) mm).
        shape_pred: the predicted shapes (B, P, 3) mm (``m + Φ α̂``).
        K, q, t: the true cameras (B, N, 3, 3) px, (B, N, 4), (B, N, 3) mm.
        shapes: the true shapes (B, P, 3) mm.
        objective: the loss of a network with cameras.
        morphable_model: ``"multi_term"`` only: the 3DMM whose coefficients of the
            true shapes (:meth:`~facelib.geometry.morphable_model.MorphableModel.
            coefficients`, (B, K)) are the targets.
        generator: ``"virtual_views"`` only: where the virtual cameras come from.
    """
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {NETWORKS}, got {network!r}")
    if network == "mv_shape":
        if objective.kind != "reprojection":
            raise ValueError(
                "MV Shape-Concat has no cameras and trains on the shape error only; "
                f"got the loss {objective.kind!r}"
            )
        return shape_loss(shape_pred, shapes)
    if objective.kind == "multi_term":
        if morphable_model is None:
            raise ValueError(
                "the multi-term loss needs the 3DMM for the true coefficients: pass "
                "morphable_model"
            )
        return multi_term_loss(
            alpha_pred=pred.alpha.float(),
            alpha_true=morphable_model.coefficients(shapes),
            q_pred=pred.q,
            q_true=q,
            t_pred=pred.t,
            t_true=t,
            beta=objective.beta,
            gamma=objective.gamma,
        )
    if objective.kind == "decoupled":
        return decoupled_reprojection_loss(
            shape_pred=shape_pred,
            q_pred=pred.q,
            t_pred=pred.t,
            shape_true=shapes,
            q_true=q,
            t_true=t,
            K=K,
        )
    eq2 = reprojection_loss(
        shape_pred=shape_pred,
        q_pred=pred.q,
        t_pred=pred.t,
        shape_true=shapes,
        q_true=q,
        t_true=t,
        K=K,
    )
    if objective.kind == "reprojection":
        return eq2
    if generator is None:
        raise ValueError("the virtual views need a generator for their cameras")
    return eq2 + virtual_view_loss(
        shape_pred=shape_pred, shape_true=shapes, K=K, t_true=t, generator=generator
    )
