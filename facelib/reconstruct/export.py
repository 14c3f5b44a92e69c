"""Files a user can open anywhere: the textured mesh, its coloured twin, landmarks,
cameras and overlays. Every file is written atomically
(:func:`facelib.storage.atomic_write`) and listed with its SHA-256 in
``checksums.json`` by the caller.

Frames. The model frame (:mod:`facelib.geometry.camera`) has +y down and the face
looking towards -z. OBJ and PLY files use the common "Y up" convention instead: the
mesh is turned 180° about the x axis, ``(x, y, z)_file = (x, -y, -z)_model`` (a
rotation, so handedness and winding are kept): +y up, the face looking towards +z
(towards the viewer in Blender's front view, with its "Y up, -Z forward" importer
defaults, and in trimesh). Units: millimetres. ``landmarks.txt`` is in the file
frame; ``cameras.json`` gives each photograph's camera in both frames.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from facelib.geometry.camera import quaternion_to_matrix
from facelib.storage import atomic_write

__all__ = [
    "FILE_FROM_MODEL",
    "to_file_frame",
    "write_obj",
    "write_ply",
    "write_png",
    "write_text",
    "cameras_record",
    "draw_overlay",
]

#: the rotation (3, 3) from the model frame to the files' frame (180° about x)
FILE_FROM_MODEL = np.diag([1.0, -1.0, -1.0])


def to_file_frame(points: np.ndarray) -> np.ndarray:
    """Model-frame points (..., 3) mm in the files' frame (Y up)."""
    return np.asarray(points) @ FILE_FROM_MODEL.T


def write_text(path: Path, text: str) -> Path:
    """``text`` to ``path``, atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def write_png(path: Path, image: np.ndarray) -> Path:
    """An (H, W, 3) uint8 image to ``path`` as PNG, atomically."""
    return atomic_write(path, lambda tmp: Image.fromarray(image).save(tmp, "PNG"))


def write_obj(
    path: Path, vertices: np.ndarray, faces: np.ndarray, uv: np.ndarray, texture: str
) -> tuple[Path, Path]:
    """A textured mesh: ``path`` (.obj) with vertices (P, 3) mm (files' frame),
    texture coordinates ``uv`` (P, 2) (one per vertex) and triangles ``faces`` (F, 3),
    and beside it the material file (.mtl) naming the image ``texture``."""
    path = Path(path)
    mtl = path.with_suffix(".mtl")
    lines = [
        "# facelib reconstruction: millimetres, +y up, the face looks towards +z",
        f"mtllib {mtl.name}",
        *(f"v {x:.5f} {y:.5f} {z:.5f}" for x, y, z in vertices),
        *(f"vt {u:.6f} {v:.6f}" for u, v in uv),
        "usemtl face",
        *(
            f"f {a}/{a} {b}/{b} {c}/{c}"
            for a, b, c in (np.asarray(faces, dtype=np.int64) + 1)
        ),
    ]
    material = "\n".join(
        [
            "newmtl face",
            "Ka 1.000 1.000 1.000",
            "Kd 1.000 1.000 1.000",
            "Ks 0.000 0.000 0.000",
            "illum 1",
            f"map_Kd {texture}",
            "",
        ]
    )
    write_text(mtl, material)
    write_text(path, "\n".join(lines) + "\n")
    return path, mtl


def write_ply(
    path: Path, vertices: np.ndarray, faces: np.ndarray, colours: np.ndarray
) -> Path:
    """An ASCII PLY mesh with vertex colours (P, 3) uint8; vertices (P, 3) mm."""
    header = [
        "ply",
        "format ascii 1.0",
        "comment facelib reconstruction: millimetres, +y up, the face looks to +z",
        f"element vertex {len(vertices)}",
        "property float x",
        "property float y",
        "property float z",
        "property uchar red",
        "property uchar green",
        "property uchar blue",
        f"element face {len(faces)}",
        "property list uchar int vertex_indices",
        "end_header",
    ]
    body = [
        f"{x:.5f} {y:.5f} {z:.5f} {r} {g} {b}"
        for (x, y, z), (r, g, b) in zip(vertices, np.asarray(colours, np.uint8))
    ]
    body += [f"3 {a} {b} {c}" for a, b, c in np.asarray(faces, dtype=np.int64)]
    return write_text(path, "\n".join(header + body) + "\n")


def cameras_record(
    names: list[str], K: np.ndarray, q: np.ndarray, t: np.ndarray, sizes
) -> str:
    """``cameras.json``'s text: per photograph its file name, size (width, height)
    px, ``K`` (3, 3) px, and the camera as ``q`` (w, x, y, z), ``R`` (3, 3) and ``t``
    (mm) both in the model frame and in the files' frame (``X_cam = R X + t``)."""
    records = []
    for name, Ki, qi, ti, (w, h) in zip(names, K, q, t, sizes):
        R = quaternion_to_matrix(torch.as_tensor(qi, dtype=torch.float64)).numpy()
        records.append(
            {
                "photograph": name,
                "width": int(w),
                "height": int(h),
                "K": np.asarray(Ki).tolist(),
                "model_frame": {
                    "q": np.asarray(qi).tolist(),
                    "R": R.tolist(),
                    "t": np.asarray(ti).tolist(),
                },
                "file_frame": {"R": (R @ FILE_FROM_MODEL.T).tolist(), "t": list(ti)},
            }
        )
    doc = {
        "conventions": (
            "pinhole camera: pixel ~ K (R X + t); camera axes x right, y down, z "
            "forward (OpenCV); image origin at the top-left pixel's centre; X in mm, "
            "in the model frame (+y down, face towards -z) or in the files' frame of "
            "face.obj (+y up, face towards +z)"
        ),
        "cameras": records,
    }
    return json.dumps(doc, indent=1, default=float)


def draw_overlay(
    image: np.ndarray,
    vertices: np.ndarray,
    faces: np.ndarray,
    landmarks: np.ndarray,
    K: np.ndarray,
    R: np.ndarray,
    t: np.ndarray,
) -> np.ndarray:
    """``image`` (H, W, 3) uint8 with the mesh's edges (vertices (P, 3) model frame,
    faces (F, 3)) drawn faintly through the camera ``K, R, t`` and its landmarks (L,
    3) as dots; (H, W, 3) uint8."""

    def project(points):
        cam = points @ np.asarray(R).T + np.asarray(t)
        uvw = cam @ np.asarray(K).T
        return uvw[:, :2] / uvw[:, 2:3]

    base = Image.fromarray(image).convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    uv = project(vertices)
    edges = np.unique(
        np.sort(
            np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), 1
        ),
        axis=0,
    )
    width = max(1, round(max(image.shape[:2]) / 600))
    for a, b in edges:
        draw.line([tuple(uv[a]), tuple(uv[b])], fill=(80, 220, 255, 70), width=width)
    r = max(1.5, max(image.shape[:2]) / 250)
    for x, y in project(landmarks):
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(255, 60, 60, 230))
    return np.asarray(Image.alpha_composite(base, layer).convert("RGB"))
