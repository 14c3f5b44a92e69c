"""Controlled photographs of test faces: the same face, appearance, hair style,
lights, place and camera pipeline, with one thing changed. They ask what a network's
answer depends on.

**Where does a network look: at the face, or at the head round it?**
(:func:`photograph_head_swap`). In this world a head (scalp, ears, hair's shape, neck:
:mod:`facelib.world.head`) is built from the same anatomical parameters as the face it
surrounds, so its outline tells of the face. Each face is photographed twice:

* in its **own** head, built from its own parameters;
* in a **swapped** head, built from another identity's parameters round this face.

The face's pixels are the same in both; only the head changes. An answer that follows
the face reads the face; one that follows the other identity reads the head.

**Does a network need the detector's crop?** (:func:`photograph_framings`). The data
set's photographs are cropped round the face like a face detector's crop
(:func:`~facelib.world.scenes.frame_faces`); a photograph of a real person (and the
real-face check, :mod:`facelib.evaluation.real_face`) may come as the camera framed
it. Each face is photographed from several distances, both cropped and as the phone's
whole photograph.

**How well does a network read a given face in our world?**
(:func:`photograph_face_in_world`). One face (a real person's registration, say) is
photographed in the sittings of several test subjects: their heads (built round it),
skin, hair, lights, places and cameras, cropped like the data set's photographs. Beside
the same face's real photographs, this separates what our world's pictures lack from
what the networks cannot read of that face.

The heads are built without the identities' residual fields (the data set does not
store them), so the photographs differ slightly from the data set's; every condition
is built the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from facelib.data.dataset import Dataset
from facelib.world.appearance import sample_appearances, vertex_albedo
from facelib.world.build import dress_heads
from facelib.world.head import build_head, shadow_faces
from facelib.world.identity import Identity
from facelib.world.scenes import (
    Cameras,
    CameraSettings,
    Heads,
    frame_faces,
    orbit_cameras,
    render_images,
)

__all__ = [
    "HeadSwap",
    "photograph_head_swap",
    "FramingProbe",
    "photograph_framings",
    "FaceInWorld",
    "photograph_face_in_world",
]


def _checked_subjects(subjects) -> np.ndarray:
    subjects = np.asarray(subjects, dtype=np.int64)
    if subjects.ndim != 1 or len(subjects) < 2:
        raise ValueError(f"expected 2 subjects or more (N,), got {subjects.shape}")
    if len(np.unique(subjects)) != len(subjects):
        raise ValueError("the subjects must differ: give each subject once")
    return subjects


def _checked_distances(distances_mm) -> tuple[float, ...]:
    if not distances_mm or min(distances_mm) <= 0:
        raise ValueError(
            f"expected one camera distance or more, all > 0 mm, got {distances_mm}"
        )
    return tuple(float(d) for d in distances_mm)


class _Sitting:
    """The faces of ``subjects`` of ``data`` with what stays fixed across a probe's
    conditions: their shapes (or ``shapes`` (N, P, 3) mm in their place),
    appearances (drawn from ``rng``) and the seed of their hair styles (the next draw
    of ``rng``)."""

    def __init__(
        self,
        data: Dataset,
        subjects: np.ndarray,
        rng: np.random.Generator,
        shapes: np.ndarray | None = None,
    ):
        self.template = data.template
        if shapes is None:
            shapes = data.tensor("shapes", subjects).numpy()
        self.shapes = shapes
        params = data.array("identity_parameters")[subjects]
        self.identities = [Identity(*p) for p in params]
        self.appearances = sample_appearances(len(subjects), rng)
        self.style_seed = int(rng.integers(2**62))
        self.mesh = build_head(self.template)
        self.settings = CameraSettings(image_size=data.image_size)
        self.face_albedo = torch.from_numpy(
            np.stack([vertex_albedo(a, self.template) for a in self.appearances])
        ).float()

    def landmarks(self) -> torch.Tensor:
        """(N, 68, 3) mm: the faces' landmark vertices."""
        return torch.from_numpy(self.shapes[:, self.template.landmarks])

    def heads(self, head_of: np.ndarray) -> Heads:
        """The faces' heads, face i's built from identity ``head_of[i]``'s
        parameters; the same hair styles whoever's head it is (the same stream of
        draws)."""
        return dress_heads(
            self.template,
            [self.identities[k] for k in head_of],
            self.shapes,
            self.appearances,
            np.random.default_rng(self.style_seed),
        )

    def photograph(
        self, heads: Heads, cameras: Cameras, render_seed: int
    ) -> torch.Tensor:
        """Photographs (N, Y, 3, S, S) uint8 of the faces in ``heads`` through
        ``cameras`` (N, Y, ...)."""
        return render_images(
            torch.from_numpy(self.shapes).float(),
            torch.from_numpy(self.mesh.face_faces),
            self.face_albedo,
            cameras,
            self.settings,
            torch.Generator().manual_seed(render_seed),
            heads=heads,
            shadow_faces=torch.from_numpy(
                shadow_faces(self.mesh, self.face_albedo.shape[1])
            ),
            one_background_per_row=True,
        )


def _shoots(
    sitting: _Sitting,
    yaws_deg: tuple[float, ...],
    distances_mm: tuple[float, ...],
    seed: int,
):
    """For each of ``distances_mm``: the phone's cameras (N, Y) at ``yaws_deg`` on
    the orbit, the same cropped round each face like the data set's photographs
    (:func:`~facelib.world.scenes.frame_faces`, the detector's jitter included), and
    the render seed; the same draws (from ``seed``) at every distance."""
    n = len(sitting.shapes)
    for distance in distances_mm:
        g = torch.Generator().manual_seed(seed)
        cameras = orbit_cameras(n, yaws_deg, distance, sitting.settings, g)
        framed = frame_faces(cameras, sitting.landmarks(), sitting.settings, g)
        yield cameras, framed, int(torch.randint(2**62, (1,), generator=g))


@dataclass(frozen=True)
class HeadSwap:
    """Photographs (N, Y, 3, S, S) uint8 of N faces, Y yaws each (increasing):
    ``own`` in their own heads, ``swapped`` in the heads of ``head_subjects`` (N,);
    ``subjects`` (N,) are the faces' subjects."""

    subjects: np.ndarray
    head_subjects: np.ndarray
    own: torch.Tensor
    swapped: torch.Tensor


def photograph_head_swap(
    data: Dataset,
    subjects: np.ndarray,
    *,
    yaws_deg: tuple[float, ...] = (-45.0, 0.0, 45.0),
    distance_mm: float = 570.0,
    seed: int = 0,
) -> HeadSwap:
    """Photograph the faces of ``subjects`` (N,) of ``data`` in their own heads and in
    the heads of the next subject in the list (the last takes the first's), at
    ``yaws_deg`` from ``distance_mm``, framed like the data set's photographs. The
    draws (appearance, hair style, light, place, camera pipeline) come from ``seed``
    and are the same for both conditions."""
    subjects = _checked_subjects(subjects)
    n = len(subjects)
    sitting = _Sitting(data, subjects, np.random.default_rng(seed))
    [(_, cameras, render_seed)] = _shoots(sitting, yaws_deg, (distance_mm,), seed)
    partners = np.roll(np.arange(n), -1)
    return HeadSwap(
        subjects=subjects,
        head_subjects=subjects[partners],
        own=sitting.photograph(sitting.heads(np.arange(n)), cameras, render_seed),
        swapped=sitting.photograph(sitting.heads(partners), cameras, render_seed),
    )


@dataclass(frozen=True)
class FramingProbe:
    """Photographs (D, N, Y, 3, S, S) uint8 of N faces (``subjects`` (N,)) from D
    distances ``distances_mm`` (D,) and Y yaws each (increasing): ``cropped`` round
    the face like the data set's photographs, ``uncropped`` as the phone's whole
    photograph."""

    subjects: np.ndarray
    distances_mm: tuple[float, ...]
    cropped: torch.Tensor
    uncropped: torch.Tensor


def photograph_framings(
    data: Dataset,
    subjects: np.ndarray,
    *,
    yaws_deg: tuple[float, ...] = (-45.0, 0.0, 45.0),
    distances_mm: tuple[float, ...] = (480.0, 570.0, 660.0),
    seed: int = 0,
) -> FramingProbe:
    """Photograph the faces of ``subjects`` (N,) of ``data`` in their own heads at
    ``yaws_deg`` from each of ``distances_mm``, cropped like the data set's
    photographs (:func:`~facelib.world.scenes.frame_faces`, the detector's jitter
    included) and uncropped (the framing of the real-face check). The draws
    (appearance, hair style, light, place, camera pipeline) come from ``seed`` and are
    the same at every distance and in both framings."""
    subjects = _checked_subjects(subjects)
    distances_mm = _checked_distances(distances_mm)
    n = len(subjects)
    sitting = _Sitting(data, subjects, np.random.default_rng(seed))
    heads = sitting.heads(np.arange(n))
    cropped, uncropped = [], []
    for cameras, framed, render_seed in _shoots(sitting, yaws_deg, distances_mm, seed):
        cropped.append(sitting.photograph(heads, framed, render_seed))
        uncropped.append(sitting.photograph(heads, cameras, render_seed))
    return FramingProbe(
        subjects=subjects,
        distances_mm=distances_mm,
        cropped=torch.stack(cropped),
        uncropped=torch.stack(uncropped),
    )


@dataclass(frozen=True)
class FaceInWorld:
    """Photographs (D, N, Y, 3, S, S) uint8 of one face in the sittings of N test
    subjects (``subjects`` (N,)), from D distances ``distances_mm`` (D,) and Y yaws
    each (increasing), cropped like the data set's photographs."""

    subjects: np.ndarray
    distances_mm: tuple[float, ...]
    images: torch.Tensor


def photograph_face_in_world(
    data: Dataset,
    face: np.ndarray,
    subjects: np.ndarray,
    *,
    yaws_deg: tuple[float, ...] = (-45.0, 0.0, 45.0),
    distances_mm: tuple[float, ...] = (480.0, 570.0, 660.0),
    seed: int = 0,
) -> FaceInWorld:
    """Photograph ``face`` (P, 3) mm, on the template's vertices in the model frame,
    in the place of each face of ``subjects`` (N,) of ``data``: in a head built from
    that subject's anatomical parameters round ``face``, with its appearance, hair
    style, lights, place and camera pipeline, at ``yaws_deg`` from each of
    ``distances_mm``, cropped like the data set's photographs. The draws come from
    ``seed`` and are those of :func:`photograph_framings`, so a subject's own face
    gives its cropped photographs there."""
    subjects = _checked_subjects(subjects)
    face = np.asarray(face, dtype=np.float64)
    n_vertices = data.template.n_points
    if face.shape != (n_vertices, 3) or not np.isfinite(face).all():
        raise ValueError(
            f"expected a finite face on the template's {n_vertices} vertices, "
            f"({n_vertices}, 3) mm, got {face.shape}; register a scan to the template "
            "first (facelib.world.registration.register)"
        )
    distances_mm = _checked_distances(distances_mm)
    n = len(subjects)
    shapes = np.repeat(face[None], n, axis=0)
    sitting = _Sitting(data, subjects, np.random.default_rng(seed), shapes=shapes)
    heads = sitting.heads(np.arange(n))
    images = [
        sitting.photograph(heads, framed, render_seed)
        for _, framed, render_seed in _shoots(sitting, yaws_deg, distances_mm, seed)
    ]
    return FaceInWorld(
        subjects=subjects,
        distances_mm=distances_mm,
        images=torch.stack(images),
    )
