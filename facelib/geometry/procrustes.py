"""Procrustes alignment: the similarity transform between two point sets, and
generalized Procrustes analysis of a population of shapes in correspondence.

Written here with numpy because it is a dozen lines on top of an SVD: scipy's
``scipy.spatial.procrustes`` standardises both sets (no transform to reuse) and
``Rotation.align_vectors`` has no scale; the tests compare with both.

Points are in millimetres, shape ``(P, 3)``; a transform ``(s, R, t)`` maps ``x`` to ``s
R x + t``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Similarity",
    "similarity_transform",
    "generalized_procrustes",
    "ProcrustesResult",
]


@dataclass(frozen=True)
class Similarity:
    """``x -> scale * rotation @ x + translation``; rotation (3, 3) proper, translation
    (3,) in mm."""

    scale: float
    rotation: np.ndarray
    translation: np.ndarray

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Transform points ``(..., 3)``."""
        return self.scale * points @ self.rotation.T + self.translation

    def compose(self, inner: "Similarity") -> "Similarity":
        """The transform ``self ∘ inner`` (``inner`` applied first)."""
        return Similarity(
            scale=self.scale * inner.scale,
            rotation=self.rotation @ inner.rotation,
            translation=self.scale * self.rotation @ inner.translation
            + self.translation,
        )


def _check_points(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3 or x.shape[0] < 3:
        raise ValueError(f"expected {name} as (P, 3) with P >= 3, got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return x


def similarity_transform(
    source: np.ndarray,
    target: np.ndarray,
    *,
    scale: bool = True,
    weights: np.ndarray | None = None,
) -> Similarity:
    """The least-squares similarity (Umeyama 1991) taking ``source`` (P, 3) onto
    ``target`` (P, 3).

    Minimises ``sum_i w_i |s R x_i + t - y_i|^2`` over proper rotations R (no
    reflection), scale s > 0 (fixed to 1 when ``scale=False``) and translation t.
    """
    x = _check_points(source, "source points")
    y = _check_points(target, "target points")
    if x.shape != y.shape:
        raise ValueError(
            f"source and target must correspond point to point, got {x.shape} and "
            f"{y.shape}"
        )
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(x),) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(
            f"expected non-negative weights (P,) = ({len(x)},) with a positive sum, "
            f"got {w.shape}"
        )
    w = w / w.sum()
    mx, my = w @ x, w @ y
    xc, yc = x - mx, y - my
    cov = (yc * w[:, None]).T @ xc  # (3, 3) = sum_i w_i y_i x_i^T
    U, S, Vt = np.linalg.svd(cov)
    d = np.ones(3)
    d[2] = np.sign(np.linalg.det(U @ Vt)) or 1.0
    R = U @ np.diag(d) @ Vt
    var_x = float(w @ (xc**2).sum(axis=1))
    s = float((S * d).sum() / var_x) if scale else 1.0
    if scale and var_x <= 0:
        raise ValueError("source points are all identical: the scale is undefined")
    return Similarity(scale=s, rotation=R, translation=my - s * R @ mx)


def _centroid_size(x: np.ndarray) -> float:
    return float(np.sqrt(((x - x.mean(axis=0)) ** 2).sum()))


@dataclass(frozen=True)
class ProcrustesResult:
    """Output of :func:`generalized_procrustes`.

    aligned: the shapes after alignment, (N, P, 3) in mm.
    transforms: per shape, the similarity that maps the input shape onto its aligned
    version.
    mean: the mean of the aligned shapes, (P, 3) in mm.
    iterations: how many alignment rounds ran.
    """

    aligned: np.ndarray
    transforms: list[Similarity]
    mean: np.ndarray
    iterations: int


def generalized_procrustes(
    shapes: np.ndarray,
    *,
    scale: bool = True,
    reference: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> ProcrustesResult:
    """Generalized Procrustes analysis of shapes ``(N, P, 3)`` in point-to-point
    correspondence.

    Every shape is aligned (rotation, translation and, with ``scale=True``, isotropic
    scale) to the running mean until the mean stops changing. Alignment alone leaves the
    frame of the result free; it is fixed by ``reference`` (P, 3): the mean is placed
    where it best matches the reference (rigidly) and given the reference's centroid
    size. The default reference is the plain average of the inputs, right when they
    already share a frame (e.g. registered to a template in the model frame, in mm):
    they then come back in that frame and unit. For shapes in arbitrary poses, pass the
    template (or any shape in the wanted frame).
    """
    X = np.asarray(shapes, dtype=np.float64)
    if X.ndim != 3 or X.shape[2] != 3 or X.shape[0] < 2 or X.shape[1] < 3:
        raise ValueError(
            f"expected shapes (N, P, 3) with N >= 2 and P >= 3, got {X.shape}"
        )
    if not np.isfinite(X).all():
        raise ValueError("shapes contain non-finite values (NaN or inf)")
    reference = (
        X.mean(axis=0) if reference is None else _check_points(reference, "reference")
    )
    if reference.shape != X.shape[1:]:
        raise ValueError(
            f"expected the reference as {X.shape[1:]}, got {reference.shape}"
        )
    mean = X[0] - X[0].mean(axis=0)
    transforms = [Similarity(1.0, np.eye(3), np.zeros(3))] * len(X)
    aligned = X
    it = 0
    for it in range(1, max_iter + 1):
        transforms = [similarity_transform(x, mean, scale=scale) for x in X]
        aligned = np.stack([T.apply(x) for T, x in zip(transforms, X)])
        new_mean = aligned.mean(axis=0)
        # Fix the gauge: the mean takes the position and orientation of the reference
        # (the input average) and, when scale is removed, its centroid size.
        new_mean = similarity_transform(new_mean, reference, scale=False).apply(
            new_mean
        )
        if scale:
            centre = new_mean.mean(axis=0)
            new_mean = centre + (new_mean - centre) * (
                _centroid_size(reference) / _centroid_size(new_mean)
            )
        change = np.abs(new_mean - mean).max()
        mean = new_mean
        if change < tol * max(1.0, np.abs(mean).max()):
            break
    transforms = [similarity_transform(x, mean, scale=scale) for x in X]
    aligned = np.stack([T.apply(x) for T, x in zip(transforms, X)])
    return ProcrustesResult(
        aligned=aligned, transforms=transforms, mean=aligned.mean(axis=0), iterations=it
    )
