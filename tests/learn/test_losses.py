"""facelib.learn.losses: Eq. 2 of the paper, the shape loss, which network trains on
which, and the loss ablation's losses (the multi-term loss against a hand-written one,
the quaternion error against scipy's rotation angle, the virtual views against a slow
loop over cameras built with scipy)."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from facelib.geometry.camera import intrinsics_from_fov, yaw_pitch_roll_to_quaternion
from facelib.learn.batches import seeded_generator
from facelib.learn.losses import (
    VIRTUAL_PITCH_DEG,
    VIRTUAL_YAW_DEG,
    Objective,
    decoupled_reprojection_loss,
    multi_term_loss,
    network_loss,
    quaternion_error,
    reprojection_loss,
    shape_loss,
    virtual_cameras,
    virtual_view_loss,
)
from facelib.learn.nets import Prediction


def scene(B=2, V=3, P=15, seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = torch.randn(B, P, 3, generator=g, dtype=torch.float64) * 40
    angles = torch.stack(
        [
            torch.linspace(-60, 60, V, dtype=torch.float64).expand(B, V),
            torch.zeros(B, V, dtype=torch.float64),
            torch.zeros(B, V, dtype=torch.float64),
        ],
        -1,
    )
    q = yaw_pitch_roll_to_quaternion(angles)
    t = torch.tensor([0.0, 0.0, 600.0], dtype=torch.float64).expand(B, V, 3).clone()
    K = (
        intrinsics_from_fov(40.0, 64, 64, dtype=torch.float64)
        .expand(B, V, 3, 3)
        .clone()
    )
    return shape, q, t, K


def test_zero_at_the_truth():
    shape, q, t, K = scene()
    loss = reprojection_loss(
        shape_pred=shape, q_pred=q, t_pred=t, shape_true=shape, q_true=q, t_true=t, K=K
    )
    assert loss.item() == 0.0
    # q and -q are the same camera
    loss = reprojection_loss(
        shape_pred=shape, q_pred=-q, t_pred=t, shape_true=shape, q_true=q, t_true=t, K=K
    )
    assert loss.item() < 1e-18


def test_hand_computed_two_point_example():
    # Frontal camera, f = 100 px, principal point (0, 0), two points at depth 500 mm.
    K = torch.tensor([[[100.0, 0, 0], [0, 100.0, 0], [0, 0, 1]]], dtype=torch.float64)[
        None
    ]  # (B=1, V=1, 3, 3)
    q = torch.tensor([[[1.0, 0, 0, 0]]], dtype=torch.float64)
    t = torch.tensor([[[0.0, 0, 500]]], dtype=torch.float64)
    truth = torch.tensor(
        [[[0.0, 0, 0], [50.0, 0, 0]]], dtype=torch.float64
    )  # pixels (0,0) and (10,0)
    pred = torch.tensor(
        [[[5.0, 0, 0], [50.0, 25.0, 0]]], dtype=torch.float64
    )  # pixels (1,0) and (10,5)
    t_pred = torch.tensor([[[0.0, 0, 500]]], dtype=torch.float64)
    # errors: 1 px and 5 px -> (1 + 25) / 2 points = 13 px^2
    loss = reprojection_loss(
        shape_pred=pred,
        q_pred=q,
        t_pred=t_pred,
        shape_true=truth,
        q_true=q,
        t_true=t,
        K=K,
    )
    assert loss.item() == pytest.approx(13.0)
    # the same scene seen twice: the loss sums over views
    two = dict(
        q_pred=q.expand(1, 2, 4),
        t_pred=t_pred.expand(1, 2, 3),
        q_true=q.expand(1, 2, 4),
        t_true=t.expand(1, 2, 3),
        K=K.expand(1, 2, 3, 3),
    )
    assert reprojection_loss(
        shape_pred=pred, shape_true=truth, **two
    ).item() == pytest.approx(26.0)
    # moving the predicted camera back to 1000 mm halves the pixel coordinates: (0.5,
    # 0), (5, 2.5)
    far = torch.tensor([[[0.0, 0, 1000]]], dtype=torch.float64)
    loss = reprojection_loss(
        shape_pred=pred, q_pred=q, t_pred=far, shape_true=truth, q_true=q, t_true=t, K=K
    )
    assert loss.item() == pytest.approx((0.25 + 25 + 6.25) / 2)


def test_reductions_and_batch_independence():
    shape, q, t, K = scene(B=4)
    pred = shape + 2.0
    per = reprojection_loss(
        shape_pred=pred,
        q_pred=q,
        t_pred=t,
        shape_true=shape,
        q_true=q,
        t_true=t,
        K=K,
        reduction="none",
    )
    assert per.shape == (4,)
    for b in range(4):
        one = reprojection_loss(
            shape_pred=pred[b : b + 1],
            q_pred=q[b : b + 1],
            t_pred=t[b : b + 1],
            shape_true=shape[b : b + 1],
            q_true=q[b : b + 1],
            t_true=t[b : b + 1],
            K=K[b : b + 1],
        )
        assert one.item() == pytest.approx(per[b].item())
    mean = reprojection_loss(
        shape_pred=pred, q_pred=q, t_pred=t, shape_true=shape, q_true=q, t_true=t, K=K
    )
    assert mean.item() == pytest.approx(per.mean().item())


def test_finite_gradients_for_shape_and_pose():
    shape, q, t, K = scene()
    pred = (shape + torch.randn_like(shape)).requires_grad_()
    q_pred = (q + 0.05).requires_grad_()
    t_pred = (t + torch.tensor([3.0, -2.0, 20.0], dtype=torch.float64)).requires_grad_()
    loss = reprojection_loss(
        shape_pred=pred,
        q_pred=q_pred,
        t_pred=t_pred,
        shape_true=shape,
        q_true=q,
        t_true=t,
        K=K,
    )
    loss.backward()
    for g in (pred.grad, q_pred.grad, t_pred.grad):
        assert torch.isfinite(g).all() and g.abs().sum() > 0
    f = lambda s, qq, tt: reprojection_loss(
        shape_pred=s,
        q_pred=qq,
        t_pred=tt,
        shape_true=shape[:1],
        q_true=q[:1],
        t_true=t[:1],
        K=K[:1],
    )
    inputs = (
        pred[:1].detach().requires_grad_(),
        q_pred[:1].detach().requires_grad_(),
        t_pred[:1].detach().requires_grad_(),
    )
    assert torch.autograd.gradcheck(f, inputs)


def test_bad_shapes():
    shape, q, t, K = scene()
    with pytest.raises(ValueError, match="equal shape"):
        reprojection_loss(
            shape_pred=shape[:, :-1],
            q_pred=q,
            t_pred=t,
            shape_true=shape,
            q_true=q,
            t_true=t,
            K=K,
        )
    with pytest.raises(ValueError, match=r"q_pred"):
        reprojection_loss(
            shape_pred=shape,
            q_pred=q[..., :3],
            t_pred=t,
            shape_true=shape,
            q_true=q,
            t_true=t,
            K=K,
        )
    with pytest.raises(ValueError, match="same number of views"):
        reprojection_loss(
            shape_pred=shape,
            q_pred=q[:, :2],
            t_pred=t,
            shape_true=shape,
            q_true=q,
            t_true=t,
            K=K,
        )


def test_shape_loss_by_hand():
    truth = torch.zeros(2, 4, 3, dtype=torch.float64)
    pred = truth.clone()
    pred[0, :, :2] = torch.tensor([3.0, 4.0], dtype=torch.float64)  # 5 mm: 25 mm²
    pred[1, 0, 2] = 2.0  # one vertex of four 2 mm off: 1 mm²
    assert shape_loss(pred, truth).item() == pytest.approx((25.0 + 1.0) / 2)


def test_network_loss_picks_the_loss_of_each_network():
    shape, q, t, K = scene()
    pred_shape = shape + 1.5
    pred = Prediction(alpha=torch.zeros(2, 1), q=q, t=t + 3.0)
    cams = dict(K=K, q=q, t=t, shapes=shape)
    reprojection = reprojection_loss(
        shape_pred=pred_shape,
        q_pred=q,
        t_pred=t + 3.0,
        shape_true=shape,
        q_true=q,
        t_true=t,
        K=K,
    )
    for network in ("sv", "mv"):
        assert torch.equal(
            network_loss(network, pred, pred_shape, **cams), reprojection
        )
    assert network_loss("mv_shape", pred, pred_shape, **cams).item() == pytest.approx(
        3 * 1.5**2
    )
    with pytest.raises(ValueError, match="network must be one of"):
        network_loss("kind", pred, pred_shape, **cams)


def test_a_guessed_camera_behind_the_face_costs_pixels_not_the_run():
    """A predicted translation that puts points behind the camera (early in training)
    gives a finite loss; the true cameras are still checked (project's own test)."""
    K = intrinsics_from_fov(30.0, 64, 64)[None, None]
    q = torch.tensor([[[1.0, 0.0, 0.0, 0.0]]])
    shape = torch.tensor([[[0.0, 0.0, -50.0], [10.0, 5.0, 40.0]]])
    loss = reprojection_loss(
        shape_pred=shape,
        q_pred=q,
        t_pred=torch.tensor([[[0.0, 0.0, 20.0]]]),  # the second point behind
        shape_true=shape,
        q_true=q,
        t_true=torch.tensor([[[0.0, 0.0, 600.0]]]),
        K=K,
    )
    assert torch.isfinite(loss) and loss > 0
    with pytest.raises(ValueError, match="behind"):
        reprojection_loss(
            shape_pred=shape,
            q_pred=q,
            t_pred=torch.tensor([[[0.0, 0.0, 600.0]]]),
            shape_true=shape,
            q_true=q,
            t_true=torch.tensor([[[0.0, 0.0, 20.0]]]),
            K=K,
        )


def random_quaternions(n, seed):
    xyzw = Rotation.random(n, random_state=seed).as_quat()  # scalar last
    return torch.from_numpy(np.roll(xyzw, 1, axis=-1))  # real part first


def test_quaternion_error_is_the_rotation_angle_for_small_angles_and_sign_free():
    a, b = random_quaternions(50, 0), random_quaternions(50, 1)
    err = quaternion_error(a, b).numpy()
    # 2 - 2 |<a, b>| = 2 - 2 cos(θ / 2), θ the angle of b⁻¹a
    angle = (
        Rotation.from_quat(np.roll(b.numpy(), -1, -1)).inv()
        * Rotation.from_quat(np.roll(a.numpy(), -1, -1))
    ).magnitude()
    np.testing.assert_allclose(err, 2 - 2 * np.cos(angle / 2), atol=1e-12)
    np.testing.assert_allclose(quaternion_error(-a, b).numpy(), err, atol=1e-12)
    theta = 0.01  # radians
    small = torch.tensor(
        [[math.cos(theta / 2), math.sin(theta / 2), 0.0, 0.0]]
    ).double()
    ident = torch.tensor([[1.0, 0.0, 0.0, 0.0]]).double()
    assert quaternion_error(small, ident).item() == pytest.approx(theta**2 / 4, 1e-4)


def test_multi_term_loss_matches_a_hand_written_sum():
    g = torch.Generator().manual_seed(0)
    a_pred, a_true = torch.randn(3, 7, generator=g), torch.randn(3, 7, generator=g)
    q_pred = random_quaternions(6, 2).float().reshape(3, 2, 4)
    q_true = random_quaternions(6, 3).float().reshape(3, 2, 4)
    t_pred, t_true = torch.randn(3, 2, 3, generator=g) * 20, torch.zeros(3, 2, 3)
    beta, gamma = 10.0, 1e-3
    loss = multi_term_loss(
        alpha_pred=a_pred,
        alpha_true=a_true,
        q_pred=q_pred,
        q_true=q_true,
        t_pred=t_pred,
        t_true=t_true,
        beta=beta,
        gamma=gamma,
    ).item()
    expected = 0.0
    for b in range(3):
        expected += sum((a_pred[b] - a_true[b]).tolist()[k] ** 2 for k in range(7)) / 7
        for v in range(2):
            dot = abs(float(q_pred[b, v] @ q_true[b, v]))
            expected += beta * (2 - 2 * dot) / 2
            expected += gamma * float((t_pred[b, v] ** 2).sum()) / 6
    assert loss == pytest.approx(expected / 3, rel=1e-5)
    with pytest.raises(ValueError, match="coefficients of one shape"):
        multi_term_loss(
            alpha_pred=a_pred[:, :3],
            alpha_true=a_true,
            q_pred=q_pred,
            q_true=q_true,
            t_pred=t_pred,
            t_true=t_true,
            beta=1.0,
            gamma=1.0,
        )


def small_scene(B=2, V=2, P=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = torch.randn(B, P, 3, generator=g, dtype=torch.float64) * 40
    angles = torch.zeros(B, V, 3, dtype=torch.float64)
    angles[..., 0] = torch.linspace(-30, 30, V, dtype=torch.float64)
    q = yaw_pitch_roll_to_quaternion(angles)
    t = torch.tensor([3.0, -2.0, 600.0], dtype=torch.float64).expand(B, V, 3).clone()
    K = intrinsics_from_fov(30.0, 64, 64, dtype=torch.float64).expand(B, V, 3, 3)
    return shape, q, t, K.clone()


def test_virtual_cameras_look_at_the_origin_from_the_true_distance():
    _, _, t, _ = small_scene(B=3)
    q_v, t_v = virtual_cameras(t, 200, seeded_generator(0, 1))
    assert q_v.shape == (3, 200, 4) and t_v.shape == (3, 200, 3)
    np.testing.assert_allclose(t_v[..., :2].numpy(), 0.0)
    np.testing.assert_allclose(t_v[..., 2].numpy(), float(t[0, 0].norm()), rtol=1e-12)
    # scipy's intrinsic-order reading of R = Rz(roll) Rx(pitch) Ry(yaw)
    R = Rotation.from_quat(np.roll(q_v.reshape(-1, 4).numpy(), -1, -1))
    roll, pitch, yaw = R.as_euler("ZXY", degrees=True).T
    assert np.abs(yaw).max() <= VIRTUAL_YAW_DEG + 1e-9
    assert np.abs(pitch).max() <= VIRTUAL_PITCH_DEG + 1e-9
    assert np.abs(yaw).max() > 0.8 * VIRTUAL_YAW_DEG  # spread over the range
    np.testing.assert_allclose(roll, 0.0, atol=1e-9)
    again, _ = virtual_cameras(t, 200, seeded_generator(0, 1))
    assert torch.equal(again, q_v)  # the generator decides


def test_virtual_view_loss_is_a_slow_loop_over_virtual_cameras():
    shape, q, t, K = small_scene()
    pred = shape + torch.randn(shape.shape, generator=torch.Generator().manual_seed(5))
    loss = virtual_view_loss(
        shape_pred=pred, shape_true=shape, K=K, t_true=t, generator=seeded_generator(3)
    ).item()
    q_v, t_v = virtual_cameras(t, 2, seeded_generator(3))  # 1 per view, V = 2
    expected = 0.0
    for b in range(2):
        for c in range(2):
            R = Rotation.from_quat(np.roll(q_v[b, c].numpy(), -1)).as_matrix()
            errs = []
            for p in range(shape.shape[1]):
                uv = []
                for s in (pred, shape):
                    x = K[b, 0].numpy() @ (R @ s[b, p].numpy() + t_v[b, c].numpy())
                    uv.append(x[:2] / x[2])
                errs.append(((uv[0] - uv[1]) ** 2).sum())
            expected += np.mean(errs) / 2  # mean over the two cameras
    assert loss == pytest.approx(2 * expected / 2, rel=1e-9)  # V x mean, batch mean
    same = virtual_view_loss(
        shape_pred=shape, shape_true=shape, K=K, t_true=t, generator=seeded_generator(3)
    )
    assert same.item() == 0.0


def slow_pixel_loss(shape_a, q_a, t_a, shape_b, q_b, t_b, K):
    """Eq. 2 by loops with scipy's rotations: per scene the sum over views of the mean
    over points of the squared pixel distance, then the mean over scenes."""
    B, V = q_a.shape[:2]
    total = 0.0
    for b in range(B):
        for v in range(V):
            errs = []
            for p in range(shape_a.shape[1]):
                uv = []
                for s, q, t in ((shape_a, q_a, t_a), (shape_b, q_b, t_b)):
                    R = Rotation.from_quat(np.roll(q[b, v].numpy(), -1)).as_matrix()
                    x = K[b, v].numpy() @ (R @ s[b, p].numpy() + t[b, v].numpy())
                    uv.append(x[:2] / x[2])
                errs.append(((uv[0] - uv[1]) ** 2).sum())
            total += np.mean(errs)
    return total / B


NAMES = ("shape_pred", "q_pred", "t_pred", "shape_true", "q_true", "t_true", "K")


def positional(loss):
    """``loss`` (keywords only) called with its seven tensors by position."""
    return lambda *tensors: loss(**dict(zip(NAMES, tensors, strict=True)))


eq2_positional = positional(reprojection_loss)
decoupled = positional(decoupled_reprojection_loss)


def test_decoupled_loss_is_two_slow_reprojections_and_keeps_shape_from_camera():
    shape, q, t, K = small_scene()
    g = torch.Generator().manual_seed(7)
    shape_pred = shape + 3 * torch.randn(shape.shape, generator=g, dtype=torch.float64)
    q_pred = yaw_pitch_roll_to_quaternion(
        torch.tensor([4.0, -3.0, 2.0], dtype=torch.float64)
    ).expand_as(q)
    q_pred = torch.nn.functional.normalize(q + 0.05 * q_pred, dim=-1)
    t_pred = t + torch.tensor([5.0, -4.0, 20.0], dtype=torch.float64)
    loss = decoupled(shape_pred, q_pred, t_pred, shape, q, t, K)
    expected = slow_pixel_loss(shape_pred, q, t, shape, q, t, K) + slow_pixel_loss(
        shape, q_pred, t_pred, shape, q, t, K
    )
    assert loss.item() == pytest.approx(expected, rel=1e-9)
    # the true camera predicted: Eq. 2 itself; the true shape predicted: likewise
    for args in ((shape_pred, q, t), (shape, q_pred, t_pred)):
        eq2 = eq2_positional(*args, shape, q, t, K)
        split = decoupled(*args, shape, q, t, K)
        assert split.item() == pytest.approx(eq2.item(), rel=1e-12)

    # the shape's gradient does not depend on the predicted camera, nor the camera's
    # on the predicted shape; Eq. 2 mixes them
    def gradients(loss_fn, s, cam_t):
        s = s.clone().requires_grad_(True)
        cam_t = cam_t.clone().requires_grad_(True)
        loss_fn(s, q_pred, cam_t, shape, q, t, K).backward()
        return s.grad, cam_t.grad

    base = gradients(decoupled, shape_pred, t_pred)
    moved_camera = gradients(decoupled, shape_pred, t_pred + 30.0)
    moved_shape = gradients(decoupled, shape_pred + 2.0, t_pred)
    torch.testing.assert_close(moved_camera[0], base[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(moved_shape[1], base[1], rtol=1e-12, atol=1e-12)
    eq2_base = gradients(eq2_positional, shape_pred, t_pred)
    eq2_moved = gradients(eq2_positional, shape_pred, t_pred + 30.0)
    assert not torch.allclose(eq2_moved[0], eq2_base[0], rtol=1e-3)


class OffByOne:
    """A stand-in 3DMM whose coefficients of any shapes (B, P, 3) are all 1 (B, 5)."""

    def coefficients(self, shapes):
        return torch.ones(shapes.shape[0], 5, dtype=shapes.dtype)


def test_network_loss_picks_the_objective():
    shape, q, t, K = small_scene()
    alpha = torch.zeros(2, 5, dtype=torch.float64)
    pred = Prediction(alpha=alpha, q=q, t=t + 1.0)
    kw = dict(K=K, q=q, t=t, shapes=shape)
    eq2 = reprojection_loss(
        shape_pred=shape,
        q_pred=q,
        t_pred=t + 1.0,
        shape_true=shape,
        q_true=q,
        t_true=t,
        K=K,
    )
    assert network_loss("sv", pred, shape, **kw).item() == eq2.item()
    # the shapes agree, so the virtual views add nothing
    virtual = network_loss(
        "sv",
        pred,
        shape,
        **kw,
        objective=Objective("virtual_views"),
        generator=seeded_generator(0),
    )
    assert virtual.item() == pytest.approx(eq2.item(), rel=1e-12)
    # the shapes agree, so the decoupled loss is Eq. 2's camera term alone
    split = network_loss("sv", pred, shape, **kw, objective=Objective("decoupled"))
    assert split.item() == pytest.approx(eq2.item(), rel=1e-12)
    assert Objective("decoupled").label == "Eq. 2, decoupled"
    multi = network_loss(
        "mv",
        pred,
        shape,
        **kw,
        objective=Objective("multi_term", 2.0, 0.5),
        morphable_model=OffByOne(),
    )
    assert multi.item() == pytest.approx(1.0 + 0.5 * 1.0, rel=1e-9)
    with pytest.raises(ValueError, match="needs the 3DMM"):
        network_loss("sv", pred, shape, **kw, objective=Objective("multi_term"))
    with pytest.raises(ValueError, match="generator"):
        network_loss("sv", pred, shape, **kw, objective=Objective("virtual_views"))
    with pytest.raises(ValueError, match="no cameras"):
        network_loss("mv_shape", pred, shape, **kw, objective=Objective("multi_term"))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(kind="l1"), "one of"),
        (dict(kind="multi_term", beta=0.0), "beta must be"),
        (dict(kind="multi_term", gamma=math.inf), "gamma must be"),
        (dict(kind="multi_term", beta=True), "beta must be"),
    ],
)
def test_objectives_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Objective(**kwargs)
