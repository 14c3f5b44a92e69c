"""Pinhole camera model of the paper (Eq. 3-4): ``u ~ K [R(q) | t] X``.

Axis conventions, written once for the whole project
----------------------------------------------------

Units
    Millimetres in 3D, pixels in images.

Image
    Origin at the top-left corner, +x (u) to the right, +y (v) down. Pixel *centres* sit
    at integer coordinates, so an image of width W spans u in [-0.5, W - 0.5] and its
    centre is at (W - 1) / 2.

Model frame (the face)
    The head is centred at the origin and the face looks towards -z (paper, section
    4.1):

    * +x points to the subject's **left** (so the subject's left eye appears on the
      image's right, as when you look at someone face to face),
    * +y points **down**, from the forehead towards the chin,
    * +z points from the face towards the back of the head.

    The frame is right-handed (x cross y = z).

Camera frame
    OpenCV: +x right, +y down, +z forward (along the optical axis). ``R, t`` map model
    coordinates to camera coordinates, ``X_cam = R X_model + t``, and the camera centre
    in the model frame is ``-R^T t``. With these axes a camera with ``R = I`` and ``t =
    (0, 0, d)`` stands at distance ``d`` in front of the face and looks straight at it:
    the *frontal camera*.

Quaternions
    Unit quaternions, real part first ``(w, x, y, z)``; ``q`` and ``-q`` are the same
    rotation. Functions that take a quaternion normalise it (a zero or non-finite
    quaternion is an error).

Head pose angles (yaw, pitch, roll), in degrees
    ``R = R_z(roll) @ R_x(pitch) @ R_y(yaw)``, where ``R_a(θ)`` is the right-handed
    rotation by θ about the model (= camera) axis ``a``. Yaw turns the head about its
    vertical axis: yaw > 0 turns the subject's left cheek towards the camera (the camera
    sees the left side of the face; -90° and 90° are the two profiles). Pitch > 0 tips
    the forehead towards the camera and the chin away (the head nods down, or the camera
    looks from above); roll > 0 turns the face clockwise in the image. These angles
    describe the camera *relative to the face* and are what view selection uses (paper,
    4.3).

Mirroring
    The mirror image of a scene is the reflection ``S = diag(-1, 1, 1)`` of the model
    frame across the face's plane of symmetry together with the horizontal flip of the
    image, ``u' = W - 1 - u``. :func:`mirror_camera` returns the camera that sees the
    mirrored shape exactly where the flipped image shows it.

Everything is batch-first with any number of leading batch dimensions, and broadcasts
between points and cameras: points ``(..., P, 3)``, quaternions ``(..., 4)``, rotations
``(..., 3, 3)``, translations ``(..., 3)``, intrinsics ``(..., 3, 3)``.

Bad input is refused, never converted silently
    Every function takes floating-point tensors: an integer or boolean tensor is a
    ``TypeError`` that names the argument (convert it yourself, ``.float()`` or
    ``.double()``: the precision is the caller's choice). Tensors that are multiplied
    together (points and ``q``; the camera-frame points and ``K``; ``q`` and ``t`` in
    :func:`camera_center`; ``t`` and ``K`` in :func:`translation_to_image`) must share
    one dtype, a ``TypeError`` otherwise; a translation that is only added may be of
    another floating dtype and the result is promoted as torch promotes. Leading batch
    dimensions that do not broadcast, non-finite values, a matrix that is not a
    rotation (:func:`matrix_to_quaternion`), a singular ``K`` and points on or behind
    the camera's plane (:func:`project`) are ``ValueError`` s.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "quaternion_to_matrix",
    "matrix_to_quaternion",
    "normalize_quaternion",
    "intrinsics_from_fov",
    "model_to_camera",
    "project",
    "yaw_pitch_roll_to_quaternion",
    "quaternion_to_yaw_pitch_roll",
    "orbit_pose",
    "camera_center",
    "translation_from_image",
    "translation_to_image",
]


def _check_last_dims(
    x: torch.Tensor,
    dims: tuple[int, ...],
    name: str,
    layout: str,
    *,
    finite: bool = True,
) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"expected {name} as a torch.Tensor {layout}, got {type(x).__name__}"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"expected {name} as a floating-point tensor {layout}, got dtype "
            f"{x.dtype}; convert it explicitly, e.g. with .float() or .double()"
        )
    if x.dim() < len(dims) or tuple(x.shape[x.dim() - len(dims) :]) != dims:
        raise ValueError(f"expected {name} {layout}, got {tuple(x.shape)}")
    if finite and not torch.isfinite(x).all():
        raise ValueError(
            f"{name} contains non-finite values (NaN or inf); shape {tuple(x.shape)}"
        )


def _check_same_dtype(a: torch.Tensor, a_name: str, b: torch.Tensor, b_name: str):
    if a.dtype != b.dtype:
        raise TypeError(
            f"{a_name} ({a.dtype}) and {b_name} ({b.dtype}) differ in dtype and are "
            "multiplied together; give them one dtype, e.g. with .double() on both"
        )


def _check_batches(**batches: torch.Size) -> None:
    """The leading (batch) dimensions of several arguments must broadcast."""
    try:
        torch.broadcast_shapes(*batches.values())
    except RuntimeError:
        listed = ", ".join(f"{name} {tuple(b)}" for name, b in batches.items())
        raise ValueError(
            f"the batch dimensions of {listed} do not broadcast; give each argument "
            "the same leading dimensions, or 1 where one camera or shape is shared"
        ) from None


def _first_index(mask: torch.Tensor) -> tuple[int, ...]:
    return tuple(torch.nonzero(mask)[0].tolist())


def _det3(M: torch.Tensor) -> torch.Tensor:
    """Determinants (...,) of matrices (..., 3, 3), by cofactors (any float dtype)."""
    a, b, c = M[..., 0, :].unbind(-1)
    d, e, f = M[..., 1, :].unbind(-1)
    g, h, i = M[..., 2, :].unbind(-1)
    return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)


def _singular_intrinsics(K: torch.Tensor) -> torch.Tensor:
    """(...,) True where ``K`` (..., 3, 3) has a zero focal length or is singular:
    ``|det K|`` at most 1e-12 of the product of its rows' norms (Hadamard's bound)."""
    K = K.detach()
    bound = K.norm(dim=-1).prod(dim=-1)
    zero_f = (K[..., 0, 0] == 0) | (K[..., 1, 1] == 0)
    return zero_f | (_det3(K).abs() <= 1e-12 * bound)


def _refuse_singular(K: torch.Tensor, singular: torch.Tensor) -> None:
    where = _first_index(singular)
    Kb = K.detach()[where]
    fx, fy = float(Kb[0, 0]), float(Kb[1, 1])
    at = f" at batch index {where}" if where else ""
    raise ValueError(
        f"intrinsics K is singular{at} (f_x = {fx:g}, f_y = {fy:g} px, K = "
        f"{Kb.tolist()}): a pinhole camera needs non-zero focal lengths and an "
        "invertible K; build it with intrinsics_from_fov(fov_deg, width, height) or "
        "from the camera's calibration"
    )


def normalize_quaternion(q: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale quaternions ``(..., 4)`` to unit length.

    Raises ``ValueError`` for a quaternion whose norm is below ``eps`` (it names no
    rotation).
    """
    _check_last_dims(q, (4,), "quaternions", "(..., 4) real part first")
    norm = q.norm(dim=-1, keepdim=True)
    if (norm < eps).any():
        raise ValueError(
            f"got a zero quaternion (norm < {eps}); a rotation needs a non-zero (w, x, "
            "y, z)"
        )
    return q / norm


def quaternion_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``(..., 3, 3)`` from quaternions ``(..., 4)``, real part first.

    Non-unit quaternions are normalised first; ``q`` and ``-q`` give the same matrix.
    """
    w, x, y, z = normalize_quaternion(q).unbind(-1)
    row0 = torch.stack(
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], dim=-1
    )
    row1 = torch.stack(
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], dim=-1
    )
    row2 = torch.stack(
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], dim=-1
    )
    return torch.stack([row0, row1, row2], dim=-2)


def matrix_to_quaternion(R: torch.Tensor) -> torch.Tensor:
    """Unit quaternions ``(..., 4)``, real part first and ``w >= 0``, from rotation
    matrices ``(..., 3, 3)``.

    Uses the numerically stable branch (Shepperd's method): of the four candidate
    formulas the one with the largest denominator is taken per matrix.

    Raises ``ValueError`` for a matrix that is not a rotation: ``R^T R`` farther than
    ``1e-4`` from the identity in any entry (a scaled, sheared or zero matrix) or a
    determinant below 0 (a reflection); the formulas would return a unit quaternion of
    some other rotation without a word.
    """
    _check_last_dims(R, (3, 3), "rotation matrices", "(..., 3, 3)")
    _check_rotation(R)
    m = R
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # 4 * (w^2, x^2, y^2, z^2) from the diagonal; clamp guards tiny negative round-off.
    four_sq = torch.stack(
        [
            1 + m00 + m11 + m22,
            1 + m00 - m11 - m22,
            1 - m00 + m11 - m22,
            1 - m00 - m11 + m22,
        ],
        dim=-1,
    ).clamp_min(0.0)
    # Each row: the quaternion scaled by 4 * (its component that is largest), one row
    # per branch.
    cand = torch.stack(
        [
            torch.stack(
                [
                    four_sq[..., 0],
                    m[..., 2, 1] - m[..., 1, 2],
                    m[..., 0, 2] - m[..., 2, 0],
                    m[..., 1, 0] - m[..., 0, 1],
                ],
                -1,
            ),
            torch.stack(
                [
                    m[..., 2, 1] - m[..., 1, 2],
                    four_sq[..., 1],
                    m[..., 1, 0] + m[..., 0, 1],
                    m[..., 0, 2] + m[..., 2, 0],
                ],
                -1,
            ),
            torch.stack(
                [
                    m[..., 0, 2] - m[..., 2, 0],
                    m[..., 1, 0] + m[..., 0, 1],
                    four_sq[..., 2],
                    m[..., 2, 1] + m[..., 1, 2],
                ],
                -1,
            ),
            torch.stack(
                [
                    m[..., 1, 0] - m[..., 0, 1],
                    m[..., 0, 2] + m[..., 2, 0],
                    m[..., 2, 1] + m[..., 1, 2],
                    four_sq[..., 3],
                ],
                -1,
            ),
        ],
        dim=-2,
    )
    best = four_sq.argmax(dim=-1)
    q = torch.gather(cand, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(
        -2
    )
    q = q / q.norm(dim=-1, keepdim=True)
    return torch.where(q[..., :1] < 0, -q, q)


def _check_rotation(R: torch.Tensor, tol: float = 1e-4) -> None:
    Rd = R.detach()
    eye = torch.eye(3, dtype=Rd.dtype, device=Rd.device)
    off = (Rd.transpose(-1, -2) @ Rd - eye).abs().amax(dim=(-2, -1))
    tol = max(tol, 10 * torch.finfo(Rd.dtype).eps)  # float16 and bfloat16 round more
    bad_orth = off > tol
    bad_det = _det3(Rd) < 0
    if not bool((bad_orth | bad_det).any()):
        return
    if bool(bad_orth.any()):
        where = _first_index(bad_orth)
        at = f" at batch index {where}" if where else ""
        raise ValueError(
            f"rotation matrices: R{at} = {Rd[where].tolist()} is not a rotation "
            f"(R^T R differs from the identity by {float(off[where]):.3g}, tolerance "
            f"{tol:g}); pass an orthonormal matrix with determinant +1, e.g. "
            "re-orthonormalise it with an SVD (U V^T of R = U S V^T)"
        )
    where = _first_index(bad_det)
    at = f" at batch index {where}" if where else ""
    raise ValueError(
        f"rotation matrices: R{at} = {Rd[where].tolist()} has determinant -1, a "
        "reflection, not a rotation; flip the sign of one axis (one row of R) so "
        "that det R = +1 and the frame stays right-handed"
    )


def intrinsics_from_fov(
    fov_deg: float, width: int, height: int, *, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Calibration matrix ``K`` (3, 3) of a pinhole camera with square pixels.

    ``fov_deg`` is the horizontal field of view in degrees (across the full image width,
    edge to edge); the principal point is the image centre ``((W - 1) / 2, (H - 1) /
    2)`` in pixels.
    """
    if not (0.0 < float(fov_deg) < 180.0) or not math.isfinite(float(fov_deg)):
        raise ValueError(
            f"expected a field of view in (0, 180) degrees, got {fov_deg}; pass the "
            "horizontal angle the image spans, edge to edge (a phone's main camera: "
            "about 65)"
        )
    if int(width) < 1 or int(height) < 1:
        raise ValueError(
            f"expected a positive image size, got width={width}, height={height}"
        )
    f = 0.5 * width / math.tan(math.radians(fov_deg) / 2.0)
    return torch.tensor(
        [[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]],
        dtype=dtype,
    )


def _check_pose_arguments(
    points: torch.Tensor, q: torch.Tensor, t: torch.Tensor
) -> None:
    """The checks of :func:`model_to_camera`'s arguments (their batches aside)."""
    _check_last_dims(points, (3,), "points", "(..., P, 3) in mm")
    if points.dim() < 2:
        raise ValueError(f"expected points (..., P, 3), got {tuple(points.shape)}")
    _check_last_dims(t, (3,), "translations", "(..., 3) in mm")
    _check_last_dims(q, (4,), "quaternions", "(..., 4) real part first", finite=False)
    _check_same_dtype(points, "points", q, "quaternions q")


def model_to_camera(
    points: torch.Tensor, q: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """``X_cam = R(q) X + t``: points ``(..., P, 3)`` in the model frame to the camera
    frame (mm), for quaternions ``q`` (..., 4) and translations ``t`` (..., 3) mm.

    ``points`` and ``q`` need one floating dtype; ``t`` may be of another (the sum is
    promoted). The leading dimensions of the three must broadcast."""
    _check_pose_arguments(points, q, t)
    _check_batches(points=points.shape[:-2], q=q.shape[:-1], t=t.shape[:-1])
    R = quaternion_to_matrix(q)
    return points @ R.transpose(-1, -2) + t[..., None, :]


def project(
    points: torch.Tensor,
    K: torch.Tensor,
    q: torch.Tensor,
    t: torch.Tensor,
    *,
    in_front: bool = True,
) -> torch.Tensor:
    """Pixel coordinates ``(..., P, 2)`` of model points through the camera ``K [R(q) |
    t]`` (Eq. 3-4).

    Args:
        points: model-frame points in mm, ``(..., P, 3)``.
        K: intrinsics ``(..., 3, 3)`` in pixels.
        q: camera rotation as quaternions ``(..., 4)``, real part first (normalised
        here).
        t: camera translation in mm, ``(..., 3)``.

    The leading dimensions broadcast against each other. The division by depth is exact:
    every point must lie in front of the camera (depth z > 0, after ``K``), and ``K``
    must be invertible with non-zero focal lengths; a ``ValueError`` says which point
    or camera is wrong otherwise (the pixels would be mirrored, infinite or NaN).
    ``in_front=False`` skips the depth test: for a loss on a network's own guesses,
    where a bad camera must cost pixels, not stop the training.
    ``points`` and ``q`` share one floating dtype, and ``K`` that of the camera-frame
    points (that of ``points``, promoted with ``t``'s).
    """
    _check_last_dims(K, (3, 3), "intrinsics K", "(..., 3, 3)")
    _check_pose_arguments(points, q, t)
    _check_batches(
        points=points.shape[:-2], q=q.shape[:-1], t=t.shape[:-1], K=K.shape[:-2]
    )
    dtype = torch.promote_types(points.dtype, t.dtype)  # that of the camera frame
    if K.dtype != dtype:
        raise TypeError(
            f"intrinsics K ({K.dtype}) and the camera-frame points (points + t) "
            f"({dtype}) differ in dtype and are multiplied together; give them one "
            "dtype, e.g. with .double() on both"
        )
    # K [R | t] as one 3 x 4 matrix per camera, applied coordinate by coordinate (a
    # batched matrix product with an inner size of 3 is several times slower on a CPU)
    KR = K @ quaternion_to_matrix(q).to(dtype)  # (..., 3, 3)
    Kt = (K @ t.to(dtype)[..., None])[..., 0]  # (..., 3)
    x, y, z = points.to(dtype).unbind(-1)  # (..., P) each
    uvw = torch.stack(
        [
            x * KR[..., i, 0, None]
            + y * KR[..., i, 1, None]
            + z * KR[..., i, 2, None]
            + Kt[..., i, None]
            for i in range(3)
        ],
        -1,
    )  # (..., P, 3)
    # one test (one device sync) for both faults; the diagnosis only when one is found
    singular = _singular_intrinsics(K)
    behind = uvw[..., 2].detach() <= 0
    if not in_front:
        behind = torch.zeros_like(behind)
    if bool(singular.any() | behind.any()):
        if bool(singular.any()):
            _refuse_singular(K, singular)
        depth = model_to_camera(points, q, t)[..., 2].detach()
        depth = depth.expand(behind.shape)
        where = _first_index(behind)
        raise ValueError(
            f"{int(behind.sum())} of {behind.numel()} points lie on or behind the "
            f"camera's plane (depth z <= 0; the first at index {where}, z = "
            f"{float(depth[where]):.4g} mm, the smallest {float(depth.min()):.4g} "
            "mm): their pixels would be mirrored or infinite; place the camera "
            "farther from the points (a larger t_z) or project only the points in "
            "front of it"
        )
    return uvw[..., :2] / uvw[..., 2:3]


def _axis_rotation(angle_rad: torch.Tensor, axis: int) -> torch.Tensor:
    c, s = torch.cos(angle_rad), torch.sin(angle_rad)
    one, zero = torch.ones_like(c), torch.zeros_like(c)
    if axis == 0:
        rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
    elif axis == 1:
        rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
    else:
        rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    return torch.stack([torch.stack(r, dim=-1) for r in rows], dim=-2)


def yaw_pitch_roll_to_quaternion(angles_deg: torch.Tensor) -> torch.Tensor:
    """Quaternions ``(..., 4)`` of ``R = R_z(roll) R_x(pitch) R_y(yaw)`` from angles
    ``(..., 3)`` in degrees.

    The angles are ``(yaw, pitch, roll)``; see the module docstring for their meaning.
    """
    _check_last_dims(
        angles_deg, (3,), "angles", "(..., 3) as (yaw, pitch, roll) in degrees"
    )
    yaw, pitch, roll = torch.deg2rad(angles_deg).unbind(-1)
    R = _axis_rotation(roll, 2) @ _axis_rotation(pitch, 0) @ _axis_rotation(yaw, 1)
    return matrix_to_quaternion(R)


def quaternion_to_yaw_pitch_roll(q: torch.Tensor) -> torch.Tensor:
    """Head pose angles ``(..., 3)`` = (yaw, pitch, roll) in degrees of the camera
    rotation ``q`` (..., 4).

    Inverse of :func:`yaw_pitch_roll_to_quaternion`, with pitch in [-90, 90] and yaw,
    roll in (-180, 180].
    """
    R = quaternion_to_matrix(q)
    # R = Rz(c) Rx(b) Ry(a): R[2,1] = sin b, R[2,0] = -cos b sin a, R[2,2] = cos b cos
    # a, R[0,1] = -sin c cos b, R[1,1] = cos c cos b.
    pitch = torch.asin(R[..., 2, 1].clamp(-1.0, 1.0))
    yaw = torch.atan2(-R[..., 2, 0], R[..., 2, 2])
    roll = torch.atan2(-R[..., 0, 1], R[..., 1, 1])
    return torch.rad2deg(torch.stack([yaw, pitch, roll], dim=-1))


def orbit_pose(
    angles_deg: torch.Tensor, distance_mm: torch.Tensor | float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The pose ``(q, t)`` of a camera looking at the head centre from ``distance_mm``.

    Args:
        angles_deg: head pose angles (yaw, pitch, roll) in degrees, ``(..., 3)``.
        distance_mm: distance from the camera centre to the model origin in mm, a float
        or ``(...)``.

    Returns:
        quaternions ``(..., 4)`` and translations ``t = (0, 0, distance)`` ``(..., 3)``:
        the model origin sits on the optical axis.
    """
    q = yaw_pitch_roll_to_quaternion(angles_deg)
    d = torch.as_tensor(distance_mm, dtype=q.dtype, device=q.device)
    d = d.expand(q.shape[:-1]) if d.dim() == 0 else d
    if tuple(d.shape) != tuple(q.shape[:-1]):
        raise ValueError(
            f"expected distances {tuple(q.shape[:-1])} to match the angles, got "
            f"{tuple(d.shape)}"
        )
    if not (d > 0).all():
        raise ValueError(
            "camera distances must be positive (the head in front of the camera)"
        )
    t = torch.stack([torch.zeros_like(d), torch.zeros_like(d), d], dim=-1)
    return q, t


def camera_center(q: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Camera centres ``-R(q)^T t`` in the model frame, mm, shape ``(..., 3)``, of
    quaternions ``q`` (..., 4) and translations ``t`` (..., 3) mm of one dtype."""
    _check_last_dims(t, (3,), "translations", "(..., 3) in mm")
    _check_last_dims(q, (4,), "quaternions", "(..., 4) real part first", finite=False)
    _check_same_dtype(q, "quaternions q", t, "translations t")
    _check_batches(q=q.shape[:-1], t=t.shape[:-1])
    R = quaternion_to_matrix(q)
    return -(R.transpose(-1, -2) @ t[..., None])[..., 0]


def translation_to_image(t: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Where a camera translation puts the model's origin in the image, and at what
    scale: ``(u, v, log(f_x / t_z))`` (..., 3) (pixels, pixels, log of pixels per mm
    at the origin's depth) of translations ``t`` (..., 3) mm through intrinsics ``K``
    (..., 3, 3) px. What a crop of a photograph shows of the camera: the inverse of
    :func:`translation_from_image` for the same ``K``; ``t`` and ``K`` of one dtype,
    ``K`` invertible."""
    _check_last_dims(t, (3,), "translation t", "(..., 3)")
    _check_last_dims(K, (3, 3), "intrinsics K", "(..., 3, 3)")
    _check_same_dtype(t, "translation t", K, "intrinsics K")
    _check_batches(t=t.shape[:-1], K=K.shape[:-2])
    singular = _singular_intrinsics(K)
    if bool(singular.any()):
        _refuse_singular(K, singular)
    if (t[..., 2] <= 0).any():
        raise ValueError(
            "every translation needs t_z > 0 (the face in front of the camera)"
        )
    uv = (K @ t[..., None])[..., :2, 0] / t[..., 2:3]
    return torch.cat([uv, torch.log(K[..., 0, 0] / t[..., 2])[..., None]], -1)


def translation_from_image(image_t: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Camera translations ``t`` (..., 3) mm that put the model's origin at pixel
    ``(u, v)`` with scale ``exp(s) = f_x / t_z`` pixels per mm, from ``image_t``
    (..., 3) ``(u, v, s)`` and intrinsics ``K`` (..., 3, 3) px (no skew). A network
    that sees a crop predicts these three (all visible in the image, whatever the
    crop) and its crop's ``K`` turns them into millimetres. ``K`` must have non-zero
    focal lengths."""
    _check_last_dims(K, (3, 3), "intrinsics K", "(..., 3, 3)")
    _check_last_dims(image_t, (3,), "image_t", "(..., 3) as (u, v, s)", finite=False)
    _check_batches(image_t=image_t.shape[:-1], K=K.shape[:-2])
    zero_f = (K[..., 0, 0] == 0) | (K[..., 1, 1] == 0)
    if bool(zero_f.any()):
        _refuse_singular(K, zero_f)
    fx, fy = K[..., 0, 0], K[..., 1, 1]
    tz = fx / torch.exp(image_t[..., 2])
    tx = (image_t[..., 0] - K[..., 0, 2]) * tz / fx
    ty = (image_t[..., 1] - K[..., 1, 2]) * tz / fy
    return torch.stack([tx, ty, tz], -1)
