"""Mirroring across the face's symmetry plane x = 0: shapes, cameras and whole scenes.

The paper's training scenes are "fully symmetrized": every scene also appears mirrored.
Mirroring a scene flips its images left-right, mirrors each camera
(:func:`mirror_camera`) and the shape (:func:`mirror_shapes`, which keeps every vertex's
meaning through the template's ``mirror`` index), so that the mirrored shape through the
mirrored camera lands on the flipped pixels.
"""

from __future__ import annotations

import numpy as np
import torch

from facelib.geometry.camera import _check_last_dims, normalize_quaternion, project

__all__ = [
    "mirror_shapes",
    "mirror_camera",
    "mirror_scene",
    "mirror_pairs",
    "mirror_reprojection_error",
]


def mirror_shapes(shapes, mirror: np.ndarray):
    """The mirror images of shapes ``(..., P, 3)`` across the face's symmetry plane x =
    0.

    Vertex ``i`` of the result is vertex ``mirror[i]`` of the input with x negated, so
    every vertex keeps its meaning (the left eye corner stays the left eye corner).
    Works on numpy arrays and torch tensors alike.
    """
    sign = np.array([-1.0, 1.0, 1.0])
    if isinstance(shapes, torch.Tensor):
        idx = torch.as_tensor(mirror, device=shapes.device, dtype=torch.long)
        return shapes.index_select(-2, idx) * shapes.new_tensor(sign)
    shapes = np.asarray(shapes)
    return shapes[..., mirror, :] * sign.astype(shapes.dtype)


def mirror_camera(
    K: torch.Tensor, q: torch.Tensor, t: torch.Tensor, width: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The camera of the mirrored scene: ``(K', q', t')`` with the same shapes as the
    input.

    If ``project(X, K, q, t) = (u, v)`` then ``project(S X, K', q', t') = (W - 1 - u,
    v)`` with ``S = diag(-1, 1, 1)`` and ``W = width`` in pixels. Derivation: with the
    image flip ``F = [[-1, 0, W-1], [0, 1, 0], [0, 0, 1]]``, ``F K = K' S`` where ``K'``
    has principal point ``W - 1 - c_x``, so ``F K [R | t] X = K' [S R S | S t] (S X)``.
    ``S R S`` is a proper rotation whose quaternion is ``(w, x, -y, -z)``. Head pose
    angles change as (yaw, pitch, roll) -> (-yaw, pitch, -roll).
    """
    _check_last_dims(K, (3, 3), "intrinsics K", "(..., 3, 3)")
    _check_last_dims(t, (3,), "translations", "(..., 3) in mm")
    q = normalize_quaternion(q)
    K_m = K.clone()
    K_m[..., 0, 2] = (width - 1) - K[..., 0, 2]
    K_m[..., 0, 1] = -K[
        ..., 0, 1
    ]  # a skew term changes sign too (zero for our cameras)
    sign_q = q.new_tensor([1.0, 1.0, -1.0, -1.0])
    sign_t = t.new_tensor([-1.0, 1.0, 1.0])
    return K_m, q * sign_q, t * sign_t


def mirror_scene(
    images: torch.Tensor,
    K: torch.Tensor,
    q: torch.Tensor,
    t: torch.Tensor,
    shape: torch.Tensor,
    mirror: np.ndarray,
):
    """The mirror image of a whole scene: images (..., 3, H, W) flipped left-right,
    cameras (..., 3, 3), (..., 4), (..., 3) mirrored with :func:`mirror_camera`, and the
    shape (..., P, 3) with :func:`mirror_shapes`. The mirrored shape through the
    mirrored camera lands on the flipped pixels."""
    width = images.shape[-1]
    K_m, q_m, t_m = mirror_camera(K, q, t, width)
    return images.flip(-1), K_m, q_m, t_m, mirror_shapes(shape, mirror)


def mirror_pairs(mirror: np.ndarray) -> int:
    """The number of left/right twin pairs in a mirror index (P,): vertices that are
    not their own twin, halved (vertices on the symmetry plane are their own twin).
    ``mirror`` must be an involution (``mirror[mirror] == arange(P)``)."""
    mirror = np.asarray(mirror)
    identity = np.arange(len(mirror))
    if mirror.ndim != 1 or not np.array_equal(mirror[mirror], identity):
        raise ValueError(
            "mirror must be an involution (P,): mirror[mirror[i]] == i for every vertex"
        )
    return int((mirror != identity).sum() // 2)


def mirror_reprojection_error(
    shapes: torch.Tensor,
    K: torch.Tensor,
    q: torch.Tensor,
    t: torch.Tensor,
    mirror: np.ndarray,
    width: int,
) -> float:
    """How far the mirrored scenes are from the flipped images, in pixels: the largest
    ``|project'(twin of vertex i) - (W - 1 - u_i, v_i)|`` (per coordinate) over every
    vertex of every view.

    ``shapes`` (N, P, 3) mm, cameras ``K`` (N, V, 3, 3), ``q`` (N, V, 4), ``t`` (N, V,
    3) of images ``width`` pixels wide; ``project'`` is the mirrored camera
    (:func:`mirror_camera`) applied to the mirrored shape (:func:`mirror_shapes`), and
    the twin of vertex ``i`` is its vertex ``mirror[i]``. Zero up to rounding when the
    mirroring is right.
    """
    K_m, q_m, t_m = mirror_camera(K, q, t, width)
    uv = project(shapes[:, None], K, q, t)  # (N, V, P, 2)
    uv_m = project(mirror_shapes(shapes, mirror)[:, None], K_m, q_m, t_m)
    uv_m = uv_m[..., mirror, :]  # each vertex's twin
    flipped = torch.stack([width - 1 - uv[..., 0], uv[..., 1]], -1)
    return float((uv_m - flipped).abs().max())
