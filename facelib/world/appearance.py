"""Appearance of the synthetic faces: per-vertex albedo, backgrounds and lights.

Albedo regions are defined on the template's canonical domain
(:mod:`facelib.world.template`), so every identity carries them: skin (a tone drawn from
a range of real skin colours, with a little redness on the cheeks and nose and a smooth
mottling), eyebrows, lips, the eyes (sclera and iris) and the nostrils. Colours are
linear RGB in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from facelib.data.template import FaceTemplate

__all__ = [
    "Appearance",
    "sample_appearances",
    "vertex_albedo",
    "random_backgrounds",
    "random_lights",
]

# skin tones from light to dark (linear RGB), interpolated at random
_SKIN_TONES = np.array(
    [
        [0.93, 0.76, 0.66],
        [0.87, 0.67, 0.55],
        [0.78, 0.56, 0.42],
        [0.66, 0.45, 0.32],
        [0.50, 0.33, 0.23],
        [0.33, 0.21, 0.15],
    ]
)
_IRIS = np.array(
    [
        [0.25, 0.15, 0.08],
        [0.35, 0.25, 0.12],
        [0.25, 0.40, 0.55],
        [0.30, 0.45, 0.30],
        [0.12, 0.08, 0.05],
    ]
)


@dataclass(frozen=True)
class Appearance:
    """The colours of one face: skin, hair (brows), lips and iris (RGB in [0, 1]), brow
    density and cheek redness in [0, 1], and a seed for the skin's smooth mottling."""

    skin: tuple[float, float, float]
    hair: tuple[float, float, float]
    lips: tuple[float, float, float]
    iris: tuple[float, float, float]
    brow_density: float
    redness: float
    mottle_seed: int


def sample_appearances(n: int, rng: np.random.Generator) -> list[Appearance]:
    """``n`` random appearances."""
    out = []
    for _ in range(n):
        tone = rng.uniform(0, len(_SKIN_TONES) - 1)
        lo = int(np.floor(tone))
        skin = _SKIN_TONES[lo] + (tone - lo) * (
            _SKIN_TONES[min(lo + 1, len(_SKIN_TONES) - 1)] - _SKIN_TONES[lo]
        )
        skin = np.clip(skin * rng.uniform(0.92, 1.08, 3), 0, 1)
        hair = np.clip(
            rng.uniform(0.05, 0.45)
            * np.array([1.0, 0.8, 0.6])
            * rng.uniform(0.8, 1.2, 3),
            0,
            1,
        )
        lips = np.clip(
            skin * np.array([0.95, 0.62, 0.62]) * rng.uniform(0.8, 1.0), 0, 1
        )
        iris = _IRIS[rng.integers(len(_IRIS))]
        out.append(
            Appearance(
                tuple(skin),
                tuple(hair),
                tuple(lips),
                tuple(iris),
                float(rng.uniform(0.4, 1.0)),
                float(rng.uniform(0.0, 1.0)),
                int(rng.integers(2**31)),
            )
        )
    return out


def _soft_ellipse(s, y, s0, y0, rs, ry, edge=0.25):
    r = np.sqrt(((s - s0) / rs) ** 2 + ((y - y0) / ry) ** 2)
    return np.clip((1.0 + edge - r) / (2 * edge), 0.0, 1.0)


def vertex_albedo(appearance: Appearance, template: FaceTemplate) -> np.ndarray:
    """Per-vertex albedo (P, 3) in [0, 1] of ``appearance`` on the template."""
    s, y = template.canonical[:, 0], template.canonical[:, 1]
    a = np.abs(s)
    skin = np.asarray(appearance.skin)
    rng = np.random.default_rng(appearance.mottle_seed)
    phases = rng.uniform(0, 2 * np.pi, (6, 2))
    freqs = rng.uniform(1 / 60, 1 / 15, (6, 2))
    mottle = (
        sum(
            np.cos(2 * np.pi * f[0] * s + p[0]) * np.cos(2 * np.pi * f[1] * y + p[1])
            for f, p in zip(freqs, phases)
        )
        / 6
    )
    colour = skin[None, :] * (1.0 + 0.06 * mottle[:, None])
    red = (
        appearance.redness
        * 0.12
        * (
            _soft_ellipse(a, y, 42.0, 5.0, 18.0, 14.0)
            + 0.6 * _soft_ellipse(s, y, 0.0, 8.0, 9.0, 8.0)
        )
    )
    colour = colour * (1.0 - red[:, None] * np.array([0.0, 0.5, 0.5]))

    def paint(weight, rgb):
        nonlocal colour
        colour = (
            colour * (1.0 - weight[:, None])
            + weight[:, None] * np.asarray(rgb)[None, :]
        )

    # eyebrows: an arch above each eye, thinning outwards
    arch_y = -47.0 + 0.0025 * (a - 33.0) ** 2
    brows = (
        appearance.brow_density
        * np.clip(1.0 - np.abs(y - arch_y) / 3.5, 0, 1)
        * _soft_ellipse(a, y, 35.0, -47.0, 24.0, 12.0, 0.1)
    )
    paint(0.85 * brows, appearance.hair)
    # lips
    upper = _soft_ellipse(s, y, 0.0, 38.5, 24.0, 3.6)
    lower = _soft_ellipse(s, y, 0.0, 46.5, 21.0, 5.0)
    paint(np.maximum(upper, lower) * 0.9, appearance.lips)
    paint(
        _soft_ellipse(s, y, 0.0, 41.8, 24.0, 0.9, 0.5) * 0.7,
        np.asarray(appearance.lips) * 0.35,
    )  # the mouth line
    # eyes: the sclera in the lid opening, the iris and pupil in its middle, dark lashes
    # on the rims
    opening = _soft_ellipse(a, y, 35.5, -28.5, 15.0, 3.6, 0.15)
    paint(opening * 0.9, (0.85, 0.82, 0.78))
    paint(_soft_ellipse(a, y, 35.5, -28.5, 5.0, 3.6, 0.2), appearance.iris)
    paint(_soft_ellipse(a, y, 35.5, -28.5, 2.0, 2.0, 0.3), (0.03, 0.03, 0.03))
    paint(
        0.6
        * np.clip(1.0 - np.abs(y + 32.0 + 0.01 * (a - 35.5) ** 2) / 1.2, 0, 1)
        * _soft_ellipse(a, y, 35.5, -30.0, 16.0, 6.0, 0.1),
        (0.05, 0.04, 0.04),
    )
    # nostrils
    paint(_soft_ellipse(a, y, 7.0, 19.0, 3.5, 2.0) * 0.8, skin * 0.25)
    return np.clip(colour, 0.0, 1.0)


def random_backgrounds(
    n: int, height: int, width: int, generator: torch.Generator
) -> torch.Tensor:
    """``n`` random backgrounds (n, 3, H, W) in [0, 1]: a smooth colour field with
    blurred blobs and texture, like an out-of-focus room."""
    coarse = torch.rand(n, 3, 3, 3, generator=generator)
    mid = torch.rand(n, 3, 8, 8, generator=generator) - 0.5
    fine = torch.rand(n, 1, 32, 32, generator=generator) - 0.5
    up = lambda x: torch.nn.functional.interpolate(
        x, size=(height, width), mode="bilinear", align_corners=False
    )  # noqa: E731
    bg = 0.15 + 0.7 * up(coarse) + 0.35 * up(mid) + 0.08 * up(fine)
    grey = bg.mean(dim=1, keepdim=True)
    return (0.45 * bg + 0.55 * grey).clamp(0.0, 1.0)  # muted colours


def random_lights(
    n: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` lights: unit directions (n, 3) in the model frame, from the front
    half-space (towards the viewer, -z) within about 70° of the face's axis; ambient
    (n,) and diffuse (n,) intensities."""
    theta = torch.rand(n, generator=generator) * 2 * torch.pi
    tilt = torch.rand(n, generator=generator) * torch.deg2rad(torch.tensor(70.0))
    direction = torch.stack(
        [
            torch.sin(tilt) * torch.cos(theta),
            torch.sin(tilt) * torch.sin(theta),
            -torch.cos(tilt),
        ],
        -1,
    )
    ambient = 0.25 + 0.3 * torch.rand(n, generator=generator)
    diffuse = 0.5 + 0.4 * torch.rand(n, generator=generator)
    return direction, ambient, diffuse
