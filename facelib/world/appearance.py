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
    "hair_colour",
    "head_albedo",
    "head_gloss",
    "PART_GLOSS",
    "light_colour",
    "random_lighting",
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
    beard: float = 0.0  # 0 none .. 1 full beard (stubble in between)
    freckles: float = 0.0  # density of freckles, 0 .. 1
    clothes: tuple[float, float, float] = (0.2, 0.25, 0.35)
    grey: float = 0.0  # greying of the hair, 0 .. 1


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
        beard = float(rng.uniform(0.2, 1.0)) if rng.random() < 0.3 else 0.0
        fair = float(np.clip(1.5 - tone, 0.0, 1.0))  # freckles mostly on fair skin
        clothes = np.clip(
            rng.uniform(0.03, 0.7) * rng.dirichlet(np.ones(3) * 2.0) * 3, 0.02, 0.9
        )
        out.append(
            Appearance(
                tuple(skin),
                tuple(hair),
                tuple(lips),
                tuple(iris),
                float(rng.uniform(0.4, 1.0)),
                float(rng.uniform(0.0, 1.0)),
                int(rng.integers(2**31)),
                beard=beard,
                freckles=float(fair * rng.uniform(0, 1) * (rng.random() < 0.4)),
                clothes=tuple(float(c) for c in clothes),
                grey=float(rng.uniform(0.3, 1.0)) if rng.random() < 0.15 else 0.0,
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
    # freckles: single darker vertices over the cheeks and the nose
    spots = rng.random(len(s)) < 0.08 * appearance.freckles
    spots &= _soft_ellipse(a, y, 25.0, 5.0, 45.0, 30.0) > 0.2
    colour[spots] *= np.array([0.8, 0.68, 0.6])
    if appearance.beard > 0:  # stubble to a full beard: jaw, chin and upper lip
        region = np.clip(
            _soft_ellipse(a, y, 0.0, 62.0, 75.0, 40.0, 0.2)
            + _soft_ellipse(s, y, 0.0, 31.0, 24.0, 4.5, 0.3)
            - 1.2 * np.maximum(upper, lower),
            0.0,
            1.0,
        ) * (y > 18.0)
        grain = 0.7 + 0.3 * rng.random(len(s))
        paint(region * appearance.beard * grain * 0.9, hair_colour(appearance))
    return np.clip(colour, 0.0, 1.0)


def hair_colour(appearance: Appearance) -> np.ndarray:
    """The head hair's colour (3,): the brows' colour greyed by ``grey``."""
    return (1 - appearance.grey) * np.asarray(appearance.hair) + appearance.grey * (
        np.array([0.62, 0.6, 0.58])
    )


#: how much of the dominant light's highlight each part reflects (skin 1)
PART_GLOSS = {
    "scalp": 1.0,
    "hair": 0.5,
    "neck": 0.8,
    "torso": 0.15,
    "ear_right": 0.8,
    "ear_left": 0.8,
    "eye_right": 2.0,
    "eye_left": 2.0,
    "glasses": 2.5,
}


def head_albedo(
    appearance: Appearance,
    parts: dict[str, slice],
    eye_latitude: np.ndarray,
    frame_colour=(0.05, 0.04, 0.04),
) -> np.ndarray:
    """Per-vertex albedo (N, 3) of the head's parts (:mod:`facelib.world.head`):
    skin on the scalp, the neck and the ears (the ears a little redder), hair with
    strand-like streaks, clothes on the torso, eyeballs whose sclera, iris and
    pupil follow ``eye_latitude`` (the angle in degrees of each eyeball vertex from
    its gaze axis), and the glasses' frame in ``frame_colour``."""
    n = max(sl.stop for sl in parts.values())
    out = np.zeros((n, 3))
    skin = np.asarray(appearance.skin)
    rng = np.random.default_rng(appearance.mottle_seed + 1)
    for name, sl in parts.items():
        k = sl.stop - sl.start
        if name in ("scalp", "neck"):
            out[sl] = skin * (0.97 + 0.03 * rng.random((k, 1)))
        elif name.startswith("ear"):
            out[sl] = skin * np.array([1.0, 0.9, 0.88])
        elif name == "hair":
            streak = 0.75 + 0.5 * rng.random((k, 1))
            out[sl] = np.clip(hair_colour(appearance) * streak, 0.0, 1.0)
        elif name == "torso":
            out[sl] = appearance.clothes
        elif name.startswith("eye"):
            lat = eye_latitude
            colour = np.tile(np.array([0.62, 0.58, 0.55]), (k, 1))
            colour[lat < 38.0] = appearance.iris
            colour[lat < 16.0] = (0.02, 0.02, 0.02)
            out[sl] = colour
        elif name == "glasses":
            out[sl] = frame_colour
    return out


def head_gloss(parts: dict[str, slice]) -> np.ndarray:
    """Per-vertex highlight multipliers (N,) of the head's parts
    (:data:`PART_GLOSS`)."""
    n = max(sl.stop for sl in parts.values())
    out = np.ones(n)
    for name, sl in parts.items():
        out[sl] = PART_GLOSS[name]
    return out


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


# colour of a light of each temperature (kelvin), relative RGB of a black body
_TEMPERATURES = np.array([2700.0, 3500.0, 4500.0, 5500.0, 6500.0, 8000.0])
_TEMPERATURE_RGB = np.array(
    [
        [1.00, 0.65, 0.35],
        [1.00, 0.75, 0.52],
        [1.00, 0.85, 0.72],
        [1.00, 0.93, 0.87],
        [1.00, 0.98, 1.00],
        [0.85, 0.90, 1.00],
    ]
)


def light_colour(kelvin: np.ndarray) -> np.ndarray:
    """Linear RGB (n, 3) of lights of colour temperature ``kelvin`` (n,), at unit
    luminance (Rec. 709 weights)."""
    rgb = np.stack(
        [np.interp(kelvin, _TEMPERATURES, _TEMPERATURE_RGB[:, c]) for c in range(3)],
        -1,
    )
    return rgb / (rgb @ np.array([0.2126, 0.7152, 0.0722]))[:, None]


def random_lighting(n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """``n`` lights like photographs': a dominant light (a window, a lamp, the sun)
    from the front half-space within about 75° of the face's axis, of colour
    temperature 2700-8000 K and intensity 0.6-1.6, casting shadows; an ambient
    environment brighter from above (sky) than from below (ground, warmer), of its own
    temperature; a highlight of strength 0.03-0.2 and shininess 10-30.

    Returns a dict of tensors: ``light_dir`` (n, 3), ``colour``, ``sky``, ``ground``
    (n, 3), ``specular``, ``shininess`` (n,), all float64.
    """
    g = generator
    direction, _, _ = random_lights(n, g)
    tilt_extra = torch.rand(n, generator=g) < 0.3  # some lights from the side
    direction = torch.where(
        tilt_extra[:, None],
        torch.nn.functional.normalize(
            direction * torch.tensor([1.6, 1.0, 0.6]), dim=-1
        ),
        direction,
    )
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(n, generator=g)  # noqa: E731
    key_t = u(2700.0, 8000.0).numpy()
    amb_t = u(3500.0, 9000.0).numpy()
    colour = torch.from_numpy(light_colour(key_t)) * u(0.6, 1.6)[:, None].double()
    sky = torch.from_numpy(light_colour(amb_t)) * u(0.15, 0.55)[:, None].double()
    ground = sky * u(0.35, 0.8)[:, None].double() * torch.tensor([1.05, 1.0, 0.92])
    return {
        "light_dir": direction.double(),
        "colour": colour,
        "sky": sky,
        "ground": ground,
        "specular": u(0.03, 0.2).double(),
        "shininess": u(10.0, 30.0).double(),
    }
