"""facelib.learn.losses: Eq. 2 of the paper, the shape loss, and which network trains on
which."""

import pytest
import torch

from facelib.geometry.camera import intrinsics_from_fov, yaw_pitch_roll_to_quaternion
from facelib.learn.losses import network_loss, reprojection_loss, shape_loss
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
