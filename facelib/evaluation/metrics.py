"""ARMSE, the 3D error of the 3DFAW-2019 challenge (paper, section 4.3), and mesh files
to score.

The protocol, for a predicted mesh and a ground-truth scan, each with landmarks (the 51
iBUG landmarks without the jaw line; the nose tip is required; unknown landmarks are
skipped):

1. **similarity alignment** (rotation, translation, scale) of the prediction onto the
   scan from their landmark correspondences;
2. **crop** the aligned prediction to a sphere of 95 mm around its own nose tip. 3DFAW's
   ground-truth scans are face crops; our raw scans also cover scalp and neck, so the
   scan is cropped the same way around its nose-tip landmark (``crop_scan=True``; turn
   it off for scans that are already crops);
3. **ICP with scale**, 20 iterations: the first is the landmark alignment of step 1,
   then each iteration matches every cropped prediction vertex to its nearest scan
   vertex and re-fits the similarity;
4. **point-to-triangle distances** in both directions: from every 4th vertex of the
   cropped prediction to the scan's surface, and from every 4th vertex of the (cropped)
   scan to the prediction's surface;
5. the RMSE of each direction; **ARMSE** is their mean, in the scan's unit (mm). The
   challenge's final variant divides each RMSE by the scan's outer inter-ocular distance
   (landmarks 19 and 28 of the 51, the outer eye corners) and multiplies by 100.

Because the ICP fits a scale, a prediction that is the scan offset along its normals by
δ mm (a uniformly fatter face) is mostly absorbed: its ARMSE is well below δ, though the
point-to-surface distances before the alignment are exactly δ. Distances use trimesh's
exact point-to-triangle query.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from facelib.geometry.procrustes import Similarity, similarity_transform

__all__ = [
    "ARMSE",
    "armse",
    "point_to_mesh_distances",
    "save_obj",
    "load_mesh_with_landmarks",
    "armse_from_files",
    "NOSE_TIP_51",
    "OUTER_EYE_CORNERS_51",
    "CROP_RADIUS_MM",
    "scan_crop_faces",
]

NOSE_TIP_51 = 13  #: the nose tip among the 51 landmarks (iBUG 30)
OUTER_EYE_CORNERS_51 = (19, 28)  #: iBUG 36 and 45
CROP_RADIUS_MM = (
    95.0  #: the protocol's crop: a sphere of this radius round the nose tip
)


@dataclass
class ARMSE:
    """The result of :func:`armse`. Distances in mm.

    armse_mm: mean of the two RMSEs; rmse_pred_to_scan_mm, rmse_scan_to_pred_mm: each
    direction;
    normalized: ARMSE x 100 / the outer inter-ocular distance (the challenge's final
    variant);
    interocular_mm: that distance on the scan; pred_vertex_ids: the sampled prediction
    vertices (every 4th of the crop) and pred_distances: their distances to the scan
    (for heat maps); transform: the final similarity applied to the prediction;
    n_landmarks: the landmark pairs used.
    """

    armse_mm: float
    rmse_pred_to_scan_mm: float
    rmse_scan_to_pred_mm: float
    normalized: float
    interocular_mm: float
    pred_vertex_ids: np.ndarray
    pred_distances: np.ndarray
    transform: Similarity
    n_landmarks: int


def _check_mesh(vertices, faces, name: str) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces)
    if v.ndim != 2 or v.shape[1] != 3 or len(v) < 3:
        raise ValueError(f"expected {name} vertices (V, 3) with V >= 3, got {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError(
            f"{name} has non-finite vertices (NaN or inf); clean the mesh first"
        )
    if f.ndim != 2 or f.shape[1] != 3 or len(f) == 0:
        raise ValueError(
            f"{name} has no faces (expected (F, 3) triangles, got {f.shape}): point "
            "clouds cannot be scored"
        )
    if f.min() < 0 or f.max() >= len(v):
        raise ValueError(f"{name} faces index vertices outside [0, {len(v)})")
    return v, f.astype(np.int64)


def _check_landmarks(landmarks, name: str) -> np.ndarray:
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape == (68, 3):
        lm = lm[17:]
    if lm.shape != (51, 3):
        raise ValueError(
            f"expected {name} landmarks (51, 3) or (68, 3), NaN rows for unknown ones, "
            f"got {lm.shape}"
        )
    if not np.isfinite(lm[NOSE_TIP_51]).all():
        raise ValueError(
            f"{name} landmarks lack the nose tip (landmark {NOSE_TIP_51} of the 51, "
            "iBUG 30): it is required"
        )
    return lm


def point_to_mesh_distances(
    points: np.ndarray, vertices: np.ndarray, faces: np.ndarray
) -> np.ndarray:
    """Exact distance (P,) from each point (P, 3) to the nearest point on the triangles
    of a mesh."""
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    _, distance, _ = trimesh.proximity.closest_point(
        mesh, np.asarray(points, dtype=np.float64)
    )
    return distance


def _crop(vertices, faces, centre, radius):
    keep = np.linalg.norm(vertices - centre, axis=1) <= radius
    new_id = np.full(len(vertices), -1)
    new_id[keep] = np.arange(keep.sum())
    f = faces[keep[faces].all(axis=1)]
    return vertices[keep], new_id[f], np.flatnonzero(keep)


def scan_crop_faces(
    vertices: np.ndarray,
    faces: np.ndarray,
    landmarks: np.ndarray,
    radius_mm: float = CROP_RADIUS_MM,
) -> np.ndarray:
    """The triangles (F', 3) of a scan (vertices (V, 3) mm, faces (F, 3)) whose three
    vertices lie within ``radius_mm`` of its nose-tip landmark (``landmarks`` (68, 3)
    iBUG, or (51, 3)): the part of the scan the protocol scores (step 2)."""
    landmarks = np.asarray(landmarks)
    nose = landmarks[30] if len(landmarks) == 68 else landmarks[NOSE_TIP_51]
    near = np.linalg.norm(np.asarray(vertices) - nose, axis=1) <= radius_mm
    return np.asarray(faces)[near[np.asarray(faces)].all(axis=1)]


def armse(
    pred_vertices,
    pred_faces,
    pred_landmarks,
    scan_vertices,
    scan_faces,
    scan_landmarks,
    *,
    crop_radius_mm: float = CROP_RADIUS_MM,
    icp_iterations: int = 20,
    every: int = 4,
    crop_scan: bool = True,
) -> ARMSE:
    """Score a predicted mesh against a scan with the 3DFAW-2019 protocol (see the
    module doc).

    Args:
        pred_vertices (V, 3), pred_faces (F, 3): the prediction (any unit; it is scaled
        onto the scan).
        pred_landmarks: (51, 3) or (68, 3) landmark positions on the prediction, NaN
        rows unknown. scan_vertices (W, 3) mm, scan_faces (G, 3): the ground truth.
        scan_landmarks: (51, 3) or (68, 3), NaN rows unknown.
    """
    pv, pf = _check_mesh(pred_vertices, pred_faces, "the prediction")
    sv, sf = _check_mesh(scan_vertices, scan_faces, "the scan")
    plm, slm = (
        _check_landmarks(pred_landmarks, "the prediction's"),
        _check_landmarks(scan_landmarks, "the scan's"),
    )
    known = np.isfinite(plm).all(axis=1) & np.isfinite(slm).all(axis=1)
    if known.sum() < 4:
        raise ValueError(
            f"only {known.sum()} landmarks are known on both meshes; at least 4 are "
            "needed"
        )
    # 1. landmark similarity (also the first ICP iteration)
    T = similarity_transform(plm[known], slm[known])
    pv_aligned = T.apply(pv)
    nose = T.apply(plm[NOSE_TIP_51])
    # 2. crop the prediction around its own nose tip (and the scan around its nose-tip
    # landmark)
    crop_v, crop_f, crop_ids = _crop(pv_aligned, pf, nose, crop_radius_mm)
    if len(crop_f) == 0:
        raise ValueError(
            f"no triangle of the prediction lies within {crop_radius_mm} mm of its "
            "nose tip"
        )
    if crop_scan:
        sv, sf, _ = _crop(sv, sf, slm[NOSE_TIP_51], crop_radius_mm)
        if len(sf) == 0:
            raise ValueError(
                f"no triangle of the scan lies within {crop_radius_mm} mm of its "
                "nose-tip landmark"
            )
    # 3. ICP with scale on nearest-vertex matches
    tree = cKDTree(sv)
    current = crop_v
    for _ in range(icp_iterations - 1):
        _, nearest = tree.query(current)
        step = similarity_transform(current, sv[nearest])
        current = step.apply(current)
        T = step.compose(T)
    # 4-5. distances both ways on every 4th vertex, RMSE each way
    sample = np.arange(0, len(current), every)
    d_pred = point_to_mesh_distances(current[sample], sv, sf)
    d_scan = point_to_mesh_distances(sv[::every], current, crop_f)
    rmse_p, rmse_s = (
        float(np.sqrt((d_pred**2).mean())),
        float(np.sqrt((d_scan**2).mean())),
    )
    value = 0.5 * (rmse_p + rmse_s)
    a, b = OUTER_EYE_CORNERS_51
    if not (np.isfinite(slm[a]).all() and np.isfinite(slm[b]).all()):
        iod = float("nan")
    else:
        iod = float(np.linalg.norm(slm[a] - slm[b]))
    return ARMSE(
        armse_mm=value,
        rmse_pred_to_scan_mm=rmse_p,
        rmse_scan_to_pred_mm=rmse_s,
        normalized=100.0 * value / iod,
        interocular_mm=iod,
        pred_vertex_ids=crop_ids[sample],
        pred_distances=d_pred,
        transform=T,
        n_landmarks=int(known.sum()),
    )


# ------------------------------------------------------------------------------------
# files
def save_obj(path: str | Path, vertices: np.ndarray, faces: np.ndarray) -> Path:
    """Write a mesh as a Wavefront OBJ (vertices and triangles only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    trimesh.Trimesh(np.asarray(vertices), np.asarray(faces), process=False).export(
        path, file_type="obj"
    )
    return path


def load_mesh_with_landmarks(
    mesh_path: str | Path, landmarks_path: str | Path
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A mesh (.obj or .ply) and its landmarks: a text file of 51 or 68 rows, either one
    vertex id per row (``-1`` for unknown) or ``x y z`` per row (``nan`` for unknown).
    Returns vertices, faces and landmark positions (51 or 68, 3)."""
    mesh_path, landmarks_path = Path(mesh_path), Path(landmarks_path)
    for p in (mesh_path, landmarks_path):
        if not p.is_file():
            raise FileNotFoundError(f"missing {p}")
    mesh = trimesh.load(mesh_path, process=False, force="mesh")
    v, f = _check_mesh(mesh.vertices, mesh.faces, str(mesh_path))
    raw = np.loadtxt(landmarks_path, ndmin=2)
    if raw.shape[0] not in (51, 68) or raw.shape[1] not in (1, 3):
        raise ValueError(
            f"{landmarks_path}: expected 51 or 68 rows of a vertex id or of x y z, got "
            f"{raw.shape}"
        )
    if raw.shape[1] == 1:
        ids = raw[:, 0].astype(np.int64)
        if ids.max() >= len(v):
            raise ValueError(
                f"{landmarks_path}: vertex id {ids.max()} is beyond the mesh's "
                f"{len(v)} vertices"
            )
        lm = np.where((ids >= 0)[:, None], v[np.clip(ids, 0, None)], np.nan)
    else:
        lm = raw
    return v, f, lm


def armse_from_files(
    pred_mesh, pred_landmarks, scan_mesh, scan_landmarks, **kwargs
) -> ARMSE:
    """:func:`armse` on files: score your own reconstruction against your own scan with
    one call."""
    pv, pf, plm = load_mesh_with_landmarks(pred_mesh, pred_landmarks)
    sv, sf, slm = load_mesh_with_landmarks(scan_mesh, scan_landmarks)
    return armse(pv, pf, plm, sv, sf, slm, **kwargs)
