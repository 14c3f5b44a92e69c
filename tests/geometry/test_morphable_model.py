"""facelib.geometry.morphable_model: Eq. 1, the fit (Procrustes + PCA) and the .npz
file."""

import numpy as np
import pytest
import torch
from conftest import symmetric_points
from scipy.linalg import subspace_angles
from scipy.spatial.transform import Rotation

from facelib.geometry.morphable_model import MorphableModel
from facelib.geometry.procrustes import generalized_procrustes


def similarity_tangent(mean):
    """The 7 directions (3P each) in which a similarity transform moves ``mean`` to
    first order."""
    c = mean - mean.mean(0)
    dirs = [np.tile(e, (len(mean), 1)) for e in np.eye(3)]  # translations
    dirs += [np.cross(e, c) for e in np.eye(3)]  # infinitesimal rotations
    dirs.append(c)  # scale
    return np.stack([d.reshape(-1) for d in dirs], axis=1)


def low_rank_population(rng, n=60, rank=4, P=40):
    """Shapes ``mean + B c`` whose modes B are orthogonal to rigid motion and scale
    (Procrustes keeps them)."""
    mean, mirror = symmetric_points(rng, P // 2)
    tangent = np.linalg.qr(similarity_tangent(mean))[0]
    raw = rng.normal(size=(3 * P, rank))
    raw -= tangent @ (tangent.T @ raw)
    basis = np.linalg.qr(raw)[0].T  # (rank, 3P) orthonormal
    scales = np.array([12.0, 8.0, 5.0, 3.0])[:rank]
    coeff = rng.normal(size=(n, rank)) * scales
    shapes = mean + (coeff @ basis).reshape(n, P, 3)
    return shapes, basis, mirror


def small_model(rng=None):
    rng = rng or np.random.default_rng(0)
    shapes, _, mirror = low_rank_population(rng)
    faces = np.array([[0, 1, 2], [2, 3, 4]])
    return MorphableModel.fit(
        shapes, faces=faces, landmarks=np.array([0, 5, 7]), mirror=mirror
    )


def test_fit_recovers_the_subspace_after_random_similarities():
    rng = np.random.default_rng(1)
    shapes, basis, mirror = low_rank_population(rng)
    moved = []
    for x in shapes:
        s = rng.uniform(0.8, 1.25)
        R = Rotation.random(random_state=int(rng.integers(1 << 31))).as_matrix()
        moved.append(s * x @ R.T + rng.normal(0, 30, 3))
    true_mean = shapes.mean(0)
    model = MorphableModel.fit(
        np.stack(moved),
        faces=np.array([[0, 1, 2]]),
        landmarks=np.array([0]),
        mirror=mirror,
        reference=true_mean,
    )
    assert (
        np.abs(model.mean - true_mean).max() < 0.5
    )  # back in the frame of the reference, in mm
    # 99 % of the variance needs all 4 true modes (the smallest holds ~4 % of it) and no
    # more, and the recovered span is the true one: principal angles near zero
    # (second-order effects of the alignment on 3-12 mm deformations of a 40 mm point
    # cloud leave about a degree).
    assert model.n_modes == 4
    angles = subspace_angles(model.components.reshape(model.n_modes, -1).T, basis.T)
    assert np.degrees(angles).max() < 2.0


def test_fit_without_transforms_recovers_exactly():
    rng = np.random.default_rng(2)
    shapes, basis, mirror = low_rank_population(rng)
    model = MorphableModel.fit(
        shapes,
        faces=np.array([[0, 1, 2]]),
        landmarks=np.array([0]),
        mirror=mirror,
        variance=0.999999,
    )
    angles = subspace_angles(model.components.reshape(model.n_modes, -1).T, basis.T)
    assert np.degrees(angles).max() < 1.0
    # components are orthonormal, std non-increasing
    C = model.components.reshape(model.n_modes, -1)
    np.testing.assert_allclose(C @ C.T, np.eye(model.n_modes), atol=1e-10)
    assert (np.diff(model.std) <= 0).all()


def test_modes_cannot_move_turn_or_resize_the_mean():
    """Shapes of one size differ in size at second order after Procrustes; plain PCA of
    the aligned shapes makes a mode of it (checked here with numpy's SVD), which a
    network could use to trade the face's size against the camera's distance. The
    model's modes are orthogonal to every similarity direction at the mean (the tangent
    directions built by this test, not by the library)."""
    rng = np.random.default_rng(11)
    shapes, _, mirror = low_rank_population(rng, n=300)
    shapes = shapes.mean(0) + 3.0 * (
        shapes - shapes.mean(0)
    )  # deformations of 10-35 mm on a 40 mm cloud
    shapes = shapes * rng.uniform(0.8, 1.25, (len(shapes), 1, 1))
    aligned = generalized_procrustes(shapes).aligned
    centred = (aligned - aligned.mean(0)).reshape(len(shapes), -1)
    plain = np.linalg.svd(centred, full_matrices=False)[2][:8]
    size = similarity_tangent(aligned.mean(0))[:, 6]
    assert (
        np.abs(plain @ size / np.linalg.norm(size)).max() > 0.05
    )  # plain PCA has a size mode
    model = MorphableModel.fit(
        shapes,
        faces=np.array([[0, 1, 2]]),
        landmarks=np.array([0]),
        mirror=mirror,
        variance=0.999999,
    )
    tangent = np.linalg.qr(similarity_tangent(model.mean))[0]
    C = model.components.reshape(model.n_modes, -1)
    assert np.abs(C @ tangent).max() < 1e-9
    rigid = MorphableModel.fit(
        shapes,
        faces=np.array([[0, 1, 2]]),
        landmarks=np.array([0]),
        mirror=mirror,
        scale=False,
    )
    rigid_tangent = np.linalg.qr(similarity_tangent(rigid.mean)[:, :6])[0]
    assert (
        np.abs(rigid.components.reshape(rigid.n_modes, -1) @ rigid_tangent).max() < 1e-9
    )
    size_mode = (
        rigid.components.reshape(rigid.n_modes, -1)
        @ similarity_tangent(rigid.mean)[:, 6]
    )
    assert np.abs(size_mode).max() > 0.5 * np.linalg.norm(
        similarity_tangent(rigid.mean)[:, 6]
    )  # without scale, size stays a mode


@pytest.mark.parametrize(
    "n", [30, 200]
)  # fewer and more samples than coordinates (3P = 120)
def test_principal_components_agree_with_numpy_svd(n):
    from facelib.geometry.morphable_model import _principal_components

    rng = np.random.default_rng(4)
    X = rng.normal(size=(n, 120)) * np.geomspace(
        10.0, 0.01, 120
    )  # a spread of variances
    X -= X.mean(0)
    variances, directions = _principal_components(X)
    _, sing, vt = np.linalg.svd(X, full_matrices=False)
    assert len(variances) == min(
        n - 1, 120
    )  # rank of centred samples; every variance is far above the cut
    np.testing.assert_allclose(
        variances, (sing**2 / (n - 1))[: len(variances)], rtol=1e-8
    )
    k = 20  # well-separated leading directions agree up to sign
    signs = np.sign((directions[:k] * vt[:k]).sum(1))
    np.testing.assert_allclose(directions[:k], vt[:k] * signs[:, None], atol=1e-8)
    np.testing.assert_allclose(
        directions @ directions.T, np.eye(len(directions)), atol=1e-6
    )


def test_principal_components_of_rank_deficient_samples_and_their_signs():
    from facelib.geometry.morphable_model import _principal_components

    rng = np.random.default_rng(5)
    basis = np.linalg.qr(rng.normal(size=(120, 6)))[
        0
    ].T  # 6 orthonormal directions in 120 dimensions
    X = (rng.normal(size=(300, 6)) * [9.0, 7.0, 5.0, 3.0, 2.0, 1.0]) @ basis
    X -= X.mean(0)
    variances, directions = _principal_components(X)
    assert len(variances) == 6  # no noise directions above the cut
    np.testing.assert_allclose(directions @ directions.T, np.eye(6), atol=1e-10)
    angles = subspace_angles(directions.T, basis.T)
    assert np.degrees(angles).max() < 1e-6
    # the sign convention: a fixed positive ramp has a positive component along every
    # direction, also when the samples are negated (which flips an SVD's vectors
    # arbitrarily)
    ramp = np.linspace(1.0, 2.0, 120)
    assert (directions @ ramp > 0).all()
    np.testing.assert_allclose(_principal_components(-X)[1], directions, atol=1e-10)


def test_variance_threshold_picks_the_fewest_modes():
    rng = np.random.default_rng(3)
    shapes, _, mirror = low_rank_population(rng)
    model = MorphableModel.fit(
        shapes,
        faces=np.array([[0, 1, 2]]),
        landmarks=np.array([0]),
        mirror=mirror,
        variance=0.5,
    )
    ratio = model.explained_variance_ratio()
    assert ratio[model.n_modes - 1] >= 0.5
    assert model.n_modes == 1 or ratio[model.n_modes - 2] < 0.5


def test_shape_is_eq1_and_coefficients_invert_it():
    model = small_model()
    alpha = torch.randn(
        5,
        6,
        model.n_modes,
        dtype=torch.float64,
        generator=torch.Generator().manual_seed(0),
    )
    s = model.shape(alpha)
    assert s.shape == (5, 6, model.n_points, 3)
    # Eq. 1 written out with numpy: m + sum_k alpha_k std_k c_k
    a = alpha.numpy()
    expected = model.mean + np.einsum(
        "...k,kpd->...pd", a * model.std, model.components
    )
    np.testing.assert_allclose(s.numpy(), expected, atol=1e-9)
    np.testing.assert_allclose(model.coefficients(s).numpy(), a, atol=1e-9)
    assert model.shape(torch.zeros(model.n_modes, dtype=torch.float64)).shape == (
        model.n_points,
        3,
    )


def test_project_keeps_model_faces_and_drops_what_the_model_cannot_make():
    """A model face is its own projection; a face plus a displacement orthogonal to
    every component (built here by Gram-Schmidt with numpy) projects back onto the
    model face."""
    model = small_model()
    alpha = torch.randn(
        3,
        model.n_modes,
        dtype=torch.float64,
        generator=torch.Generator().manual_seed(1),
    )
    faces = model.shape(alpha)
    np.testing.assert_allclose(model.project(faces).numpy(), faces.numpy(), atol=1e-9)
    comps = model.components.reshape(model.n_modes, -1)
    off = np.random.default_rng(2).normal(size=comps.shape[1])
    off -= comps.T @ np.linalg.lstsq(comps.T, off, rcond=None)[0]
    assert np.abs(comps @ off).max() < 1e-9
    moved = faces + torch.from_numpy(5.0 * off.reshape(model.n_points, 3))
    np.testing.assert_allclose(model.project(moved).numpy(), faces.numpy(), atol=1e-9)


def test_sampling_is_reproducible_and_standard_normal():
    model = small_model()
    a = model.sample_coefficients(4000, np.random.default_rng(7))
    b = model.sample_coefficients(4000, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert abs(a.mean()) < 0.05 and abs(a.std() - 1) < 0.05
    t1 = model.sample_coefficients(3, torch.Generator().manual_seed(1))
    t2 = model.sample_coefficients(3, torch.Generator().manual_seed(1))
    assert torch.equal(t1, t2)
    with pytest.raises(TypeError, match="Generator"):
        model.sample_coefficients(3, 42)


def test_shape_refuses_wrong_sizes():
    model = small_model()
    with pytest.raises(
        ValueError,
        match=rf"\(\.\.\., {model.n_modes}\), got \(2, {model.n_modes + 1}\)",
    ):
        model.shape(torch.zeros(2, model.n_modes + 1))
    with pytest.raises(ValueError, match="expected shapes"):
        model.coefficients(torch.zeros(2, model.n_points + 1, 3))


def test_save_load_is_exact(tmp_path):
    model = small_model()
    path = model.save(tmp_path / "sub" / "model.npz")
    loaded = MorphableModel.load(path)
    for name, arr in model.arrays().items():
        assert np.array_equal(getattr(loaded, name), arr), name
        assert getattr(loaded, name).dtype == arr.dtype
    assert loaded.fingerprint() == model.fingerprint()
    assert not list(path.parent.glob("*.tmp*"))  # no temporary file left behind


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no morphable model"):
        MorphableModel.load(tmp_path / "missing.npz")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"this is not a zip file")
    with pytest.raises(ValueError, match="not a readable .npz"):
        MorphableModel.load(corrupt)
    partial = tmp_path / "partial.npz"
    np.savez(partial, mean=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="missing arrays"):
        MorphableModel.load(partial)
    model = small_model()
    good = model.save(tmp_path / "m.npz")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:-200])
    with pytest.raises(ValueError):
        MorphableModel.load(truncated)
    arrays = model.arrays()
    arrays["mirror"] = np.zeros_like(arrays["mirror"])
    bad = tmp_path / "bad_mirror.npz"
    np.savez(bad, format_version=np.array(1), **arrays)
    with pytest.raises(ValueError, match="involution"):
        MorphableModel.load(bad)
    with pytest.raises(ValueError, match=".npz"):
        model.save(tmp_path / "model.pkl")


def test_constructor_validates():
    model = small_model()
    arrays = model.arrays()
    arrays["faces"] = np.array([[0, 1, model.n_points]])
    with pytest.raises(ValueError, match="faces index vertices"):
        MorphableModel(**arrays)
    arrays = model.arrays()
    arrays["mean"] = arrays["mean"].copy()
    arrays["mean"][0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        MorphableModel(**arrays)
