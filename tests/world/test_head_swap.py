"""facelib.world.head_swap on the tiny data set: the same draws in both conditions,
so a face's own photographs do not depend on who else is photographed, and its
swapped photographs change only with the head's identity; bad subject lists are
refused."""

import numpy as np
import pytest
import torch

from facelib.world.head_swap import photograph_head_swap


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
