"""Training samples drawn from a data set: batches of scenes as tensors.

A *scene* is one subject seen through N of its photographs: the images, the camera of
each photograph and the subject's true shape. :class:`SceneSampler` cuts a data set's
subjects into scenes and stacks them into a :class:`Batch`:

* single-view networks: every (subject, photograph) pair is a scene with N = 1;
* multi-view networks: every subject is a scene; in training its N photographs are
  drawn at random and sorted by yaw (left to right), in validation they are the ones
  nearest -45°..45° (:func:`facelib.learn.views.select_views`).

In training, whole-scene mirroring (images, cameras and shape,
:func:`facelib.geometry.mirror.mirror_scene`) is applied to half the samples; the
paper's training scenes are "fully symmetrized".

Randomness comes only from the generator passed in; :func:`seeded_generator` makes one
from a seed and the position in the run (epoch, step), so that a run that is
interrupted and resumed draws exactly what an uninterrupted run draws.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from facelib.data.dataset import Dataset
from facelib.geometry.camera import quaternion_to_yaw_pitch_roll
from facelib.geometry.mirror import mirror_scene
from facelib.learn.views import select_views

__all__ = ["Batch", "SceneSampler", "seeded_generator"]


def seeded_generator(seed: int, *keys: int) -> torch.Generator:
    """A CPU generator seeded by ``seed`` and ``keys`` (e.g. epoch and step), mixed by
    :class:`numpy.random.SeedSequence`: different keys give unrelated streams."""
    mixed = np.random.SeedSequence([seed, *keys]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(mixed % (2**63)))


class Batch(NamedTuple):
    """B scenes of N photographs each, on one device.

    Attributes:
        images: uint8 (B, N, 3, S, S).
        K: intrinsics (B, N, 3, 3) px, float32.
        q: rotations (B, N, 4), unit quaternions (w, x, y, z), model to camera, float32.
        t: translations (B, N, 3) mm, float32.
        shapes: true shapes (B, P, 3) mm in the 3DMM's frame, float32.
    """

    images: torch.Tensor
    K: torch.Tensor
    q: torch.Tensor
    t: torch.Tensor
    shapes: torch.Tensor


class SceneSampler:
    """The scenes of some subjects of a data set, batched for training or validation.

    Args:
        data: the data set.
        subjects: subject ids (n,) to draw from.
        n_views: N photographs per scene for a multi-view network; ``None`` for a
            single-view network (each (subject, photograph) pair is one scene, N = 1).
        any_views: for MV Any: each training batch draws its own N, uniform in 1..V
            (the data set's photographs per subject), and takes each scene's N
            photographs in random order; validation batches still take the
            ``n_views`` nearest -45°..45°.

    Scenes are numbered 0..len(sampler) - 1: subject by subject, photograph by
    photograph within a subject when ``n_views`` is ``None``.
    """

    def __init__(
        self,
        data: Dataset,
        subjects: np.ndarray,
        n_views: int | None,
        *,
        any_views: bool = False,
    ):
        V = data.photos_per_subject
        if any_views and n_views is None:
            raise ValueError(
                "any_views=True is for a multi-view network: give the n_views it is "
                "validated on"
            )
        self.any_views = any_views
        if n_views is not None and not 1 <= n_views <= V:
            raise ValueError(
                f"n_views={n_views} photographs per scene, but the data set has "
                f"{V} per subject: ask for 1..{V}"
            )
        self.data, self.subjects, self.n_views = data, np.asarray(subjects), n_views
        # (n, V) degrees: the yaw of every photograph, for choosing views
        self.yaw = quaternion_to_yaw_pitch_roll(data.tensor("q", self.subjects))[
            ..., 0
        ].numpy()
        # (row in subjects, photograph); -1: the photographs are chosen per batch
        self.scenes = (
            [(i, v) for i in range(len(self.subjects)) for v in range(V)]
            if n_views is None
            else [(i, -1) for i in range(len(self.subjects))]
        )

    def __len__(self) -> int:
        return len(self.scenes)

    @property
    def views_per_scene(self) -> int:
        """N, the photographs of each scene."""
        return 1 if self.n_views is None else self.n_views

    def training_batch(
        self,
        scene_ids: np.ndarray,
        generator: torch.Generator,
        *,
        mirror: bool,
        device: str | torch.device = "cpu",
        part: slice | None = None,
    ) -> Batch:
        """The scenes ``scene_ids`` (B,) for training: a multi-view scene's N
        photographs drawn at random (one ``randperm`` per scene, in order) and sorted by
        yaw; then, with ``mirror``, each scene mirrored with probability 1/2 (one
        ``rand`` (B,) after the photographs).

        ``part``: only the scenes ``scene_ids[part]`` are read and returned (a rank's
        share of a global batch, :func:`facelib.learn.distributed.share`); the random
        draws are still those of all B scenes, so that the parts of the ranks put
        together are the whole batch."""
        return self._batch(scene_ids, generator, mirror, torch.device(device), part)

    def validation_batch(
        self, scene_ids: np.ndarray, *, device: str | torch.device = "cpu"
    ) -> Batch:
        """The scenes ``scene_ids`` (B,) for validation: a multi-view scene's N
        photographs are those nearest -45°..45° (:func:`select_views`); no randomness,
        no mirroring."""
        return self._batch(scene_ids, None, False, torch.device(device), None)

    def _batch(
        self,
        scene_ids: np.ndarray,
        generator: torch.Generator | None,
        mirror: bool,
        device: torch.device,
        part: slice | None,
    ) -> Batch:
        V = self.data.photos_per_subject
        n_views = self.n_views
        if self.any_views and generator is not None:  # this batch's N, first draw
            n_views = int(torch.randint(1, V + 1, (1,), generator=generator))
        rows, views = [], []
        for k in scene_ids:
            i, v = self.scenes[k]
            if self.n_views is None:
                chosen = np.array([v])
            elif generator is None:
                chosen = select_views(self.yaw[i], self.n_views)
            elif self.any_views:  # in random order
                chosen = torch.randperm(V, generator=generator)[:n_views].numpy()
            else:
                pick = torch.randperm(V, generator=generator)[: self.n_views].numpy()
                chosen = pick[np.argsort(self.yaw[i][pick])]
            rows.append(self.subjects[i])
            views.append(chosen)
        # every draw is made for the whole batch, before any part of it is read
        flip = None
        if mirror and generator is not None:
            flip = torch.rand(len(scene_ids), generator=generator) < 0.5
        if part is not None:
            rows, views = rows[part], views[part]
            flip = None if flip is None else flip[part]
        rows_arr, views_arr = np.array(rows), np.stack(views)

        def take(name: str, dtype: torch.dtype | None = torch.float64) -> torch.Tensor:
            array = self.data.array(name)
            per_scene = [np.asarray(array[r, vs]) for r, vs in zip(rows_arr, views_arr)]
            return torch.from_numpy(np.stack(per_scene)).to(dtype)

        images = take("images", None)
        K, q, t = take("K"), take("q"), take("t")
        shapes = torch.from_numpy(np.array(self.data.shapes[rows_arr])).double()
        if flip is not None and flip.any():
            im, Km, qm, tm, sm = mirror_scene(
                images[flip],
                K[flip],
                q[flip],
                t[flip],
                shapes[flip],
                self.data.template.mirror,
            )
            if self.n_views is not None and self.n_views > 1:
                # mirroring reverses the yaw order: sort the views again
                im, Km, qm, tm = im.flip(1), Km.flip(1), qm.flip(1), tm.flip(1)
            images[flip], K[flip], q[flip], t[flip], shapes[flip] = (
                im,
                Km,
                qm,
                tm,
                sm,
            )
        return Batch(
            images.to(device),
            K.float().to(device),
            q.float().to(device),
            t.float().to(device),
            shapes.float().to(device),
        )
