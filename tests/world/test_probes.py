"""facelib.world.probes on the tiny data set. The head swap: the same draws in both
conditions, so a face's own photographs do not depend on who else is photographed,
and its swapped photographs change only with the head's identity. The framings: a
crop keeps the face's size in the photograph whatever the distance, the phone's
whole photograph does not. Bad subject lists and distances are refused."""

import numpy as np
import pytest
import torch

from facelib.world.probes import (
    photograph_face_in_world,
    photograph_framings,
    photograph_head_swap,
)


def test_shapes_and_the_partners(data):
    subjects = data.subjects("train")[:3]
    swap = photograph_head_swap(data, subjects, yaws_deg=(-30.0, 30.0))
    S = data.image_size
    assert swap.own.shape == swap.swapped.shape == (3, 2, 3, S, S)
    assert swap.own.dtype == swap.swapped.dtype == torch.uint8
    np.testing.assert_array_equal(swap.subjects, subjects)
    np.testing.assert_array_equal(swap.head_subjects, subjects[[1, 2, 0]])


def test_only_the_head_changes(data):
    """Face a among [a, b, c] and among [a, c, b]: its own photographs are identical
    (the same draws), its swapped ones differ (b's head, then c's), and the same call
    twice gives the same photographs."""
    a, b, c = data.subjects("train")[:3]
    first = photograph_head_swap(data, np.array([a, b, c]))
    again = photograph_head_swap(data, np.array([a, b, c]))
    other = photograph_head_swap(data, np.array([a, c, b]))
    torch.testing.assert_close(first.own, again.own, rtol=0, atol=0)
    torch.testing.assert_close(first.swapped, again.swapped, rtol=0, atol=0)
    torch.testing.assert_close(first.own[0], other.own[0], rtol=0, atol=0)
    assert not torch.equal(first.swapped[0], other.swapped[0])
    assert not torch.equal(first.own[0], first.swapped[0])
    changed = (first.own[0] != first.swapped[0]).any(1).float().mean()
    assert 0.0 < changed < 0.9  # the head changes, the place behind it does not


def test_bad_subject_lists_are_refused(data):
    a, b = data.subjects("train")[:2]
    with pytest.raises(ValueError, match="2 subjects or more"):
        photograph_head_swap(data, np.array([a]))
    with pytest.raises(ValueError, match="must differ"):
        photograph_head_swap(data, np.array([a, b, a]))


def test_framings_crop_keeps_the_face_size(data):
    """Cropped, a face fills about the same part of the photograph at every
    distance, so the cropped photographs from two distances differ much less than the
    uncropped ones, where the face shrinks to a quarter of its area at twice the
    distance. The same call twice gives the same photographs."""
    subjects = data.subjects("train")[:3]
    probe = photograph_framings(data, subjects, distances_mm=(450.0, 900.0))
    S = data.image_size
    assert probe.cropped.shape == probe.uncropped.shape == (2, 3, 3, 3, S, S)
    assert probe.distances_mm == (450.0, 900.0)
    np.testing.assert_array_equal(probe.subjects, subjects)
    again = photograph_framings(data, subjects, distances_mm=(450.0, 900.0))
    assert torch.equal(probe.uncropped, again.uncropped)
    assert torch.equal(probe.cropped, again.cropped)
    # the same draws at every distance: the corners (the place behind the head) of
    # the uncropped photographs are nearly the same (JPEG's blocks see the head)
    corners = probe.uncropped[..., :3, :3].float()
    assert (corners[0] - corners[1]).abs().mean() < 8.0
    near, far = probe.uncropped[0], probe.uncropped[1]
    cropped_change = (probe.cropped[0].float() - probe.cropped[1].float()).abs().mean()
    uncropped_change = (near.float() - far.float()).abs().mean()
    assert cropped_change < 0.6 * uncropped_change


def test_framings_refuse_bad_distances(data):
    subjects = data.subjects("train")[:2]
    with pytest.raises(ValueError, match="distance"):
        photograph_framings(data, subjects, distances_mm=())
    with pytest.raises(ValueError, match="distance"):
        photograph_framings(data, subjects, distances_mm=(500.0, -1.0))


def test_a_subjects_own_face_in_the_world_is_its_framing_photograph(data):
    """The face in the world gets the draws of photograph_framings: given subject a's
    own face, a's sitting photographs exactly a's cropped framing photographs, and
    b's sitting, with a's face in b's head, differs from b's own photographs."""
    a, b = data.subjects("train")[:2]
    distances = (500.0, 700.0)
    framings = photograph_framings(data, np.array([a, b]), distances_mm=distances)
    face_a = data.tensor("shapes", [a])[0].numpy()
    probe = photograph_face_in_world(
        data, face_a, np.array([a, b]), distances_mm=distances
    )
    S = data.image_size
    assert probe.images.shape == (2, 2, 3, 3, S, S)
    assert probe.images.dtype == torch.uint8
    assert probe.distances_mm == distances
    torch.testing.assert_close(
        probe.images[:, 0], framings.cropped[:, 0], rtol=0, atol=0
    )
    assert not torch.equal(probe.images[:, 1], framings.cropped[:, 1])


def test_the_face_changes_the_photographs(data):
    """A face 10 % wider (x) is photographed differently in the same sitting."""
    subjects = data.subjects("train")[:2]
    face = data.morphable_model.mean.astype(np.float64)
    wide = face * np.array([1.1, 1.0, 1.0])
    one = photograph_face_in_world(data, face, subjects, distances_mm=(570.0,))
    other = photograph_face_in_world(data, wide, subjects, distances_mm=(570.0,))
    again = photograph_face_in_world(data, face, subjects, distances_mm=(570.0,))
    assert torch.equal(one.images, again.images)
    assert not torch.equal(one.images, other.images)


def test_face_in_world_refuses_bad_faces(data):
    subjects = data.subjects("train")[:2]
    face = data.morphable_model.mean
    with pytest.raises(ValueError, match="template's"):
        photograph_face_in_world(data, face[:-1], subjects)
    bad = face.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        photograph_face_in_world(data, bad, subjects)
    with pytest.raises(ValueError, match="distance"):
        photograph_face_in_world(data, face, subjects, distances_mm=(0.0,))
