"""facelib.world.photo: the camera pipeline, one stage at a time (the others turned
off), checked against the sRGB curve, scipy's Gaussian blur and hand-made kernels."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from facelib.world.photo import PhotoSettings, develop, linear_to_srgb, motion_blur
from facelib.world.places import srgb_to_linear

#: every stage off: develop is then the sRGB curve and rounding
PLAIN = PhotoSettings(
    exposure_stops=(0.0, 0.0),
    white_balance=0.0,
    defocus_px=(0.0, 0.0),
    motion_probability=0.0,
    shot_noise=(0.0, 0.0),
    read_noise=(0.0, 0.0),
    jpeg_probability=0.0,
)


def smooth_images(n=4, size=64):
    """Linear-RGB gradients in (0.05, 0.75), a different one per image."""
    yy, xx = torch.meshgrid(
        torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij"
    )
    out = []
    for k in range(n):
        a = 0.1 * k / max(n - 1, 1)
        out.append(
            torch.stack([0.1 + a + 0.5 * xx, 0.2 + 0.3 * yy, 0.05 + 0.4 * xx * yy])
        )
    return torch.stack(out)


def shoot(images, settings, seed=0):
    return develop(images, torch.Generator().manual_seed(seed), settings)


def as_linear(photo):
    """The linear light a uint8 photograph encodes."""
    return srgb_to_linear(photo.double() / 255.0)


# ------------------------------------------------------------------ sRGB curve


def test_linear_to_srgb_inverts_srgb_to_linear():
    grid = torch.linspace(0, 1, 4001, dtype=torch.float64)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(grid)), grid, atol=1e-9)
    np.testing.assert_allclose(srgb_to_linear(linear_to_srgb(grid)), grid, atol=1e-9)
    g32 = grid.float()
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(g32)), g32, atol=1e-5)
    # published values: 18 % grey shows at 46.1 %, the threshold, the ends
    x = torch.tensor([0.0, 1.0, 0.18, 0.0031308, 0.214041], dtype=torch.float64)
    np.testing.assert_allclose(
        linear_to_srgb(x), [0.0, 1.0, 0.461356, 0.04045, 0.5], atol=2e-6
    )
    # light beyond the sensor's range clips
    np.testing.assert_allclose(
        linear_to_srgb(torch.tensor([-0.5, 1.0, 3.0])), [0.0, 1.0, 1.0], atol=1e-6
    )


# -------------------------------------------------------------- motion blur


def delta(size=11, batch=1):
    img = torch.zeros(batch, 1, size, size)
    img[:, :, size // 2, size // 2] = 1.0
    return img


def test_motion_blur_of_length_one_or_less_changes_nothing():
    x = torch.rand(3, 3, 9, 9, generator=torch.Generator().manual_seed(0))
    out = motion_blur(x, torch.tensor([1.0, 0.5, 0.0]), torch.zeros(3))
    np.testing.assert_allclose(out, x, atol=1e-7)
    assert motion_blur(x, torch.zeros(3), torch.ones(3)) is x
    # along the pixel grid, also in a batch with a long blur
    out = motion_blur(
        x, torch.tensor([0.0, 5.0, 1.0]), torch.tensor([0.0, 0.3, np.pi / 2])
    )
    np.testing.assert_allclose(out[[0, 2]], x[[0, 2]], atol=1e-7)
    assert (out[1] - x[1]).abs().max() > 0.05


@pytest.mark.parametrize("angle", [0.3, 1.7, 2.0])
def test_motion_blur_of_length_one_or_less_changes_nothing_at_any_angle(angle):
    x = torch.rand(2, 3, 9, 9, generator=torch.Generator().manual_seed(0))
    out = motion_blur(x, torch.tensor([0.0, 5.0]), torch.tensor([angle, 0.3]))
    np.testing.assert_allclose(out[0], x[0], atol=1e-6)


def test_motion_blur_spreads_along_its_angle_only():
    c = 5
    row = motion_blur(delta(), torch.tensor([3.0]), torch.tensor([0.0]))[0, 0]
    expected = torch.zeros(11, 11)
    expected[c, c - 1 : c + 2] = 1 / 3
    np.testing.assert_allclose(row, expected, atol=1e-7)
    five = motion_blur(delta(), torch.tensor([5.0]), torch.tensor([0.0]))[0, 0]
    expected = torch.zeros(11, 11)
    expected[c, c - 2 : c + 3] = 1 / 5
    np.testing.assert_allclose(five, expected, atol=1e-7)
    column = motion_blur(delta(), torch.tensor([3.0]), torch.tensor([np.pi / 2]))[0, 0]
    expected = torch.zeros(11, 11)
    expected[c - 1 : c + 2, c] = 1 / 3
    np.testing.assert_allclose(column, expected, atol=1e-6)
    # a diagonal: the light is kept, spread symmetrically along the diagonal
    diag = motion_blur(delta(), torch.tensor([4.0]), torch.tensor([np.pi / 4]))[0, 0]
    assert float(diag.sum()) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(diag, diag.flip(0).flip(1), atol=1e-7)
    np.testing.assert_allclose(diag, diag.T, atol=1e-7)
    ys, xs = np.nonzero(diag.numpy() > 1e-6)
    assert (np.abs(ys - xs) <= 1).all()  # on or next to the diagonal
    assert np.abs(ys - c).max() <= 2


def test_motion_blur_keeps_flat_images_and_light():
    flat = torch.full((2, 3, 10, 12), 0.42)
    out = motion_blur(flat, torch.tensor([4.0, 6.0]), torch.tensor([0.4, 2.0]))
    np.testing.assert_allclose(out, 0.42, atol=1e-6)
    x = torch.rand(2, 3, 40, 40, generator=torch.Generator().manual_seed(1))
    out = motion_blur(x, torch.tensor([5.0, 3.0]), torch.tensor([1.1, 2.5]))
    inner = (slice(None), slice(None), slice(5, -5), slice(5, -5))
    assert float(out[inner].mean()) == pytest.approx(float(x[inner].mean()), abs=2e-3)
    assert out.std() < x.std()


# ------------------------------------------------------------------ develop


def test_develop_with_every_stage_off_is_the_srgb_curve():
    x = smooth_images()
    before = x.clone()
    out = shoot(x, PLAIN)
    assert out.dtype == torch.uint8 and out.shape == x.shape
    expected = (linear_to_srgb(x) * 255).round().to(torch.uint8)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(x, before)  # the renders are left alone
    bright = shoot(torch.full((1, 3, 8, 8), 3.0), PLAIN)
    assert (bright == 255).all()  # highlights clip
    assert (shoot(torch.zeros(1, 3, 8, 8), PLAIN) == 0).all()


def test_develop_is_reproducible():
    x = smooth_images()
    a = shoot(x, PhotoSettings(), seed=5)
    assert torch.equal(a, shoot(x, PhotoSettings(), seed=5))
    b = shoot(x, PhotoSettings(), seed=6)
    assert (a != b).flatten(1).any(1).all()  # every photograph differs
    # the draws of one image do not depend on the settings' values
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    develop(x, g1, PhotoSettings())
    develop(x, g2, PLAIN)
    assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))


def test_jpeg_changes_the_photograph_a_little():
    x = smooth_images()
    plain = shoot(x, PLAIN).float()
    jpeg = shoot(x, replace(PLAIN, jpeg_probability=1.0)).float()
    diff = (jpeg - plain).abs()
    assert (diff.flatten(1).amax(1) > 0).all()  # every image compressed
    assert diff.mean() < 10.0
    low = shoot(x, replace(PLAIN, jpeg_probability=1.0, jpeg_quality=(35, 35)))
    high = shoot(x, replace(PLAIN, jpeg_probability=1.0, jpeg_quality=(95, 95)))
    assert (high.float() - plain).abs().mean() < (low.float() - plain).abs().mean()
    # the share of compressed images follows jpeg_probability
    many = smooth_images(n=60, size=16)
    some = shoot(many, replace(PLAIN, jpeg_probability=0.5))
    changed = (some != shoot(many, PLAIN)).flatten(1).any(1).float().mean()
    assert 0.3 < changed < 0.7


@pytest.mark.parametrize("stops", [1.0, -1.0, 0.5])
def test_exposure_scales_linear_light_by_two_to_the_stops(stops):
    flat = torch.full((2, 3, 16, 16), 0.12)
    out = shoot(flat, replace(PLAIN, exposure_stops=(stops, stops)))
    ratio = float(as_linear(out).mean()) / 0.12
    assert ratio == pytest.approx(2.0**stops, rel=0.02)


def test_white_balance_tints_each_image_by_channel_gains():
    flat = torch.full((200, 3, 2, 2), 0.2)
    grey = shoot(flat, PLAIN)
    assert (grey == grey[:, :1]).all()
    tinted = as_linear(shoot(flat, replace(PLAIN, white_balance=0.07)))
    log_gain = torch.log(tinted.mean((2, 3)) / 0.2)  # (200, 3)
    assert float(log_gain.std()) == pytest.approx(0.07, rel=0.15)
    assert float(log_gain.mean().abs()) < 0.02
    assert tinted.std((2, 3)).max() < 1e-12  # a gain per image, flat over it


@pytest.mark.parametrize("level", [0.05, 0.2, 0.6])
def test_shot_noise_grows_with_the_square_root_of_the_signal(level):
    flat = torch.full((1, 3, 64, 64), level)
    out = as_linear(shoot(flat, replace(PLAIN, shot_noise=(0.03, 0.03))))
    assert float(out.mean()) == pytest.approx(level, rel=0.03)
    assert float(out.std()) == pytest.approx(0.03 * level**0.5, rel=0.12)
    # read noise: the same at every level
    out = as_linear(shoot(flat, replace(PLAIN, read_noise=(0.01, 0.01))))
    assert float(out.std()) == pytest.approx(0.01, rel=0.12)


def test_defocus_is_a_gaussian_scaled_with_the_image_size():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(1, 3, 128, 128, generator=g) * 0.6 + 0.1
    out = shoot(x, replace(PLAIN, defocus_px=(1.0, 1.0)))
    # 1 px at 64 px is 2 px at 128 px; edges replicated
    ref = np.stack(
        [
            gaussian_filter(x[0, c].double().numpy(), 2.0, mode="nearest", truncate=3.0)
            for c in range(3)
        ]
    )
    expected = np.round(linear_to_srgb(torch.from_numpy(ref)).numpy() * 255)
    assert np.abs(out[0].numpy().astype(float) - expected).max() <= 1.0


def test_motion_blur_blurs_moving_images():
    g = torch.Generator().manual_seed(4)
    x = torch.rand(20, 3, 16, 16, generator=g) * 0.6 + 0.1
    plain = shoot(x, PLAIN)
    # motion_px is the length at 64 px: 12 px at 64 px is 3 px at 16 px
    always = shoot(x, replace(PLAIN, motion_probability=1.0, motion_px=(12.0, 12.0)))
    assert (always != plain).flatten(1).any(1).all()
    assert always.float().std() < plain.float().std()
    # a blur keeps the mean light of each image (up to its replicated edges)
    np.testing.assert_allclose(
        as_linear(always).mean((1, 2, 3)), as_linear(plain).mean((1, 2, 3)), atol=0.01
    )


def test_motion_blur_happens_with_its_probability():
    g = torch.Generator().manual_seed(4)
    x = torch.rand(100, 3, 16, 16, generator=g) * 0.6 + 0.1
    plain = shoot(x, PLAIN)
    some = shoot(x, replace(PLAIN, motion_probability=0.5, motion_px=(12.0, 12.0)))
    changed = (some != plain).flatten(1).any(1).float().mean()
    assert 0.3 < changed < 0.7
