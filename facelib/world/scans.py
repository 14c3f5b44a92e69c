"""Raw scans like a Structure Sensor's: the identity's surface in another topology, with
noise, holes, more of the head than the face, and an arbitrary pose. Read and written as
ordinary mesh files (:mod:`facelib.data.scan`), so a user with real scans replaces these
at the first step.

A scan is simulated from an identity (:mod:`facelib.world.identity`) as follows:

* **topology**: random points over a canonical domain larger than the template's (scalp
  above the hairline, behind the ears, the neck under the chin), triangulated by
  Delaunay in the canonical plane; so no vertex of the scan corresponds to a vertex of
  the template;
* **noise**: Gaussian, along the surface normal, σ in mm (default 0.4);
* **holes**: a few discs of missing triangles (eyebrows, nostrils, under the chin are
  where real scanners lose data, but they are placed at random);
* **pose**: a random rotation and translation (the scanner's frame).

The landmarks (68 iBUG points, the jaw included) are the identity's true landmark
positions in the scan's frame plus annotation noise; rows of NaN mark unknown landmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
from scipy.spatial import Delaunay
from scipy.spatial.transform import Rotation

from facelib.data.scan import RawScan
from facelib.data.template import FaceTemplate
from facelib.geometry.procrustes import Similarity
from facelib.world.identity import Identity, surface_points
from facelib.world.template import S_MAX_MM

__all__ = ["ScanSettings", "simulate_scan"]


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


def simulate_scan(
    identity: Identity,
    template: FaceTemplate,
    rng: np.random.Generator,
    settings: ScanSettings = ScanSettings(),
) -> RawScan:
    """Simulate the raw scan of one identity (see the module doc)."""
    lo_y, hi_y = settings.y_extent_mm
    canonical = np.stack(
        [
            rng.uniform(-settings.s_extent_mm, settings.s_extent_mm, settings.n_points),
            rng.uniform(lo_y, hi_y, settings.n_points),
        ],
        -1,
    )
    tri = Delaunay(canonical).simplices
    # orient every triangle like the template's (clockwise in the (s, y) plane: outward
    # normals)
    a, b, c = (canonical[tri[:, k]] for k in range(3))
    ccw = (
        (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1])
        - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    ) > 0
    tri[ccw] = tri[ccw][:, [0, 2, 1]]
    # holes: drop the triangles whose centre falls in a few random discs of the face
    # region
    centres = canonical[tri].mean(axis=1)
    keep = np.ones(len(tri), bool)
    for _ in range(settings.n_holes):
        centre = np.array([rng.uniform(-0.6, 0.6) * S_MAX_MM, rng.uniform(-60.0, 80.0)])
        radius = rng.uniform(*settings.hole_radius_mm)
        keep &= np.linalg.norm(centres - centre, axis=1) > radius
    mesh = trimesh.Trimesh(
        surface_points(identity, canonical), tri[keep], process=False
    )
    mesh.remove_unreferenced_vertices()
    vertices = (
        mesh.vertices
        + rng.normal(0.0, settings.noise_mm, (len(mesh.vertices), 1))
        * mesh.vertex_normals
    )
    landmarks = surface_points(
        identity, template.canonical[template.landmarks]
    )  # where the template's are
    landmarks = landmarks + rng.normal(0.0, settings.landmark_noise_mm, landmarks.shape)
    rotation = Rotation.from_rotvec(
        rng.normal(size=3) / np.sqrt(3) * np.deg2rad(settings.max_rotation_deg)
    ).as_matrix()
    pose = Similarity(
        1.0,
        rotation,
        rng.uniform(-settings.max_translation_mm, settings.max_translation_mm, 3),
    )
    return RawScan(
        vertices=pose.apply(vertices),
        faces=np.asarray(mesh.faces),
        landmarks=pose.apply(landmarks),
        pose=pose,
    )
