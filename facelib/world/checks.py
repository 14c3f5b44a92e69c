"""Checks of a built face world: the measurements the data set chapter reports.

* **spread of the identities** (:func:`procrustes_spread`): each training shape's vertex
  RMS to the mean after generalized Procrustes alignment, with or without scale;
* **registration accuracy** (:func:`read_registration`): the per-scan errors that the
  build writes to ``registration.json``, summarised over the scans;
* **the 3DMM's gauge** (:func:`mode_motion_leak`): how far any mode moves, turns or
  resizes the mean;
* **a registration seen in the model frame** (:func:`registration_in_model_frame`): a
  raw scan and its registered template brought to the 3DMM's frame for figures.

The mirrored-scene check lives with the mirroring
(:func:`facelib.geometry.mirror.mirror_reprojection_error`); the calibration of the
3DMM mean against the test scans is an ARMSE, the evaluation's
(:func:`facelib.evaluation.table1.score_captures`), which the world does not import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facelib.data.scan import RawScan
from facelib.data.template import IBUG51, FaceTemplate
from facelib.geometry.morphable_model import MorphableModel, similarity_directions
from facelib.geometry.procrustes import (
    Similarity,
    generalized_procrustes,
    similarity_transform,
)

__all__ = [
    "VertexSpread",
    "procrustes_spread",
    "REGISTRATION_ERRORS",
    "RegistrationSummary",
    "read_registration",
    "mode_motion_leak",
    "RegistrationInModelFrame",
    "registration_in_model_frame",
]


# ------------------------------------------------------------ spread of the identities
@dataclass(frozen=True)
class VertexSpread:
    """Each shape's vertex RMS to the mean after Procrustes alignment.

    Attributes:
        alignment: ``"similarity"`` (rotation, translation and scale removed) or
            ``"rigid"`` (rotation and translation only).
        rms_mm: (N,) per shape, ``sqrt(mean_p |x_p - m_p|^2)`` in mm, where ``m`` is
            the mean of the aligned shapes.
    """

    alignment: str
    rms_mm: np.ndarray

    @property
    def n_shapes(self) -> int:
        return len(self.rms_mm)

    @property
    def median_mm(self) -> float:
        return float(np.median(self.rms_mm))

    def percentile_mm(self, q: float) -> float:
        """The ``q``-th percentile (0-100) of the per-shape RMS."""
        return float(np.percentile(self.rms_mm, q))


def procrustes_spread(shapes: np.ndarray, *, scale: bool = True) -> VertexSpread:
    """The spread of shapes ``(N, P, 3)`` (mm, in correspondence) around their mean:
    :func:`~facelib.geometry.procrustes.generalized_procrustes` (with scale, or rigid
    when ``scale=False``), then every shape's vertex RMS to the mean of the aligned
    shapes."""
    aligned = generalized_procrustes(np.asarray(shapes, dtype=np.float64), scale=scale)
    rms = np.sqrt(((aligned.aligned - aligned.mean) ** 2).sum(-1).mean(-1))
    return VertexSpread(alignment="similarity" if scale else "rigid", rms_mm=rms)


# ------------------------------------------------------------ registration accuracy
#: the per-scan error statistics of ``registration.json``: key, distance, statistic
REGISTRATION_ERRORS = (
    ("surface_error_median_mm", "to the true surface", "median"),
    ("surface_error_p95_mm", "to the true surface", "95th percentile"),
    ("vertex_error_median_mm", "to the true vertex", "median"),
    ("vertex_error_p95_mm", "to the true vertex", "95th percentile"),
)


@dataclass(frozen=True)
class RegistrationSummary:
    """``registration.json`` of a data set, read.

    Attributes:
        subjects: the registered training subjects, in the order of the per-scan lists.
        seconds: (R,) wall time of each registration.
        workers: the worker processes registration ran in.
        errors: per key of :data:`REGISTRATION_ERRORS`, (R,) the statistic of each
            scan's per-vertex errors (mm) against the true face.
    """

    subjects: tuple[int, ...]
    seconds: np.ndarray
    workers: int
    errors: dict[str, np.ndarray]

    @property
    def median_seconds(self) -> float:
        """The median wall time per scan (NaN without scans)."""
        return float(np.median(self.seconds)) if len(self.seconds) else float("nan")

    def error_rows(self) -> list[dict]:
        """One record per key of :data:`REGISTRATION_ERRORS`: ``key``, ``distance``,
        ``statistic`` (per scan), ``median`` and ``max`` over the scans (mm; NaN without
        scans)."""
        rows = []
        for key, distance, statistic in REGISTRATION_ERRORS:
            values = self.errors[key]
            empty = len(values) == 0
            rows.append(
                {
                    "key": key,
                    "distance": distance,
                    "statistic": statistic,
                    "median": float("nan") if empty else float(np.median(values)),
                    "max": float("nan") if empty else float(values.max()),
                }
            )
        return rows


def read_registration(path: str | Path) -> RegistrationSummary:
    """Read ``registration.json`` from a data set folder (or the file itself)."""
    path = Path(path)
    if path.is_dir():
        path = path / "registration.json"
    raw = json.loads(path.read_text())
    keys = ("subjects", "seconds", "workers") + tuple(
        k for k, *_ in REGISTRATION_ERRORS
    )
    missing = [k for k in keys if k not in raw]
    if missing:
        raise ValueError(f"{path} lacks {missing}")
    subjects = tuple(int(s) for s in raw["subjects"])
    per_scan = {
        k: np.asarray(raw[k], dtype=np.float64) for k, *_ in REGISTRATION_ERRORS
    }
    per_scan["seconds"] = np.asarray(raw["seconds"], dtype=np.float64)
    for key, values in per_scan.items():
        if values.shape != (len(subjects),):
            raise ValueError(
                f"{path}: {key} has {values.shape} values, expected one per registered "
                f"subject ({len(subjects)})"
            )
    seconds = per_scan.pop("seconds")
    return RegistrationSummary(
        subjects=subjects, seconds=seconds, workers=int(raw["workers"]), errors=per_scan
    )


# ------------------------------------------------------------ the 3DMM's gauge
def mode_motion_leak(model: MorphableModel) -> float:
    """The largest |cosine| between a mode of ``model`` and one of the orthonormal
    directions along which a similarity first moves its mean: 3 translations, 3
    rotations and the resizing
    (:func:`~facelib.geometry.morphable_model.similarity_directions`). Zero up to
    rounding for a model whose PCA ran in the tangent space at the mean; 1 for a mode
    that is a pure translation of the mean."""
    components = model.components.reshape(model.n_modes, -1)
    return float(np.abs(components @ similarity_directions(model.mean).T).max())


# ------------------------------------------------------------ a registration, seen
@dataclass(frozen=True)
class RegistrationInModelFrame:
    """A raw scan and its registration moved from the scanner's frame to the model's.

    Attributes:
        scan_vertices: (V, 3) mm, the scan's vertices in the model frame.
        scan_faces: (F, 3), the scan's triangles.
        scan_landmarks: (68, 3) mm, the scan's landmarks in the model frame (NaN rows
            unknown).
        registered: (P, 3) mm, the registered template in the model frame.
        to_model: the similarity from the scanner frame to the model frame.
    """

    scan_vertices: np.ndarray
    scan_faces: np.ndarray
    scan_landmarks: np.ndarray
    registered: np.ndarray
    to_model: Similarity


def registration_in_model_frame(
    scan: RawScan,
    registered: np.ndarray,
    mean: np.ndarray,
    template: FaceTemplate,
) -> RegistrationInModelFrame:
    """Bring a raw scan and its registered template (P, 3) (both in the scanner frame)
    to the model frame of ``mean`` (P, 3): the similarity that takes the scan's 51
    landmarks without the jaw line (those it knows) onto the mean's."""
    source = np.asarray(scan.landmarks)[IBUG51]
    target = np.asarray(mean)[template.landmarks51]
    known = np.isfinite(source).all(axis=1)
    to_model = similarity_transform(source[known], target[known])
    return RegistrationInModelFrame(
        scan_vertices=to_model.apply(scan.vertices),
        scan_faces=scan.faces,
        scan_landmarks=to_model.apply(scan.landmarks),
        registered=to_model.apply(np.asarray(registered, dtype=np.float64)),
        to_model=to_model,
    )
