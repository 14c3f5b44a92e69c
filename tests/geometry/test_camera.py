"""facelib.geometry.camera against scipy's Rotation, a hand-written pinhole and the
written conventions."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from facelib.geometry import camera

BATCHES = [(), (1,), (5, 6)]


def random_quaternions(shape, seed=0):
    q = torch.from_numpy(np.random.default_rng(seed).standard_normal((*shape, 4)))
    return q / q.norm(dim=-1, keepdim=True)


def sign_invariant_distance(a, b):
    return torch.minimum((a - b).norm(dim=-1), (a + b).norm(dim=-1))


# -----------------------------------------------------------------------------
# rotations
@pytest.mark.parametrize("batch", BATCHES)
def test_quaternion_to_matrix_matches_scipy(batch):
    q = random_quaternions(batch)
    R = camera.quaternion_to_matrix(q)
    assert R.shape == (*batch, 3, 3)
    flat = q.reshape(-1, 4).numpy()
    expected = Rotation.from_quat(
        flat[:, [1, 2, 3, 0]]
    ).as_matrix()  # scipy is scalar-last
    np.testing.assert_allclose(R.reshape(-1, 3, 3).numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("batch", BATCHES)
def test_matrix_to_quaternion_matches_scipy_and_round_trips(batch):
    R = torch.from_numpy(
        Rotation.random(max(1, math.prod(batch)), random_state=1).as_matrix()
    )
    R = R[: math.prod(batch)].reshape(*batch, 3, 3)
    q = camera.matrix_to_quaternion(R)
    assert q.shape == (*batch, 4)
    expected = Rotation.from_matrix(R.reshape(-1, 3, 3).numpy()).as_quat()[
        :, [3, 0, 1, 2]
    ]
    d = sign_invariant_distance(q.reshape(-1, 4), torch.from_numpy(expected))
    assert d.max() < 1e-6
    np.testing.assert_allclose(
        camera.quaternion_to_matrix(q).numpy(), R.numpy(), atol=1e-6
    )


def test_matrix_to_quaternion_near_180_degrees():
    # the trace is -1 here: the w-branch alone would divide by ~0
    for axis in np.eye(3):
        R = torch.from_numpy(Rotation.from_rotvec(np.pi * axis).as_matrix())
        q = camera.matrix_to_quaternion(R)
        np.testing.assert_allclose(
            camera.quaternion_to_matrix(q).numpy(), R.numpy(), atol=1e-9
        )


def test_convention_quaternion_component_order_is_w_x_y_z():
    # 90 degrees about +z: (w, x, y, z) = (cos 45, 0, 0, sin 45) maps +x to +y.
    q = torch.tensor(
        [math.cos(math.pi / 4), 0.0, 0.0, math.sin(math.pi / 4)], dtype=torch.float64
    )
    R = camera.quaternion_to_matrix(q)
    np.testing.assert_allclose(
        (R @ torch.tensor([1.0, 0, 0], dtype=torch.float64)).numpy(),
        [0, 1, 0],
        atol=1e-12,
    )


def test_non_unit_quaternions_are_normalised():
    q = random_quaternions((4,))
    np.testing.assert_allclose(
        camera.quaternion_to_matrix(3.7 * q).numpy(),
        camera.quaternion_to_matrix(q).numpy(),
        atol=1e-12,
    )
    np.testing.assert_allclose(
        camera.quaternion_to_matrix(-q).numpy(),
        camera.quaternion_to_matrix(q).numpy(),
        atol=1e-12,
    )


def test_bad_quaternions_are_refused():
    with pytest.raises(ValueError, match="zero quaternion"):
        camera.quaternion_to_matrix(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="non-finite"):
        camera.quaternion_to_matrix(torch.tensor([1.0, float("nan"), 0, 0]))
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\).*got \(3,\)"):
        camera.quaternion_to_matrix(torch.ones(3))
    with pytest.raises(TypeError, match="torch.Tensor"):
        camera.quaternion_to_matrix([1.0, 0.0, 0.0, 0.0])


# ----------------------------------------------------------------------------
# projection
def hand_pinhole(X, fx, fy, cx, cy, R, t):
    """u = fx * x / z + cx, v = fy * y / z + cy, written out point by point."""
    out = []
    for p in X:
        x, y, z = R @ p + t
        out.append([fx * x / z + cx, fy * y / z + cy])
    return np.array(out)


def test_project_matches_hand_written_pinhole():
    rng = np.random.default_rng(3)
    X = rng.uniform(-80, 80, size=(20, 3))
    R = Rotation.from_euler("xyz", [10, -25, 5], degrees=True).as_matrix()
    t = np.array([4.0, -7.0, 600.0])
    K = np.array([[800.0, 0, 111.5], [0, 790.0, 95.5], [0, 0, 1]])
    q = camera.matrix_to_quaternion(torch.from_numpy(R))
    uv = camera.project(
        torch.from_numpy(X), torch.from_numpy(K), q, torch.from_numpy(t)
    )
    np.testing.assert_allclose(
        uv.numpy(), hand_pinhole(X, 800.0, 790.0, 111.5, 95.5, R, t), atol=1e-8
    )


def test_project_known_points():
    # A point on the optical axis lands on the principal point; one at (z, 0, z) lands f
    # pixels right.
    K = camera.intrinsics_from_fov(
        90.0, 201, 101, dtype=torch.float64
    )  # f = 100.5 / tan(45°) = 100.5
    q = torch.tensor([1.0, 0, 0, 0], dtype=torch.float64)
    t = torch.zeros(3, dtype=torch.float64)
    X = torch.tensor(
        [[0.0, 0.0, 500.0], [500.0, 0.0, 500.0], [0.0, -250.0, 500.0]],
        dtype=torch.float64,
    )
    uv = camera.project(X, K, q, t)
    np.testing.assert_allclose(
        uv.numpy(), [[100.0, 50.0], [200.5, 50.0], [100.0, 50.0 - 50.25]], atol=1e-9
    )


@pytest.mark.parametrize("batch", BATCHES)
def test_project_batch_shapes_and_broadcasting(batch):
    P = 7
    X = torch.randn(*batch, P, 3, dtype=torch.float64) * 50
    q = random_quaternions(batch, seed=2) * 0.1 + torch.tensor(
        [1.0, 0, 0, 0], dtype=torch.float64
    )
    t = torch.tensor([0.0, 0.0, 600.0], dtype=torch.float64).expand(*batch, 3)
    K = camera.intrinsics_from_fov(40.0, 64, 64, dtype=torch.float64)
    uv = camera.project(X, K, q, t)
    assert uv.shape == (*batch, P, 2)
    # the same as projecting each batch element alone
    for idx in np.ndindex(*batch):
        np.testing.assert_allclose(
            uv[idx].numpy(),
            camera.project(X[idx], K, q[idx], t[idx]).numpy(),
            atol=1e-9,
        )


def test_project_views_broadcast_against_one_shape():
    X = torch.randn(3, 10, 3, dtype=torch.float64) * 50  # 3 shapes
    q = random_quaternions((3, 4), seed=5) * 0.1 + torch.tensor(
        [1.0, 0, 0, 0], dtype=torch.float64
    )  # 4 views each
    t = torch.tensor([0.0, 0.0, 600.0], dtype=torch.float64).expand(3, 4, 3)
    K = camera.intrinsics_from_fov(40.0, 64, 64, dtype=torch.float64)
    uv = camera.project(X[:, None], K, q, t)
    assert uv.shape == (3, 4, 10, 2)
    np.testing.assert_allclose(
        uv[1, 2].numpy(), camera.project(X[1], K, q[1, 2], t[1, 2]).numpy(), atol=1e-9
    )


def test_project_gradcheck_float64():
    X = (torch.randn(5, 3, dtype=torch.float64) * 30).requires_grad_()
    q = torch.tensor([0.9, 0.1, -0.2, 0.05], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([5.0, -3.0, 500.0], dtype=torch.float64, requires_grad=True)
    K = camera.intrinsics_from_fov(30.0, 64, 48, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(camera.project, (X, K, q, t))


def test_matrix_to_quaternion_gradcheck_float64():
    R = torch.from_numpy(
        Rotation.from_rotvec([0.3, -0.2, 0.5]).as_matrix()
    ).requires_grad_()
    assert torch.autograd.gradcheck(camera.matrix_to_quaternion, (R,))


def test_project_refuses_bad_shapes():
    K = camera.intrinsics_from_fov(40.0, 64, 64)
    q, t = torch.tensor([1.0, 0, 0, 0]), torch.tensor([0.0, 0, 500])
    with pytest.raises(ValueError, match=r"points \(\.\.\., P, 3\).*got \(4, 2\)"):
        camera.project(torch.zeros(4, 2), K, q, t)
    with pytest.raises(ValueError, match=r"intrinsics K.*got \(3, 4\)"):
        camera.project(torch.zeros(4, 3), torch.zeros(3, 4), q, t)
    with pytest.raises(ValueError, match="non-finite"):
        camera.project(torch.full((4, 3), float("inf")), K, q, t)


def test_intrinsics_from_fov():
    K = camera.intrinsics_from_fov(60.0, 640, 480, dtype=torch.float64)
    f = 320 / math.tan(math.radians(30))
    np.testing.assert_allclose(K.numpy(), [[f, 0, 319.5], [0, f, 239.5], [0, 0, 1]])
    with pytest.raises(ValueError, match="field of view"):
        camera.intrinsics_from_fov(0.0, 64, 64)
    with pytest.raises(ValueError, match="image size"):
        camera.intrinsics_from_fov(40.0, 0, 64)


# ------------------------------------------------------------------- convention pins
def frontal_camera():
    K = camera.intrinsics_from_fov(40.0, 128, 128, dtype=torch.float64)
    return (
        K,
        torch.tensor([1.0, 0, 0, 0], dtype=torch.float64),
        torch.tensor([0.0, 0.0, 500.0], dtype=torch.float64),
    )


# Points of a face in the model frame: +x the subject's left, +y down, the face looking
# towards -z.
NOSE_TIP = [0.0, 5.0, -100.0]
FOREHEAD = [0.0, -60.0, -80.0]
CHIN = [0.0, 70.0, -85.0]
LEFT_EYE = [32.0, -20.0, -75.0]  # the subject's left
RIGHT_EYE = [-32.0, -20.0, -75.0]


def test_convention_frontal_camera_sees_the_face_upright():
    K, q, t = frontal_camera()
    pts = torch.tensor(
        [NOSE_TIP, FOREHEAD, CHIN, LEFT_EYE, RIGHT_EYE], dtype=torch.float64
    )
    (nose, forehead, chin, left, right) = camera.project(pts, K, q, t).numpy()
    assert np.abs(nose - [63.5, 63.5]).max() < 3.0  # near the principal point
    assert forehead[1] < chin[1]  # the forehead above the chin (image y down)
    assert left[0] > right[0]  # the subject's left eye on the image's right
    # the camera is in front of the face, on the -z side
    assert camera.camera_center(q, t)[2] < -400


def test_convention_positive_yaw_shows_the_left_cheek():
    K, _, t = frontal_camera()
    q = camera.yaw_pitch_roll_to_quaternion(
        torch.tensor([60.0, 0.0, 0.0], dtype=torch.float64)
    )
    cheeks = torch.tensor(
        [[70.0, 10.0, -20.0], [-70.0, 10.0, -20.0]], dtype=torch.float64
    )  # left, right
    depth = camera.model_to_camera(cheeks, q, t)[:, 2]
    assert depth[0] < depth[1]  # the left cheek is nearer the camera
    # the camera has moved round to the subject's left (+x)
    assert camera.camera_center(q, t)[0] > 0


def test_convention_pitch_and_roll_signs():
    K, _, t = frontal_camera()
    down = camera.yaw_pitch_roll_to_quaternion(
        torch.tensor([0.0, 30.0, 0.0], dtype=torch.float64)
    )
    depth = camera.model_to_camera(
        torch.tensor([FOREHEAD, CHIN], dtype=torch.float64), down, t
    )[:, 2]
    assert depth[0] < depth[1]  # pitch > 0: the forehead comes towards the camera
    roll = camera.yaw_pitch_roll_to_quaternion(
        torch.tensor([0.0, 0.0, 20.0], dtype=torch.float64)
    )
    left_eye = camera.project(
        torch.tensor([LEFT_EYE], dtype=torch.float64), K, roll, t
    )[0]
    upright = camera.project(
        torch.tensor([LEFT_EYE], dtype=torch.float64), K, frontal_camera()[1], t
    )[0]
    assert (
        left_eye[1] > upright[1]
    )  # clockwise in the image: the right-hand eye moves down


@pytest.mark.parametrize("batch", BATCHES)
def test_yaw_pitch_roll_round_trip_and_scipy(batch):
    rng = np.random.default_rng(7)
    n = math.prod(batch)
    angles = np.stack(
        [rng.uniform(-170, 170, n), rng.uniform(-85, 85, n), rng.uniform(-170, 170, n)],
        -1,
    )
    a = torch.from_numpy(angles).reshape(*batch, 3)
    q = camera.yaw_pitch_roll_to_quaternion(a)
    assert q.shape == (*batch, 4)
    np.testing.assert_allclose(
        camera.quaternion_to_yaw_pitch_roll(q).numpy(), a.numpy(), atol=1e-6
    )
    # scipy: intrinsic rotations "ZXY" with angles (roll, pitch, yaw) = Rz(roll)
    # Rx(pitch) Ry(yaw)
    expected = Rotation.from_euler(
        "ZXY", angles[:, [2, 1, 0]], degrees=True
    ).as_matrix()
    np.testing.assert_allclose(
        camera.quaternion_to_matrix(q).reshape(-1, 3, 3).numpy(), expected, atol=1e-9
    )


# -----------------------------------------------------------------------------
# the translation as a crop shows it
def test_translation_to_image_by_hand():
    K = torch.tensor([[200.0, 0.0, 30.0], [0.0, 180.0, 20.0], [0.0, 0.0, 1.0]])
    t = torch.tensor([10.0, -5.0, 500.0])
    # u = 200 * 10 / 500 + 30, v = 180 * -5 / 500 + 20, log(200 / 500)
    want = torch.tensor([34.0, 18.2, math.log(0.4)])
    torch.testing.assert_close(camera.translation_to_image(t, K), want)
    torch.testing.assert_close(camera.translation_from_image(want, K), t)
    with pytest.raises(ValueError, match="t_z > 0"):
        camera.translation_to_image(torch.tensor([0.0, 0.0, -1.0]), K)


@pytest.mark.parametrize("batch", BATCHES)
def test_translation_round_trip_puts_the_origin_where_project_does(batch):
    rng = np.random.default_rng(3)
    t = torch.from_numpy(rng.normal([0, 0, 600], [30, 30, 80], (*batch, 3)))
    K = camera.intrinsics_from_fov(30.0, 64, 64, dtype=torch.float64)
    K = K.expand(*batch, 3, 3).clone()
    K[..., 0, 2] += torch.from_numpy(rng.normal(0, 5, batch))
    image_t = camera.translation_to_image(t, K)
    q = random_quaternions(batch, seed=4)
    origin = camera.project(torch.zeros(*batch, 1, 3, dtype=t.dtype), K, q, t)
    torch.testing.assert_close(image_t[..., :2], origin[..., 0, :])
    torch.testing.assert_close(camera.translation_from_image(image_t, K), t)
