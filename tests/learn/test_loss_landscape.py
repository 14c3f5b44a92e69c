"""facelib.learn.loss_landscape: Eq. 2 around the truth, against hand-made references.

The references are independent of the module: closed-form pinhole projections of a
one-point model, an autograd second derivative, the mirror symmetry of a symmetric
scene, and the additivity of Eq. 2 over views.
"""

import math

import numpy as np
import pytest
import torch

from facelib.geometry.camera import intrinsics_from_fov
from facelib.geometry.morphable_model import MorphableModel
from facelib.learn.loss_landscape import (
    SWEEP_LABELS,
    TrueScene,
    exchange_rate,
    loss_sweeps,
    per_mode_cost,
    perturbed_loss,
    quadratic_cost,
)

F, C, D = 500.0, 50.0, 600.0  # focal length (px), principal point (px), distance (mm)
K_HAND = np.array([[F, 0.0, C], [0.0, F, C], [0.0, 0.0, 1.0]])


def one_point_model(x0=40.0, y0=0.0, sigma=2.0):
    """One point at (x0, y0, 0) mm; one mode moving it along +x by sigma mm per σ."""
    return MorphableModel(
        mean=np.array([[x0, y0, 0.0]]),
        components=np.array([[[1.0, 0.0, 0.0]]]),
        std=np.array([sigma]),
        faces=np.array([[0, 0, 0]]),
        landmarks=np.zeros(0, dtype=np.int64),
        mirror=np.array([0]),
    )


def symmetric_model(m=25, n_modes=4, seed=0):
    """A mirror-symmetric mean face (each point has a twin at -x) with random modes."""
    g = np.random.default_rng(seed)
    half = g.uniform([5.0, -80.0, -30.0], [70.0, 80.0, 30.0], size=(m, 3))
    mean = np.concatenate([half, half * [-1.0, 1.0, 1.0]])
    basis, _ = np.linalg.qr(g.standard_normal((2 * m * 3, n_modes)))
    return MorphableModel(
        mean=mean,
        components=basis.T.reshape(n_modes, 2 * m, 3),
        std=np.linspace(6.0, 1.0, n_modes),
        faces=np.array([[0, 1, 2]]),
        landmarks=np.zeros(0, dtype=np.int64),
        mirror=np.r_[np.arange(m, 2 * m), np.arange(m)],
    )


def frontal_scene(model):
    return TrueScene.from_views(model, np.zeros(model.n_modes), K_HAND, [0.0], D)


def three_view_scene(model=None, alpha=None):
    model = symmetric_model() if model is None else model
    alpha = np.zeros(model.n_modes) if alpha is None else alpha
    K = intrinsics_from_fov(30.0, 160, 160)  # float32 on purpose
    return TrueScene.from_views(model, alpha, K, [-45.0, 0.0, 45.0], D)


# ------------------------------------------------------------------ hand-computed loss
def test_alpha_offset_of_one_point_by_hand():
    # the point moves by a * sigma mm along x at depth D: (F a sigma / D) px along u
    scene = frontal_scene(one_point_model(x0=0.0, sigma=2.0))
    a = torch.tensor([[-1.5], [0.5], [3.0]])
    loss = perturbed_loss(scene, d_alpha=a)
    expected = (F * a[:, 0].double() * 2.0 / D) ** 2
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=0.0)


def test_distance_offset_of_one_point_by_hand():
    x0, y0 = 40.0, -25.0
    scene = frontal_scene(one_point_model(x0=x0, y0=y0))
    dd = torch.tensor([-100.0, 30.0, 150.0], dtype=torch.float64)
    loss = perturbed_loss(scene, d_distance=dd)
    # u - C = F x0 / depth, v - C = F y0 / depth
    expected = F**2 * (x0**2 + y0**2) * (1.0 / D - 1.0 / (D + dd)) ** 2
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=0.0)


def test_yaw_offset_of_one_point_by_hand():
    # X_cam = R_y(psi) X + (0, 0, D): (x0 cos psi, 0, D - x0 sin psi)
    x0 = 40.0
    scene = frontal_scene(one_point_model(x0=x0))
    psi_deg = torch.tensor([-20.0, 5.0, 30.0], dtype=torch.float64)
    loss = perturbed_loss(scene, d_yaw=psi_deg)
    psi = torch.deg2rad(psi_deg)
    u_pred = F * x0 * torch.cos(psi) / (D - x0 * torch.sin(psi))
    expected = (u_pred - F * x0 / D) ** 2
    torch.testing.assert_close(loss, expected, rtol=1e-10, atol=0.0)


# ------------------------------------------------------------------------- the truth
def test_zero_at_the_truth():
    scene = three_view_scene(alpha=np.random.default_rng(1).standard_normal(4))
    assert perturbed_loss(scene).tolist() == [0.0]
    zeros = torch.zeros(5)
    loss = perturbed_loss(
        scene, d_yaw=zeros, d_distance=zeros, d_alpha=torch.zeros(5, 4), views=[2]
    )
    assert loss.tolist() == [0.0] * 5
    for sweeps in (loss_sweeps(scene, 11), loss_sweeps(scene, 11, views=[1])):
        for sweep in sweeps.values():
            # the middle of the sweep is the truth, up to linspace's rounding
            assert abs(sweep.x[5].item()) < 1e-12 and sweep.loss[5].item() < 1e-20
            assert (sweep.loss[:5] > 0).all() and (sweep.loss[6:] > 0).all()


def test_true_scene_holds_the_orbit_cameras_in_float64():
    scene = three_view_scene()
    assert torch.get_default_dtype() == torch.float32  # no reliance on a global
    for x in (scene.alpha, scene.shape, scene.K, scene.view_yaws, scene.q, scene.t):
        assert x.dtype == torch.float64
    assert scene.n_views == 3 and scene.shape.shape == (50, 3)
    torch.testing.assert_close(
        scene.t, torch.tensor([[0.0, 0.0, D]] * 3, dtype=torch.float64)
    )
    # yaw 0 is the identity rotation; the side views turn by 22.5 degrees (half-angle)
    half = math.radians(22.5)
    expected_q = [[math.cos(half), 0, -math.sin(half), 0], [1.0, 0, 0, 0]]
    expected_q.append([math.cos(half), 0, math.sin(half), 0])
    torch.testing.assert_close(scene.q, torch.tensor(expected_q, dtype=torch.float64))
    assert perturbed_loss(scene, d_yaw=[1.0]).dtype == torch.float64
    assert per_mode_cost(scene).dtype == torch.float64


# -------------------------------------------------------------------------- structure
def test_loss_adds_over_views():
    scene = three_view_scene(alpha=np.random.default_rng(2).standard_normal(4))
    errors = dict(
        d_yaw=[3.0, -7.0], d_distance=[-20.0, 45.0], d_alpha=torch.randn(2, 4).double()
    )
    total = perturbed_loss(scene, **errors)
    parts = sum(perturbed_loss(scene, views=[v], **errors) for v in range(3))
    torch.testing.assert_close(total, parts, rtol=1e-12, atol=0.0)
    torch.testing.assert_close(
        perturbed_loss(scene, views=[0, 2], **errors),
        perturbed_loss(scene, views=[0], **errors)
        + perturbed_loss(scene, views=[2], **errors),
        rtol=1e-12,
        atol=0.0,
    )


@pytest.mark.parametrize("views", [None, [1]])
def test_yaw_sweep_is_symmetric_for_a_symmetric_scene(views):
    # mirror x -> -x turns the views (-45 + d, d, 45 + d) into (-45 - d, -d, 45 - d)
    scene = three_view_scene()  # alpha = 0: the mirror-symmetric mean shape
    sweeps = loss_sweeps(scene, 21, views=views)
    yaw = sweeps["yaw"]
    torch.testing.assert_close(yaw.x, -yaw.x.flip(0), rtol=0.0, atol=0.0)
    torch.testing.assert_close(yaw.loss, yaw.loss.flip(0), rtol=1e-9, atol=1e-12)
    # the distance sweep is not: moving away shrinks the image less than moving closer
    dist = sweeps["distance"]
    assert (dist.loss[:10] > dist.loss.flip(0)[:10]).all()


def test_sweeps_hold_the_three_axes():
    sweeps = loss_sweeps(three_view_scene(), 7, yaw_range=6.0, distance_range=30.0)
    assert list(sweeps) == ["yaw", "distance", "alpha1"] == list(SWEEP_LABELS)
    assert [s.label for s in sweeps.values()] == list(SWEEP_LABELS.values())
    assert sweeps["yaw"].x.tolist() == [-6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0]
    assert sweeps["distance"].x[-1].item() == 30.0
    assert sweeps["alpha1"].x[0].item() == -3.0
    for s in sweeps.values():
        assert s.x.shape == s.loss.shape == (7,) and s.loss.dtype == torch.float64
    # the alpha1 sweep moves the first mode only
    model = symmetric_model()
    scene = three_view_scene(model)
    e1 = torch.zeros(4, dtype=torch.float64)
    e1[0] = 1.0
    torch.testing.assert_close(
        loss_sweeps(scene, 7)["alpha1"].loss,
        perturbed_loss(scene, d_alpha=torch.linspace(-3, 3, 7)[:, None] * e1),
        rtol=0.0,
        atol=0.0,
    )


# ------------------------------------------------------------------ quadratic costs
def test_quadratic_cost_exact_for_one_point():
    sigma, x0 = 2.0, 40.0
    scene = frontal_scene(one_point_model(x0=x0, sigma=sigma))
    sweeps = loss_sweeps(scene, 21)
    # alpha: the loss is exactly quadratic, (F sigma / D)² per σ²
    assert quadratic_cost(sweeps["alpha1"]) == pytest.approx(
        (F * sigma / D) ** 2, rel=1e-12
    )
    # distance: loss(h) / h² = F² x0² / (D² (D + h)²) at the first step h = 15 mm
    h = 15.0
    assert sweeps["distance"].x[11].item() == pytest.approx(h, rel=1e-12)
    assert quadratic_cost(sweeps["distance"]) == pytest.approx(
        F**2 * x0**2 / (D**2 * (D + h) ** 2), rel=1e-10
    )


def test_quadratic_cost_matches_the_second_derivative():
    # L(x) ≈ c x² near the truth, with c = L''(0) / 2 (autograd, float64)
    scene = three_view_scene(alpha=np.random.default_rng(3).standard_normal(4))
    sweeps = loss_sweeps(
        scene, 2001, yaw_range=1.0, distance_range=5.0, alpha_range=0.1
    )
    e1 = torch.zeros(4, dtype=torch.float64)
    e1[0] = 1.0
    along = {
        "yaw": lambda x: perturbed_loss(scene, d_yaw=x),
        "distance": lambda x: perturbed_loss(scene, d_distance=x),
        "alpha1": lambda x: perturbed_loss(scene, d_alpha=x[:, None] * e1),
    }
    for name, f in along.items():
        x0 = torch.zeros(1, dtype=torch.float64)
        hess = torch.autograd.functional.hessian(lambda x: f(x).sum(), x0)
        assert quadratic_cost(sweeps[name]) == pytest.approx(
            hess.item() / 2, rel=2e-3
        ), name


def test_exchange_rate_prices_one_sigma():
    scene = three_view_scene(alpha=np.random.default_rng(4).standard_normal(4))
    sweeps = loss_sweeps(scene, 61)
    rate = exchange_rate(sweeps)
    assert rate.alpha_cost == quadratic_cost(sweeps["alpha1"])
    assert rate.yaw_per_sigma == math.sqrt(rate.alpha_cost / rate.yaw_cost)
    assert rate.distance_per_sigma == math.sqrt(rate.alpha_cost / rate.distance_cost)
    # the yaw (distance) error it names costs about what 1σ of α₁ costs
    e1 = torch.zeros(1, 4, dtype=torch.float64)
    e1[0, 0] = 1.0
    one_sigma = perturbed_loss(scene, d_alpha=e1).item()
    assert perturbed_loss(scene, d_yaw=[rate.yaw_per_sigma]).item() == pytest.approx(
        one_sigma, rel=0.05
    )
    dist = perturbed_loss(scene, d_distance=[rate.distance_per_sigma]).item()
    assert dist == pytest.approx(one_sigma, rel=0.05)


def test_per_mode_cost_is_the_loss_per_view_of_each_mode_at_one_sigma():
    # one point, mode along x: (F sigma / D)² in the frontal view
    sigma = 2.0
    cost = per_mode_cost(frontal_scene(one_point_model(x0=0.0, sigma=sigma)))
    torch.testing.assert_close(
        cost,
        torch.tensor([(F * sigma / D) ** 2], dtype=torch.float64),
        rtol=1e-12,
        atol=0.0,
    )
    scene = three_view_scene(alpha=np.random.default_rng(5).standard_normal(4))
    for views, V in ((None, 3), ([1], 1), ([0, 2], 2)):
        cost = per_mode_cost(scene, views=views)
        assert cost.shape == (4,)
        for k in range(4):
            d_alpha = torch.zeros(1, 4, dtype=torch.float64)
            d_alpha[0, k] = 1.0
            loss = perturbed_loss(scene, d_alpha=d_alpha, views=views).item()
            assert cost[k].item() == pytest.approx(loss / V, rel=1e-12)


# ------------------------------------------------------------------------ bad inputs
def test_bad_inputs_raise():
    scene = three_view_scene()
    with pytest.raises(ValueError, match="odd"):
        loss_sweeps(scene, 20)
    with pytest.raises(ValueError, match="view indices"):
        perturbed_loss(scene, views=[3])
    with pytest.raises(ValueError, match="d_distance"):
        perturbed_loss(scene, d_yaw=[1.0, 2.0], d_distance=[1.0])
    with pytest.raises(ValueError, match="one error per prediction"):
        perturbed_loss(scene, d_yaw=1.0)
    with pytest.raises(ValueError, match="d_alpha"):
        perturbed_loss(scene, d_alpha=torch.zeros(2, 3))
    with pytest.raises(ValueError, match="alpha"):
        TrueScene.from_views(scene.model, np.zeros(3), K_HAND, [0.0], D)
