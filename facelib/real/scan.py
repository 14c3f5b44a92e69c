"""A real person's textured 3D scan: menpo3d's ``james`` (:mod:`facelib.real.assets`).

The scan covers the face, the hair and the neck (about 6,700 vertices, millimetres)
with a 2400 x 1600 photographic texture and 68 hand-placed 3D landmarks. Its files use
an older menpo landmark order (jaw, then the eyes, the brows, the nose and the mouth);
:data:`JAMES_TO_IBUG68` puts them in the iBUG-68 order of the template. Its axes are
turned into the model frame of :mod:`facelib.geometry.camera` (+x the subject's left,
+y down, the face looking towards -z): ``(x, y, z) -> (x, -y, -z)``, a rotation.

It is never used to build or calibrate the face world: it is the real face the data set
chapter measures the world against (how well the 3DMM spans it, how well the trained
networks reconstruct it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import trimesh
from PIL import Image

from facelib.data.scan import RawScan
from facelib.real.assets import asset_path

__all__ = ["TexturedScan", "JAMES_TO_IBUG68", "load_james"]

#: for each iBUG-68 landmark, its row in ``james.ljson``
JAMES_TO_IBUG68 = np.concatenate(
    [
        np.arange(0, 17),  # jaw line
        np.arange(29, 34),  # the subject's right brow ("leyebrow" in the file)
        np.arange(43, 48),  # left brow
        np.arange(34, 43),  # nose
        np.arange(17, 23),  # right eye ("leye")
        np.arange(23, 29),  # left eye
        np.arange(48, 68),  # mouth
    ]
)

_TO_MODEL_FRAME = np.diag([1.0, -1.0, -1.0])


@dataclass
class TexturedScan:
    """A scan with its texture: ``scan`` (vertices in mm, model-frame axes, 68 iBUG
    landmarks), per-vertex texture coordinates ``uv`` (V, 2) in [0, 1] (v up) and the
    ``texture`` image (H, W, 3) uint8, sRGB."""

    scan: RawScan
    uv: np.ndarray
    texture: np.ndarray


def load_james() -> TexturedScan:
    """menpo3d's ``james`` scan (see the module doc), read from the verified assets."""
    mesh = trimesh.load(asset_path("james.obj"), process=False, force="mesh")
    uv = np.asarray(mesh.visual.uv, dtype=np.float64)
    if uv.shape != (len(mesh.vertices), 2):
        raise ValueError(
            f"james.obj: expected one texture coordinate per vertex, got {uv.shape}"
        )
    groups = json.loads(asset_path("james.ljson").read_text())["groups"]
    points = np.asarray(groups["LJSON"]["landmarks"]["points"], dtype=np.float64)
    if points.shape != (68, 3):
        raise ValueError(f"james.ljson: expected 68 3D landmarks, got {points.shape}")
    texture = np.asarray(Image.open(asset_path("james.jpg")).convert("RGB"))
    vertices = np.asarray(mesh.vertices, dtype=np.float64) @ _TO_MODEL_FRAME
    landmarks = points[JAMES_TO_IBUG68] @ _TO_MODEL_FRAME
    scan = RawScan(vertices, np.asarray(mesh.faces, dtype=np.int64), landmarks)
    return TexturedScan(scan=scan, uv=uv, texture=texture)
