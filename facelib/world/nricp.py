"""Non-rigid ICP (Amberg, Romdhani and Vetter 2007, "Optimal Step Nonrigid ICP
Algorithms for Surface Registration"): the template's vertices each get an affine
transform, and every iteration solves one sparse linear least-squares problem for all
of them.

For the unknowns ``X`` (4 P, 3), the 3 x 4 affine transform of each of the P template
vertices (transposed and stacked), one iteration minimises

    || [ stiffness * (M ⊗ G) ]       [ 0                 ] ||²
    || [ W D                 ] X  -  [ W U               ] ||
    || [ landmark * D_l      ]       [ landmark * U_l    ] ||

with ``M`` the edge-vertex incidence (each face's three edges, weighted by one over the
edge's length), ``G = diag(1, 1, 1, gamma)``, ``D`` the template's vertices in
homogeneous coordinates (one row per vertex), ``U`` each vertex's closest point on the
target, ``W`` per-vertex weights (0 beyond the distance threshold, times the cosine
between the transformed normal and the target's normal to the power ``normal weight``),
and ``D_l``, ``U_l`` the landmark rows. The normal equations are solved by a sparse LU
factorisation with a symmetric fill-reducing ordering. Each step of the schedule
iterates until the weighted mean distance stops falling by more than ``eps`` or
``iterations`` is reached.

Like :func:`trimesh.registration.nricp_amberg` (whose conventions it keeps, so that the
schedule of :class:`facelib.world.registration.RegistrationSettings` means the same
thing in both), everything is first moved and scaled so that the template's bounding
box has a unit diagonal; unlike it, the distance threshold is in mm, as given, and the
system is assembled directly in compressed form (trimesh builds its right-hand side
row by row, which is a third of its time here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
from scipy import sparse
from scipy.sparse.linalg import splu

__all__ = ["NricpStep", "nricp"]


@dataclass(frozen=True)
class NricpStep:
    """One step of the schedule: the ``stiffness`` of the transforms (larger is
    stiffer), the ``landmark`` weight, the ``normal`` weight's exponent (0: ignore
    normals) and the most ``iterations``."""

    stiffness: float
    landmark: float
    normal: float
    iterations: int


def _incidence(vertices: np.ndarray, faces: np.ndarray) -> sparse.csr_matrix:
    """(3 F, P) the edges of every face (a -> b, b -> c, c -> a), +1/length at the
    first vertex and -1/length at the second."""
    edges = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    n = len(edges)
    inv_length = 1.0 / np.linalg.norm(
        vertices[edges[:, 0]] - vertices[edges[:, 1]], axis=-1
    )
    rows = np.repeat(np.arange(n), 2)
    data = np.stack([inv_length, -inv_length], -1).ravel()
    return sparse.csr_matrix((data, (rows, edges.ravel())), shape=(n, len(vertices)))


def _homogeneous(points: np.ndarray) -> sparse.csr_matrix:
    """(P, 4 P): row i holds (x_i, y_i, z_i, 1) in columns 4 i .. 4 i + 3."""
    P = len(points)
    data = np.concatenate([points, np.ones((P, 1))], axis=1).ravel()
    return sparse.csr_matrix(
        (data, (np.repeat(np.arange(P), 4), np.arange(4 * P))), shape=(P, 4 * P)
    )


def nricp(
    source: trimesh.Trimesh,
    target: trimesh.Trimesh,
    landmark_ids: np.ndarray,
    landmark_positions: np.ndarray,
    steps: tuple[NricpStep, ...],
    distance_threshold_mm: float,
    *,
    gamma: float = 1.0,
    eps: float = 1e-4,
) -> np.ndarray:
    """Register ``source`` (the template, P vertices) onto ``target`` (a mesh); see the
    module doc.

    Args:
        source: the template mesh, mm.
        target: the scan, mm, in the same frame (already aligned roughly).
        landmark_ids: (L,) vertex ids of the source's landmarks.
        landmark_positions: (L, 3) mm, where they go on the target.
        steps: the schedule.
        distance_threshold_mm: a closest point farther than this is not a target.
        gamma: the weight of the transforms' translation part in the stiffness.
        eps: the decrease of the weighted mean distance (in units of the template's
            bounding-box diagonal) below which a step ends.

    Returns:
        (P, 3) the registered vertices, mm.
    """
    centre, scale = source.centroid, source.scale
    vertices = (np.asarray(source.vertices, np.float64) - centre) / scale
    faces = np.asarray(source.faces)
    target = trimesh.Trimesh(
        (np.asarray(target.vertices, np.float64) - centre) / scale,
        target.faces,
        process=False,
    )
    goals = (np.asarray(landmark_positions, np.float64) - centre) / scale
    threshold = distance_threshold_mm / scale
    P = len(vertices)

    MG = sparse.kron(_incidence(vertices, faces), sparse.diags([1, 1, 1, gamma]))
    smooth = (MG.T @ MG).tocsc()  # (4 P, 4 P)
    D = _homogeneous(vertices)
    DN = _homogeneous(source.vertex_normals)
    Dl = D[np.asarray(landmark_ids)]
    lm_lhs = (Dl.T @ Dl).tocsc()
    lm_rhs = Dl.T @ goals  # (4 P, 3)
    X = np.tile(np.vstack([np.eye(3), np.zeros((1, 3))]), (P, 1))  # identities
    moved = vertices
    for step in steps:
        last_error, error, done = np.inf, np.finfo(np.float16).max, 0
        while last_error - error > eps and done < step.iterations:
            nearest, distance, triangle = trimesh.proximity.closest_point(target, moved)
            weight = (distance <= threshold).astype(np.float64)
            if step.normal > 0:
                bary = trimesh.triangles.points_to_barycentric(
                    target.vertices[target.faces[triangle]], nearest
                )
                normals = np.einsum(
                    "ij,ijk->ik", bary, target.vertex_normals[target.faces[triangle]]
                )
                cosine = np.clip(np.einsum("ij,ij->i", DN @ X, normals), 0.0, 1.0)
                weight = weight * cosine**step.normal
            w2 = sparse.diags(weight**2)
            lhs = (
                step.stiffness**2 * smooth + (D.T @ w2 @ D) + step.landmark**2 * lm_lhs
            )
            rhs = D.T @ (weight[:, None] ** 2 * nearest) + step.landmark**2 * lm_rhs
            X = splu(lhs.tocsc(), permc_spec="MMD_AT_PLUS_A").solve(rhs)
            moved = D @ X
            last_error = error
            error = (np.linalg.norm(nearest - moved, axis=-1) * weight).mean()
            done += 1
    return moved * scale + centre
