"""Registration of the face template to a raw scan, giving the scan in template topology
(paper, 4.1).

Two steps:

1. **Landmark similarity alignment**: the template (any shape in template topology,
   typically the population mean) is moved onto the scan by the least-squares similarity
   between its landmark vertices and the scan's known landmarks (the 51 without the jaw
   line; unknown ones skipped).
2. **Non-rigid ICP** (Amberg et al. 2007, :func:`facelib.world.nricp.nricp`, with the
   conventions of ``trimesh.registration.nricp_amberg`` and twice its speed):
   per-vertex affine transforms, stiffness decreasing over the steps, the landmarks
   pulling their vertices to the scan's landmarks, closest points on the scan's
   triangles as targets.

What to expect (measured on the synthetic scans, see the data set chapter): the
registered surface lies within a fraction of a millimetre of the true one, but vertices
slide *along* the surface by a millimetre or two where nothing marks the correspondence
(cheeks, forehead, the region's border), and in some scans the border rows (ears,
hairline) do not converge and stay millimetres off. A thin-plate-spline warp through the
landmarks before the ICP was tried and did not reduce that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import trimesh

from facelib.data.scan import RawScan
from facelib.data.template import IBUG51, FaceTemplate
from facelib.geometry.procrustes import Similarity, similarity_transform
from facelib.world.nricp import NricpStep, nricp

__all__ = ["RegistrationSettings", "Registration", "register"]


@dataclass(frozen=True)
class RegistrationSettings:
    """The non-rigid ICP schedule: one ``(stiffness, landmark weight, normal weight,
    iterations)`` per step (trimesh's ``steps``), and the distance (mm) beyond which a
    closest point is not used as a target."""

    steps: tuple[tuple[float, float, float, int], ...] = (
        (0.05, 10.0, 0.5, 6),
        (0.02, 10.0, 0.5, 6),
        (0.008, 10.0, 0.5, 6),
        (0.004, 5.0, 0.0, 6),
    )
    distance_threshold_mm: float = 10.0


@dataclass
class Registration:
    """vertices: the template registered onto the scan, (P, 3) in the scan's frame (mm).
    alignment: the landmark similarity applied before the non-rigid step. seconds: wall
    time."""

    vertices: np.ndarray
    alignment: Similarity
    seconds: float


def register(
    scan: RawScan,
    template: FaceTemplate,
    start_shape: np.ndarray,
    settings: RegistrationSettings = RegistrationSettings(),
) -> Registration:
    """Register ``start_shape`` (P, 3), in template topology, onto ``scan``; see the
    module doc."""
    start = time.perf_counter()
    if start_shape.shape != (template.n_points, 3):
        raise ValueError(
            f"expected the start shape in template topology ({template.n_points}, 3), "
            f"got {start_shape.shape}"
        )
    lm_scan = scan.landmarks[IBUG51]
    known = np.isfinite(lm_scan).all(axis=1)
    if known.sum() < 4:
        raise ValueError(
            f"the scan has {known.sum()} known landmarks of the 51 without the jaw "
            "line; at least 4 are needed"
        )
    lm_ids = template.landmarks51[known]
    alignment = similarity_transform(start_shape[lm_ids], lm_scan[known])
    source = trimesh.Trimesh(
        alignment.apply(start_shape), template.faces, process=False
    )
    vertices = nricp(
        source,
        scan.mesh(),
        lm_ids,
        lm_scan[known],
        tuple(NricpStep(*step) for step in settings.steps),
        settings.distance_threshold_mm,
    )
    return Registration(
        vertices=np.asarray(vertices),
        alignment=alignment,
        seconds=time.perf_counter() - start,
    )
