"""facelib.learn.validation: every metric against errors known by hand (and the rotation
error against scipy), on a tiny fake data set scored for an oracle network whose
predictions are set per photograph."""

import math
from dataclasses import fields, replace

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from facelib.data.dataset import Dataset, load_dataset
from facelib.geometry.morphable_model import MorphableModel
from facelib.learn.nets import Prediction
from facelib.learn.validation import (
    MeanShapeBaseline,
    identity_signal_px,
    rotation_error_deg,
    validate,
    vertex_rms,
)

#: a flat 3 x 3 grid of points 10 mm apart in the plane z = 0, mm
GRID = np.array([[x, y, 0.0] for y in (-10.0, 0.0, 10.0) for x in (-10.0, 0.0, 10.0)])
F = 100.0  # focal length, px
N_SUBJECTS, V = 3, 2


def plane_model() -> MorphableModel:
    """The grid as the mean shape; one mode that moves every vertex by α mm in x (the
    component is 1/3 in x on each of the 9 vertices, unit norm, and its std is 3)."""
    component = np.zeros((1, 9, 3))
    component[0, :, 0] = 1.0 / 3.0
    return MorphableModel(
        mean=GRID,
        components=component,
        std=np.array([3.0]),
        faces=np.array([[0, 1, 2]]),
        landmarks=np.arange(0),
        mirror=np.arange(9),
    )


def fake_dataset(q: np.ndarray, t: np.ndarray) -> Dataset:
    """N_SUBJECTS subjects with V photographs each, all of the grid, through cameras q
    (n, V, 4) and t (n, V, 3) mm with focal length F px. Every pixel of photograph v of
    subject i holds the code 10 i + v."""
    codes = 10 * np.arange(N_SUBJECTS)[:, None] + np.arange(V)
    images = np.broadcast_to(codes[:, :, None, None, None], (N_SUBJECTS, V, 3, 4, 4))
    K = np.array([[F, 0.0, 1.5], [0.0, F, 1.5], [0.0, 0.0, 1.0]])
    record = {f.name: None for f in fields(Dataset)}
    record.update(
        path=None,
        morphable_model=plane_model(),
        images=np.ascontiguousarray(images, dtype=np.uint8),
        K=np.broadcast_to(K, (N_SUBJECTS, V, 3, 3)).astype(np.float32),
        q=q.astype(np.float32),
        t=t.astype(np.float32),
        shapes=np.broadcast_to(GRID, (N_SUBJECTS, 9, 3)).astype(np.float32),
    )
    return Dataset(**record)


class Oracle(torch.nn.Module):
    """Predicts, for the photographs it is shown, the α of their subject and the camera
    set for each photograph, read from the code in their pixels. ``q``/``t`` ``None``:
    no camera (like MV Shape-Concat)."""

    def __init__(self, alpha, q=None, t=None):
        super().__init__()
        self.alpha = torch.tensor(np.array(alpha), dtype=torch.float32).view(-1, 1)
        self.q = None if q is None else torch.tensor(np.array(q), dtype=torch.float32)
        self.t = None if t is None else torch.tensor(np.array(t), dtype=torch.float32)

    def forward(self, images: torch.Tensor, K=None) -> Prediction:
        codes = images[..., 0, 0, 0].long()  # (B,) for one view, (B, N) for N
        codes = codes[:, None] if codes.dim() == 1 else codes
        i, v = codes // 10, codes % 10
        return Prediction(
            alpha=self.alpha[i[:, 0]],
            q=None if self.q is None else self.q[i, v],
            t=None if self.t is None else self.t[i, v],
        )


def wxyz(rotations: Rotation) -> np.ndarray:
    """scipy's quaternions (x, y, z, w) as ours (w, x, y, z)."""
    return np.roll(rotations.as_quat(), 1, axis=-1)


def random_cameras(seed: int):
    """Rotations of up to about 40° and the grid 500 mm in front of each camera."""
    rng = np.random.default_rng(seed)
    true = Rotation.from_rotvec(rng.normal(0, 0.35, (N_SUBJECTS * V, 3)))
    t = np.array([0.0, 0.0, 500.0]) + rng.normal(0, 5, (N_SUBJECTS, V, 3))
    return true, t


SUBJECTS = np.arange(N_SUBJECTS)
MULTI = dict(network="mv", n_views=V)


@pytest.mark.parametrize("kw", [dict(network="sv"), MULTI], ids=["sv", "mv"])
def test_rotation_error_is_scipys_rotation_distance(kw):
    true, t = random_cameras(0)
    pred = Rotation.random(N_SUBJECTS * V, random_state=1)
    q_pred = wxyz(pred)
    q_pred[::2] *= -1  # q and -q are the same rotation
    data = fake_dataset(wxyz(true).reshape(N_SUBJECTS, V, 4), t)
    oracle = Oracle(np.zeros(N_SUBJECTS), q_pred.reshape(N_SUBJECTS, V, 4), t)
    metrics = validate(oracle, data, SUBJECTS, **kw)
    expected = np.degrees((true.inv() * pred).magnitude()).mean()
    assert 10.0 < expected < 170.0
    assert metrics.rotation_deg == pytest.approx(expected, abs=1e-3)
    assert metrics.translation_mm == pytest.approx(0.0, abs=1e-4)
    assert metrics.shape_mm == pytest.approx(0.0, abs=1e-5)


def test_rotation_error_by_hand():
    """Every predicted camera is the true one turned by 30° about (1, 2, 2) / 3, and
    moved by (3, 4, 0) mm: 30° and 5 mm."""
    true, t = random_cameras(2)
    turn = Rotation.from_rotvec(np.radians(30.0) * np.array([1.0, 2.0, 2.0]) / 3.0)
    q_pred = wxyz(true * turn).reshape(N_SUBJECTS, V, 4)
    data = fake_dataset(wxyz(true).reshape(N_SUBJECTS, V, 4), t)
    oracle = Oracle(np.zeros(N_SUBJECTS), q_pred, t + np.array([3.0, 4.0, 0.0]))
    for kw in (dict(network="sv"), MULTI):
        metrics = validate(oracle, data, SUBJECTS, **kw)
        assert metrics.rotation_deg == pytest.approx(30.0, abs=1e-3)
        assert metrics.translation_mm == pytest.approx(5.0, rel=1e-5)
    pairs = torch.from_numpy(np.stack([wxyz(true), wxyz(true * turn)], 1))
    errors = rotation_error_deg(pairs[:, 1], pairs[:, 0])
    np.testing.assert_allclose(errors.numpy(), 30.0, atol=1e-6)  # float64: exact


def frontal_cameras():
    """Every camera frontal (identity rotation), 500 mm from the grid."""
    q = np.zeros((N_SUBJECTS, V, 4))
    q[..., 0] = 1.0
    return q, np.broadcast_to([0.0, 0.0, 500.0], (N_SUBJECTS, V, 3)).copy()


def test_shift_errors_by_hand():
    """Frontal cameras 500 mm away, focal length 100 px. The predicted shape is the
    truth moved 2 mm in x (α = 2) and the predicted camera is moved 5 mm in x: every
    point lands 100 (2 + 5) / 500 = 1.4 px off, the camera is 5 mm off, the shape 2 mm
    (0 once aligned)."""
    q, t = frontal_cameras()
    data = fake_dataset(q, t)
    oracle = Oracle(np.full(N_SUBJECTS, 2.0), q, t + np.array([5.0, 0.0, 0.0]))
    for kw, per_scene_loss in ((dict(network="sv"), 1.4**2), (MULTI, V * 1.4**2)):
        metrics = validate(oracle, data, SUBJECTS, **kw)
        assert metrics.reprojection_px == pytest.approx(1.4, rel=1e-5)
        assert metrics.translation_mm == pytest.approx(5.0, rel=1e-6)
        assert metrics.rotation_deg == 0.0
        assert metrics.shape_mm == pytest.approx(2.0, rel=1e-6)
        assert metrics.shape_aligned_mm == pytest.approx(0.0, abs=1e-5)
        # Eq. 2: squared px, summed over the views
        assert metrics.loss == pytest.approx(per_scene_loss, rel=1e-5)


def test_depth_error_by_hand():
    """The predicted camera 1000 mm away instead of 500: a grid point (x, y) projects
    at F (x, y) / 1000 instead of F (x, y) / 500, 0.1 |(x, y)| px off: 0 px for the
    centre, 1 px for the 4 edge midpoints, √2 px for the 4 corners."""
    q, t = frontal_cameras()
    data = fake_dataset(q, t)
    far = np.broadcast_to([0.0, 0.0, 1000.0], t.shape)
    metrics = validate(Oracle(np.zeros(N_SUBJECTS), q, far), data, SUBJECTS, **MULTI)
    assert metrics.reprojection_px == pytest.approx(
        (4 + 4 * math.sqrt(2)) / 9, rel=1e-5
    )
    assert metrics.translation_mm == pytest.approx(500.0, rel=1e-6)


def test_shape_only_network_has_no_camera_errors():
    """MV Shape-Concat: the loss is the mean squared vertex error, 2² = 4 mm²."""
    q, t = frontal_cameras()
    metrics = validate(
        Oracle(np.full(N_SUBJECTS, 2.0)),
        fake_dataset(q, t),
        SUBJECTS,
        network="mv_shape",
        n_views=V,
    )
    assert math.isnan(metrics.reprojection_px) and math.isnan(metrics.rotation_deg)
    assert math.isnan(metrics.translation_mm)
    assert metrics.loss == pytest.approx(4.0, rel=1e-6)
    assert metrics.shape_mm == pytest.approx(2.0, rel=1e-6)


def test_bad_arguments_are_explained():
    q, t = frontal_cameras()
    data = fake_dataset(q, t)
    with pytest.raises(ValueError, match="pass n_views=N"):
        validate(Oracle(np.zeros(N_SUBJECTS), q, t), data, SUBJECTS, network="mv")
    with pytest.raises(ValueError, match="network must be one of"):
        validate(Oracle(np.zeros(N_SUBJECTS), q, t), data, SUBJECTS, network="kind")


def test_vertex_rms_by_hand():
    truth = torch.zeros(2, 4, 3)
    pred = truth.clone()
    pred[0, :, 0] = 3.0  # every vertex 3 mm off
    pred[1, 0] = torch.tensor([0.0, 6.0, 8.0])  # one vertex of four 10 mm off
    assert vertex_rms(pred, truth).tolist() == [3.0, 5.0]


def test_the_mean_shape_baseline_on_a_data_set(tiny_path):
    """The 3DMM-mean baseline scores the vertex RMS of the mean shape against each true
    shape."""
    data = load_dataset(tiny_path)
    val = data.subjects("val")
    metrics = validate(
        MeanShapeBaseline(data.morphable_model.n_modes),
        data,
        val,
        network="mv_shape",
        n_views=1,
    )
    shapes = np.asarray(data.shapes[val], dtype=np.float64)
    expected = np.sqrt(
        ((shapes - data.morphable_model.mean) ** 2).sum(-1).mean(-1)
    ).mean()
    assert metrics.shape_mm == pytest.approx(expected, rel=1e-5)


def test_bf16_validation_runs_the_network_under_autocast(tiny_path):
    """``bf16=True`` (what training validates with under ``precision="bf16"``) runs
    the convolutions in bf16 and reports float32 metrics close to float32's."""
    from facelib.learn.nets import SingleView

    data = load_dataset(tiny_path)
    torch.manual_seed(0)
    net = SingleView(data.morphable_model.n_modes, data.image_size, width=0.125)
    conv = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    dtypes = []
    conv.register_forward_hook(lambda m, args, out: dtypes.append(out.dtype))
    val = data.subjects("val")
    full = validate(net, data, val, network="sv")
    assert set(dtypes) == {torch.float32}
    dtypes.clear()
    half = validate(net, data, val, network="sv", bf16=True)
    assert set(dtypes) == {torch.bfloat16}
    for f in fields(full):
        a, b = getattr(full, f.name), getattr(half, f.name)
        assert isinstance(b, float) and b == pytest.approx(a, rel=0.05), f.name


def test_aligned_vertex_rms_is_the_residual_of_an_explicit_alignment():
    """Against aligning each shape with an explicit Umeyama fit (numpy SVD, rotation
    matrix, applied point by point) and measuring: similar shapes give zero, noisy
    ones their residual, a mirror image is not undone (no reflection)."""
    from facelib.learn.validation import aligned_vertex_rms

    rng = np.random.default_rng(0)
    truth = rng.normal(0, 40, (5, 300, 3))
    R = Rotation.random(5, random_state=1).as_matrix()
    moved = 1.7 * np.einsum("bij,bpj->bpi", R, truth) + rng.normal(0, 30, (5, 1, 3))
    noisy = moved + rng.normal(0, 2.0, moved.shape)
    mirrored = truth * np.array([-1.0, 1.0, 1.0])

    def explicit(x, y):
        mx, my = x.mean(0), y.mean(0)
        U, S, Vt = np.linalg.svd((y - my).T @ (x - mx))
        D = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
        rot = U @ D @ Vt
        s = np.trace(np.diag(S) @ D) / ((x - mx) ** 2).sum()
        aligned = s * (x - mx) @ rot.T + my
        return np.sqrt(((aligned - y) ** 2).sum(-1).mean())

    for pred in (noisy, mirrored):
        ours = aligned_vertex_rms(torch.from_numpy(pred), torch.from_numpy(truth))
        ref = [explicit(p, t) for p, t in zip(pred, truth)]
        np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-9)
    # a perfect fit: zero up to the square root of float64's rounding of σy²
    assert (
        aligned_vertex_rms(torch.from_numpy(moved), torch.from_numpy(truth)).max()
        < 1e-5
    )
    assert (
        aligned_vertex_rms(torch.from_numpy(mirrored), torch.from_numpy(truth)).min()
        > 1.0
    )


def test_identity_signal_by_hand():
    """Subject 1's centre vertex is 3 mm off in x; the others are the mean grid. The
    best similarity of the grid onto subject 1 only shifts it by 3/9 mm in x (the
    centre point adds nothing to the cross-covariance), so 8 points miss by 1/3 mm and
    the centre by 8/3 mm; frontal cameras 500 mm away at F = 100 px make 0.2 px of a
    mm: (8 / 3 + 8 / 3) / 9 x 0.2 px."""
    q = np.tile([1.0, 0.0, 0.0, 0.0], (N_SUBJECTS, V, 1))
    t = np.tile([0.0, 0.0, 500.0], (N_SUBJECTS, V, 1))
    data = fake_dataset(q, t)
    shapes = np.array(data.shapes)
    shapes[1, 4, 0] += 3.0
    data = replace(data, shapes=shapes)
    signal = identity_signal_px(data, SUBJECTS)
    assert signal.shape == (N_SUBJECTS, V)
    np.testing.assert_allclose(signal[1].numpy(), 16 / 27 * 0.2, rtol=1e-6)
    np.testing.assert_allclose(signal[[0, 2]].numpy(), 0.0, atol=1e-9)
    # a subject that is the mean moved and resized has no identity to see
    rotation = Rotation.from_rotvec([0.1, -0.2, 0.05]).as_matrix()
    shapes[2] = 1.1 * GRID @ rotation.T + np.array([4.0, -2.0, 30.0])
    data = replace(data, shapes=shapes)
    np.testing.assert_allclose(identity_signal_px(data, [2]).numpy(), 0.0, atol=1e-5)
