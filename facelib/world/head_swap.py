"""Where does a network look: at the face, or at the head round it?

In this world a head (scalp, ears, hair's shape, neck: :mod:`facelib.world.head`) is
built from the same anatomical parameters as the face it surrounds, so its outline
tells of the face. A network may learn to read the face from the head. To measure it,
each face is photographed twice under the same cameras, lights, places and appearance
(:func:`photograph_head_swap`):

* in its **own** head, built from its own parameters;
* in a **swapped** head, built from another identity's parameters round this face.

The face's pixels are the same in both; only the head changes. An answer that follows
the face reads the face; one that follows the other identity reads the head.

Both heads are built without the identities' residual fields (the data set does not
store them), so the "own" photographs differ slightly from the data set's; the two
conditions are built the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from facelib.data.dataset import Dataset
from facelib.geometry.camera import intrinsics_from_fov, orbit_pose
from facelib.world.appearance import (
    random_lighting,
    sample_appearances,
    vertex_albedo,
)
from facelib.world.build import dress_heads
from facelib.world.head import build_head, shadow_faces
from facelib.world.identity import Identity
from facelib.world.scenes import Cameras, CameraSettings, frame_faces, render_images

__all__ = ["HeadSwap", "photograph_head_swap"]


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
    subjects = np.asarray(subjects, dtype=np.int64)
    if subjects.ndim != 1 or len(subjects) < 2:
        raise ValueError(f"expected 2 subjects or more (N,), got {subjects.shape}")
    if len(np.unique(subjects)) != len(subjects):
        raise ValueError(
            "the subjects must differ: each face takes the next one's head"
        )
    n, Y = len(subjects), len(yaws_deg)
    template = data.template
    shapes = data.tensor("shapes", subjects).numpy()
    params = data.array("identity_parameters")[subjects]
    identities = [Identity(*p) for p in params]
    partners = np.roll(np.arange(n), -1)
    rng = np.random.default_rng(seed)
    appearances = sample_appearances(n, rng)
    style_seed = int(rng.integers(2**62))
    mesh = build_head(template)
    settings = CameraSettings(image_size=data.image_size)
    g = torch.Generator().manual_seed(seed)
    yaw = torch.tensor(yaws_deg, dtype=torch.float64).expand(n, Y)
    angles = torch.stack([yaw, torch.zeros_like(yaw), torch.zeros_like(yaw)], -1)
    distance = torch.full((n, Y), float(distance_mm), dtype=torch.float64)
    q, t = orbit_pose(angles, distance)
    light = random_lighting(n * Y, g)
    K = intrinsics_from_fov(
        settings.fov_deg, settings.image_size, settings.image_size, dtype=torch.float64
    )
    cameras = Cameras(
        K.expand(n, Y, 3, 3).clone(),
        q,
        t,
        **{k: v.view(n, Y, *v.shape[1:]) for k, v in light.items()},
    )
    cameras = frame_faces(
        cameras, torch.from_numpy(shapes[:, template.landmarks]), settings, g
    )
    face_albedo = torch.from_numpy(
        np.stack([vertex_albedo(a, template) for a in appearances])
    ).float()
    render_seed = int(torch.randint(2**62, (1,), generator=g))

    def photograph(head_of: np.ndarray) -> torch.Tensor:
        # the same hair styles for both conditions: the same stream of draws
        heads = dress_heads(
            template,
            [identities[k] for k in head_of],
            shapes,
            appearances,
            np.random.default_rng(style_seed),
        )
        return render_images(
            torch.from_numpy(shapes).float(),
            torch.from_numpy(mesh.face_faces),
            face_albedo,
            cameras,
            settings,
            torch.Generator().manual_seed(render_seed),
            heads=heads,
            shadow_faces=torch.from_numpy(shadow_faces(mesh, face_albedo.shape[1])),
            one_background_per_row=True,
        )

    return HeadSwap(
        subjects=subjects,
        head_subjects=subjects[partners],
        own=photograph(np.arange(n)),
        swapped=photograph(partners),
    )
