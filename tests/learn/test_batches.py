"""facelib.learn.batches: scenes from a data set, reproducible draws, mirroring."""

import numpy as np
import pytest
import torch

from facelib.geometry.camera import quaternion_to_yaw_pitch_roll
from facelib.learn.batches import Batch, SceneSampler, seeded_generator
from facelib.learn.views import select_views


def test_seeded_generators_are_reproducible_and_distinct():
    def draw(*keys):
        return torch.rand(5, generator=seeded_generator(*keys))

    assert torch.equal(draw(0, 1, 2), draw(0, 1, 2))
    assert not torch.equal(draw(0, 1, 2), draw(0, 2, 1))
    assert not torch.equal(draw(0, 1), draw(1, 1))


def test_single_view_scenes_are_every_photograph(data):
    subjects = data.subjects("train")
    sampler = SceneSampler(data, subjects, None)
    V = data.photos_per_subject
    assert len(sampler) == len(subjects) * V and sampler.views_per_scene == 1
    batch = sampler.validation_batch(np.array([0, V + 1]))
    assert isinstance(batch, Batch)
    S = data.image_size
    assert batch.images.shape == (2, 1, 3, S, S) and batch.images.dtype == torch.uint8
    assert batch.K.shape == (2, 1, 3, 3) and batch.q.shape == (2, 1, 4)
    assert batch.t.shape == (2, 1, 3) and batch.shapes.dtype == torch.float32
    # scene V + 1 is the second subject's second photograph
    i = subjects[1]
    assert torch.equal(batch.images[1, 0], data.tensor("images", (i, 1), dtype=None))
    assert torch.equal(batch.t[1, 0], data.tensor("t", (i, 1), dtype=torch.float32))
    assert torch.equal(batch.shapes[1], data.tensor("shapes", i, dtype=torch.float32))


def test_multi_view_scenes_in_validation_take_the_views_nearest_the_targets(data):
    subjects = data.subjects("val")
    sampler = SceneSampler(data, subjects, 2)
    assert len(sampler) == len(subjects) and sampler.views_per_scene == 2
    batch = sampler.validation_batch(np.arange(len(subjects)))
    yaw = quaternion_to_yaw_pitch_roll(data.tensor("q", subjects))[..., 0].numpy()
    for k, i in enumerate(subjects):
        views = select_views(yaw[k], 2)
        images = data.tensor("images", (i, views), dtype=None)
        assert torch.equal(batch.images[k], images)


def test_training_batches_are_reproducible_sorted_by_yaw_and_mirrored(data):
    subjects = data.subjects("train")
    sampler = SceneSampler(data, subjects, 2)
    ids = np.arange(len(subjects))
    a = sampler.training_batch(ids, seeded_generator(0, 1), mirror=True)
    b = sampler.training_batch(ids, seeded_generator(0, 1), mirror=True)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    plain = sampler.training_batch(ids, seeded_generator(0, 1), mirror=False)
    true_yaw = quaternion_to_yaw_pitch_roll(data.tensor("q", subjects))[..., 0]
    mirrored = 0
    for k, i in enumerate(subjects):
        # both photographs, sorted by yaw
        images = data.tensor("images", i, dtype=None)[true_yaw[k].argsort()]
        shape = data.tensor("shapes", i, dtype=torch.float32)
        assert torch.equal(plain.images[k], images)
        assert torch.equal(plain.shapes[k], shape)
        yaw = quaternion_to_yaw_pitch_roll(a.q[k].double())[:, 0]
        assert yaw[0] <= yaw[1]  # left to right, mirrored or not
        if torch.equal(a.images[k], images):
            assert torch.equal(a.shapes[k], shape)
        else:  # each image flipped left-right, their order reversed
            assert torch.equal(a.images[k], images.flip(-1).flip(0))
            assert not torch.equal(a.shapes[k], shape)
            mirrored += 1
    assert 0 < mirrored < len(subjects)


def test_too_many_views_are_refused(data):
    with pytest.raises(ValueError, match="ask for 1..2"):
        SceneSampler(data, data.subjects("train"), 3)
