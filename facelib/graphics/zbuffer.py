"""The rasterizer's triangle setup, coverage, depth test and barycentrics on the CPU,
compiled: one loop per image over its triangles and the pixel centres of each
triangle's box, then one over its pixels.

It computes exactly what the vectorised torch path of
:func:`facelib.graphics.render.rasterize` computes (the same float operations in the
same order, so the same triangles, depths and barycentrics bit for bit; a test checks
it), several times faster: the torch path materialises every (triangle, pixel)
candidate of a window and scatters them, where this loop tests each pixel centre once
and keeps the nearest. Images are independent, so they run in parallel on the CPU's
threads (numba's ``prange``, as many threads as torch uses); the result does not depend
on the number of threads.

Compiled by numba on first use (about ten seconds, then cached on disk beside this file
when the folder is writable).
"""

from __future__ import annotations

import numba
import numpy as np
import torch

__all__ = ["rasterize_compiled", "normal_sums_compiled"]

_TRI_BITS = 24


@numba.njit(cache=True, inline="always")
def _edge(ax, ay, bx, by, px, py):
    """Twice the signed area of (a, b, p), as facelib.graphics.render._edge."""
    return (bx - ax) * (py - ay) - (by - ay) * (px - ax)


@numba.njit(cache=True)
def _draw(uv, z, faces, b, H, W, cull, scale, zbuf):
    """Depth-test image ``b``'s triangles into its z-buffer ``zbuf`` (H * W,) int64
    (keys ``round(depth * scale) << 24 | triangle``), as render._windows does."""
    one = uv.dtype.type(1.0)
    scale = uv.dtype.type(scale)
    z_min = uv.dtype.type(1e-3)
    tiny = uv.dtype.type(1e-12)
    for f in range(faces.shape[0]):
        i, j, k = faces[f, 0], faces[f, 1], faces[f, 2]
        z0, z1, z2 = z[b, i], z[b, j], z[b, k]
        if not (z0 > z_min and z1 > z_min and z2 > z_min):
            continue
        ax, ay = uv[b, i, 0], uv[b, i, 1]
        bx, by = uv[b, j, 0], uv[b, j, 1]
        cx, cy = uv[b, k, 0], uv[b, k, 1]
        area = _edge(ax, ay, bx, by, cx, cy)
        if not abs(area) > tiny or (cull and not area < 0):
            continue
        lo_x, hi_x = min(ax, bx, cx), max(ax, bx, cx)
        lo_y, hi_y = min(ay, by, cy), max(ay, by, cy)
        if hi_x < 0 or lo_x > W - 1 or hi_y < 0 or lo_y > H - 1:
            continue
        x0 = int(min(max(np.ceil(lo_x), 0), W - 1))
        x1 = int(min(max(np.floor(hi_x), 0), W - 1))
        y0 = int(min(max(np.ceil(lo_y), 0), H - 1))
        y1 = int(min(max(np.floor(hi_y), 0), H - 1))
        if x1 < x0 or y1 < y0:
            continue
        # the torch path tests a square window of the box's longer side
        size = max(x1 - x0, y1 - y0) + 1
        sign = one if area > 0 else -one
        a = abs(area)
        for y in range(y0, min(y0 + size, H)):
            py = uv.dtype.type(y)
            for x in range(x0, min(x0 + size, W)):
                px = uv.dtype.type(x)
                e0 = _edge(bx, by, cx, cy, px, py) * sign
                e1 = _edge(cx, cy, ax, ay, px, py) * sign
                e2 = _edge(ax, ay, bx, by, px, py) * sign
                if e0 < 0 or e1 < 0 or e2 < 0:
                    continue
                inv_z = (e0 / a) / z0 + (e1 / a) / z1
                inv_z = inv_z + (e2 / a) / z2
                key = (np.int64(np.rint(one / inv_z * scale)) << _TRI_BITS) | f
                if key < zbuf[y * W + x]:
                    zbuf[y * W + x] = key


@numba.njit(parallel=True, cache=True)
def _rasterize(uv, z, faces, H, W, cull, scale, far_key, tri, depth, bary):
    mask = (np.int64(1) << _TRI_BITS) - 1
    for b in numba.prange(uv.shape[0]):
        zbuf = np.full(H * W, far_key, dtype=np.int64)
        _draw(uv, z, faces, b, H, W, cull, scale, zbuf)
        for pix in range(H * W):
            if zbuf[pix] == far_key:
                continue
            f = zbuf[pix] & mask
            tri[b, pix] = f
            i, j, k = faces[f, 0], faces[f, 1], faces[f, 2]
            px, py = uv.dtype.type(pix % W), uv.dtype.type(pix // W)
            ax, ay = uv[b, i, 0], uv[b, i, 1]
            bx, by = uv[b, j, 0], uv[b, j, 1]
            cx, cy = uv[b, k, 0], uv[b, k, 1]
            e0 = _edge(bx, by, cx, cy, px, py)
            e1 = _edge(cx, cy, ax, ay, px, py)
            e2 = _edge(ax, ay, bx, by, px, py)
            total = e0 + e1 + e2
            wz0 = (e0 / total) / z[b, i]
            wz1 = (e1 / total) / z[b, j]
            wz2 = (e2 / total) / z[b, k]
            inv_z = wz0 + wz1 + wz2
            bary[b, pix, 0] = wz0 / inv_z
            bary[b, pix, 1] = wz1 / inv_z
            bary[b, pix, 2] = wz2 / inv_z
            depth[b, pix] = uv.dtype.type(1.0) / inv_z


def rasterize_compiled(
    uv: torch.Tensor,
    z: torch.Tensor,
    faces: torch.Tensor,
    image_size: tuple[int, int],
    cull_backfaces: bool,
    depth_scale: float,
    far_key: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The nearest triangle, its depth and barycentrics at every pixel centre.

    Args:
        uv: (B, P, 2) the vertices in pixels (pixel centres at integers), CPU.
        z: (B, P) their camera-frame depths in mm.
        faces: (F, 3) the triangles, shared by the B meshes.
        image_size: (H, W) in pixels.
        cull_backfaces: drop triangles whose corners turn clockwise on screen.
        depth_scale: the depth test compares ``round(depth * depth_scale)``.
        far_key: the z-buffer's empty key (larger than every real key).

    Returns:
        triangle (B, H, W) int64 (-1 where empty), depth (B, H, W) in mm (+inf where
        empty), bary (B, H, W, 3) perspective-correct (zero where empty).
    """
    H, W = image_size
    B = uv.shape[0]
    uv_np = np.ascontiguousarray(uv.detach().numpy())
    z_np = np.ascontiguousarray(z.detach().numpy())
    faces_np = np.ascontiguousarray(faces.numpy(), dtype=np.int64)
    tri = np.full((B, H * W), -1, dtype=np.int64)
    depth = np.full((B, H * W), np.inf, dtype=uv_np.dtype)
    bary = np.zeros((B, H * W, 3), dtype=uv_np.dtype)
    # as many threads as torch uses (one in a worker process of facelib.parallel)
    numba.set_num_threads(
        max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    )
    _rasterize(
        uv_np, z_np, faces_np, H, W, cull_backfaces, depth_scale, far_key,
        tri, depth, bary,
    )  # fmt: skip
    return (
        torch.from_numpy(tri).view(B, H, W),
        torch.from_numpy(depth).view(B, H, W),
        torch.from_numpy(bary).view(B, H, W, 3),
    )


@numba.njit(parallel=True, cache=True)
def _normal_sums(vertices, faces, out):
    for b in numba.prange(vertices.shape[0]):
        for corner in range(3):  # every face's first corner, then second, then third
            for f in range(faces.shape[0]):
                i, j, k = faces[f, 0], faces[f, 1], faces[f, 2]
                ux = vertices[b, j, 0] - vertices[b, i, 0]
                uy = vertices[b, j, 1] - vertices[b, i, 1]
                uz = vertices[b, j, 2] - vertices[b, i, 2]
                wx = vertices[b, k, 0] - vertices[b, i, 0]
                wy = vertices[b, k, 1] - vertices[b, i, 1]
                wz = vertices[b, k, 2] - vertices[b, i, 2]
                p = faces[f, corner]
                out[b, p, 0] += uy * wz - uz * wy
                out[b, p, 1] += uz * wx - ux * wz
                out[b, p, 2] += ux * wy - uy * wx


def normal_sums_compiled(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """The area-weighted sum (B, P, 3) of the face normals (cross products of the
    edges from each face's first corner) round every vertex of B meshes (B, P, 3)
    over the shared faces (F, 3), accumulated in the order of the torch path of
    :func:`facelib.graphics.render.vertex_normals` (so bit for bit its sums); CPU."""
    v = np.ascontiguousarray(vertices.detach().numpy())
    out = np.zeros_like(v)
    numba.set_num_threads(
        max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    )
    _normal_sums(v, np.ascontiguousarray(faces.numpy(), dtype=np.int64), out)
    return torch.from_numpy(out)
