"""facelib.reconstruct.texture: the UV layout, texel rasterisation, the texture of a
flat quad seen head-on (derived by hand) and the hole filling."""

import numpy as np
import pytest
import torch

from facelib.geometry.camera import intrinsics_from_fov
from facelib.reconstruct.texture import (
    bake_texture,
    fill_unseen,
    texel_surface,
    uv_layout,
)


def quad(side=100.0, n=11):
    """A flat square grid (n x n vertices) at z = 0 facing -z (towards a frontal
    camera), outward winding, and its canonical coordinates (x, y)."""
    xs = np.linspace(-side / 2, side / 2, n)
    X, Y = np.meshgrid(xs, xs)
    vertices = np.stack([X.ravel(), Y.ravel(), np.zeros(n * n)], -1)
    ids = np.arange(n * n).reshape(n, n)
    faces = []
    for r in range(n - 1):
        for c in range(n - 1):
            a, b, d, e = ids[r, c], ids[r, c + 1], ids[r + 1, c], ids[r + 1, c + 1]
            faces += [(a, d, b), (b, d, e)]
    return vertices, np.array(faces), vertices[:, :2]


def test_uv_layout_by_hand():
    canonical = np.array([[-50.0, -100.0], [50.0, 100.0], [0.0, 0.0]])
    uv = uv_layout(canonical, border=0.0)
    # the longer side (y, 200 mm) spans [0, 1]; v up: y = -100 (top) -> v = 1
    np.testing.assert_allclose(uv, [[0.25, 1.0], [0.75, 0.0], [0.5, 0.5]])


def test_texels_cover_the_layout_with_barycentrics_that_sum_to_one():
    vertices, faces, canonical = quad()
    surface = texel_surface(uv_layout(canonical, border=0.1), faces, 64)
    covered = surface.covered
    # the quad fills [0.1, 0.9]^2 of the texture: rows/columns 6.4 .. 57.6
    assert covered[8:56, 8:56].all() and not covered[:5].any()
    np.testing.assert_allclose(surface.bary[covered].sum(-1), 1.0, atol=1e-5)


def test_flat_quad_seen_head_on_gets_the_photographs_pixels():
    """Each texel's point on the quad, projected by hand through the frontal camera,
    lands on the photograph's pixel whose colour the texel gets."""
    vertices, faces, canonical = quad()
    uv = uv_layout(canonical, border=0.1)
    surface = texel_surface(uv, faces, 64)
    H, W = 120, 160
    yy, xx = np.mgrid[0:H, 0:W]
    photo = np.stack([xx * 255 // (W - 1), yy * 255 // (H - 1), 0 * xx + 90], -1)
    photo = photo.astype(np.uint8)
    K = intrinsics_from_fov(40.0, W, H, dtype=torch.float64).numpy()
    q = np.array([[1.0, 0.0, 0.0, 0.0]])
    t = np.array([[0.0, 0.0, 400.0]])
    texture, weight = bake_texture(vertices, faces, surface, [photo], K[None], q, t)
    covered = surface.covered
    # texel centre (i, j) -> uv -> the quad's (x, y): uv = 0.5 + x / 100 * 0.8
    j, i = np.meshgrid(np.arange(64), np.arange(64))
    u = (j + 0.5) / 64
    v = 1 - (i + 0.5) / 64
    x = (u - 0.5) / 0.8 * 100
    y = -(v - 0.5) / 0.8 * 100
    px = K[0, 0] * x / 400 + K[0, 2]
    py = K[1, 1] * y / 400 + K[1, 2]
    want_r = np.interp(px, np.arange(W), photo[0, :, 0].astype(float))
    want_g = np.interp(py, np.arange(H), photo[:, 0, 1].astype(float))
    inner = covered.copy()
    inner[:9], inner[55:], inner[:, :9], inner[:, 55:] = False, False, False, False
    assert np.abs(texture[..., 0][inner] - want_r[inner]).max() <= 1.5
    assert np.abs(texture[..., 1][inner] - want_g[inner]).max() <= 1.5
    assert (texture[..., 2][inner] == 90).all()
    # the weight is cos² of the angle between the normal (-z) and the way to the
    # camera: 400² / (400² + x² + y²)
    want_w = 400.0**2 / (400.0**2 + x**2 + y**2)
    np.testing.assert_allclose(weight[inner], want_w[inner], rtol=2e-3)


def test_a_quad_seen_from_behind_is_not_seen():
    vertices, faces, canonical = quad()
    surface = texel_surface(uv_layout(canonical), faces, 32)
    K = intrinsics_from_fov(40.0, 64, 64, dtype=torch.float64).numpy()[None]
    photo = np.full((64, 64, 3), 200, np.uint8)
    q = np.array([[0.0, 0.0, 1.0, 0.0]])  # 180° about y: the camera behind the quad
    texture, weight = bake_texture(
        vertices, faces, surface, [photo], K, q, np.array([[0.0, 0.0, 400.0]])
    )
    assert (weight == 0).all()
    assert (texture == 128).all()  # nothing seen: mid-grey


def test_fill_unseen_keeps_known_pixels_and_fills_between_them():
    image = np.zeros((8, 8, 1))
    known = np.zeros((8, 8), bool)
    image[:, :4], known[:, :4] = 10.0, True
    image[:, 4:] = 99.0  # unknown values are ignored
    out = fill_unseen(image, known)
    np.testing.assert_array_equal(out[:, :4], 10.0)
    np.testing.assert_allclose(out[:, 4:], 10.0)  # the only colour known
    mixed = image.copy()
    mixed[:, 7], known[:, 7] = 50.0, True
    out = fill_unseen(mixed, known)
    assert out[0, 5] >= 10.0 and out[0, 5] <= 50.0
    with pytest.raises(ValueError, match="one camera per photograph"):
        bake_texture(
            *quad()[:2],
            texel_surface(uv_layout(quad()[2]), quad()[1], 8),
            [],
            np.zeros((0, 3, 3)),
            np.zeros((0, 4)),
            np.zeros((0, 3)),
        )
