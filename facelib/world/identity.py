"""Identities of the synthetic face world: anatomical parameters -> a face surface in
template topology.

A face is built on the canonical domain of :mod:`facelib.world.template` in three steps:

1. **Layout warp.** Each canonical point ``(s_c, y_c)`` moves to an actual ``(s, y)``:
   the eyes, the nose, the mouth and the chin slide up and down (a monotone PCHIP curve
   through their heights), and the eye band, the nose and the mouth band widen or narrow
   (smooth local scalings of ``s``). Because features and landmarks are attached to
   canonical points, they move together.
2. **Base head.** ``(s, y)`` lands on an ellipsoidal head: ``x = W(y) sin θ``, ``z =
   -D(y) cos θ`` with ``θ = s / R``, where the half-width ``W(y)`` follows the temples,
   cheekbones, jaw angle and chin, and the depth ``D(y)`` the forehead slope and the
   chin.
3. **Features and residual.** Smooth bumps and dents in canonical coordinates (nose
   ridge, tip and alae, eye sockets and lids, brow ridge, cheekbones, cheeks, lips,
   mouth corners, chin, temples, forehead), scaled by the identity's parameters, plus a
   smooth random residual field, displace the base along its normal (mm, outwards
   positive).

Points are in millimetres in the model frame of :mod:`facelib.geometry.camera` (+x the
subject's left, +y down, the face looking towards -z). Everything is numpy float64.
"""

from __future__ import annotations

import hashlib
from dataclasses import astuple, dataclass, fields
from functools import lru_cache

import numpy as np
from scipy.interpolate import PchipInterpolator

from facelib.data.template import FaceTemplate
from facelib.world.template import HEAD_RADIUS_MM, S_MAX_MM, Y_CHIN_MM, Y_TOP_MM

__all__ = [
    "Identity",
    "PARAMETER_PRIORS",
    "sample_identities",
    "surface_points",
    "face_shape",
    "face_shapes",
]


@dataclass(frozen=True)
class Identity:
    """Anatomical parameters of one face (all in mm unless noted) and its residual
    field.

    The defaults are the population mean. ``residual`` holds the coefficients of the
    smooth random field (see :func:`_residual_fields`); ``None`` means no residual.
    """

    face_width: float = 70.5  # half-width of the head at the cheekbones
    face_height: float = 1.0  # vertical scale of the whole face (ratio)
    face_depth: float = 92.0  # depth of the face front from the head centre
    forehead_slope: float = 12.0  # how far the top of the forehead leans back
    brow_ridge: float = 3.5
    eye_socket_depth: float = 7.0
    eye_spacing: float = 2.0  # outward shift of each eye from the midline
    eye_height: float = 0.0  # downward shift of the eyes and brows
    nose_length: float = 0.0  # downward shift of the nose tip
    nose_width: float = 1.4  # lateral scale of the nose (ratio)
    nose_projection: float = 14.0  # height of the nose tip above the face
    nose_bridge: float = 7.0  # height of the bridge at the eyes
    nose_tip: float = 3.0  # roundness of the tip (bulb height)
    cheekbones: float = 5.0
    cheek_fullness: float = 3.5
    mouth_width: float = 1.32  # lateral scale of the mouth (ratio)
    mouth_height: float = -2.0  # downward shift of the mouth
    upper_lip: float = 4.0
    lower_lip: float = 4.5
    chin_projection: float = 6.0
    chin_width: float = 28.0  # half-width of the head under the chin
    jaw_width: float = 60.0  # half-width at the jaw angle
    jaw_angle: float = 0.0  # how square the jaw is (-1 round .. 1 square)
    temples: float = 4.0
    asymmetry: float = (
        0.0  # left/right difference of the layout and the features (ratio)
    )
    lower_face: float = 5.0  # downward shift of the chin (length of the lower face)
    eye_width: float = 1.04  # scale of each eye's width about its centre (ratio)
    residual: np.ndarray | None = None

    def parameters(self) -> np.ndarray:
        """The anatomical parameters as a vector, (N_PARAMETERS,), in the order of the
        fields."""
        return np.asarray(astuple(self)[:-1], dtype=np.float64)


#: (mean, standard deviation) of each anatomical parameter in the population.
PARAMETER_PRIORS: dict[str, tuple[float, float]] = {
    "face_width": (70.5, 3.2),
    "face_height": (1.0, 0.045),
    "face_depth": (92.0, 7.8),
    "forehead_slope": (12.0, 10.4),
    "brow_ridge": (3.5, 2.86),
    "eye_socket_depth": (7.0, 3.25),
    "eye_spacing": (2.0, 1.0),
    "eye_height": (0.0, 2.0),
    "nose_length": (0.0, 2.5),
    "nose_width": (1.4, 0.09),
    "nose_projection": (14.0, 1.8),
    "nose_bridge": (7.0, 3.9),
    "nose_tip": (3.0, 1.95),
    "cheekbones": (5.0, 3.9),
    "cheek_fullness": (3.5, 4.55),
    "mouth_width": (1.32, 0.05),
    "mouth_height": (-2.0, 2.0),
    "upper_lip": (4.0, 2.34),
    "lower_lip": (4.5, 2.6),
    "chin_projection": (6.0, 5.2),
    "chin_width": (28.0, 6.5),
    "jaw_width": (60.0, 7.8),
    "jaw_angle": (0.0, 0.4),
    "temples": (4.0, 3.25),
    "asymmetry": (0.0, 0.03),
    "lower_face": (5.0, 3.5),
    "eye_width": (1.04, 0.04),
}
N_PARAMETERS = len(PARAMETER_PRIORS)
_WAVES = 48  # sinusoidal fields of each symmetry
#: the centres (s >= 0, y) in mm of the local bumps (mirrored for s > 0)
_BUMP_CENTRES = [
    (s0, y0)
    for y0 in (
        -75.0,
        -55.0,
        -40.0,
        -28.0,
        -16.0,
        -4.0,
        8.0,
        20.0,
        32.0,
        45.0,
        60.0,
        75.0,
    )
    for s0 in (0.0, 14.0, 28.0, 42.0, 58.0, 76.0)
]
_BUMP_SIGMA_MM = 13.0
_N_BUMPS = len(_BUMP_CENTRES)
#: coefficients of the residual field: sinusoids and local bumps, each with a
#: symmetric and an antisymmetric part
RESIDUAL_SIZE = 2 * (_WAVES + _N_BUMPS)
_BUMP_WEIGHT = 0.6  # weight of each local bump against the longest sinusoid
RESIDUAL_MM = 2.2  # RMS amplitude of the residual field in the middle of the face


def sample_identities(
    n: int, rng: np.random.Generator, *, residual: bool = True
) -> list[Identity]:
    """``n`` random identities: every parameter Gaussian around its prior, clipped at
    ±2.5 σ."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"expected a numpy.random.Generator, got {type(rng).__name__}")
    names = list(PARAMETER_PRIORS)
    mean = np.array([PARAMETER_PRIORS[k][0] for k in names])
    std = np.array([PARAMETER_PRIORS[k][1] for k in names])
    z = np.clip(rng.standard_normal((n, len(names))), -2.5, 2.5)
    res = rng.standard_normal((n, RESIDUAL_SIZE))
    return [
        Identity(
            **dict(zip(names, mean + std * z[i])), residual=res[i] if residual else None
        )
        for i in range(n)
    ]


# -------------------------------------------------------------------------------
# building blocks
def _gauss(s, y, s0, y0, rs, ry):
    return np.exp(-(((s - s0) / rs) ** 2) - ((y - y0) / ry) ** 2)


def _smoothstep(x, lo, hi):
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _band(x, centre, half_width, soft):
    """1 inside ``|x - centre| < half_width``, falling smoothly to 0 over ``soft``
    mm."""
    d = np.abs(x - centre)
    return 1.0 - _smoothstep(d, half_width, half_width + soft)


def _warp(
    idt: Identity, s_c: np.ndarray, y_c: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Layout warp: canonical (s_c, y_c) -> actual (s, y), mm."""
    h = idt.face_height
    knots_c = np.array([Y_TOP_MM, -44.0, -28.0, 7.0, 42.0, 70.0, 110.0])
    knots = np.array(
        [
            Y_TOP_MM * h,
            -44.0 * h + idt.eye_height,
            -28.0 * h + idt.eye_height,
            7.0 * h + idt.nose_length,
            42.0 * h + idt.mouth_height,
            70.0 * h + 0.5 * idt.mouth_height + idt.lower_face,
            110.0 * h + idt.lower_face,
        ]
    )
    y = PchipInterpolator(knots_c, knots)(y_c)
    a = np.abs(s_c)
    eye_band = (
        _band(y_c, -30.0, 14.0, 12.0)
        * _smoothstep(a, 8.0, 22.0)
        * (1 - _smoothstep(a, 55.0, 80.0))
    )
    nose_zone = _band(y_c, 2.0, 18.0, 8.0) * (1 - _smoothstep(a, 16.0, 30.0))
    mouth_band = _band(y_c, 42.0, 10.0, 10.0) * (1 - _smoothstep(a, 28.0, 45.0))
    side = np.sign(s_c)
    s = (
        s_c
        + side * idt.eye_spacing * eye_band
        + side * (a - 35.5) * (idt.eye_width - 1.0) * eye_band
        + s_c * (idt.nose_width - 1.0) * nose_zone
        + s_c * (idt.mouth_width - 1.0) * mouth_band
    )
    s = s + idt.asymmetry * 40.0 * _smoothstep(a, 0.0, 60.0) * _band(
        y_c, -10.0, 50.0, 30.0
    )  # shifts features sideways
    return s, y


def _base(idt: Identity, s: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ellipsoidal head at actual (s, y): points (P, 3) and unit outward normals (P,
    3)."""
    h = idt.face_height
    wy = np.array([-95.0, -60.0, -30.0, 0.0, 30.0, 55.0, 75.0, 95.0, 125.0]) * h
    jaw_corner = idt.jaw_width + 4.0 * idt.jaw_angle
    ww = np.array(
        [
            idt.face_width - 12.0,
            idt.face_width - 5.0,
            idt.face_width - 2.0,
            idt.face_width,
            0.5 * (idt.face_width + jaw_corner),
            jaw_corner - 3.0 * idt.jaw_angle,
            0.5 * (jaw_corner + idt.chin_width) - 4.0 * idt.jaw_angle,
            idt.chin_width,
            idt.chin_width - 8.0,
        ]
    )
    dd = np.array(
        [
            idt.face_depth - 10.0 - idt.forehead_slope,
            idt.face_depth - 4.0 - 0.4 * idt.forehead_slope,
            idt.face_depth - 2.0,
            idt.face_depth,
            idt.face_depth - 1.0,
            idt.face_depth - 5.0,
            idt.face_depth - 12.0,
            idt.face_depth - 26.0,
            idt.face_depth - 45.0,
        ]
    )
    W, D = PchipInterpolator(wy, ww), PchipInterpolator(wy, dd)
    theta = s / HEAD_RADIUS_MM
    w, d = W(y), D(y)
    pts = np.stack([w * np.sin(theta), y, -d * np.cos(theta)], axis=-1)
    d_theta = np.stack(
        [w * np.cos(theta), np.zeros_like(y), d * np.sin(theta)], axis=-1
    )
    d_y = np.stack(
        [W(y, 1) * np.sin(theta), np.ones_like(y), -D(y, 1) * np.cos(theta)], axis=-1
    )
    n = np.cross(d_y, d_theta)  # outward: at the front (theta = 0) this is (0, 0, -w)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    return pts, n


def _features(idt: Identity, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Displacement along the normal (mm, outwards) of every anatomical feature, at
    canonical (s, y)."""
    a = np.abs(s)
    # left/right difference of the features' strength
    lr = 1.0 + idt.asymmetry * 3.0 * np.sign(s)
    d = np.zeros_like(s)
    # nose: a ridge from the bridge (y = -30) to the tip (y = 7), then down to the base
    # (y = 19)
    t = np.clip((y + 30.0) / 37.0, 0.0, 1.0)
    ridge_h = idt.nose_bridge + (idt.nose_projection - idt.nose_bridge) * t**1.4
    ridge_h = ridge_h * (1 - _smoothstep(y, 7.0, 20.0)) * _smoothstep(y, -40.0, -24.0)
    ridge_w = 5.0 + 6.0 * t**1.5
    d += ridge_h * np.exp(-((np.sqrt(s**2 + 1.0) / ridge_w) ** 1.6))
    d += idt.nose_tip * _gauss(s, y, 0.0, 8.0, 6.5, 5.5)
    d += 5.5 * _gauss(a, y, 13.5, 13.0, 5.0, 4.5)  # alae
    d -= 2.5 * _gauss(a, y, 7.0, 19.0, 3.5, 2.0)  # nostrils
    # eyes: sockets, and the eyeball under the lids inside them
    d -= idt.eye_socket_depth * _gauss(a, y, 35.5, -28.0, 19.0, 11.0) * lr
    d += 0.55 * idt.eye_socket_depth * _gauss(a, y, 35.5, -28.5, 13.0, 5.5)
    d -= 1.0 * _gauss(a, y, 35.5, -23.0, 12.0, 1.6)  # the fold under the lower lid
    # brows and forehead
    d += idt.brow_ridge * _gauss(a, y, 33.0, -44.0, 25.0, 6.5) * lr
    d += 1.5 * idt.brow_ridge * _gauss(s, y, 0.0, -42.0, 9.0, 6.0)  # glabella
    d += 3.0 * _gauss(s, y, 0.0, -75.0, 45.0, 22.0)
    d -= idt.temples * _gauss(a, y, 68.0, -45.0, 14.0, 18.0)
    # cheeks
    d += idt.cheekbones * _gauss(a, y, 52.0, -8.0, 15.0, 11.0) * lr
    d += idt.cheek_fullness * _gauss(a, y, 40.0, 22.0, 17.0, 16.0)
    # the nasolabial fold: a thin dent from the ala towards the mouth corner
    u = np.clip(((a - 18.0) * 12.0 + (y - 16.0) * 28.0) / (12.0**2 + 28.0**2), 0.0, 1.0)
    dist = np.hypot(a - (18.0 + 12.0 * u), y - (16.0 + 28.0 * u))
    d -= 1.3 * np.exp(-((dist / 2.5) ** 2))
    # mouth: lips, the line between them, the corners, the philtrum and the sulcus under
    # the lip
    d += idt.upper_lip * _gauss(s, y, 0.0, 37.0, 21.0, 4.0)
    d += idt.lower_lip * _gauss(s, y, 0.0, 47.0, 18.0, 4.5)
    d -= 2.2 * _gauss(s, y, 0.0, 41.8, 24.0, 1.3)
    d -= 1.8 * _gauss(a, y, 25.5, 42.0, 3.5, 3.5)
    d += 1.2 * _gauss(s, y, 0.0, 27.0, 5.0, 6.0) - 0.6 * _gauss(
        s, y, 0.0, 27.0, 1.8, 5.0
    )
    d -= 2.0 * _gauss(s, y, 0.0, 57.0, 13.0, 3.5)
    # chin
    d += idt.chin_projection * _gauss(s, y, 0.0, 70.0, 15.0, 10.0)
    return d


def _residual_fields(s: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The raw residual fields at (s, y), (N, RESIDUAL_SIZE), and their relative weights
    (RESIDUAL_SIZE,).

    Half are symmetric in ``s`` and half antisymmetric: products of cosines and sines
    with wavelengths from 250 mm down to about 35 mm, fixed for all identities (an
    identity draws their coefficients). Longer wavelengths get larger weights; the
    antisymmetric half is weaker (faces are mostly symmetric).
    """
    k = _WAVES
    fx = np.geomspace(1 / 250, 1 / 35, 8)
    fy = np.geomspace(1 / 250, 1 / 40, 6)
    sym, anti, wavelength = [], [], []
    for i, a in enumerate(fx):
        for j, b in enumerate(fy):
            phase = 0.7 * (i + 2 * j)
            sym.append(
                np.cos(2 * np.pi * a * s) * np.cos(2 * np.pi * b * (y + 95.0) + phase)
            )
            anti.append(
                np.sin(2 * np.pi * a * s) * np.cos(2 * np.pi * b * (y + 95.0) + phase)
            )
            wavelength.append(1 / np.hypot(a, b))
    wavelength = np.array(wavelength[:k])
    wave_weight = (wavelength / wavelength.max()) ** 0.5
    bump_sym, bump_anti = [], []
    for s0, y0 in _BUMP_CENTRES:
        left = np.exp(-((s - s0) ** 2 + (y - y0) ** 2) / (2 * _BUMP_SIGMA_MM**2))
        right = np.exp(-((s + s0) ** 2 + (y - y0) ** 2) / (2 * _BUMP_SIGMA_MM**2))
        bump_sym.append(left + right if s0 else left)
        bump_anti.append(left - right if s0 else left * np.tanh(s / 5.0))
    fields_ = np.stack(sym[:k] + bump_sym + anti[:k] + bump_anti, axis=1)
    bump_weight = np.full(_N_BUMPS, _BUMP_WEIGHT)
    weights = np.concatenate(
        [wave_weight, bump_weight, 0.35 * wave_weight, 0.35 * bump_weight]
    )
    return fields_, weights


@lru_cache(maxsize=1)
def _residual_normalisation() -> np.ndarray:
    """Per-field factors (RESIDUAL_SIZE,), computed once on a fixed grid over the face
    region, that give every field unit RMS and the whole residual unit expected RMS for
    standard-normal coefficients. Fixed constants, so a face and its raw scan (sampled
    elsewhere) get the same residual."""
    s, y = np.meshgrid(
        np.linspace(-S_MAX_MM, S_MAX_MM, 101), np.linspace(Y_TOP_MM, Y_CHIN_MM, 91)
    )
    raw, weights = _residual_fields(s.ravel(), y.ravel())
    rms = np.sqrt((raw**2).mean(axis=0))
    return weights / np.sqrt((weights**2).sum()) / rms


def _residual_basis(s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The residual fields at (s, y), windowed and normalised: (N, RESIDUAL_SIZE) mm
    per unit coefficient. Kept for the last few point sets (the template's canonical
    points come back for every identity)."""
    key = hashlib.sha1(np.ascontiguousarray(np.stack([s, y])).tobytes()).digest()
    basis = _BASIS_CACHE.get(key)
    if basis is None:
        raw, _ = _residual_fields(s, y)
        # strongest on the face, weaker towards the ears, the hairline and under the
        # chin (smooth outlines)
        window = 1.0 - 0.6 * _smoothstep(np.abs(s), 55.0, 115.0)
        window = (
            window
            * (1.0 - 0.6 * _smoothstep(-y, 60.0, 95.0))
            * (1.0 - 0.5 * _smoothstep(y, 70.0, 95.0))
        )
        basis = RESIDUAL_MM * window[:, None] * raw * _residual_normalisation()
        if len(_BASIS_CACHE) >= 4:
            _BASIS_CACHE.pop(next(iter(_BASIS_CACHE)))
        _BASIS_CACHE[key] = basis
    return basis


_BASIS_CACHE: dict[bytes, np.ndarray] = {}


def _residual(coeff: np.ndarray, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The residual displacement (N,) in mm at canonical (s, y) for coefficients
    (RESIDUAL_SIZE,)."""
    coeff = np.asarray(coeff, dtype=np.float64)
    if coeff.shape != (RESIDUAL_SIZE,):
        raise ValueError(
            f"expected residual coefficients ({RESIDUAL_SIZE},), got {coeff.shape}"
        )
    return _residual_basis(s, y) @ coeff


def surface_points(identity: Identity, canonical: np.ndarray) -> np.ndarray:
    """Points (N, 3) in mm, model frame, of the face of ``identity`` at canonical ``(s,
    y)`` (N, 2) in mm.

    Works for any canonical points, also beyond the template's region (a raw scan covers
    more of the head); features fade out away from the face.
    """
    canonical = np.asarray(canonical, dtype=np.float64)
    if canonical.ndim != 2 or canonical.shape[1] != 2:
        raise ValueError(f"expected canonical points (N, 2), got {canonical.shape}")
    s_c, y_c = canonical[:, 0], canonical[:, 1]
    s, y = _warp(identity, s_c, y_c)
    pts, normals = _base(identity, s, y)
    disp = _features(identity, s_c, y_c)
    if identity.residual is not None:
        disp = disp + _residual(identity.residual, s_c, y_c)
    return pts + disp[:, None] * normals


def face_shape(identity: Identity, template: FaceTemplate) -> np.ndarray:
    """The face of ``identity`` in template topology: vertices (P, 3) in mm, model
    frame."""
    return surface_points(identity, template.canonical)


def face_shapes(identities: list[Identity], template: FaceTemplate) -> np.ndarray:
    """Faces of several identities, (N, P, 3) in mm."""
    return np.stack([face_shape(i, template) for i in identities])


assert [f.name for f in fields(Identity)][:-1] == list(PARAMETER_PRIORS), (
    "priors and parameters must match"
)
