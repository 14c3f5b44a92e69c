"""facelib.world.places: the place photographs, their crops as backgrounds, the blur
(against scipy) and the sRGB curve (against the published formula's values)."""

from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image
from scipy.ndimage import gaussian_filter

from facelib.world.photo import linear_to_srgb
from facelib.world.places import (
    PLACE_PHOTOGRAPHS,
    blur,
    place_backgrounds,
    place_photographs,
    srgb_to_linear,
)

SKIMAGE_DATA = Path(skimage.data.__file__).parent


def backgrounds(seed, n=8, size=32, **kwargs):
    return place_backgrounds(
        n, size, size, torch.Generator().manual_seed(seed), **kwargs
    )


# ------------------------------------------------------------------ sRGB curve


def test_srgb_to_linear_matches_the_published_curve():
    x = torch.tensor([0.0, 1.0, 0.5, 0.04045, 0.2, 0.8], dtype=torch.float64)
    expected = [0.0, 1.0, 0.214041, 0.0031308, 0.0331048, 0.603827]
    np.testing.assert_allclose(srgb_to_linear(x).numpy(), expected, atol=2e-6)
    # the two branches meet at the threshold; the curve rises steadily
    eps = 1e-9
    lo = srgb_to_linear(torch.tensor([0.04045 - eps], dtype=torch.float64))
    hi = srgb_to_linear(torch.tensor([0.04045 + eps], dtype=torch.float64))
    assert abs(float(hi - lo)) < 1e-7
    grid = torch.linspace(0, 1, 2001, dtype=torch.float64)
    assert (srgb_to_linear(grid).diff() > 0).all()
    assert srgb_to_linear(grid.float()).dtype == torch.float32


# -------------------------------------------------------------- the photographs


def test_place_photographs_are_the_central_squares_in_linear_light():
    photos = place_photographs()
    assert photos.shape == (len(PLACE_PHOTOGRAPHS), 3, 256, 256)
    assert photos.dtype == torch.float32
    assert photos.min() >= 0.0 and photos.max() <= 1.0
    assert place_photographs() is photos  # read once
    for k, name in enumerate(PLACE_PHOTOGRAPHS):
        original = np.asarray(Image.open(SKIMAGE_DATA / name).convert("RGB"))
        h, w = original.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        square = original[top : top + side, left : left + side] / 255.0
        # the same mean colour, in display values, as the photograph's central square
        shown = linear_to_srgb(photos[k].double()).numpy()
        assert np.abs(shown.mean((1, 2)) - square.mean((0, 1))).max() < 0.01
        # and the same spread of values (resizing keeps the picture's contrast)
        assert shown.std() == pytest.approx(square.std(), rel=0.15)
        if Image.open(SKIMAGE_DATA / name).mode == "L":  # grey photographs
            assert torch.equal(photos[k, 0], photos[k, 1])
            assert torch.equal(photos[k, 1], photos[k, 2])
    # all different photographs
    flat = photos.reshape(len(photos), -1)
    assert (torch.cdist(flat, flat) + torch.eye(len(photos)) * 1e3).min() > 1.0


# ------------------------------------------------------------------------ blur


@pytest.mark.parametrize("sigma", [1.0, 1.5, 2.0, 4.0])
def test_blur_matches_scipy_with_replicated_edges(sigma):
    x = torch.rand(
        2, 3, 20, 27, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    out = blur(x, torch.tensor([sigma, sigma]))
    assert out.shape == x.shape and out.dtype == x.dtype
    # blur truncates the kernel at ceil(3 sigma), scipy at int(3 sigma + 0.5): the
    # same radius for these sigmas; "nearest" is scipy's name for replicated edges
    ref = np.stack(
        [
            [
                gaussian_filter(x[b, c].numpy(), sigma, mode="nearest", truncate=3.0)
                for c in range(3)
            ]
            for b in range(2)
        ]
    )
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-12)


def test_blur_is_per_image_and_leaves_sigma_zero_alone():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(3, 3, 16, 16, generator=g)
    assert blur(x, torch.zeros(3)) is x
    assert blur(x[:0], torch.zeros(0)).shape == (0, 3, 16, 16)
    sigma = torch.tensor([0.0, 2.0, 0.7])
    out = blur(x, sigma)
    np.testing.assert_allclose(out[0].numpy(), x[0].numpy(), atol=1e-6)
    for k in (1, 2):
        alone = blur(x[k : k + 1], sigma[k : k + 1])
        ref = np.stack(
            [
                gaussian_filter(
                    x[k, c].numpy().astype(np.float64),
                    float(sigma[k]),
                    mode="nearest",
                    truncate=3.0,
                )
                for c in range(3)
            ]
        )
        # the batch's radius is the largest sigma's: a longer tail, negligible
        np.testing.assert_allclose(out[k].numpy(), alone[0].numpy(), atol=1e-5)
        np.testing.assert_allclose(out[k].numpy(), ref, atol=2e-4)


def test_blur_keeps_flat_images_and_the_mean():
    flat = torch.full((2, 3, 12, 17), 0.37)
    np.testing.assert_allclose(
        blur(flat, torch.tensor([1.3, 3.0])).numpy(), 0.37, atol=1e-6
    )
    g = torch.Generator().manual_seed(2)
    x = torch.rand(4, 3, 64, 64, generator=g, dtype=torch.float64)
    out = blur(x, torch.full((4,), 2.0))
    np.testing.assert_allclose(
        out.mean((2, 3)).numpy(), x.mean((2, 3)).numpy(), atol=2e-3
    )
    assert out.std() < 0.5 * x.std()  # and smooths the noise away
    assert out.min() >= x.min() and out.max() <= x.max()


# ----------------------------------------------------------------- backgrounds


def test_place_backgrounds_shape_range_and_reproducibility():
    a = backgrounds(0, n=6, size=40)
    assert a.shape == (6, 3, 40, 40) and a.dtype == torch.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert torch.equal(a, backgrounds(0, n=6, size=40))
    other = backgrounds(1, n=6, size=40)
    assert (a - other).abs().amax((1, 2, 3)).min() > 0.01  # every image differs
    wide = place_backgrounds(3, 24, 40, torch.Generator().manual_seed(0))
    assert wide.shape == (3, 3, 24, 40)
    # each image a different scene: not all the same picture
    assert (a[0] - a[1:]).abs().amax((1, 2, 3)).min() > 0.01


def test_synthetic_share_replaces_whole_images():
    n = 64
    photos = backgrounds(3, n=n, synthetic=0.0)
    synthetic = backgrounds(3, n=n, synthetic=1.0)
    half = backgrounds(3, n=n, synthetic=0.5)
    default = backgrounds(3, n=n)
    same = lambda a, b: (a == b).flatten(1).all(1)  # noqa: E731
    assert not same(photos, synthetic).any()
    # a share of the photo crops is swapped for synthetic fields, the rest kept
    kept = same(photos, half)
    assert 0.3 < kept.float().mean() < 0.7
    assert 0.6 < same(photos, default).float().mean() < 0.9
    assert not same(half[~kept], photos[~kept]).any()


def test_synthetic_and_photo_backgrounds_look_different():
    """Photo crops carry the photographs' colours and textures (often saturated, with
    edges); the synthetic fields are muted and smooth."""
    n = 48
    photos = backgrounds(4, n=n, size=64, synthetic=0.0)
    synthetic = backgrounds(4, n=n, size=64, synthetic=1.0)

    def chroma(x):  # the spread of the channels round each pixel's grey
        return (x - x.mean(1, keepdim=True)).abs().mean()

    def gradient(x):
        return (x.diff(dim=-1).abs().mean() + x.diff(dim=-2).abs().mean()) / x.mean()

    assert chroma(synthetic) < chroma(photos)
    assert gradient(synthetic) < gradient(photos)
