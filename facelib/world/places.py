"""Backgrounds that look like places: crops of real photographs, out of focus.

The photographs are scikit-image's sample photographs of real scenes (a cup of coffee
on a table, a cat indoors, a rocket on its pad, a motorcycle in a garage, grass, gravel,
a brick wall; none shows a face), shipped with the package under its BSD licence and
read where the package installed them (:func:`facelib.real.assets.package_file`). Each
background is a random crop (10-60 % of the photograph's shorter side, possibly
mirrored), its colours jittered, blurred as a lens focused on a face 0.4-0.7 m away
blurs a scene a few metres behind it. A share of backgrounds stay synthetic (smooth
colour fields, :func:`facelib.world.appearance.random_backgrounds`) for variety.
Everything is linear RGB.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from PIL import Image

from facelib.real.assets import package_file
from facelib.world.appearance import random_backgrounds

__all__ = ["PLACE_PHOTOGRAPHS", "place_photographs", "place_backgrounds", "blur"]

PLACE_PHOTOGRAPHS = (
    "coffee.png",
    "chelsea.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "grass.png",
    "gravel.png",
    "brick.png",
)
_SIDE = 256  # photographs are kept as squares of this many pixels


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """The sRGB transfer curve inverted: display values in [0, 1] to linear light."""
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


@lru_cache(maxsize=1)
def place_photographs() -> torch.Tensor:
    """The place photographs as (n, 3, 256, 256) linear RGB: each cut to its central
    square and resized."""
    out = []
    for name in PLACE_PHOTOGRAPHS:
        image = Image.open(package_file("skimage", f"data/{name}")).convert("RGB")
        w, h = image.size
        side = min(w, h)
        box = ((w - side) // 2, (h - side) // 2, (w + side) // 2, (h + side) // 2)
        square = image.crop(box).resize((_SIDE, _SIDE), Image.Resampling.LANCZOS)
        out.append(torch.from_numpy(np.asarray(square).copy()).permute(2, 0, 1))
    return srgb_to_linear(torch.stack(out).float() / 255.0)


def blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Gaussian blur of (B, C, H, W) with one standard deviation per image (B,) in
    pixels (0: unchanged), separable, edges replicated."""
    B, C, H, W = images.shape
    radius = int(torch.ceil(3 * sigma.max()).item()) if len(sigma) else 0
    if radius == 0:
        return images
    x = torch.arange(-radius, radius + 1, dtype=images.dtype)
    s = sigma.to(images.dtype).clamp_min(1e-3)[:, None]
    kernel = torch.exp(-0.5 * (x[None] / s) ** 2)
    kernel = kernel / kernel.sum(1, keepdim=True)  # (B, k)
    weight = kernel.repeat_interleave(C, 0)  # (B * C, k)
    flat = images.reshape(1, B * C, H, W)
    pad = torch.nn.functional.pad(flat, (radius, radius, 0, 0), mode="replicate")
    flat = torch.nn.functional.conv2d(pad, weight[:, None, None, :], groups=B * C)
    pad = torch.nn.functional.pad(flat, (0, 0, radius, radius), mode="replicate")
    flat = torch.nn.functional.conv2d(pad, weight[:, None, :, None], groups=B * C)
    return flat.reshape(B, C, H, W)


def place_backgrounds(
    n: int, height: int, width: int, generator: torch.Generator, synthetic: float = 0.25
) -> torch.Tensor:
    """``n`` backgrounds (n, 3, H, W), linear RGB: crops of the place photographs (see
    the module doc), a share ``synthetic`` of them synthetic."""
    if n == 0:
        return torch.zeros(0, 3, height, width)
    photos = place_photographs()
    g = generator
    which = torch.randint(len(photos), (n,), generator=g)
    scale = 0.1 + 0.5 * torch.rand(n, generator=g)  # the crop's side / the photo's
    cx = (1 - scale) * (2 * torch.rand(n, generator=g) - 1)
    cy = (1 - scale) * (2 * torch.rand(n, generator=g) - 1)
    flip = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = scale * flip
    theta[:, 1, 1] = scale
    theta[:, 0, 2], theta[:, 1, 2] = cx, cy
    grid = torch.nn.functional.affine_grid(theta, (n, 3, height, width), False)
    out = torch.empty(n, 3, height, width)
    for k in range(len(photos)):
        sel = (which == k).nonzero(as_tuple=True)[0]
        if len(sel):
            out[sel] = torch.nn.functional.grid_sample(
                photos[k : k + 1].expand(len(sel), -1, -1, -1),
                grid[sel],
                mode="bilinear",
                align_corners=False,
            )
    gains = torch.exp(0.15 * torch.randn(n, 3, 1, 1, generator=g))
    brightness = torch.exp(0.4 * torch.randn(n, 1, 1, 1, generator=g))
    out = out * gains * brightness
    defocus = (0.4 + 2.0 * torch.rand(n, generator=g)) * height / 64
    out = blur(out, defocus)
    synth = torch.rand(n, generator=g) < synthetic
    if synth.any():
        out[synth] = srgb_to_linear(
            random_backgrounds(int(synth.sum()), height, width, g)
        )
    return out.clamp(0.0, 1.0)
