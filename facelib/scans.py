"""Raw scans like a Structure Sensor's: the identity's surface in another topology, with noise, holes,
more of the head than the face, and an arbitrary pose. Read and written as ordinary mesh files, so a
user with real scans replaces these at the first step.

A scan is simulated from an identity (:mod:`facelib.identity`) as follows:

* **topology**: random points over a canonical domain larger than the template's (scalp above the
  hairline, behind the ears, the neck under the chin), triangulated by Delaunay in the canonical plane;
  so no vertex of the scan corresponds to a vertex of the template;
* **noise**: Gaussian, along the surface normal, σ in mm (default 0.4);
* **holes**: a few discs of missing triangles (eyebrows, nostrils, under the chin are where real
  scanners lose data, but they are placed at random);
* **pose**: a random rotation and translation (the scanner's frame).

The landmarks (68 iBUG points, the jaw included) are the identity's true landmark positions in the
scan's frame plus annotation noise; rows of NaN mark unknown landmarks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
from scipy.spatial import Delaunay
from scipy.spatial.transform import Rotation

from facelib.atomic import atomic_write
from facelib.identity import Identity, surface_points
from facelib.procrustes import Similarity
from facelib.template import S_MAX_MM, FaceTemplate

__all__ = ["ScanSettings", "RawScan", "simulate_scan", "save_scan", "load_scan"]


@dataclass(frozen=True)
class ScanSettings:
    """How raw scans are simulated. Lengths in mm, angles in degrees."""

    n_points: int = 20000
    noise_mm: float = 0.4
    n_holes: int = 3
    hole_radius_mm: tuple[float, float] = (4.0, 10.0)
    max_rotation_deg: float = 25.0
    max_translation_mm: float = 60.0
    landmark_noise_mm: float = 0.8
    s_extent_mm: float = 1.2 * S_MAX_MM  # beyond the ears
    y_extent_mm: tuple[float, float] = (-125.0, 115.0)  # scalp to neck


@dataclass
class RawScan:
    """A raw scan: vertices (V, 3) and faces (F, 3) in the scanner frame (mm); landmarks (68, 3), NaN rows
    unknown; ``pose`` the similarity (a rigid motion) from the model frame to the scanner frame, known
    only for simulated scans (``None`` for real ones)."""

    vertices: np.ndarray
    faces: np.ndarray
    landmarks: np.ndarray
    pose: Similarity | None = None

    def mesh(self) -> trimesh.Trimesh:
        return trimesh.Trimesh(self.vertices, self.faces, process=False)


def simulate_scan(identity: Identity, template: FaceTemplate, rng: np.random.Generator,
                  settings: ScanSettings = ScanSettings()) -> RawScan:
    """Simulate the raw scan of one identity (see the module doc)."""
    lo_y, hi_y = settings.y_extent_mm
    canonical = np.stack(
        [rng.uniform(-settings.s_extent_mm, settings.s_extent_mm, settings.n_points), rng.uniform(lo_y, hi_y, settings.n_points)], -1
    )
    tri = Delaunay(canonical).simplices
    # orient every triangle like the template's (clockwise in the (s, y) plane: outward normals)
    a, b, c = (canonical[tri[:, k]] for k in range(3))
    ccw = ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])) > 0
    tri[ccw] = tri[ccw][:, [0, 2, 1]]
    # holes: drop the triangles whose centre falls in a few random discs of the face region
    centres = canonical[tri].mean(axis=1)
    keep = np.ones(len(tri), bool)
    for _ in range(settings.n_holes):
        centre = np.array([rng.uniform(-0.6, 0.6) * S_MAX_MM, rng.uniform(-60.0, 80.0)])
        radius = rng.uniform(*settings.hole_radius_mm)
        keep &= np.linalg.norm(centres - centre, axis=1) > radius
    mesh = trimesh.Trimesh(surface_points(identity, canonical), tri[keep], process=False)
    mesh.remove_unreferenced_vertices()
    vertices = mesh.vertices + rng.normal(0.0, settings.noise_mm, (len(mesh.vertices), 1)) * mesh.vertex_normals
    landmarks = surface_points(identity, template.canonical[template.landmarks])  # where the template's are
    landmarks = landmarks + rng.normal(0.0, settings.landmark_noise_mm, landmarks.shape)
    rotation = Rotation.from_rotvec(rng.normal(size=3) / np.sqrt(3) * np.deg2rad(settings.max_rotation_deg)).as_matrix()
    pose = Similarity(1.0, rotation, rng.uniform(-settings.max_translation_mm, settings.max_translation_mm, 3))
    return RawScan(vertices=pose.apply(vertices), faces=np.asarray(mesh.faces), landmarks=pose.apply(landmarks), pose=pose)


def save_scan(scan: RawScan, mesh_path: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``<name>.ply`` (binary PLY mesh) and ``<name>.landmarks.txt`` (68 rows ``x y z`` in mm, ``nan``
    for unknown) next to it, atomically. Returns both paths."""
    mesh_path = Path(mesh_path)
    if mesh_path.suffix not in (".ply", ".obj"):
        raise ValueError(f"save scans as .ply or .obj, got {mesh_path.name!r}")
    lm_path = mesh_path.with_suffix(".landmarks.txt")
    atomic_write(mesh_path, lambda tmp: scan.mesh().export(tmp, file_type=mesh_path.suffix[1:]))
    atomic_write(lm_path, lambda tmp: np.savetxt(tmp, scan.landmarks, fmt="%.4f", header="iBUG-68 landmarks, x y z in mm, nan = unknown"))
    return mesh_path, lm_path


def load_scan(mesh_path: str | os.PathLike) -> RawScan:
    """Read a scan written by :func:`save_scan` (or any .ply/.obj mesh with a ``.landmarks.txt`` beside it)."""
    mesh_path = Path(mesh_path)
    lm_path = mesh_path.with_suffix(".landmarks.txt")
    for p in (mesh_path, lm_path):
        if not p.is_file():
            raise FileNotFoundError(f"missing {p}: a scan is a mesh file plus a landmark file beside it")
    mesh = trimesh.load(mesh_path, process=False, force="mesh")
    if len(mesh.faces) == 0 or not np.isfinite(mesh.vertices).all():
        raise ValueError(f"{mesh_path} has no faces or non-finite vertices; re-export the scan")
    landmarks = np.loadtxt(lm_path, ndmin=2)
    if landmarks.shape != (68, 3):
        raise ValueError(f"{lm_path} must hold 68 rows of 'x y z' (nan for unknown), got {landmarks.shape}")
    return RawScan(vertices=np.asarray(mesh.vertices), faces=np.asarray(mesh.faces), landmarks=landmarks)
