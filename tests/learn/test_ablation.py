"""facelib.learn.ablation: the grid of weights, the bookkeeping of an ablation (checked
on hand-made metrics), and a whole small ablation trained on the tiny data set."""

import json
import math

import numpy as np
import pytest

from facelib.data.dataset import load_dataset
from facelib.learn.ablation import cell_name, run_ablation, weight_grid
from facelib.learn.losses import Objective
from facelib.learn.training import TrainConfig


def test_weight_grid_spans_the_decades_on_a_log_scale():
    assert weight_grid(1e-4, 2, 3) == (1e-4, 1e-3, 1e-2)
    assert weight_grid(1.0, 3, 4) == (1.0, 10.0, 100.0, 1000.0)
    assert weight_grid(2.0, 1, 3) == (2.0, 6.32, 20.0)  # 2 * sqrt(10), 3 digits
    for bad in [(0.0, 2, 3), (1.0, 0, 3), (1.0, 2, 1), (math.nan, 2, 3)]:
        with pytest.raises(ValueError, match="weight grid"):
            weight_grid(*bad)


def test_an_ablation_counts_the_cells_below_the_single_term(made_up_ablation):
    a = made_up_ablation
    np.testing.assert_array_equal(
        a.values("shape_aligned_mm"), [[2.9, 3.05], [3.5, 2.99]]
    )
    assert a.beating("shape_aligned_mm") == 2  # 2.9 and 2.99 < 3.0
    assert a.beating("reprojection_px") == 1  # 1.9 < 2.0 (2.0 does not beat 2.0)
    assert a.seed_spread("shape_aligned_mm") == pytest.approx(0.1)
    assert a.seed_spread("reprojection_px") == pytest.approx(0.2)
    assert [c.objective.kind for c in a.cells()] == [
        "reprojection",
        "reprojection",
        "virtual_views",
    ] + ["multi_term"] * 4
    with pytest.raises(ValueError, match="compares"):
        a.values("loss")


def test_cell_names_are_distinct_folder_names():
    names = {
        cell_name(Objective(), 0),
        cell_name(Objective(), 1),
        cell_name(Objective("virtual_views"), 0),
        cell_name(Objective("decoupled"), 0),
        cell_name(Objective("multi_term", 10.0, 0.001), 0),
        cell_name(Objective("multi_term", 10.0, 0.01), 0),
    }
    assert len(names) == 6 and "beta10_gamma0.001_seed0" in names


def test_a_small_ablation_trains_every_cell_with_its_loss(tiny_path, tmp_path):
    data = load_dataset(tiny_path)
    base = TrainConfig(
        network="sv", width=0.125, batch_size=4, epochs=1, max_steps_per_epoch=2
    )
    ablation = run_ablation(
        base, data, tmp_path, betas=[1.0, 100.0], gammas=[1e-4, 1e-2], warmup_epochs=1
    )
    cells = ablation.cells()
    assert len(cells) == 9 and len({c.path for c in cells}) == 9
    assert [c.objective.kind for c in cells[:5]] == [
        "reprojection",
        "reprojection",
        "reprojection",
        "virtual_views",
        "decoupled",
    ]
    for c in cells:
        config = json.loads((c.path / "model.json").read_text())["config"]
        assert (
            config["loss"],
            config["beta"],
            config["gamma"],
            config["seed"],
            config["pose_warmup_epochs"],
        ) == (
            c.objective.kind,
            c.objective.beta,
            c.objective.gamma,
            c.seed,
            c.warmup_epochs,
        )
        assert math.isfinite(c.metrics.shape_aligned_mm)
    assert ablation.single_warmup.warmup_epochs == 1
    assert ablation.single_warmup.label == "Eq. 2, pose warm-up (1 epoch)"
    # the losses differ, so do the networks they train
    shapes = {round(c.metrics.reprojection_px, 9) for c in cells}
    assert len(shapes) >= 3
    # finished runs are reused, not retrained
    again = run_ablation(base, data, tmp_path, betas=[1.0, 100.0], gammas=[1e-4, 1e-2])
    assert again.single.metrics == ablation.single.metrics
    assert again.single_warmup is None
    assert again.decoupled.metrics == ablation.decoupled.metrics
    assert (
        run_ablation(
            base, data, tmp_path, betas=[1.0], gammas=[1e-4], decoupled=False
        ).decoupled
        is None
    )
    with pytest.raises(ValueError, match="increasing"):
        run_ablation(base, data, tmp_path, betas=[10.0, 1.0], gammas=[1.0])
    with pytest.raises(ValueError, match="only the single-view network"):
        run_ablation(
            TrainConfig(network="mv"),
            data,
            tmp_path,
            betas=[1],
            gammas=[1],
            warmup_epochs=1,
        )
    with pytest.raises(ValueError, match="no cameras"):
        run_ablation(
            TrainConfig(network="mv_shape"), data, tmp_path, betas=[1], gammas=[1]
        )


def test_beating_by_a_margin_and_the_best_cell(made_up_ablation):
    a = made_up_ablation
    # shape: Eq. 2 3.0 mm; 2.9 and 2.99 are lower, 2.95 would need to be below 2.9
    assert a.beating("shape_aligned_mm", margin=0.05) == 1  # 2.9 only
    assert a.beating("shape_aligned_mm", margin=a.seed_spread("shape_aligned_mm")) == 0
    best = a.best("shape_aligned_mm")
    assert (best.objective.beta, best.objective.gamma) == (1.0, 0.01)
    assert a.best("reprojection_px").metrics.reprojection_px == 1.9
