"""facelib.geometry.procrustes against scipy (Rotation.align_vectors,
scipy.spatial.procrustes)."""

import numpy as np
import pytest
from scipy.spatial import procrustes as scipy_procrustes
from scipy.spatial.transform import Rotation

from facelib.geometry.procrustes import generalized_procrustes, similarity_transform


def random_similarity(rng):
    return (
        rng.uniform(0.7, 1.4),
        Rotation.random(random_state=int(rng.integers(1 << 31))).as_matrix(),
        rng.normal(0, 50, 3),
    )


def test_similarity_transform_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 40, (30, 3))
    s, R, t = random_similarity(rng)
    y = s * x @ R.T + t
    T = similarity_transform(x, y)
    np.testing.assert_allclose(T.scale, s, rtol=1e-10)
    np.testing.assert_allclose(T.rotation, R, atol=1e-10)
    np.testing.assert_allclose(T.translation, t, atol=1e-8)
    np.testing.assert_allclose(T.apply(x), y, atol=1e-8)


def test_rotation_agrees_with_scipy_align_vectors_under_noise():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 40, (50, 3))
    x -= x.mean(0)
    R = Rotation.random(random_state=3).as_matrix()
    y = x @ R.T + rng.normal(0, 2.0, x.shape)
    y -= y.mean(0)
    T = similarity_transform(x, y, scale=False)
    R_scipy, _ = Rotation.align_vectors(y, x)
    np.testing.assert_allclose(T.rotation, R_scipy.as_matrix(), atol=1e-9)
    assert T.scale == 1.0


def test_no_reflection_even_for_mirrored_targets():
    rng = np.random.default_rng(2)
    x = rng.normal(0, 40, (20, 3))
    T = similarity_transform(x, x * [-1, 1, 1])
    assert np.linalg.det(T.rotation) == pytest.approx(1.0)


def test_disparity_matches_scipy_procrustes():
    rng = np.random.default_rng(4)
    x = rng.normal(0, 40, (25, 3))
    y = x + rng.normal(0, 5, x.shape)
    T = similarity_transform(y, x)
    # scipy standardises both sets to unit norm; compute our residual in the same units
    xs = (x - x.mean(0)) / np.linalg.norm(x - x.mean(0))
    ys = T.apply(y)
    ys = (ys - ys.mean(0)) / np.linalg.norm(x - x.mean(0))
    _, _, disparity = scipy_procrustes(x, y)
    np.testing.assert_allclose(((xs - ys) ** 2).sum(), disparity, rtol=1e-8)


def test_generalized_procrustes_undoes_random_similarities():
    rng = np.random.default_rng(5)
    base = rng.normal(0, 40, (40, 3))
    shapes = []
    for _ in range(8):
        s, R, t = random_similarity(rng)
        shapes.append(s * base @ R.T + t)
    res = generalized_procrustes(np.stack(shapes))
    # all aligned shapes coincide
    assert np.abs(res.aligned - res.aligned[0]).max() < 1e-6
    # the transforms map each input onto its aligned version
    for T, x, a in zip(res.transforms, shapes, res.aligned):
        np.testing.assert_allclose(T.apply(x), a, atol=1e-8)


def test_generalized_procrustes_keeps_the_frame_and_units():
    rng = np.random.default_rng(6)
    base = rng.normal(0, 40, (40, 3))
    shapes = np.stack(
        [base + rng.normal(0, 1.0, base.shape) for _ in range(10)]
    )  # already aligned, mm
    res = generalized_procrustes(shapes)
    assert (
        np.abs(res.mean - shapes.mean(0)).max() < 1.0
    )  # stays where it was, within the noise


def test_bad_input():
    with pytest.raises(ValueError, match=r"\(P, 3\)"):
        similarity_transform(np.zeros((5, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="correspond"):
        similarity_transform(np.ones((5, 3)), np.ones((6, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        generalized_procrustes(np.full((3, 5, 3), np.nan))
