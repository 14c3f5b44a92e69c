"""How much of a person's identity a reconstruction reads.

ARMSE says how far a reconstruction lies from the scan; it does not say whether the
network read the person at all. Here a reconstruction and the person's true face (both
in the template's topology) are compared as *deviations from the 3DMM's mean face*,
where ARMSE looks: on the vertices of the protocol's crop (:func:`protocol_region`,
95 mm round the mean's nose tip), each face first brought onto the mean by the
similarity that fits it best there (ARMSE's alignment fits a scale too, so a face that
is only larger or turned deviates by nothing). With d the true deviation and p the
predicted one (:func:`identity_reading`):

* **cosine** of p and d: 1 when the prediction leans towards the person's own face, 0
  when it carries nothing of it (a direction unrelated to the person, or the mean face
  itself), -1 the opposite face;
* **gain**, p·d / |d|²: the share of the person's deviation that the prediction
  carries (least squares along d; 1: all of it, 0: none);
* **error**, |p - d| / |d|: what is left, relative to the mean face's (1: no better
  than the mean face, 0: the person).

Two more measurements say what a network would have to read:

* the **leading-mode bound** (:func:`leading_mode_scores`): the ARMSE of the person's
  projection onto the 3DMM cut to its first k modes, what a network that read only the
  first k coefficients perfectly would score;
* **mode bands** (:func:`band_rms`): the RMS of the person's coefficients (standard
  deviations) over bands of modes. A face drawn from the model's population has about 1
  in every band; a face outside it has more in some.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from facelib.data.scan import RawScan
from facelib.data.template import IBUG51
from facelib.evaluation.metrics import CROP_RADIUS_MM, NOSE_TIP_51
from facelib.evaluation.table1 import score_rows
from facelib.geometry.morphable_model import MorphableModel
from facelib.geometry.procrustes import similarity_transform

__all__ = [
    "IdentityReading",
    "protocol_region",
    "identity_reading",
    "readings_by_row",
    "network_readings",
    "shape_coefficients",
    "leading_mode_scores",
    "band_rms",
    "mode_counts",
    "mode_bands",
]


@dataclass(frozen=True)
class IdentityReading:
    """Per prediction (N,): ``cosine`` of the predicted and the true deviation from the
    mean face (0 where either is zero), ``gain`` (p·d / |d|², 0 where d is zero) and
    ``error`` (|p - d| / |d|; the mean face scores 1; NaN where d is zero)."""

    cosine: np.ndarray
    gain: np.ndarray
    error: np.ndarray


def protocol_region(mean: np.ndarray, landmark_ids: np.ndarray) -> np.ndarray:
    """The vertices (P,) bool of the mean face ``mean`` (P, 3) mm within the
    protocol's crop (:data:`~facelib.evaluation.metrics.CROP_RADIUS_MM` round its nose
    tip; ``landmark_ids`` (68,): the template's iBUG-68 landmark vertices)."""
    mean = np.asarray(mean, dtype=np.float64)
    nose = mean[np.asarray(landmark_ids)[IBUG51][NOSE_TIP_51]]
    return np.linalg.norm(mean - nose, axis=1) <= CROP_RADIUS_MM


def _deviation(shape: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``shape`` brought onto ``mean`` (both (R, 3) mm) by its best similarity, minus
    ``mean``, flattened (3R,)."""
    aligned = similarity_transform(shape, mean).apply(shape)
    return (aligned - mean).ravel()


def identity_reading(
    predicted: np.ndarray,
    true: np.ndarray,
    mean: np.ndarray,
    region: np.ndarray,
) -> IdentityReading:
    """Compare predicted faces (N, P, 3) mm with the true ones (N, P, 3), or (P, 3)
    for one person shown in every prediction, as deviations from the ``mean`` face (P,
    3) over the vertices ``region`` (P,) bool (:func:`protocol_region`); see the module
    doc."""
    pred = np.asarray(predicted, dtype=np.float64)
    if pred.ndim == 2:
        pred = pred[None]
    true_ = np.asarray(true, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    region = np.asarray(region, dtype=bool)
    if (
        pred.ndim != 3
        or pred.shape[1:] != mean.shape
        or true_.shape not in (mean.shape, pred.shape)
        or region.shape != mean.shape[:1]
    ):
        raise ValueError(
            f"expected predicted faces (N, P, 3), true faces (N, P, 3) or (P, 3), the "
            f"mean face (P, 3) and a region (P,), got {np.shape(predicted)}, "
            f"{np.shape(true)}, {mean.shape} and {region.shape}"
        )
    true_ = np.broadcast_to(true_, pred.shape)
    if region.sum() < 3:
        raise ValueError(f"the region must hold 3 vertices or more, got {region.sum()}")
    if not (np.all(np.isfinite(pred)) and np.all(np.isfinite(true_))):
        raise ValueError("the faces must be finite")
    m = mean[region]
    p = np.stack([_deviation(x[region], m) for x in pred])
    d = np.stack([_deviation(x[region], m) for x in true_])
    dot = np.einsum("nk,nk->n", p, d)
    norm_p, norm_d = np.linalg.norm(p, axis=1), np.linalg.norm(d, axis=1)
    # a face that is the mean up to rounding deviates by nothing
    tiny = 1e-9 * np.linalg.norm(m - m.mean(0))
    both = (norm_p > tiny) & (norm_d > tiny)
    has_d = norm_d > tiny
    safe_d = np.where(has_d, norm_d, 1.0)
    return IdentityReading(
        cosine=np.where(both, dot / np.where(both, norm_p * norm_d, 1.0), 0.0),
        gain=np.where(has_d, dot / safe_d**2, 0.0),
        error=np.where(has_d, np.linalg.norm(p - d, axis=1) / safe_d, np.nan),
    )


def readings_by_row(
    shapes: list[dict[str, np.ndarray]],
    true: np.ndarray,
    mean: np.ndarray,
    region: np.ndarray,
    rows: tuple[str, ...],
) -> dict[str, IdentityReading]:
    """The :class:`IdentityReading` of every row in ``rows``: ``shapes`` holds N
    reconstructions, each a dict of predicted shapes (P, 3) mm by row (as Table 1's
    :func:`~facelib.evaluation.table1.predict_rows` returns them); ``true``: the face
    (N, P, 3) of the person each one shows, or (P, 3) for one person."""
    return {
        row: identity_reading(
            np.stack([by_row[row] for by_row in shapes]), true, mean, region
        )
        for row in rows
    }


def network_readings(
    model: MorphableModel,
    network: torch.nn.Module,
    images: torch.Tensor,
    faces: dict[str, np.ndarray],
    region: np.ndarray,
    *,
    batch: int = 64,
) -> dict[str, IdentityReading]:
    """Reconstruct ``images`` with ``network`` (uint8, (N, 3, S, S) for a single-view
    network or (N, V, 3, S, S) for a multi-view one; in batches of ``batch``) and read
    the N answers against each set of ``faces`` (N, P, 3) mm, by name."""
    device = next(network.parameters()).device
    with torch.no_grad():
        alpha = torch.cat(
            [
                network(images[i : i + batch].to(device)).alpha.cpu()
                for i in range(0, len(images), batch)
            ]
        )
    predicted = model.shape(alpha.double()).numpy()
    return {
        name: identity_reading(predicted, true, model.mean, region)
        for name, true in faces.items()
    }


def shape_coefficients(model: MorphableModel, shapes: np.ndarray) -> np.ndarray:
    """Coefficients (..., K) in standard deviations of shapes (..., P, 3) mm in the
    model frame (their orthogonal projection onto the model)."""
    return model.coefficients(torch.as_tensor(np.asarray(shapes, np.float64))).numpy()


def leading_mode_scores(
    model: MorphableModel,
    coefficients: np.ndarray,
    counts: tuple[int, ...],
    faces: np.ndarray,
    landmark_ids: np.ndarray,
    scan: RawScan,
) -> dict[int, float]:
    """ARMSE (mm) against ``scan`` of the face made from the first k of
    ``coefficients`` (K,) (the rest set to the mean's 0), for every k in ``counts``
    (1..K); 0 gives the mean face. ``faces`` and ``landmark_ids`` (68,): the
    template's."""
    alpha = np.asarray(coefficients, dtype=np.float64)
    if alpha.shape != (model.n_modes,):
        raise ValueError(f"expected coefficients ({model.n_modes},), got {alpha.shape}")
    bad = [k for k in counts if not 0 <= int(k) <= model.n_modes]
    if bad:
        raise ValueError(f"mode counts must lie in 0..{model.n_modes}, got {bad}")
    shapes = {}
    for k in counts:
        cut = alpha.copy()
        cut[int(k) :] = 0.0
        shapes[str(k)] = model.shape(torch.from_numpy(cut)).numpy()
    scored = score_rows(shapes, faces, landmark_ids, scan)
    return {int(k): scored[str(k)].armse_mm for k in counts}


def band_rms(
    coefficients: np.ndarray, bands: tuple[tuple[int, int], ...]
) -> list[float]:
    """RMS of ``coefficients`` (..., K) over each band ``(first, last)`` of modes,
    counted from 1 and inclusive, over every leading index too."""
    alpha = np.asarray(coefficients, dtype=np.float64)
    out = []
    for first, last in bands:
        if not 1 <= first <= last <= alpha.shape[-1]:
            raise ValueError(
                f"a band of modes must satisfy 1 <= first <= last <= "
                f"{alpha.shape[-1]}, got ({first}, {last})"
            )
        out.append(float(np.sqrt(np.mean(alpha[..., first - 1 : last] ** 2))))
    return out


def mode_counts(n_modes: int, counts: tuple[int, ...] = (0, 5, 10, 20, 40)) -> tuple:
    """The ``counts`` below ``n_modes``, then ``n_modes`` itself (every mode): the cuts
    :func:`leading_mode_scores` reports for a model of that size."""
    return (*(k for k in counts if k < n_modes), n_modes)


def mode_bands(
    n_modes: int, edges: tuple[int, ...] = (10, 40)
) -> tuple[tuple[int, int], ...]:
    """Bands of modes (first, last), counted from 1, that end at each of ``edges``
    below ``n_modes`` and then at ``n_modes``: (1, 10), (11, 40), (41, K) for K > 40."""
    ends = (*(e for e in edges if e < n_modes), n_modes)
    starts = (1, *(e + 1 for e in ends[:-1]))
    return tuple(zip(starts, ends))
