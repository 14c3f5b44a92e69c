"""benchmarks.training_throughput: the command line measures every model, and its
images/s counts the images the networks actually receive."""

import json

import numpy as np
import pytest
from torch.nn.modules.module import (
    register_module_forward_hook,
    register_module_forward_pre_hook,
)

from benchmarks.training_throughput import main, random_morphable_model
from facelib.learn.nets import MultiView, SingleView
from facelib.learn.throughput import MODELS


class ImageCounter:
    """Counts the images every network forward receives (each view of a (B, N, 3, S,
    S) input counts), outermost networks only, by hooks on every module."""

    def __init__(self):
        self.images: list[int] = []  # per forward call
        self._depth = 0

    def _pre(self, module, args):
        if isinstance(module, (SingleView, MultiView)):
            if self._depth == 0:
                x = args[0]
                self.images.append(int(np.prod(x.shape[:-3])))
            self._depth += 1

    def _post(self, module, args, output):
        if isinstance(module, (SingleView, MultiView)):
            self._depth -= 1

    def __enter__(self):
        self._hooks = [
            register_module_forward_pre_hook(self._pre),
            register_module_forward_hook(self._post),
        ]
        return self

    def __exit__(self, *exc):
        for hook in self._hooks:
            hook.remove()


def test_random_morphable_model_has_orthonormal_modes():
    model = random_morphable_model(7, seed=3)
    flat = model.components.reshape(7, -1)
    np.testing.assert_allclose(flat @ flat.T, np.eye(7), atol=1e-10)
    assert np.all(np.diff(model.std) < 0)


def test_every_model_counts_the_images_its_steps_see(tmp_path, capsys):
    steps, warmup = 2, 1
    with ImageCounter() as counter:
        results = main(
            [
                "--device",
                "cpu",
                "--image-size",
                "32",
                "--width",
                "0.125",
                "--n-views",
                "3",
                "--batch-size",
                "2",
                "--n-modes",
                "5",
                "--steps",
                str(steps),
                "--warmup",
                str(warmup),
                "--json",
                str(tmp_path / "throughput.json"),
            ]
        )
    assert [r.model for r in results] == [m[0] for m in MODELS]
    # one forward per step, in model order: batch 2 of one view (SV), then of 3 views;
    # the last step of each model is the one whose FLOPs are counted (untimed)
    calls = warmup + steps + 1
    assert counter.images == [2] * calls + [6] * (3 * calls)
    for k, r in enumerate(results):
        seen = counter.images[k * calls]  # images in one step
        assert r.n_views == seen // 2 and not r.bf16
        # images/s times seconds per step: the images of one step
        assert r.images_per_second * r.step_ms / 1e3 == pytest.approx(seen, rel=1e-9)
    written = json.loads((tmp_path / "throughput.json").read_text())
    assert [w["images_per_second"] for w in written] == [
        r.images_per_second for r in results
    ]
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 4 and "images/s" in printed[0] and "N=3" in printed[1]
