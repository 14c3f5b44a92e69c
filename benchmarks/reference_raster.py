"""The slow, obviously correct rasterizer that :mod:`facelib.graphics.render` is checked
against (``tests/graphics/test_render.py``) and timed against (``benchmarks.run``).

One triangle at a time over every pixel centre of the image, in float64 numpy: no
bounding boxes, no batching, nothing clever. It follows the conventions of
:mod:`facelib.graphics.render` (pixel centres at integer coordinates, a pixel is
covered when its three edge functions are >= 0, perspective-correct depth, ties to the
lower triangle id).
"""

from __future__ import annotations

import numpy as np

__all__ = ["reference_rasterize"]


def reference_rasterize(
    uv: np.ndarray,
    z: np.ndarray,
    faces: np.ndarray,
    H: int,
    W: int,
    cull: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """One triangle at a time over every pixel centre, float64; keeps the nearest (ties:
    lower id).

    Args:
        uv: (P, 2) the vertices' pixel coordinates.
        z: (P,) their camera-frame depths, mm.
        faces: (F, 3) vertex ids.
        H, W: the image's size, px.
        cull: drop triangles facing away from the camera (outward winding).

    Returns the triangle id (H, W) int (-1 where empty) and the depth (H, W) mm (+inf
    where empty) of the nearest surface per pixel.
    """
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    depth = np.full((H, W), np.inf)
    tri = np.full((H, W), -1)

    def edge(a, b, px, py):
        return (b[0] - a[0]) * (py - a[1]) - (b[1] - a[1]) * (px - a[0])

    for f, (i, j, k) in enumerate(faces):
        a, b, c = uv[i], uv[j], uv[k]
        area = edge(a, b, c[0], c[1])
        if area == 0 or (cull and area > 0):
            continue
        w0, w1, w2 = (
            edge(b, c, xs, ys) / area,
            edge(c, a, xs, ys) / area,
            edge(a, b, xs, ys) / area,
        )
        inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
        with np.errstate(divide="ignore"):
            zp = 1.0 / (w0 / z[i] + w1 / z[j] + w2 / z[k])
        nearer = inside & ((zp < depth) | ((zp == depth) & (f < tri)))
        depth[nearer] = zp[nearer]
        tri[nearer] = f
    return tri, depth
