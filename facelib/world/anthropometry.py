"""Facial anthropometry of the synthetic population against published adult norms.

Linear distances between landmarks (:data:`MEASUREMENTS`, computed in 3D from the 68
iBUG landmarks in mm) and the bizygomatic width measured on the surface
(:func:`zy_zy`) are compared with the norms of young adults in :data:`PUBLISHED`.

Source of the norms: Farkas LG (1994), "Anthropometry of the Head and Face", 2nd ed.,
Raven Press, New York; North American Caucasians aged 19-25, men and women separately.
**The values were transcribed by hand from the literature** (the book is not available
here) and are approximate, to about 1 mm; they are good enough to say whether the
synthetic faces have adult human proportions, not for fine calibration.

The iBUG landmarks are not the anthropometric ones: iBUG 31 and 35 sit on the nostril
wings, so al-al approximates the alare width; iBUG 27 sits a little below the true
nasion (n), which shortens n-sn and n-gn slightly; the stomion (sto) is taken as the
midpoint of the inner-lip midpoints 62 and 66. Farkas measured with callipers on the
skin; the synthetic faces have no sex, so they are compared with an equal mix of men
and women (:func:`pooled`).

Points are in mm in the model frame of :mod:`facelib.geometry.camera` (+x the subject's
left, +y down, the face looking towards -z); distances are Euclidean, so the frame does
not matter for the landmark measurements.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from facelib.data.template import FaceTemplate

__all__ = [
    "Measurement",
    "Norm",
    "MEASUREMENTS",
    "ZY_ZY",
    "PUBLISHED",
    "zy_zy",
    "measure",
    "measure_population",
    "pooled",
    "compare",
    "comparison_table",
]

#: a point of a measurement: one iBUG-68 landmark, or the midpoint of several
Point = int | tuple[int, ...]


class Measurement(NamedTuple):
    """A linear distance between landmarks.

    Attributes:
        description: what it measures, in words.
        pairs: one or more ``(point, point)`` pairs of iBUG-68 indices (0-based); a
            point given as a tuple of indices is the midpoint of those landmarks. With
            several pairs the measurement is the mean of their distances (e.g. the
            eye fissure length of both eyes).
    """

    description: str
    pairs: tuple[tuple[Point, Point], ...]


class Norm(NamedTuple):
    """Published mean and standard deviation (mm) for men and for women."""

    male_mean: float
    male_sd: float
    female_mean: float
    female_sd: float


_STO = (62, 66)  # stomion: the midpoint of the inner-lip midpoints

#: the landmark measurements, in the order of the tables
MEASUREMENTS: dict[str, Measurement] = {
    "ex-ex": Measurement("biocular width (outer eye corners)", ((36, 45),)),
    "en-en": Measurement("intercanthal width (inner eye corners)", ((39, 42),)),
    "ex-en": Measurement(
        "eye fissure length (mean of both eyes)", ((36, 39), (42, 45))
    ),
    "al-al": Measurement("nose width (iBUG nostril wings 31-35)", ((31, 35),)),
    "n-sn": Measurement("nose height (iBUG 27 to subnasale)", ((27, 33),)),
    "sn-prn": Measurement("nasal tip protrusion (subnasale to nose tip)", ((33, 30),)),
    "ch-ch": Measurement("mouth width (mouth corners)", ((48, 54),)),
    "sn-sto": Measurement("upper lip height (subnasale to stomion)", ((33, _STO),)),
    "sto-gn": Measurement("lower face height (stomion to chin)", ((_STO, 8),)),
    "n-gn": Measurement("face height (iBUG 27 to chin)", ((27, 8),)),
}

#: name and description of the bizygomatic width, measured on the surface
ZY_ZY = ("zy-zy", "bizygomatic width (widest surface span, eyes to nose tip)")

#: canonical bands of :func:`zy_zy` (mm): from the eye level to the nose tip level,
#: and not beyond ``_ZY_S_MAX`` round the head (the ears)
_ZY_Y_RANGE = (-35.0, 5.0)
_ZY_S_MAX = 100.0

#: Farkas (1994), North American Caucasians aged 19-25, mm; transcribed by hand,
#: approximate to about 1 mm (see the module doc)
PUBLISHED: dict[str, Norm] = {
    "ex-ex": Norm(91.2, 3.2, 87.8, 3.2),
    "en-en": Norm(33.3, 2.7, 31.8, 2.3),
    "ex-en": Norm(31.3, 1.2, 30.7, 1.2),
    "al-al": Norm(34.9, 2.1, 31.4, 2.0),
    "n-sn": Norm(54.8, 3.3, 50.6, 3.1),
    "sn-prn": Norm(19.8, 2.0, 19.1, 1.5),
    "ch-ch": Norm(53.3, 3.3, 50.2, 3.2),
    "sn-sto": Norm(22.3, 2.1, 20.1, 1.9),
    "sto-gn": Norm(50.0, 3.6, 44.6, 3.2),
    "n-gn": Norm(121.3, 6.8, 112.8, 5.2),
    "zy-zy": Norm(137.1, 4.3, 129.9, 5.3),
}


def _point(landmarks: np.ndarray, point: Point) -> np.ndarray:
    """Position of ``point`` in ``landmarks`` (..., 68, 3): (..., 3) in mm."""
    if isinstance(point, tuple):
        return landmarks[..., list(point), :].mean(axis=-2)
    return landmarks[..., point, :]


def _measure_landmarks(landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """Every measurement of :data:`MEASUREMENTS` for landmarks (..., 68, 3) in mm:
    name -> (...) in mm."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.ndim < 2 or landmarks.shape[-2:] != (68, 3):
        raise ValueError(f"expected landmarks (..., 68, 3), got {landmarks.shape}")
    out = {}
    for name, m in MEASUREMENTS.items():
        d = [
            np.linalg.norm(_point(landmarks, a) - _point(landmarks, b), axis=-1)
            for a, b in m.pairs
        ]
        out[name] = np.mean(d, axis=0)
    return out


def measure(landmarks68: np.ndarray) -> dict[str, float]:
    """The landmark measurements of one face.

    Args:
        landmarks68: the 68 iBUG landmarks, (68, 3) in mm.

    Returns:
        name -> distance in mm, in the order of :data:`MEASUREMENTS` (no zy-zy, which
        needs the surface: :func:`zy_zy`).
    """
    landmarks68 = np.asarray(landmarks68, dtype=np.float64)
    if landmarks68.shape != (68, 3):
        raise ValueError(f"expected landmarks (68, 3), got {landmarks68.shape}")
    return {k: float(v) for k, v in _measure_landmarks(landmarks68).items()}


def _zy_mask(template: FaceTemplate) -> np.ndarray:
    """Vertices searched by :func:`zy_zy`: (P,) bool."""
    s, y = template.canonical[:, 0], template.canonical[:, 1]
    mask = (y >= _ZY_Y_RANGE[0]) & (y <= _ZY_Y_RANGE[1]) & (np.abs(s) < _ZY_S_MAX)
    if not mask.any():
        raise ValueError("no template vertex lies in the zy-zy band")
    return mask


def _zy_zy(vertices: np.ndarray, template: FaceTemplate) -> np.ndarray:
    """Bizygomatic width of faces (..., P, 3) in mm: (...) in mm."""
    vertices = np.asarray(vertices, dtype=np.float64)
    if vertices.ndim < 2 or vertices.shape[-2:] != (template.n_points, 3):
        raise ValueError(
            f"expected vertices (..., {template.n_points}, 3), got {vertices.shape}"
        )
    x = vertices[..., _zy_mask(template), 0]
    return x.max(axis=-1) - x.min(axis=-1)


def zy_zy(vertices: np.ndarray, template: FaceTemplate) -> float:
    """Bizygomatic width of one face, measured on its surface, in mm.

    The largest difference in x (the left-right axis of the model frame) between
    vertices whose canonical y lies between the eye level (-35 mm) and the nose tip
    level (+5 mm) and whose canonical ``|s|`` is under 100 mm (short of the ears). It
    assumes the face is in the model frame (upright, looking towards -z).

    Args:
        vertices: the face in the topology of ``template``, (P, 3) in mm.
        template: the template giving each vertex's canonical ``(s, y)``.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    if vertices.ndim != 2:
        raise ValueError(f"expected one face (P, 3), got {vertices.shape}")
    return float(_zy_zy(vertices, template))


def measure_population(
    shapes: np.ndarray, template: FaceTemplate
) -> dict[str, np.ndarray]:
    """Every measurement of a population of faces.

    Args:
        shapes: faces in the topology of ``template``, (N, P, 3) in mm, model frame.
        template: their template (landmark vertex ids, canonical coordinates).

    Returns:
        name -> (N,) in mm: the measurements of :data:`MEASUREMENTS` then zy-zy.
    """
    shapes = np.asarray(shapes, dtype=np.float64)
    if shapes.ndim != 3 or shapes.shape[1:] != (template.n_points, 3):
        raise ValueError(
            f"expected shapes (N, {template.n_points}, 3), got {shapes.shape}"
        )
    out = _measure_landmarks(shapes[:, template.landmarks])
    out[ZY_ZY[0]] = _zy_zy(shapes, template)
    return out


def pooled(name: str) -> tuple[float, float]:
    """Mean and SD (mm) of measurement ``name`` in an equal mix of men and women.

    The moments of a 50/50 mixture: the mean is the average of the two means, the
    variance the average of the two variances plus (difference of the means / 2)^2.
    """
    if name not in PUBLISHED:
        raise KeyError(f"no published norm for {name!r}; known: {list(PUBLISHED)}")
    n = PUBLISHED[name]
    mean = 0.5 * (n.male_mean + n.female_mean)
    var = (
        0.5 * (n.male_sd**2 + n.female_sd**2)
        + (0.5 * (n.male_mean - n.female_mean)) ** 2
    )
    return mean, float(np.sqrt(var))


def _description(name: str) -> str:
    if name == ZY_ZY[0]:
        return ZY_ZY[1]
    return MEASUREMENTS[name].description


def compare(population: dict[str, np.ndarray]) -> list[dict]:
    """Our population against the pooled published norms.

    Args:
        population: name -> (N,) in mm, e.g. from :func:`measure_population`; every
            name must have a norm in :data:`PUBLISHED`.

    Returns:
        One record per measurement, in the order of ``population``, with keys
        ``measurement``, ``description``, ``ours_mean``, ``ours_sd`` (sample SD, nan
        for fewer than two faces), ``published_mean``, ``published_sd`` (pooled, mm),
        ``z`` (our mean minus the published mean, in published SDs) and ``sd_ratio``
        (our SD over the published SD).
    """
    records = []
    for name, values in population.items():
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        if v.size == 0:
            raise ValueError(f"{name}: no values")
        pub_mean, pub_sd = pooled(name)
        ours_mean = float(v.mean())
        ours_sd = float(v.std(ddof=1)) if v.size > 1 else float("nan")
        records.append(
            {
                "measurement": name,
                "description": _description(name),
                "ours_mean": ours_mean,
                "ours_sd": ours_sd,
                "published_mean": pub_mean,
                "published_sd": pub_sd,
                "z": (ours_mean - pub_mean) / pub_sd,
                "sd_ratio": ours_sd / pub_sd,
            }
        )
    return records


def comparison_table(records: list[dict]) -> str:
    """The records of :func:`compare` as a Markdown table (mm)."""
    lines = [
        "| measurement | ours mean ± SD | published mean ± SD | z | SD ratio |",
        "|---|---|---|---|---|",
    ]
    for r in records:
        lines.append(
            f"| {r['measurement']} | {r['ours_mean']:.1f} ± {r['ours_sd']:.1f} "
            f"| {r['published_mean']:.1f} ± {r['published_sd']:.1f} "
            f"| {r['z']:+.2f} | {r['sd_ratio']:.2f} |"
        )
    return "\n".join(lines)
