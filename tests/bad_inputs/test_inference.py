"""Reconstructor refuses what is not photographs with their camera: no photographs,
photographs of several sizes, a K that is no calibration matrix, a field of view out
of (0, 180) or both K and a field of view. An untrained small network is enough: the
checks come before it runs."""

import numpy as np
import pytest
import torch

from facelib.geometry.camera import intrinsics_from_fov
from facelib.geometry.morphable_model import MorphableModel
from facelib.learn.inference import Reconstructor
from facelib.learn.nets import SingleView

S = 32


@pytest.fixture(scope="module")
def recon():
    torch.manual_seed(0)
    components = np.zeros((2, 4, 3))
    components[0, :, 2] = 0.5
    components[1, 2, 1], components[1, 3, 1] = np.sqrt(0.5), -np.sqrt(0.5)
    model = MorphableModel(
        mean=np.array([[-30.0, 0, 0], [30.0, 0, 0], [0, 30.0, 0], [0, -30.0, 0]]),
        components=components,
        std=np.array([5.0, 2.0]),
        faces=np.array([[0, 1, 2], [0, 3, 1]]),
        landmarks=np.array([2, 3]),
        mirror=np.array([1, 0, 2, 3]),
    )
    return Reconstructor(SingleView(2, S, width=0.125), model)


PHOTO = np.random.default_rng(0).integers(0, 256, (S, S, 3), dtype=np.uint8)
K_GOOD = intrinsics_from_fov(30.0, S, S).numpy()


@pytest.mark.parametrize(
    "images",
    [
        [],
        (),
        np.zeros((0, S, S, 3), np.uint8),
        torch.zeros(0, 3, S, S, dtype=torch.uint8),
    ],
    ids=["list", "tuple", "array", "tensor"],
)
def test_no_photographs(recon, images):
    with pytest.raises(ValueError, match="no photographs.*pass at least one"):
        recon(images, fov_deg=30.0)
    with pytest.raises(ValueError, match="no photographs.*pass at least one"):
        recon.predict(images)


def test_photographs_of_several_sizes(recon):
    with pytest.raises(ValueError, match="differ in size.*resize them all to \\(32"):
        recon([PHOTO, np.zeros((S + 8, S, 3), np.uint8)], fov_deg=30.0)


def with_entry(i, j, value):
    K = K_GOOD.copy()
    K[i, j] = value
    return K


def singular():
    K = K_GOOD.copy()
    K[2] = K[0] + K[1]  # focal lengths f_x, f_y > 0, yet det K = 0
    return K


@pytest.mark.parametrize(
    "K, problem",
    [
        (np.zeros((3, 3)), "K is singular.*intrinsics_from_fov"),
        (K_GOOD * [[0.0], [1.0], [1.0]], "K is singular.*f_x = 0.*non-zero focal"),
        (singular(), "K is singular.*invertible K"),
        (with_entry(0, 0, np.nan), "non-finite.*intrinsics in pixels"),
        (with_entry(2, 2, np.inf), "non-finite.*or their field of view"),
        (np.eye(3)[:2], "expected K \\(3, 3\\) or \\(1, 3, 3\\).*got \\(2, 3\\)"),
        (np.stack([K_GOOD] * 2), "\\(1, 3, 3\\) px, one per photograph, got \\(2,"),
        (K_GOOD[0], "one per photograph, got \\(3,\\)"),
    ],
    ids=["zero", "fx0", "singular", "nan", "inf", "2x3", "two-for-one", "vector"],
)
def test_bad_K(recon, K, problem):
    with pytest.raises(ValueError, match=problem):
        recon(PHOTO, K=K)
    with pytest.raises(ValueError, match=problem):
        recon.predict(PHOTO, K=K)


@pytest.mark.parametrize("fov", [0.0, -20.0, 180.0, 250.0, float("nan")])
def test_field_of_view_out_of_range(recon, fov):
    with pytest.raises(ValueError, match=r"in \(0, 180\) degrees.*horizontal angle"):
        recon(PHOTO, fov_deg=fov)


def test_both_K_and_a_field_of_view(recon):
    with pytest.raises(ValueError, match="both K and fov_deg=30.0; pass one of them"):
        recon(PHOTO, K=K_GOOD, fov_deg=30.0)


def test_valid_calls_agree(recon):
    """K given as an array, as a tensor, per photograph, or through its field of view:
    one reconstruction."""
    by_fov = recon([PHOTO, PHOTO[::-1].copy()], fov_deg=30.0)
    by_K = recon([PHOTO, PHOTO[::-1].copy()], K=K_GOOD)
    by_Ks = recon(
        [PHOTO, PHOTO[::-1].copy()], K=torch.from_numpy(np.stack([K_GOOD] * 2))
    )
    for other in (by_K, by_Ks):
        np.testing.assert_array_equal(other.vertices, by_fov.vertices)
        np.testing.assert_array_equal(other.t, by_fov.t)
    assert by_fov.K.shape == (2, 3, 3) and np.isfinite(by_fov.vertices).all()
