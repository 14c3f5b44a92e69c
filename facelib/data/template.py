"""The face template as a record: one topology for every face, its mirror index and
landmarks.

The template is built by the face world (:func:`facelib.world.template.build_template`);
every shape of a data set, the 3DMM and every prediction share its topology. Landmarks
follow the iBUG-68 layout (0-16 jaw line, 17-26 brows, 27-35 nose, 36-47 eyes, 48-67
mouth; the subject's right side first); 3DFAW uses the 51 without the jaw line
(:data:`IBUG51`).

On disk: ``template.npz`` (:func:`save_template`, :func:`load_template`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facelib.storage import atomic_write

__all__ = ["FaceTemplate", "IBUG51", "NOSE_TIP", "save_template", "load_template"]

IBUG51 = np.arange(17, 68)  #: the 51 landmarks without the jaw line (3DFAW)
NOSE_TIP = 30  #: iBUG index of the nose tip


@dataclass(frozen=True)
class FaceTemplate:
    """The shared topology of every face.

    Attributes:
        canonical: canonical ``(s, y)`` of every vertex in mm, (P, 2).
        faces: triangles, (F, 3), wound so that normals point out of the face.
        mirror: the vertex id of each vertex's left/right twin, (P,).
        landmarks: vertex id of each iBUG-68 landmark, (68,).
        grid_shape: (rows, columns) of the vertex grid; vertex id = row * columns +
        column.
    """

    canonical: np.ndarray
    faces: np.ndarray
    mirror: np.ndarray
    landmarks: np.ndarray
    grid_shape: tuple[int, int]

    @property
    def n_points(self) -> int:
        return len(self.canonical)

    @property
    def landmarks51(self) -> np.ndarray:
        """Vertex ids of the 51 landmarks without the jaw line (3DFAW), (51,)."""
        return self.landmarks[IBUG51]


def save_template(template: FaceTemplate, path: str | os.PathLike) -> Path:
    """Write the template as ``.npz`` (no pickle), atomically; returns the path."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(
                f,
                canonical=template.canonical,
                faces=template.faces,
                mirror=template.mirror,
                landmarks=template.landmarks,
                grid_shape=np.array(template.grid_shape),
            )

    return atomic_write(path, write)


def load_template(path: str | os.PathLike) -> FaceTemplate:
    """Read a template written by :func:`save_template`."""
    with np.load(path, allow_pickle=False) as t:
        return FaceTemplate(
            canonical=t["canonical"],
            faces=t["faces"],
            mirror=t["mirror"],
            landmarks=t["landmarks"],
            grid_shape=tuple(int(x) for x in t["grid_shape"]),
        )
