"""facelib.world.appearance: albedo regions, backgrounds and lights."""

import numpy as np
import torch

from facelib.world.appearance import (
    random_backgrounds,
    random_lights,
    sample_appearances,
    vertex_albedo,
)
from facelib.world.template import build_template


def test_albedo_regions():
    template = build_template()
    app = sample_appearances(1, np.random.default_rng(0))[0]
    albedo = vertex_albedo(app, template)
    assert (
        albedo.shape == (template.n_points, 3)
        and albedo.min() >= 0
        and albedo.max() <= 1
    )
    lm = template.landmarks
    skin = albedo[lm[29]]  # the nose bridge
    lips = albedo[
        lm[[51, 57, 62, 66]]
    ]  # the middle of both lips, outer and inner contours
    # the centre of the left eye: halfway between the upper (43) and the lower (47) lid
    # landmarks
    centre = template.canonical[lm[[43, 47]]].mean(axis=0)
    eye = albedo[np.argmin(((template.canonical - centre) ** 2).sum(1))]
    # lips are redder (less green relative to red) than the skin; the eye is not
    # skin-coloured
    assert (lips[:, 1] / lips[:, 0] < 0.97 * skin[1] / skin[0]).all()
    assert np.abs(eye - skin).sum() > 0.15


def test_appearances_are_reproducible_and_varied():
    a = sample_appearances(20, np.random.default_rng(3))
    b = sample_appearances(20, np.random.default_rng(3))
    assert a == b
    tones = np.array([x.skin for x in a]).mean(axis=1)
    assert tones.max() - tones.min() > 0.2  # light and dark skin


def test_backgrounds_and_lights():
    g = torch.Generator().manual_seed(0)
    bg = random_backgrounds(4, 24, 32, g)
    assert bg.shape == (4, 3, 24, 32) and bg.min() >= 0 and bg.max() <= 1
    assert torch.equal(
        bg, random_backgrounds(4, 24, 32, torch.Generator().manual_seed(0))
    )
    direction, ambient, diffuse = random_lights(100, g)
    np.testing.assert_allclose(direction.norm(dim=-1).numpy(), 1.0, atol=1e-6)
    assert (direction[:, 2] < -0.3).all()  # from the front of the face (-z)
    assert (ambient > 0).all() and (diffuse > 0).all()
