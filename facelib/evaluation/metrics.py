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

Scoring several predictions against one scan (Table 1's rows, the frame-count curve)
prepares the scan once (:func:`scan_target`: its crop, nearest-vertex tree and
triangle tree) and scores each prediction against it (:func:`armse_against`): the same
numbers as :func:`armse`, without rebuilding the scan's trees for every prediction.

Mesh files are read as written: landmark vertex ids count the file's vertices, so an
OBJ or ASCII PLY is read by this module (every vertex kept, in file order, used by a
face or not; polygons split into fans of triangles) and a file cut short is an error
that names its line. Bad input (non-finite or overflowing coordinates, fractional ids,
an ``every`` or ``icp_iterations`` below 1) raises ``ValueError`` rather than a wrong
score.
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
    "ScanTarget",
    "scan_target",
    "armse",
    "armse_against",
    "point_to_mesh_distances",
    "save_obj",
    "load_mesh_with_landmarks",
    "armse_from_files",
    "NOSE_TIP_51",
    "OUTER_EYE_CORNERS_51",
    "CROP_RADIUS_MM",
    "MAX_COORDINATE",
    "scan_crop_faces",
]

NOSE_TIP_51 = 13  #: the nose tip among the 51 landmarks (iBUG 30)
OUTER_EYE_CORNERS_51 = (19, 28)  #: iBUG 36 and 45
CROP_RADIUS_MM = (
    95.0  #: the protocol's crop: a sphere of this radius round the nose tip
)
#: the largest coordinate accepted: squares and sums of squares of larger ones overflow
#: float64 (about 1.8e308) and the score would be inf or NaN with only a warning
MAX_COORDINATE = 1e150


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
    """Vertices (V, 3) float64 and triangles (F, 3) int64 of a mesh, or a
    ``ValueError`` naming it (``name``) that says what is wrong."""
    v = np.asarray(vertices)
    if v.dtype.kind not in "biuf":
        raise ValueError(f"expected {name} vertices as numbers, got dtype {v.dtype}")
    v = np.asarray(v, dtype=np.float64)
    f = np.asarray(faces)
    if v.ndim != 2 or v.shape[1] != 3 or len(v) < 3:
        raise ValueError(f"expected {name} vertices (V, 3) with V >= 3, got {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError(
            f"{name} has non-finite vertices (NaN or inf); clean the mesh first"
        )
    _check_magnitude(v, f"{name} vertices")
    if f.ndim != 2 or f.shape[1] != 3 or len(f) == 0:
        raise ValueError(
            f"{name} has no faces (expected (F, 3) triangles, got {f.shape}): point "
            "clouds cannot be scored"
        )
    if f.dtype.kind not in "iu" and not (
        f.dtype.kind == "f" and np.isfinite(f).all() and (f == np.round(f)).all()
    ):
        raise ValueError(
            f"{name} faces must be integer vertex ids, got dtype {f.dtype}"
            + (" with fractional or non-finite ids" if f.dtype.kind == "f" else "")
            + "; pass the triangles as an integer array"
        )
    if f.min() < 0 or f.max() >= len(v):
        raise ValueError(f"{name} faces index vertices outside [0, {len(v)})")
    return v, f.astype(np.int64)


def _check_magnitude(x: np.ndarray, name: str) -> None:
    """Refuse finite values beyond :data:`MAX_COORDINATE` (their squares overflow)."""
    big = np.abs(x[np.isfinite(x)])
    if big.size and big.max() > MAX_COORDINATE:
        raise ValueError(
            f"{name} have coordinates as large as {big.max():.3g} (limit "
            f"{MAX_COORDINATE:g}): their squares overflow float64 and the score would "
            "be inf or NaN; check the mesh's unit and scale (millimetres expected)"
        )


def _check_landmarks(landmarks, name: str) -> np.ndarray:
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape == (68, 3):
        lm = lm[17:]
    if lm.shape != (51, 3):
        raise ValueError(
            f"expected {name} landmarks (51, 3) or (68, 3), NaN rows for unknown ones, "
            f"got {lm.shape}"
        )
    if np.isinf(lm).any():
        raise ValueError(
            f"{name} landmarks contain inf; mark an unknown landmark with a row of NaN"
        )
    _check_magnitude(lm, f"{name} landmarks")
    if not np.isfinite(lm[NOSE_TIP_51]).all():
        raise ValueError(
            f"{name} landmarks lack the nose tip (landmark {NOSE_TIP_51} of the 51, "
            "iBUG 30): it is required"
        )
    return lm


def _check_count(value, name: str, hint: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"expected {name} as an integer >= 1, got {value!r}; {hint}")


def point_to_mesh_distances(
    points: np.ndarray, vertices: np.ndarray, faces: np.ndarray
) -> np.ndarray:
    """Exact distance (P,) from each point (P, 3) to the nearest point on the triangles
    of a mesh."""
    return _distances_to(trimesh.Trimesh(vertices, faces, process=False), points)


def _distances_to(mesh: trimesh.Trimesh, points: np.ndarray) -> np.ndarray:
    """:func:`point_to_mesh_distances` to a mesh already built (its triangle tree is
    cached on it by trimesh)."""
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


@dataclass(frozen=True)
class ScanTarget:
    """A scan prepared for scoring (:func:`scan_target`).

    Attributes:
        vertices: the scored vertices (W, 3) mm (the crop's, with ``crop_scan``).
        faces: their triangles (G, 3).
        landmarks: the scan's landmarks (51, 3), NaN rows unknown.
        tree: a KD-tree of ``vertices`` (ICP's nearest-vertex matches).
        mesh: the triangles as a trimesh mesh (its triangle tree is built by the
            first distance query and kept for the next).
    """

    vertices: np.ndarray
    faces: np.ndarray
    landmarks: np.ndarray
    tree: cKDTree
    mesh: trimesh.Trimesh


def scan_target(
    scan_vertices,
    scan_faces,
    scan_landmarks,
    *,
    crop_radius_mm: float = CROP_RADIUS_MM,
    crop_scan: bool = True,
) -> ScanTarget:
    """A scan (vertices (W, 3) mm, faces (G, 3), landmarks (51, 3) or (68, 3), NaN rows
    unknown) checked and prepared once for :func:`armse_against`: cropped to
    ``crop_radius_mm`` round its nose-tip landmark if ``crop_scan`` (see the module
    doc). Raises ``ValueError`` as :func:`armse` does for the scan's part."""
    if not (np.isfinite(crop_radius_mm) and crop_radius_mm > 0):
        raise ValueError(
            f"expected crop_radius_mm > 0 (finite, mm), got {crop_radius_mm!r}; the "
            f"protocol's is {CROP_RADIUS_MM}"
        )
    sv, sf = _check_mesh(scan_vertices, scan_faces, "the scan")
    slm = _check_landmarks(scan_landmarks, "the scan's")
    if crop_scan:
        sv, sf, _ = _crop(sv, sf, slm[NOSE_TIP_51], crop_radius_mm)
        if len(sf) == 0:
            raise ValueError(
                f"no triangle of the scan lies within {crop_radius_mm} mm of its "
                "nose-tip landmark"
            )
    return ScanTarget(
        vertices=sv,
        faces=sf,
        landmarks=slm,
        tree=cKDTree(sv),
        mesh=trimesh.Trimesh(sv, sf, process=False),
    )


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
        crop_radius_mm: the crop sphere's radius (> 0, finite).
        icp_iterations: ICP iterations (an integer >= 1; 1 = the landmark alignment
        only).
        every: the distances are taken from every ``every``-th vertex (an integer >=
        1).
        crop_scan: crop the scan too (see the module doc).

    Raises ``ValueError`` for meshes or landmarks that cannot be scored (non-finite
    vertices, coordinates beyond :data:`MAX_COORDINATE`, fewer than 4 common
    landmarks, no nose tip) and for keyword arguments out of range.
    """
    _check_count(every, "every", "1 samples every vertex, the protocol's is 4")
    _check_count(
        icp_iterations,
        "icp_iterations",
        "1 keeps the landmark alignment only, the protocol's is 20",
    )
    target = scan_target(
        scan_vertices,
        scan_faces,
        scan_landmarks,
        crop_radius_mm=crop_radius_mm,
        crop_scan=crop_scan,
    )
    return armse_against(
        pred_vertices,
        pred_faces,
        pred_landmarks,
        target,
        crop_radius_mm=crop_radius_mm,
        icp_iterations=icp_iterations,
        every=every,
    )


def armse_against(
    pred_vertices,
    pred_faces,
    pred_landmarks,
    target: ScanTarget,
    *,
    crop_radius_mm: float = CROP_RADIUS_MM,
    icp_iterations: int = 20,
    every: int = 4,
) -> ARMSE:
    """:func:`armse` of a prediction against a scan prepared by :func:`scan_target`
    (with the same ``crop_radius_mm``)."""
    _check_count(every, "every", "1 samples every vertex, the protocol's is 4")
    _check_count(
        icp_iterations,
        "icp_iterations",
        "1 keeps the landmark alignment only, the protocol's is 20",
    )
    if not (np.isfinite(crop_radius_mm) and crop_radius_mm > 0):
        raise ValueError(
            f"expected crop_radius_mm > 0 (finite, mm), got {crop_radius_mm!r}; the "
            f"protocol's is {CROP_RADIUS_MM}"
        )
    pv, pf = _check_mesh(pred_vertices, pred_faces, "the prediction")
    plm, slm = _check_landmarks(pred_landmarks, "the prediction's"), target.landmarks
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
    # 2. crop the prediction around its own nose tip (the scan was cropped around its
    # nose-tip landmark by scan_target)
    crop_v, crop_f, crop_ids = _crop(pv_aligned, pf, nose, crop_radius_mm)
    if len(crop_f) == 0:
        raise ValueError(
            f"no triangle of the prediction lies within {crop_radius_mm} mm of its "
            "nose tip"
        )
    sv = target.vertices
    # 3. ICP with scale on nearest-vertex matches
    current = crop_v
    for _ in range(icp_iterations - 1):
        _, nearest = target.tree.query(current)
        step = similarity_transform(current, sv[nearest])
        current = step.apply(current)
        T = step.compose(T)
    # 4-5. distances both ways on every 4th vertex, RMSE each way
    sample = np.arange(0, len(current), every)
    d_pred = _distances_to(target.mesh, current[sample])
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


def _corrupt(path: Path, line: int, what: str) -> ValueError:
    return ValueError(
        f"{path}, line {line}: {what}; the file looks truncated or corrupt: re-export "
        "the mesh"
    )


def _fan(polygon: list[int]) -> list[tuple[int, int, int]]:
    """Triangles (a, b, c) of a polygon's vertex ids, as a fan round its first."""
    return [
        (polygon[0], polygon[k], polygon[k + 1]) for k in range(1, len(polygon) - 1)
    ]


def _read_obj(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) and triangles (F, 3) of a Wavefront OBJ, as written: every ``v``
    line in file order (used by a face or not), faces ``f a b c``, ``f a/b/c``, ``f
    a//c`` or ``f a/b`` with 1-based or negative (relative) ids, polygons as fans.
    Texture coordinates, normals, groups and materials are ignored."""
    vertices: list[list[float]] = []
    triangles: list[tuple[int, int, int]] = []
    with open(path, encoding="utf-8", errors="replace") as file:
        for number, line in enumerate(file, 1):
            tokens = line.split("#", 1)[0].split()
            if not tokens or tokens[0] not in ("v", "f"):
                continue
            if tokens[0] == "v":
                try:
                    xyz = [float(x) for x in tokens[1:4]]
                except ValueError:
                    xyz = []
                if len(xyz) < 3:
                    raise _corrupt(
                        path, number, f"vertex {line.strip()!r} lacks x, y and z"
                    )
                vertices.append(xyz)
                continue
            polygon = []
            for ref in tokens[1:]:
                try:
                    i = int(ref.split("/", 1)[0])
                except ValueError:
                    raise _corrupt(
                        path, number, f"face {line.strip()!r}: bad vertex id {ref!r}"
                    ) from None
                if i == 0 or -i > len(vertices):
                    raise _corrupt(
                        path,
                        number,
                        f"face {line.strip()!r}: vertex id {i} names no vertex (ids "
                        f"start at 1; {len(vertices)} vertices precede it)",
                    )
                polygon.append(i - 1 if i > 0 else len(vertices) + i)
            if len(polygon) < 3:
                raise _corrupt(
                    path, number, f"face {line.strip()!r} has fewer than 3 vertices"
                )
            triangles.extend(_fan(polygon))
    return np.array(vertices, dtype=np.float64).reshape(-1, 3), np.array(
        triangles, dtype=np.int64
    ).reshape(-1, 3)


def _read_ply_header(path: Path) -> tuple[str, list, int]:
    """A PLY file's format, elements ``[(name, count, [property, ...])]`` (a property:
    ``(name, is_list, type)``) and the number of header lines."""
    fmt, elements = None, []
    with open(path, "rb") as file:
        for number, raw in enumerate(file, 1):
            tokens = raw.decode("ascii", errors="replace").split()
            if number == 1 and tokens != ["ply"]:
                raise ValueError(
                    f"{path} is not a PLY file (no 'ply' on its first line)"
                )
            if not tokens or tokens[0] in ("ply", "comment", "obj_info"):
                continue
            if tokens[0] == "format" and len(tokens) >= 2:
                fmt = tokens[1]
            elif tokens[0] == "element" and len(tokens) == 3 and tokens[2].isdigit():
                elements.append((tokens[1], int(tokens[2]), []))
            elif tokens[0] == "property" and elements and len(tokens) >= 3:
                elements[-1][2].append((tokens[-1], tokens[1] == "list", tokens[1]))
            elif tokens[0] == "end_header":
                return fmt, elements, number
            else:
                raise _corrupt(path, number, f"unreadable PLY header line {raw!r}")
    raise ValueError(
        f"{path}: the PLY header has no end_header; the file looks truncated or "
        "corrupt: re-export the mesh"
    )


def _ply_values(tokens: list[str], props: list) -> dict | None:
    """One ASCII PLY element's values by property name, or None when the tokens do not
    match the properties (too few, too many, not numbers)."""
    values, pos = {}, 0
    try:
        for prop, is_list, _ in props:
            if is_list:
                n = int(tokens[pos])
                values[prop] = [int(x) for x in tokens[pos + 1 : pos + 1 + n]]
                if len(values[prop]) != n:
                    return None
                pos += 1 + n
            else:
                values[prop] = float(tokens[pos])
                pos += 1
    except (IndexError, ValueError):
        return None
    return values if pos == len(tokens) else None


def _read_ply_ascii(path: Path, elements: list, header_lines: int):
    """Vertices (V, 3) and triangles (F, 3) of an ASCII PLY: one element per line,
    every line checked against the header (trimesh drops the faces of a file cut
    short without a word)."""
    vertices, triangles, single = [], [], []
    with open(path, encoding="ascii", errors="replace") as file:
        lines = ((n, line.split()) for n, line in enumerate(file, 1))
        lines = ((n, tokens) for n, tokens in lines if n > header_lines and tokens)
        number = header_lines
        for name, count, props in elements:
            if name == "vertex":  # coordinates declared float32 are read as float32
                types = {p: kind for p, _, kind in props}
                single = [types.get(c) in ("float", "float32") for c in "xyz"]
            for k in range(count):
                number, tokens = next(lines, (number, None))
                if tokens is None:
                    raise _corrupt(
                        path,
                        number,
                        f"the file ends after {k} of its {count} {name!r} elements",
                    )
                values = _ply_values(tokens, props)
                if values is None:
                    raise _corrupt(
                        path,
                        number,
                        f"{name!r} element {' '.join(tokens)!r} does not match the "
                        f"header's properties {[p[0] for p in props]}",
                    )
                if name == "vertex":
                    vertices.append([values.get(c, np.nan) for c in ("x", "y", "z")])
                elif name == "face":
                    ids = values.get("vertex_indices", values.get("vertex_index"))
                    if ids is None or len(ids) < 3:
                        raise _corrupt(
                            path, number, f"face {' '.join(tokens)!r} is no polygon"
                        )
                    triangles.extend(_fan(ids))
    v = np.array(vertices, dtype=np.float64).reshape(-1, 3)
    for j in np.flatnonzero(single):
        v[:, j] = v[:, j].astype(np.float32)
    return v, np.array(triangles, dtype=np.int64).reshape(-1, 3)


def _read_mesh(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and triangles of a mesh file, every vertex kept in file order."""
    suffix = path.suffix.lower()
    if suffix == ".obj":
        return _read_obj(path)
    if suffix == ".ply":
        fmt, elements, header_lines = _read_ply_header(path)
        if fmt == "ascii":
            return _read_ply_ascii(path, elements, header_lines)
    try:
        mesh = trimesh.load(path, process=False, force="mesh")
    except Exception as err:  # trimesh raises ValueError, KeyError, IndexError ...
        raise ValueError(
            f"{path} could not be read as a mesh ({type(err).__name__}: {err}); "
            "re-export the mesh"
        ) from err
    v, f = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    if suffix == ".ply":  # binary: trimesh checks the length; check the counts too
        expected = dict((name, count) for name, count, _ in elements)
        if len(v) != expected.get("vertex", len(v)) or (
            expected.get("face", 0) > 0 and len(f) == 0
        ):
            raise ValueError(
                f"{path} holds {len(v)} vertices and {len(f)} triangles but its header "
                f"announces {expected}; the file looks truncated or corrupt: re-export "
                "the mesh"
            )
    return v, f


def load_mesh_with_landmarks(
    mesh_path: str | Path, landmarks_path: str | Path
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A mesh (.obj or .ply) and its landmarks: a text file of 51 or 68 rows, either one
    vertex id per row (``-1`` for unknown) or ``x y z`` per row (``nan`` for unknown).
    Returns vertices (V, 3), triangles (F, 3) and landmark positions (51 or 68, 3).

    The mesh is read as written: vertex ``i`` is the file's ``i``-th vertex (0-based),
    whether a face uses it or not, so that landmark ids point where they were meant to
    (trimesh's OBJ loader drops unused vertices and splits those with several texture
    coordinates). OBJ and ASCII PLY files are read here, polygons split into fans of
    triangles; other formats through trimesh. A file cut short, fractional or negative
    landmark ids (other than -1) and ids beyond the mesh raise ``ValueError`` naming the
    file at fault.
    """
    mesh_path, landmarks_path = Path(mesh_path), Path(landmarks_path)
    for p in (mesh_path, landmarks_path):
        if not p.is_file():
            raise FileNotFoundError(f"missing {p}")
    v, f = _read_mesh(mesh_path)
    v, f = _check_mesh(v, f, str(mesh_path))
    try:
        raw = np.loadtxt(landmarks_path, ndmin=2)
    except ValueError as err:
        raise ValueError(
            f"{landmarks_path}: unreadable landmarks ({err}); write 51 or 68 rows of "
            "one vertex id or of x y z each, numbers only"
        ) from err
    if raw.shape[0] not in (51, 68) or raw.shape[1] not in (1, 3):
        raise ValueError(
            f"{landmarks_path}: expected 51 or 68 rows of a vertex id or of x y z, got "
            f"{raw.shape}"
        )
    if raw.shape[1] == 1:
        col = raw[:, 0]
        bad = ~np.isfinite(col) | (col != np.round(col)) | ((col < 0) & (col != -1))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{landmarks_path}, row {row + 1}: {col[row]!r} is no vertex id; give "
                "each landmark an integer vertex id (0-based) or -1 for an unknown one"
            )
        ids = col.astype(np.int64)
        if ids.max() >= len(v):
            raise ValueError(
                f"{landmarks_path}: vertex id {ids.max()} is beyond the "
                f"{len(v)} vertices of {mesh_path}; the landmarks belong to another "
                "mesh (ids are 0-based)"
            )
        lm = np.where((ids >= 0)[:, None], v[np.clip(ids, 0, None)], np.nan)
    else:
        lm = raw
        if np.isinf(lm).any():
            raise ValueError(
                f"{landmarks_path}: landmark coordinates contain inf; write nan for "
                "an unknown landmark"
            )
    return v, f, lm


def armse_from_files(
    pred_mesh, pred_landmarks, scan_mesh, scan_landmarks, **kwargs
) -> ARMSE:
    """:func:`armse` on files: score your own reconstruction against your own scan with
    one call."""
    pv, pf, plm = load_mesh_with_landmarks(pred_mesh, pred_landmarks)
    sv, sf, slm = load_mesh_with_landmarks(scan_mesh, scan_landmarks)
    return armse(pv, pf, plm, sv, sf, slm, **kwargs)
