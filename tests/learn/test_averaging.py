"""facelib.learn.averaging: the exponential moving average of the weights."""

import pytest
import torch

from facelib.learn.averaging import WeightAverage


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)
        self.register_buffer("scale", torch.tensor([1.0, 2.0]))
        self.register_buffer("count", torch.tensor(0))


def test_update_is_the_moving_average_and_copies_integer_buffers():
    torch.manual_seed(0)
    model = Tiny()
    average = WeightAverage(model, decay=0.75)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    assert all(torch.equal(average.model.state_dict()[k], v) for k, v in start.items())
    with torch.no_grad():  # the trained weights move; the average is a copy
        model.linear.weight.add_(1.0)
        model.linear.bias.fill_(4.0)
        model.scale.mul_(3.0)
        model.count.fill_(7)
    assert torch.equal(average.model.linear.weight, start["linear.weight"])
    average.update(model)
    avg = average.model
    torch.testing.assert_close(avg.linear.weight, start["linear.weight"] + 0.25)
    torch.testing.assert_close(avg.linear.bias, 0.75 * start["linear.bias"] + 1.0)
    torch.testing.assert_close(avg.scale, torch.tensor([1.5, 3.0]))  # 0.75 s + 0.75 s
    assert avg.count.item() == 7  # not averaged: copied
    average.update(model)  # a second step moves a quarter of the remaining gap
    torch.testing.assert_close(avg.linear.weight, start["linear.weight"] + 0.4375)


def test_decay_must_be_below_one():
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match=r"decay in \[0, 1\)"):
            WeightAverage(Tiny(), bad)
