"""The camera's pipeline: from the light reaching the sensor to a JPEG file's pixels.

:func:`develop` turns rendered linear-RGB images into the uint8 photographs of the data
set, image by image with random settings (:class:`PhotoSettings`), in the order a phone
applies them:

1. **exposure** (a gain in stops) and a **white balance** error (a gain per channel);
2. **defocus** (a Gaussian blur) and, for some images, **motion blur** (a short line
   kernel at a random angle);
3. **sensor noise**: photon shot noise (variance proportional to the signal) and read
   noise;
4. the **sRGB tone curve** (highlights clip at 1);
5. **JPEG** compression at a random quality, for most images.

All random draws come from one ``torch.Generator``; the same generator state gives the
same photographs.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from facelib.world.places import blur

__all__ = ["PhotoSettings", "linear_to_srgb", "motion_blur", "develop"]


@dataclass(frozen=True)
class PhotoSettings:
    """Ranges of the pipeline's random settings (uniform unless noted).

    exposure_stops: gain 2^stops. white_balance: standard deviation of the log gain of
    each channel. defocus_px: blur sigma at 64 px (scaled with the image size).
    motion_probability and motion_px: share of images with motion blur, its length at
    64 px. shot_noise, read_noise: noise standard deviations (shot: at signal 1).
    jpeg_probability, jpeg_quality: share of images compressed, their quality.
    """

    exposure_stops: tuple[float, float] = (-0.4, 0.6)
    white_balance: float = 0.07
    defocus_px: tuple[float, float] = (0.0, 0.8)
    motion_probability: float = 0.15
    motion_px: tuple[float, float] = (1.0, 2.0)
    shot_noise: tuple[float, float] = (0.003, 0.02)
    read_noise: tuple[float, float] = (0.002, 0.008)
    jpeg_probability: float = 0.7
    jpeg_quality: tuple[int, int] = (50, 95)


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    """The sRGB transfer curve: linear light in [0, 1] to display values."""
    x = x.clamp(0.0, 1.0)
    return torch.where(
        x <= 0.0031308, 12.92 * x, 1.055 * x.clamp_min(1e-8) ** (1 / 2.4) - 0.055
    )


def _uniform(lo, hi, n, g):
    return lo + (hi - lo) * torch.rand(n, generator=g)


def motion_blur(images: torch.Tensor, length: torch.Tensor, angle: torch.Tensor):
    """Blur (B, C, H, W) along a line of ``length`` pixels (B,) at ``angle`` radians
    (B,): a normalised line kernel per image (length <= 1: unchanged)."""
    B, C, H, W = images.shape
    r = int(np.ceil(float(length.max()) / 2)) if len(length) else 0
    if r == 0:
        return images
    ax = torch.arange(-r, r + 1, dtype=images.dtype)
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    c, s = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    along = xx[None] * c + yy[None] * s
    across = -xx[None] * s + yy[None] * c
    half = (length / 2).clamp_min(0.5)[:, None, None]
    k = (along.abs() <= half).to(images.dtype) * torch.clamp(1 - across.abs(), 0, 1)
    k = k / k.sum((1, 2), keepdim=True)
    still = length <= 1.0  # unchanged at any angle: a single tap
    k[still] = 0.0
    k[still, r, r] = 1.0
    weight = k.repeat_interleave(C, 0)[:, None]
    flat = torch.nn.functional.pad(
        images.reshape(1, B * C, H, W), (r, r, r, r), mode="replicate"
    )
    return torch.nn.functional.conv2d(flat, weight, groups=B * C).reshape(B, C, H, W)


def _jpeg(image: torch.Tensor, quality: int) -> torch.Tensor:
    """One uint8 image (3, H, W) through a JPEG file of ``quality`` and back."""
    buffer = io.BytesIO()
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(
        buffer, format="JPEG", quality=int(quality)
    )
    buffer.seek(0)
    decoded = np.asarray(Image.open(buffer).convert("RGB"))
    return torch.from_numpy(decoded.copy()).permute(2, 0, 1)


def develop(
    linear: torch.Tensor,
    generator: torch.Generator,
    settings: PhotoSettings = PhotoSettings(),
) -> torch.Tensor:
    """Photographs (B, 3, H, W) uint8 from linear-RGB renders (B, 3, H, W); see the
    module doc."""
    g, B = generator, linear.shape[0]
    scale = linear.shape[-1] / 64
    gain = 2.0 ** _uniform(*settings.exposure_stops, B, g)[:, None, None, None]
    wb = torch.exp(settings.white_balance * torch.randn(B, 3, 1, 1, generator=g))
    x = linear.float() * gain * wb
    x = blur(x, _uniform(*settings.defocus_px, B, g) * scale)
    moving = torch.rand(B, generator=g) < settings.motion_probability
    length = _uniform(*settings.motion_px, B, g) * scale * moving
    x = motion_blur(x, length, _uniform(0.0, np.pi, B, g))
    shot = _uniform(*settings.shot_noise, B, g)[:, None, None, None]
    read = _uniform(*settings.read_noise, B, g)[:, None, None, None]
    noise = torch.randn(x.shape, generator=g)
    x = x + noise * torch.sqrt(shot**2 * x.clamp_min(0) + read**2)
    out = (linear_to_srgb(x) * 255).round().to(torch.uint8)
    compress = torch.rand(B, generator=g) < settings.jpeg_probability
    quality = torch.randint(
        settings.jpeg_quality[0], settings.jpeg_quality[1] + 1, (B,), generator=g
    )
    for i in compress.nonzero(as_tuple=True)[0].tolist():
        out[i] = _jpeg(out[i], int(quality[i]))
    return out
