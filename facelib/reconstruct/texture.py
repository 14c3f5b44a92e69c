"""The face's texture from photographs: a UV layout for the template and colour
back-projected from every photograph through its camera.

* :func:`uv_layout`: texture coordinates (P, 2) in [0, 1] from the template's canonical
  ``(s, y)`` coordinates (mm on the face's unrolled surface), scaled uniformly so the
  face fills the square with a small border; ``u`` to the right (the subject's left),
  ``v`` up (OBJ's convention: ``v = 0`` is the image's bottom row).
* :func:`texel_surface`: for every texel, the mesh's triangle and barycentrics there
  (the UV layout rasterised).
* :func:`bake_texture`: each texel's 3D point is projected into every photograph; its
  colour is the average of the photographs' pixels there, each weighted by whether the
  photograph sees that point (a z-buffer of the mesh through that photograph's camera)
  and by how squarely (the cosine between the surface normal and the direction to the
  camera, squared). Texels that no photograph sees are filled smoothly from their
  neighbours (:func:`fill_unseen`, a push-pull pyramid).

Images are (H, W, 3) uint8, pixel centres at integers; cameras are ``K [R(q) | t]``
(:mod:`facelib.geometry.camera`) of the photographs as they are on disk (not crops).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from facelib.geometry.camera import quaternion_to_matrix
from facelib.graphics.render import RasterSettings, rasterize

__all__ = ["uv_layout", "TexelSurface", "texel_surface", "bake_texture", "fill_unseen"]


def uv_layout(canonical: np.ndarray, border: float = 0.03) -> np.ndarray:
    """Texture coordinates (P, 2) in [0, 1] of vertices with canonical coordinates
    ``canonical`` (P, 2) mm: ``u`` grows with ``s`` (to the subject's left), ``v``
    shrinks with ``y`` (up in the texture image), one scale for both axes, centred,
    ``border`` of the square left free on every side."""
    c = np.asarray(canonical, dtype=np.float64)
    lo, hi = c.min(0), c.max(0)
    scale = (1.0 - 2 * border) / (hi - lo).max()
    centred = (c - (lo + hi) / 2) * scale
    return np.stack([0.5 + centred[:, 0], 0.5 - centred[:, 1]], -1)


@dataclass(frozen=True)
class TexelSurface:
    """Where each texel of a ``size`` x ``size`` texture lies on the mesh:
    ``triangle`` (size, size) int64 (-1 outside every triangle) and ``bary`` (size,
    size, 3). Texture rows run from the top of the image (``v`` = 1) down."""

    triangle: np.ndarray
    bary: np.ndarray

    @property
    def covered(self) -> np.ndarray:
        return self.triangle >= 0


def texel_surface(uv: np.ndarray, faces: np.ndarray, size: int) -> TexelSurface:
    """Rasterise the UV layout ``uv`` (P, 2) of triangles ``faces`` (F, 3) into a
    ``size`` px square: a pinhole camera with ``K = I`` looking at the layout placed on
    the plane z = 1 draws each texel's triangle and barycentrics."""
    px = np.stack([uv[:, 0] * size - 0.5, (1.0 - uv[:, 1]) * size - 0.5], -1)
    flat = torch.from_numpy(np.concatenate([px, np.ones((len(px), 1))], 1)).float()
    frags = rasterize(
        flat[None],
        torch.from_numpy(np.asarray(faces)),
        torch.eye(3)[None],
        torch.tensor([[1.0, 0.0, 0.0, 0.0]]),
        torch.zeros(1, 3),
        RasterSettings(image_size=(size, size), cull_backfaces=False),
    )
    return TexelSurface(frags.triangle[0].numpy(), frags.bary[0].double().numpy())


def _vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    tri = vertices[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # area-weighted
    out = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(out, faces[:, k], n)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def _bilinear(image: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Colours (n, C) float of ``image`` (H, W, C) at pixel coordinates ``uv`` (n, 2),
    edges clamped."""
    H, W = image.shape[:2]
    x = np.clip(uv[:, 0], 0, W - 1)
    y = np.clip(uv[:, 1], 0, H - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, W - 1), np.minimum(y0 + 1, H - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    img = image.astype(np.float64)
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def bake_texture(
    vertices: np.ndarray,
    faces: np.ndarray,
    surface: TexelSurface,
    photos: list[np.ndarray],
    K: np.ndarray,
    q: np.ndarray,
    t: np.ndarray,
    *,
    depth_size: int = 256,
    depth_tolerance_mm: float = 4.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The texture (size, size, 3) uint8 of a mesh (vertices (P, 3) mm, model frame;
    faces (F, 3), outward winding) from ``photos`` (each (H, W, 3) uint8) with cameras
    ``K`` (N, 3, 3) px, ``q`` (N, 4), ``t`` (N, 3) mm, and the weight (size, size) each
    texel received (0 where no photograph sees it; those texels are filled by
    :func:`fill_unseen`). Visibility: a texel counts for a photograph when its depth is
    within ``depth_tolerance_mm`` of the mesh's z-buffer there, rendered with the long
    side at ``depth_size`` pixels."""
    if not (len(photos) == len(K) == len(q) == len(t)) or not photos:
        raise ValueError(
            f"expected one camera per photograph, got {len(photos)} photographs and "
            f"K {np.shape(K)}, q {np.shape(q)}, t {np.shape(t)}"
        )
    covered = surface.covered
    tri = faces[surface.triangle[covered]]  # (n, 3)
    bary = surface.bary[covered][..., None]  # (n, 3, 1)
    points = (vertices[tri] * bary).sum(1)  # (n, 3) model frame
    normals = (_vertex_normals(vertices, faces)[tri] * bary).sum(1)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    colour = np.zeros((len(points), 3))
    weight = np.zeros(len(points))
    verts_t = torch.from_numpy(vertices).float()[None]
    faces_t = torch.from_numpy(np.asarray(faces))
    for photo, Ki, qi, ti in zip(photos, K, q, t):
        H, W = photo.shape[:2]
        R = quaternion_to_matrix(torch.as_tensor(qi, dtype=torch.float64)).numpy()
        cam = points @ R.T + np.asarray(ti)  # camera frame, mm
        if (cam[:, 2] <= 0).any():
            raise ValueError(
                "a camera puts part of the face behind itself; its t_z must be "
                "positive and larger than the face's depth"
            )
        pix = cam @ np.asarray(Ki).T
        pix = pix[:, :2] / pix[:, 2:3]
        # the z-buffer at a reduced size: the same camera with its pixels scaled
        s = min(1.0, depth_size / max(H, W))
        h, w = max(1, round(H * s)), max(1, round(W * s))
        Ks = np.asarray(Ki, dtype=np.float64).copy()
        Ks[0] *= w / W
        Ks[1] *= h / H
        Ks[0, 2] = (Ki[0, 2] + 0.5) * w / W - 0.5
        Ks[1, 2] = (Ki[1, 2] + 0.5) * h / H - 0.5
        frags = rasterize(
            verts_t,
            faces_t,
            torch.from_numpy(Ks).float()[None],
            torch.as_tensor(qi).float()[None],
            torch.as_tensor(ti).float()[None],
            RasterSettings(image_size=(h, w)),
        )
        depth = frags.depth[0].numpy()
        small = np.stack(
            [(pix[:, 0] + 0.5) * w / W - 0.5, (pix[:, 1] + 0.5) * h / H - 0.5], -1
        )
        ix = np.clip(np.round(small[:, 0]).astype(int), 0, w - 1)
        iy = np.clip(np.round(small[:, 1]).astype(int), 0, h - 1)
        inside = (
            (pix[:, 0] >= -0.5)
            & (pix[:, 0] <= W - 0.5)
            & (pix[:, 1] >= -0.5)
            & (pix[:, 1] <= H - 0.5)
        )
        visible = inside & (np.abs(depth[iy, ix] - cam[:, 2]) < depth_tolerance_mm)
        centre = -R.T @ np.asarray(ti)  # the camera's centre, model frame
        to_camera = centre - points
        to_camera /= np.linalg.norm(to_camera, axis=1, keepdims=True)
        w_i = np.clip((normals * to_camera).sum(1), 0.0, None) ** 2 * visible
        colour += w_i[:, None] * _bilinear(photo, pix)
        weight += w_i
    size = surface.triangle.shape[0]
    texture = np.zeros((size, size, 3))
    weights = np.zeros((size, size))
    seen = weight > 1e-6
    texture[covered] = np.where(
        seen[:, None], colour / np.maximum(weight, 1e-12)[:, None], 0.0
    )
    weights[covered] = weight
    filled = fill_unseen(texture, weights > 1e-6)
    return np.clip(np.round(filled), 0, 255).astype(np.uint8), weights


def fill_unseen(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``image`` (H, W, C) float with the pixels where ``known`` (H, W) is False
    filled smoothly from the known ones (push-pull: averages of the known pixels
    over ever coarser 2 x 2 blocks, then filled back from the coarsest level,
    up-sampled bilinearly);
    known pixels are kept as they are. With no known pixel, mid-grey."""
    if not known.any():
        return np.full_like(image, 128.0)
    levels = [(image * known[..., None], known.astype(np.float64))]
    while max(levels[-1][1].shape) > 1:
        colour, weight = levels[-1]
        H, W = weight.shape
        pad = ((0, H % 2), (0, W % 2))
        c = np.pad(colour, (*pad, (0, 0)))
        w = np.pad(weight, pad)
        c = c.reshape(c.shape[0] // 2, 2, c.shape[1] // 2, 2, -1).sum((1, 3))
        w = w.reshape(w.shape[0] // 2, 2, w.shape[1] // 2, 2).sum((1, 3))
        levels.append((c, w))
    colour, weight = levels[-1]
    mean = colour / np.maximum(weight, 1e-12)[..., None]
    for colour, weight in reversed(levels[:-1]):
        H, W = weight.shape
        # bilinear up-sampling, so that the filled regions have no blocks
        up = (
            torch.nn.functional.interpolate(
                torch.from_numpy(mean).permute(2, 0, 1)[None],
                size=(H, W),
                mode="bilinear",
                align_corners=False,
            )[0]
            .permute(1, 2, 0)
            .numpy()
        )
        here = colour / np.maximum(weight, 1e-12)[..., None]
        mean = np.where((weight > 0)[..., None], here, up)
    return np.where(known[..., None], image, mean)
