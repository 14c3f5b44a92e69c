"""A straightforward ARMSE, written from the 3DFAW-2019 protocol's steps, to time
:func:`facelib.evaluation.metrics.armse` against (``benchmarks.run``) and to check that
both give the same score.

Plain numpy and scipy, and none of facelib: the steps as the challenge states them
(see :mod:`facelib.evaluation.metrics` for the protocol):

1. the similarity (Umeyama) taking the prediction's landmarks onto the scan's (the 51
   without the jaw line, rows known on both);
2. crop both meshes to a 95 mm sphere round their nose tips (landmark 13 of the 51):
   the vertices inside and the triangles whose three vertices are inside;
3. ICP with scale: 19 more similarities, each fitted to the cropped prediction's
   nearest cropped-scan vertices (``scipy.spatial.cKDTree``);
4. exact point-to-triangle distances from every 4th cropped-prediction vertex to the
   scan's triangles and from every 4th cropped-scan vertex to the prediction's;
5. the RMSE of each direction, their mean (mm), and that mean x 100 / the scan's outer
   inter-ocular distance (landmarks 19 and 28 of the 51).

Step 4 is exact without testing every triangle: a triangle whose closest point to ``p``
lies within ``d`` (the distance to the nearest mesh vertex, an upper bound of the
answer) has its centroid within ``d + r`` of ``p``, where ``r`` is the triangle's
largest centroid-to-corner distance; so the candidates are the triangles whose
centroids a KD-tree finds within ``d + max r``, kept if ``|p - c| - r <= d``.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["umeyama", "point_triangle_distance", "mesh_distances", "reference_armse"]

NOSE_TIP = 13
EYE_CORNERS = (19, 28)


def umeyama(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Scale s, rotation R (3, 3) and translation t (3,) minimising ``sum |s R x_i + t
    - y_i|^2`` for corresponding points x, y (N, 3) (Umeyama 1991, no reflection)."""
    mx, my = x.mean(0), y.mean(0)
    xc, yc = x - mx, y - my
    U, S, Vt = np.linalg.svd(yc.T @ xc / len(x))
    d = np.array([1.0, 1.0, np.sign(np.linalg.det(U @ Vt)) or 1.0])
    R = (U * d) @ Vt
    s = (S * d).sum() / (xc**2).sum(1).mean()
    return s, R, my - s * R @ mx


def point_triangle_distance(p: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Distance (N,) from points p (N, 3) to triangles tri (N, 3, 3): the distance to
    the plane where the point projects inside the triangle, else the nearest of the
    three edges (segments)."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    n = np.cross(b - a, c - a)
    nn = (n**2).sum(1)
    ok = nn > 0
    h = np.where(ok, ((p - a) * n).sum(1) / np.where(ok, nn, 1.0), 0.0)
    foot = p - h[:, None] * n  # the projection onto the plane
    inside = ok.copy()
    for u, v in ((a, b), (b, c), (c, a)):
        inside &= (np.cross(v - u, foot - u) * n).sum(1) >= 0
    best = np.where(inside, np.abs(h) * np.sqrt(nn), np.inf)
    for u, v in ((a, b), (b, c), (c, a)):
        e = v - u
        ee = (e**2).sum(1)
        s = np.clip(((p - u) * e).sum(1) / np.where(ee > 0, ee, 1.0), 0.0, 1.0)
        best = np.minimum(best, np.linalg.norm(p - (u + s[:, None] * e), axis=1))
    return best


def mesh_distances(
    points: np.ndarray, vertices: np.ndarray, faces: np.ndarray
) -> np.ndarray:
    """Exact distance (N,) from each point (N, 3) to the surface of the triangles
    ``faces`` (F, 3) over ``vertices`` (V, 3) (see the module doc for the pruning)."""
    used = np.unique(faces)
    d_vertex, _ = cKDTree(vertices[used]).query(points)
    tri = vertices[faces]  # (F, 3, 3)
    centre = tri.mean(1)
    radius = np.linalg.norm(tri - centre[:, None], axis=2).max(1)
    lists = cKDTree(centre).query_ball_point(points, d_vertex + radius.max() + 1e-9)
    counts = np.array([len(c) for c in lists])
    pid = np.repeat(np.arange(len(points)), counts)
    fid = np.concatenate([np.asarray(c, dtype=np.int64) for c in lists])
    near = np.linalg.norm(points[pid] - centre[fid], axis=1) - radius[fid]
    keep = near <= d_vertex[pid] + 1e-9
    pid, fid = pid[keep], fid[keep]
    best = d_vertex.copy()
    np.minimum.at(best, pid, point_triangle_distance(points[pid], tri[fid]))
    return best


def _crop(vertices, faces, centre, radius):
    keep = np.linalg.norm(vertices - centre, axis=1) <= radius
    ids = np.cumsum(keep) - 1
    return vertices[keep], ids[faces[keep[faces].all(1)]]


def reference_armse(
    pred_vertices: np.ndarray,
    pred_faces: np.ndarray,
    pred_landmarks: np.ndarray,
    scan_vertices: np.ndarray,
    scan_faces: np.ndarray,
    scan_landmarks: np.ndarray,
    *,
    radius_mm: float = 95.0,
    iterations: int = 20,
    every: int = 4,
) -> tuple[float, float]:
    """ARMSE (mm) and its normalised variant (x 100 / the inter-ocular distance) of a
    prediction (vertices (V, 3), faces (F, 3), landmarks (68 or 51, 3), NaN rows
    unknown) against a scan (the same, mm); see the module doc."""
    plm, slm = (np.asarray(m, float) for m in (pred_landmarks, scan_landmarks))
    plm, slm = (m[17:] if len(m) == 68 else m for m in (plm, slm))
    known = np.isfinite(plm).all(1) & np.isfinite(slm).all(1)
    s, R, t = umeyama(plm[known], slm[known])
    pv = s * pred_vertices @ R.T + t
    pv, pf = _crop(pv, pred_faces, s * R @ plm[NOSE_TIP] + t, radius_mm)
    sv, sf = _crop(scan_vertices, scan_faces, slm[NOSE_TIP], radius_mm)
    tree = cKDTree(sv)
    for _ in range(iterations - 1):
        _, nearest = tree.query(pv)
        s, R, t = umeyama(pv, sv[nearest])
        pv = s * pv @ R.T + t
    d_pred = mesh_distances(pv[::every], sv, sf)
    d_scan = mesh_distances(sv[::every], pv, pf)
    value = 0.5 * (np.sqrt((d_pred**2).mean()) + np.sqrt((d_scan**2).mean()))
    iod = np.linalg.norm(slm[EYE_CORNERS[0]] - slm[EYE_CORNERS[1]])
    return float(value), float(100.0 * value / iod)
