"""ARMSE refuses keyword arguments out of range and coordinates it cannot score
(non-finite, or so large that their squares overflow float64) with an error that names
the input, instead of a score that is inf or NaN with only a RuntimeWarning."""

import warnings

import numpy as np
import pytest

from facelib.evaluation.metrics import MAX_COORDINATE, NOSE_TIP_51, armse


def grid_face(n=11, half=50.0):
    """A bump on a square grid (mm), its triangles and 51 landmarks: the nose tip (row
    13) is the bump's top, the other rows other grid vertices."""
    x, y = np.meshgrid(np.linspace(-half, half, n), np.linspace(-half, half, n))
    z = -30.0 * np.exp(-(x**2 + y**2) / (2 * 25.0**2))
    vertices = np.stack([x, y, z], -1).reshape(-1, 3)
    i = np.arange(n - 1)[:, None] * n + np.arange(n - 1)[None, :]
    i = i.ravel()
    faces = np.concatenate(
        [np.stack([i, i + 1, i + n], 1), np.stack([i + 1, i + n + 1, i + n], 1)]
    )
    ids = np.linspace(0, len(vertices) - 1, 51).round().astype(int)
    ids[NOSE_TIP_51] = len(vertices) // 2
    return vertices, faces, vertices[ids]


V, F, LM = grid_face()


def score(**kwargs):
    return armse(V, F, LM, V, F, LM, **kwargs)


def test_identical_meshes_still_score_zero():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = score(every=1, icp_iterations=1)
    assert r.armse_mm < 1e-9 and r.n_landmarks == 51


@pytest.mark.parametrize("every", [0, -4, 2.5, True, "4"])
def test_every_must_be_an_integer_of_at_least_one(every):
    with pytest.raises(ValueError, match="every as an integer >= 1.*1 samples every"):
        score(every=every)


@pytest.mark.parametrize("iterations", [0, -1, 1.5, None])
def test_icp_iterations_must_be_an_integer_of_at_least_one(iterations):
    with pytest.raises(
        ValueError, match="icp_iterations as an integer >= 1.*1 keeps the landmark"
    ):
        score(icp_iterations=iterations)


@pytest.mark.parametrize("radius", [0.0, -95.0, float("nan"), float("inf")])
def test_crop_radius_must_be_positive_and_finite(radius):
    with pytest.raises(ValueError, match="crop_radius_mm > 0.*the protocol's is 95"):
        score(crop_radius_mm=radius)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("which", ["prediction", "scan"])
def test_non_finite_vertices_are_named(bad, which):
    broken = V.copy()
    broken[7, 1] = bad
    pred, scan = (broken, V) if which == "prediction" else (V, broken)
    with pytest.raises(ValueError, match=f"the {which} has non-finite.*clean the mesh"):
        armse(pred, F, LM, scan, F, LM)


@pytest.mark.parametrize("which", ["prediction", "scan"])
def test_overflowing_vertices_are_named(which):
    huge = V.copy()
    huge[3, 0] = 1e151  # its square, 1e302, is finite; sums of such squares are not
    huge[4, 2] = -3e153
    pred, scan = (huge, V) if which == "prediction" else (V, huge)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning on the way to the error
        with pytest.raises(
            ValueError, match=f"the {which} vertices have .*3e\\+153.*overflow.*unit"
        ):
            armse(pred, F, LM, scan, F, LM)


def test_overflowing_or_infinite_landmarks_are_named():
    huge = LM.copy()
    huge[5] = [2e150, 0.0, 0.0]
    with pytest.raises(ValueError, match="the scan's landmarks have .*2e\\+150.*unit"):
        armse(V, F, LM, V, F, huge)
    infinite = LM.copy()
    infinite[5, 1] = np.inf
    with pytest.raises(ValueError, match="prediction's landmarks contain inf.*NaN"):
        armse(V, F, infinite, V, F, LM)


def test_the_limit_itself_is_accepted():
    """Only coordinates beyond MAX_COORDINATE are refused; a large unit is scored."""
    scale = MAX_COORDINATE / 100.0  # the grid's 50 mm become half the limit
    r = armse(V * scale, F, LM * scale, V, F, LM, icp_iterations=2)
    assert np.isfinite(r.armse_mm) and r.armse_mm < 1e-6


def test_fractional_faces_are_refused():
    with pytest.raises(
        ValueError, match="faces must be integer vertex ids.*fractional"
    ):
        armse(V, F + 0.5, LM, V, F, LM)
