"""The reprojection loss (Eq. 2) around the truth: sweeps, quadratic costs, exchange
rates.

One subject, seen by V cameras on an orbit around the head (yaw only, pitch = roll = 0,
all at the same distance and with the same intrinsics K), is the *true scene*
(:class:`TrueScene`). A *prediction* is the same scene with errors: an offset added to
the yaw of every view, an offset added to the distance of every camera, and an offset
added to the shape coefficients α. :func:`perturbed_loss` is Eq. 2
(:func:`facelib.learn.losses.reprojection_loss`, pixels², summed over views and averaged
over points) between the true scene and such predictions, on a chosen subset of the
views.

Three views of that loss, used by the method chapter of the book:

* :func:`loss_sweeps`: the loss as one error grows at a time (the yaw of every view, the
  camera distance, or α₁), the others held at the truth;
* :func:`quadratic_cost` and :func:`exchange_rate`: the loss is quadratic near the
  truth, ``L ≈ c x²``; ``c`` (px² per unit²) read at the first step of a sweep, and how
  much yaw or distance error costs as much as one standard deviation of α₁;
* :func:`per_mode_cost`: the loss, per view, of each shape mode off by +1σ.

Everything is computed in float64 whatever torch's default dtype.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np
import torch

from facelib.geometry.camera import orbit_pose
from facelib.geometry.morphable_model import MorphableModel
from facelib.learn.losses import reprojection_loss

__all__ = [
    "TrueScene",
    "Sweep",
    "ExchangeRate",
    "SWEEP_LABELS",
    "perturbed_loss",
    "loss_sweeps",
    "quadratic_cost",
    "exchange_rate",
    "per_mode_cost",
]

_F64 = torch.float64

#: errors as a tensor, an array or a list of floats
Offsets = Union[torch.Tensor, np.ndarray, Sequence[float]]

#: axis label (with its unit) of each sweep, keyed by the sweep's name
SWEEP_LABELS = {
    "yaw": "yaw error of every view (°)",
    "distance": "distance error (mm)",
    "alpha1": "error of α₁ (σ)",
}


@dataclass(frozen=True, eq=False)
class TrueScene:
    """One subject seen by V orbit cameras: the truth that predictions are scored
    against.

    Build it with :meth:`from_views`, which computes ``shape``, ``q`` and ``t``.

    Attributes:
        model: the 3DMM (K modes, P points).
        alpha: the true standard-normal shape coefficients, ``(K,)`` float64.
        shape: the true shape ``model.shape(alpha)``, ``(P, 3)`` float64, mm, model
            frame.
        K: the intrinsics shared by every view, ``(3, 3)`` float64, pixels.
        view_yaws: the yaw of each view, ``(V,)`` float64, degrees (pitch = roll = 0).
        distance: the distance from every camera centre to the model origin, mm.
        q: the true camera rotations, ``(V, 4)`` float64 quaternions, real part first.
        t: the true camera translations ``(0, 0, distance)``, ``(V, 3)`` float64, mm.
    """

    model: MorphableModel
    alpha: torch.Tensor
    shape: torch.Tensor
    K: torch.Tensor
    view_yaws: torch.Tensor
    distance: float
    q: torch.Tensor
    t: torch.Tensor

    @classmethod
    def from_views(
        cls,
        model: MorphableModel,
        alpha,
        K,
        view_yaws,
        distance: float,
    ) -> TrueScene:
        """The true scene of coefficients ``alpha`` (K,) seen by orbit cameras at yaws
        ``view_yaws`` (V,) in degrees and ``distance`` mm, with intrinsics ``K`` (3, 3)
        in pixels. Arrays or tensors; converted to float64."""
        alpha = torch.as_tensor(alpha, dtype=_F64)
        K = torch.as_tensor(K, dtype=_F64)
        view_yaws = torch.as_tensor(view_yaws, dtype=_F64)
        if alpha.shape != (model.n_modes,):
            raise ValueError(
                f"expected alpha ({model.n_modes},), got {tuple(alpha.shape)}"
            )
        if K.shape != (3, 3):
            raise ValueError(f"expected K (3, 3), got {tuple(K.shape)}")
        if view_yaws.dim() != 1 or len(view_yaws) == 0:
            raise ValueError(
                f"expected view_yaws (V,) with V >= 1, got {tuple(view_yaws.shape)}"
            )
        zeros = torch.zeros_like(view_yaws)
        q, t = orbit_pose(torch.stack([view_yaws, zeros, zeros], -1), float(distance))
        return cls(
            model=model,
            alpha=alpha,
            shape=model.shape(alpha),
            K=K,
            view_yaws=view_yaws,
            distance=float(distance),
            q=q,
            t=t,
        )

    @property
    def n_views(self) -> int:
        """V, the number of views."""
        return len(self.view_yaws)


@dataclass(frozen=True, eq=False)
class Sweep:
    """The loss along one error axis.

    Attributes:
        name: ``"yaw"``, ``"distance"`` or ``"alpha1"``.
        label: axis label with its unit (see :data:`SWEEP_LABELS`).
        x: the error, ``(n,)`` float64: degrees added to the yaw of every view, mm added
            to the distance, or standard deviations added to α₁.
        loss: Eq. 2 at each error, ``(n,)`` float64, pixels².
    """

    name: str
    label: str
    x: torch.Tensor
    loss: torch.Tensor


@dataclass(frozen=True)
class ExchangeRate:
    """What one standard deviation of error on α₁ is worth in pose errors, near the
    truth, where the loss is quadratic in each error.

    Attributes:
        alpha_cost: px² per σ² of α₁ (the loss of 1σ of α₁).
        yaw_cost: px² per degree² of yaw error on every view.
        distance_cost: px² per mm² of distance error.
        yaw_per_sigma: the yaw error, degrees, that costs as much as 1σ of α₁.
        distance_per_sigma: the distance error, mm, that costs as much as 1σ of α₁.
    """

    alpha_cost: float
    yaw_cost: float
    distance_cost: float
    yaw_per_sigma: float
    distance_per_sigma: float


def _views(scene: TrueScene, views: Sequence[int] | None) -> list[int]:
    if views is None:
        return list(range(scene.n_views))
    views = [int(v) for v in views]
    if not views or any(not 0 <= v < scene.n_views for v in views):
        raise ValueError(
            f"expected a non-empty list of view indices in [0, {scene.n_views}), "
            f"got {views}"
        )
    return views


def _offsets(x: Offsets | None, name: str, shape: tuple[int, ...]) -> torch.Tensor:
    """``x`` as float64 of the given shape; zeros when None."""
    x = torch.zeros(shape, dtype=_F64) if x is None else torch.as_tensor(x, dtype=_F64)
    if tuple(x.shape) != shape:
        raise ValueError(
            f"expected {name} {shape} (one row per prediction), got {tuple(x.shape)}"
        )
    return x


def perturbed_loss(
    scene: TrueScene,
    *,
    d_yaw: Offsets | None = None,
    d_distance: Offsets | None = None,
    d_alpha: Offsets | None = None,
    views: Sequence[int] | None = None,
) -> torch.Tensor:
    """Eq. 2 between the true scene and n predictions with errors, on a subset of views.

    Prediction i has shape ``model.shape(alpha + d_alpha[i])`` and, for every view v,
    the orbit camera at yaw ``view_yaws[v] + d_yaw[i]`` and distance ``distance +
    d_distance[i]`` (the true K). An error left as None is zero.

    Args:
        scene: the truth.
        d_yaw: degrees added to the yaw of every view, ``(n,)``.
        d_distance: mm added to the camera distance, ``(n,)``.
        d_alpha: standard deviations added to the coefficients, ``(n, K)``.
        views: indices of the views the loss sums over (V' of them); None for all V.

    Returns:
        the loss of each prediction, ``(n,)`` float64, pixels² (summed over the V'
        views, averaged over the P points). n = 1 when no error is given.
    """
    sel = _views(scene, views)
    given = [torch.as_tensor(x) for x in (d_yaw, d_distance, d_alpha) if x is not None]
    if given and given[0].dim() == 0:
        raise ValueError("expected one error per prediction: (n,) or (n, K), not 0-d")
    n = given[0].shape[0] if given else 1
    d_yaw = _offsets(d_yaw, "d_yaw", (n,))
    d_distance = _offsets(d_distance, "d_distance", (n,))
    d_alpha = _offsets(d_alpha, "d_alpha", (n, scene.model.n_modes))
    V = scene.n_views
    yaws = scene.view_yaws + d_yaw[:, None]  # (n, V) degrees
    zeros = torch.zeros_like(yaws)
    q_pred, t_pred = orbit_pose(
        torch.stack([yaws, zeros, zeros], -1),
        (scene.distance + d_distance[:, None]).expand(n, V),
    )
    return reprojection_loss(
        shape_pred=scene.model.shape(scene.alpha + d_alpha),
        q_pred=q_pred[:, sel],
        t_pred=t_pred[:, sel],
        shape_true=scene.shape.expand(n, -1, -1),
        q_true=scene.q[sel].expand(n, -1, -1),
        t_true=scene.t[sel].expand(n, -1, -1),
        K=scene.K.expand(n, len(sel), 3, 3),
        reduction="none",
    )


def loss_sweeps(
    scene: TrueScene,
    steps: int,
    *,
    views: Sequence[int] | None = None,
    yaw_range: float = 30.0,
    distance_range: float = 150.0,
    alpha_range: float = 3.0,
) -> dict[str, Sweep]:
    """The loss as one error at a time goes from ``-range`` to ``+range`` in ``steps``
    evenly spaced values, the other errors held at zero.

    Args:
        scene: the truth.
        steps: points per sweep; odd, so that the middle one is the truth.
        views: the views the loss sums over (see :func:`perturbed_loss`).
        yaw_range: degrees, added to the yaw of every view.
        distance_range: mm, added to the camera distance.
        alpha_range: standard deviations, added to α₁.

    Returns:
        ``{"yaw": ..., "distance": ..., "alpha1": ...}``, a :class:`Sweep` each, with x
        and loss of shape ``(steps,)``.
    """
    steps = int(steps)
    if steps < 3 or steps % 2 == 0:
        raise ValueError(f"expected an odd number of steps >= 3, got {steps}")
    e1 = torch.eye(scene.model.n_modes, dtype=_F64)[0]
    out = {}
    for name, r in (
        ("yaw", yaw_range),
        ("distance", distance_range),
        ("alpha1", alpha_range),
    ):
        x = torch.linspace(-r, r, steps, dtype=_F64)
        if name == "yaw":
            loss = perturbed_loss(scene, d_yaw=x, views=views)
        elif name == "distance":
            loss = perturbed_loss(scene, d_distance=x, views=views)
        else:
            loss = perturbed_loss(scene, d_alpha=x[:, None] * e1, views=views)
        out[name] = Sweep(name=name, label=SWEEP_LABELS[name], x=x, loss=loss)
    return out


def quadratic_cost(sweep: Sweep) -> float:
    """The curvature ``c`` of the loss near the truth, ``L ≈ c x²``: the loss at the
    first step past the middle of the sweep divided by that step squared.

    Args:
        sweep: a sweep with an odd number of points, the middle one at x = 0.

    Returns:
        px² per unit² of the sweep's error (per degree², mm² or σ²).
    """
    n = len(sweep.x)
    if n < 3 or n % 2 == 0:
        raise ValueError(f"expected a sweep of an odd number >= 3 of points, got {n}")
    i = n // 2 + 1  # the first step away from the truth
    step = sweep.x[i].item()
    return sweep.loss[i].item() / step**2


def exchange_rate(sweeps: dict[str, Sweep]) -> ExchangeRate:
    """How much yaw or distance error costs as much as 1σ of α₁, from the quadratic
    costs of the three sweeps of :func:`loss_sweeps`: ``sqrt(c_α / c_yaw)`` degrees and
    ``sqrt(c_α / c_distance)`` mm."""
    alpha, yaw, dist = (
        quadratic_cost(sweeps[k]) for k in ("alpha1", "yaw", "distance")
    )
    return ExchangeRate(
        alpha_cost=alpha,
        yaw_cost=yaw,
        distance_cost=dist,
        yaw_per_sigma=math.sqrt(alpha / yaw),
        distance_per_sigma=math.sqrt(alpha / dist),
    )


def per_mode_cost(
    scene: TrueScene, *, views: Sequence[int] | None = None
) -> torch.Tensor:
    """The loss per view when one shape mode is off by +1σ and the cameras are true.

    Args:
        scene: the truth.
        views: the V' views the loss sums over (see :func:`perturbed_loss`).

    Returns:
        ``(K,)`` float64, pixels² per view: entry k is Eq. 2 for ``alpha + e_k`` on the
        chosen views, divided by V'.
    """
    n_views = len(_views(scene, views))
    eye = torch.eye(scene.model.n_modes, dtype=_F64)  # row k: mode k off by +1σ
    return perturbed_loss(scene, d_alpha=eye, views=views) / n_views
