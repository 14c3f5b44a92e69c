"""facelib.evaluation.table1: frame ranking for view selection, the bootstrap and the
table's arithmetic; scoring on the local pool and on a Dask cluster."""

from dataclasses import asdict

import numpy as np
import pytest
import torch

from facelib.data.scan import RawScan
from facelib.evaluation.table1 import (
    PAPER_TABLE1,
    ROWS,
    bootstrap_interval,
    predict_rows,
    read_tables,
    score_captures,
    summarise,
    write_tables,
)
from facelib.geometry.morphable_model import MorphableModel
from facelib.learn.nets import MultiView, SingleView


def test_bootstrap_interval_contains_the_mean_and_shrinks():
    rng = np.random.default_rng(0)
    small, large = rng.normal(3, 1, 20), rng.normal(3, 1, 500)
    lo, hi = bootstrap_interval(small)
    assert lo < small.mean() < hi
    lo2, hi2 = bootstrap_interval(large)
    assert hi2 - lo2 < hi - lo
    # close to the normal approximation for many samples
    assert (hi2 - lo2) == pytest.approx(2 * 1.96 * large.std() / np.sqrt(500), rel=0.15)


def test_summary_arithmetic():
    per = {row: np.array([3.0, 2.0]) - 0.1 * k for k, row in enumerate(ROWS)}
    table = summarise(per)
    assert [r.row for r in table] == list(ROWS)
    assert table[0].mean == pytest.approx(2.5) and table[0].improvement == 0.0
    assert table[4].improvement == pytest.approx(0.4 / 2.5)
    assert table[4].paper == PAPER_TABLE1["MV Concat"] and table[
        4
    ].paper_improvement == pytest.approx((3.02 - 2.33) / 3.02)


def test_predict_rows_uses_the_sv_yaw_and_averages_linearly():
    rng = np.random.default_rng(1)
    mean = rng.normal(0, 40, (12, 3))
    comps = np.linalg.qr(rng.normal(size=(36, 3)))[0].T.reshape(3, 12, 3)
    model = MorphableModel(
        mean=mean,
        components=comps,
        std=np.array([3.0, 2.0, 1.0]),
        faces=np.array([[0, 1, 2]]),
        landmarks=np.arange(5),
        mirror=np.arange(12),
    )
    torch.manual_seed(0)
    sv = SingleView(3, 32, width=0.125).eval()
    with (
        torch.no_grad()
    ):  # α's output layer starts at zero: give the frames different α
        torch.nn.init.normal_(sv.alpha_head[-1].weight, std=1.0)
    nets = {
        "SV": sv,
        "MV Add": MultiView.from_single_view(sv, 3, "add").eval(),
        "MV Concat": MultiView.from_single_view(sv, 3, "concat").eval(),
    }
    nets["MV Shape-Concat"] = MultiView.shape_only_from(nets["MV Concat"]).eval()
    frames = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    shapes, sel = predict_rows(frames, model, nets)
    assert set(shapes) == set(ROWS)
    np.testing.assert_allclose(shapes["3DMM Mean"], mean)
    with torch.no_grad():
        alpha = sv(frames).alpha.double()
    assert alpha.std(0).min() > 0  # the frames' α differ, so the rows below can differ
    np.testing.assert_allclose(
        shapes["SV Mean"], model.shape(alpha.mean(0)).numpy(), atol=1e-5
    )
    np.testing.assert_allclose(
        shapes["SV Frontal"], model.shape(alpha[sel["frontal"]]).numpy(), atol=1e-5
    )
    assert np.abs(sel["yaw"][sel["frontal"]]) == np.abs(sel["yaw"]).min()


def test_tables_are_written_and_read_back(tmp_path):
    import csv
    import json

    rng = np.random.default_rng(1)
    tables = {
        kind: summarise(
            {row: rng.normal(3.0 - 0.1 * i, 0.3, 12) for i, row in enumerate(ROWS)}
        )
        for kind in ("orbit", "both")
    }
    json_path, csv_path = write_tables(tables, tmp_path / "runs")
    back = json.loads(json_path.read_text())
    assert list(back) == ["orbit", "both"] and [r["row"] for r in back["both"]] == list(
        ROWS
    )
    assert back["orbit"][3]["mean"] == tables["orbit"][3].mean
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert (
        len(rows) == 2 * len(ROWS)
        and rows[0]["captures"] == "orbit"
        and rows[-1]["row"] == ROWS[-1]
    )
    assert float(rows[1]["armse_mean_mm"]) == pytest.approx(
        tables["orbit"][1].mean, abs=1e-4
    )
    assert float(rows[0]["paper_armse_mm"]) == PAPER_TABLE1["3DMM Mean"]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "table1.csv",
        "table1.csv.sha256",
        "table1.json",
        "table1.json.sha256",
    ]  # no temporary files left
    # read back through the checksums: the same rows; a changed digit is refused
    assert read_tables(tmp_path / "runs") == tables
    text = csv_path.read_text()
    csv_path.write_text(text.replace(rows[1]["armse_mean_mm"], "9.9999", 1))
    with pytest.raises(ValueError, match="does not match its checksum"):
        read_tables(tmp_path / "runs")


def _leaves(scores: list[dict]) -> list[tuple]:
    """Every number of every score (each field of each ARMSE and of its transform) as
    (capture, row, field, dtype, shape, bytes)."""
    out = []
    for k, rows in enumerate(scores):
        for row, score in rows.items():
            fields = asdict(score)
            fields.update(
                {f"transform.{n}": v for n, v in fields.pop("transform").items()}
            )
            for name, value in fields.items():
                a = np.asarray(value)
                out.append((k, row, name, a.dtype.str, a.shape, a.tobytes()))
    return out


def test_scoring_on_a_dask_cluster_gives_the_local_pools_bytes(
    dask_cluster, world, monkeypatch
):
    """score_captures on a Dask cluster of 2 workers, named by FACELIB_ENGINE (as the
    evaluation notebook would get it), scores what the local pool scores, byte for
    byte."""
    template, shapes, _ = world
    v = shapes.numpy()
    scan = RawScan(v[0], template.faces, v[0][template.landmarks])
    predictions = [{"a": v[1], "b": v[2]}, {"c": v[2]}, {"d": v[1]}]
    args = (predictions, template.faces, template.landmarks, [scan] * 3)
    pool = score_captures(*args, workers=2, engine="local")
    monkeypatch.setenv("FACELIB_ENGINE", dask_cluster.scheduler_address)
    on_cluster = score_captures(*args, workers=2)
    assert dask_cluster.scheduler.task_prefixes["score_job"].state_counts["memory"] == 3
    assert _leaves(pool) == _leaves(on_cluster)
    assert [sorted(r) for r in on_cluster] == [["a", "b"], ["c"], ["d"]]
