"""An exponential moving average of a network's weights.

With ``ema_decay`` > 0 (:class:`facelib.learn.training.TrainConfig`), training keeps,
beside the weights the optimiser trains, their exponential moving average: that average
is what is validated, kept and returned, and it is checkpointed with the trained
weights so that a resumed run continues it exactly.
"""

from __future__ import annotations

import copy

import torch

__all__ = ["WeightAverage"]


class WeightAverage:
    """The moving average of the weights of ``model``, held in a copy of it
    (:attr:`model`), starting at the weights ``model`` has now.

    Args:
        model: the network whose weights are averaged.
        decay: ``d`` in [0, 1): each :meth:`update` does ``a <- d a + (1 - d) w``.
    """

    def __init__(self, model: torch.nn.Module, decay: float):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"expected a decay in [0, 1), got {decay}")
        self.decay = decay
        #: the network holding the averaged weights
        self.model = copy.deepcopy(model)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """One step of the average towards the weights of ``model`` (the network given
        at construction, or one of its architecture): every floating-point parameter
        and buffer ``a <- decay a + (1 - decay) w`` (``lerp_``); other buffers (integer
        counters) are copied."""
        for a, w in zip(self.model.state_dict().values(), model.state_dict().values()):
            if a.is_floating_point():
                a.lerp_(w, 1.0 - self.decay)
            else:
                a.copy_(w)
