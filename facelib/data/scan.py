"""A scan as a record: a mesh in the scanner's frame with its 68 landmarks, and its
files.

Simulated scans come from the face world (:func:`facelib.world.scans.simulate_scan`);
real scans are read from the same files, so a user with real scans swaps them in. On
disk a scan is a mesh file (``.ply`` or ``.obj``) with ``<name>.landmarks.txt`` beside
it (68 rows ``x y z`` in mm, ``nan`` for unknown landmarks).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from facelib.geometry.procrustes import Similarity
from facelib.storage import atomic_write

__all__ = ["RawScan", "save_scan", "load_scan"]


@dataclass
class RawScan:
    """A raw scan: vertices (V, 3) and faces (F, 3) in the scanner frame (mm); landmarks
    (68, 3), NaN rows unknown; ``pose`` the similarity (a rigid motion) from the model
    frame to the scanner frame, known only for simulated scans (``None`` for real
    ones)."""

    vertices: np.ndarray
    faces: np.ndarray
    landmarks: np.ndarray
    pose: Similarity | None = None

    def mesh(self) -> trimesh.Trimesh:
        return trimesh.Trimesh(self.vertices, self.faces, process=False)


def save_scan(scan: RawScan, mesh_path: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``<name>.ply`` (binary PLY mesh) and ``<name>.landmarks.txt`` (68 rows ``x
    y z`` in mm, ``nan`` for unknown) next to it, atomically. Returns both paths."""
    mesh_path = Path(mesh_path)
    if mesh_path.suffix not in (".ply", ".obj"):
        raise ValueError(f"save scans as .ply or .obj, got {mesh_path.name!r}")
    lm_path = mesh_path.with_suffix(".landmarks.txt")
    atomic_write(
        mesh_path, lambda tmp: scan.mesh().export(tmp, file_type=mesh_path.suffix[1:])
    )
    atomic_write(
        lm_path,
        lambda tmp: np.savetxt(
            tmp,
            scan.landmarks,
            fmt="%.4f",
            header="iBUG-68 landmarks, x y z in mm, nan = unknown",
        ),
    )
    return mesh_path, lm_path


def load_scan(mesh_path: str | os.PathLike) -> RawScan:
    """Read a scan written by :func:`save_scan` (or any .ply/.obj mesh with a
    ``.landmarks.txt`` beside it)."""
    mesh_path = Path(mesh_path)
    lm_path = mesh_path.with_suffix(".landmarks.txt")
    for p in (mesh_path, lm_path):
        if not p.is_file():
            raise FileNotFoundError(
                f"missing {p}: a scan is a mesh file plus a landmark file beside it"
            )
    mesh = trimesh.load(mesh_path, process=False, force="mesh")
    if len(mesh.faces) == 0 or not np.isfinite(mesh.vertices).all():
        raise ValueError(
            f"{mesh_path} has no faces or non-finite vertices; re-export the scan"
        )
    landmarks = np.loadtxt(lm_path, ndmin=2)
    if landmarks.shape != (68, 3):
        raise ValueError(
            f"{lm_path} must hold 68 rows of 'x y z' (nan for unknown), got "
            f"{landmarks.shape}"
        )
    return RawScan(
        vertices=np.asarray(mesh.vertices),
        faces=np.asarray(mesh.faces),
        landmarks=landmarks,
    )
