"""The loss ablation: the paper's single term (Eq. 2) against the weighted multi-term
loss over a grid of its weights, against Eq. 2 with [13]'s virtual views, and against
Eq. 2 decoupled.

The paper writes that its one reprojection term needs no weights to tune, but shows
no sweep. :func:`run_ablation` trains one network per loss (:class:`Objective`), with
everything else the same (network, data, steps, seed: the base
:class:`~facelib.learn.training.TrainConfig`), and collects their validation metrics
in an :class:`Ablation`:

* ``"Eq. 2"``: the paper's loss, and again with the next seed (the spread between the
  two seeds is the size of a difference that training noise alone makes), and, if
  asked, again with the single-view chapter's pose warm-up (α held at the 3DMM mean
  for the first epochs): the one change that isolates how much of Eq. 2's shape error
  comes from α absorbing the camera's early errors;
* ``"Eq. 2 + virtual views"``: [13]'s implicit regulariser added;
* ``"Eq. 2, decoupled"``: Eq. 2 in two reprojection terms, the shape coefficients told
  only about the shape and the camera only about the camera
  (:func:`~facelib.learn.losses.decoupled_reprojection_loss`): whether the single term
  fails on shape because the camera's error reaches α;
* one cell per (β, γ) of the grid: ``mean (α̂ - α)² + β e_q + γ |t̂ - t|²``.

Every network is kept at its best epoch by its *own* validation loss (the loss it
trains on); the comparison is on the metrics every loss can be judged by: the shape
error after alignment (mm, as ARMSE sees it) and the reprojection error (px).

On disk: ``<run_root>/<cell name>/``, one training run each
(:func:`~facelib.learn.training.train`; a finished run with the same configuration on
the same data is reused unless ``overwrite``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from facelib.data.dataset import Dataset
from facelib.learn.losses import Objective
from facelib.learn.training import TrainConfig, train
from facelib.learn.validation import Metrics

__all__ = ["AblationCell", "Ablation", "run_ablation", "cell_name", "weight_grid"]

#: the metrics an ablation compares (fields of :class:`Metrics`, lower is better)
COMPARED = ("shape_aligned_mm", "reprojection_px")


@dataclass(frozen=True)
class AblationCell:
    """One trained network of the ablation: its loss, seed, validation metrics (of the
    kept epoch), history (:attr:`~facelib.learn.training.TrainState.history`), run
    folder, and the epochs of pose warm-up it had (0: none)."""

    objective: Objective
    seed: int
    metrics: Metrics
    history: list[dict]
    path: Path
    warmup_epochs: int = 0

    @property
    def label(self) -> str:
        """The cell's name in tables and legends."""
        if self.warmup_epochs:
            s = "s" * (self.warmup_epochs > 1)
            return f"Eq. 2, pose warm-up ({self.warmup_epochs} epoch{s})"
        return self.objective.label


@dataclass(frozen=True)
class Ablation:
    """The ablation's networks.

    Attributes:
        betas, gammas: the grid's weights, increasing.
        single: Eq. 2 (the base configuration's seed).
        single_reseeded: Eq. 2 with the next seed.
        virtual: Eq. 2 + virtual views.
        grid: the multi-term cells, ``grid[i][j]`` for ``betas[i]``, ``gammas[j]``.
        single_warmup: Eq. 2 with a pose warm-up (``None`` if not asked for).
        decoupled: Eq. 2, decoupled (``None`` if not asked for).
    """

    betas: tuple[float, ...]
    gammas: tuple[float, ...]
    single: AblationCell
    single_reseeded: AblationCell
    virtual: AblationCell
    grid: tuple[tuple[AblationCell, ...], ...]
    single_warmup: AblationCell | None = None
    decoupled: AblationCell | None = None

    def values(self, metric: str) -> np.ndarray:
        """The grid's ``metric`` (one of :data:`COMPARED`), (len(betas),
        len(gammas))."""
        _check_metric(metric)
        return np.array(
            [[getattr(c.metrics, metric) for c in row] for row in self.grid], float
        )

    def beating(self, metric: str, margin: float = 0.0) -> int:
        """How many grid cells have a ``metric`` lower than Eq. 2's (its first seed)
        by more than ``margin`` (e.g. :meth:`seed_spread`)."""
        single = getattr(self.single.metrics, metric)
        return int((self.values(metric) < single - margin).sum())

    def best(self, metric: str) -> AblationCell:
        """The grid cell with the lowest ``metric``."""
        _check_metric(metric)
        cells = [c for row in self.grid for c in row]
        return min(cells, key=lambda c: getattr(c.metrics, metric))

    def seed_spread(self, metric: str) -> float:
        """``|metric(Eq. 2, seed) - metric(Eq. 2, seed + 1)|``: what a change of seed
        alone moves ``metric`` by."""
        _check_metric(metric)
        a = getattr(self.single.metrics, metric)
        return abs(a - getattr(self.single_reseeded.metrics, metric))

    def cells(self) -> list[AblationCell]:
        """Every network: Eq. 2 (both seeds, then with the warm-up if any), Eq. 2 +
        virtual views, Eq. 2 decoupled (if any), then the grid row by row."""
        return [
            self.single,
            self.single_reseeded,
            *([self.single_warmup] if self.single_warmup else []),
            self.virtual,
            *([self.decoupled] if self.decoupled else []),
            *(c for row in self.grid for c in row),
        ]


def _check_metric(metric: str) -> None:
    if metric not in COMPARED:
        raise ValueError(f"the ablation compares {COMPARED}, got {metric!r}")


def _check_weights(name: str, values) -> tuple[float, ...]:
    """``values`` as a tuple of finite positive increasing floats, or a ValueError."""
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a list of numbers, got {values!r}") from None
    if (
        not out
        or not all(math.isfinite(v) and v > 0 for v in out)
        or any(b <= a for a, b in zip(out, out[1:]))
    ):
        raise ValueError(
            f"{name} must be finite numbers > 0 in increasing order, got {values!r}"
        )
    return out


def weight_grid(lowest: float, decades: float, n: int) -> tuple[float, ...]:
    """``n`` weights spaced evenly on a log scale from ``lowest`` to ``lowest · 10 **
    decades`` (e.g. 1e-4, 2 decades, 3: 1e-4, 1e-3, 1e-2), rounded to 3 significant
    digits."""
    if not (isinstance(n, int) and n >= 2) or not (
        math.isfinite(lowest) and lowest > 0 and math.isfinite(decades) and decades > 0
    ):
        raise ValueError(
            "a weight grid needs lowest > 0, decades > 0 and n >= 2 weights, got "
            f"lowest={lowest!r}, decades={decades!r}, n={n!r}"
        )
    exponents = np.linspace(0.0, decades, n)
    return tuple(float(f"{lowest * 10.0**e:.3g}") for e in exponents)


def cell_name(objective: Objective, seed: int, warmup_epochs: int = 0) -> str:
    """The run folder's name of a cell: ``eq2_seed0``, ``eq2_warmup1_seed0``,
    ``eq2_virtual_seed0``, ``eq2_decoupled_seed0``, ``beta10_gamma0.001_seed0``."""
    kind = {
        "reprojection": f"eq2{f'_warmup{warmup_epochs}' * bool(warmup_epochs)}",
        "virtual_views": "eq2_virtual",
        "decoupled": "eq2_decoupled",
        "multi_term": f"beta{objective.beta:g}_gamma{objective.gamma:g}",
    }[objective.kind]
    return f"{kind}_seed{seed}"


def run_ablation(
    base: TrainConfig,
    data: Dataset,
    run_root: str | Path,
    *,
    betas,
    gammas,
    warmup_epochs: int = 0,
    decoupled: bool = True,
    overwrite: bool = False,
    progress: bool = False,
) -> Ablation:
    """Train the ablation's networks (see the module doc); returns them.

    Args:
        base: the shared configuration (its ``loss``, ``beta`` and ``gamma`` are
            replaced per cell; ``seed`` is the first seed).
        data: the data set.
        run_root: the folder of the runs.
        betas, gammas: the grid's weights (finite, > 0, increasing).
        warmup_epochs: > 0: also train Eq. 2 with α held at the 3DMM mean for this
            many first epochs (the single-view network only).
        decoupled: also train Eq. 2, decoupled.
        overwrite: retrain finished runs (otherwise a finished run with the same
            configuration on the same data is reused).
        progress: show each run's progress bar.
    """
    betas = _check_weights("betas", betas)
    gammas = _check_weights("gammas", gammas)
    if base.network == "mv_shape":
        raise ValueError(
            "MV Shape-Concat has no cameras: the loss ablation needs a network with "
            "cameras ('sv', 'mv' or 'mv_any')"
        )
    if warmup_epochs and base.network != "sv":
        raise ValueError(
            f"only the single-view network has a pose warm-up; got warmup_epochs="
            f"{warmup_epochs} for {base.network!r}"
        )
    run_root = Path(run_root)

    def cell(objective: Objective, seed: int, warmup: int = 0) -> AblationCell:
        config = replace(
            base,
            loss=objective.kind,
            beta=objective.beta,
            gamma=objective.gamma,
            seed=seed,
            pose_warmup_epochs=warmup,
        )
        result = train(
            config,
            data,
            run_root / cell_name(objective, seed, warmup),
            overwrite=overwrite,
            reuse_finished=True,
            progress=progress,
        )
        return AblationCell(
            objective=objective,
            seed=seed,
            metrics=result.metrics,
            history=result.history,
            path=result.path,
            warmup_epochs=warmup,
        )

    return Ablation(
        betas=betas,
        gammas=gammas,
        single=cell(Objective("reprojection"), base.seed),
        single_reseeded=cell(Objective("reprojection"), base.seed + 1),
        virtual=cell(Objective("virtual_views"), base.seed),
        grid=tuple(
            tuple(cell(Objective("multi_term", b, g), base.seed) for g in gammas)
            for b in betas
        ),
        single_warmup=(
            cell(Objective("reprojection"), base.seed, warmup_epochs)
            if warmup_epochs
            else None
        ),
        decoupled=cell(Objective("decoupled"), base.seed) if decoupled else None,
    )
