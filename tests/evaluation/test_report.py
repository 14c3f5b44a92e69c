"""facelib.evaluation.report: the book's result tables, cell by cell, on hand-built
metrics and Table 1 summaries."""

import math

import numpy as np
import pytest

from facelib.evaluation.identity import IdentityReading
from facelib.evaluation.report import (
    OrderCheck,
    _change,
    band_rms_table,
    framing_table,
    head_swap_table,
    identity_reading_table,
    identity_signal_table,
    leading_mode_table,
    network_errors_table,
    order_checks,
    order_table,
    real_face_distance_table,
    table1_table,
    validation_table,
)
from facelib.evaluation.table1 import ROWS, RowSummary
from facelib.learn.validation import Metrics

NAN = math.nan


def reading(cos, err) -> IdentityReading:
    """Readings with the given cosines and errors (the gains unused)."""
    return IdentityReading(np.array(cos), np.zeros(len(cos)), np.array(err))


def metrics(reprojection, shape, aligned, rotation, translation) -> Metrics:
    return Metrics(
        reprojection_px=reprojection,
        shape_mm=shape,
        shape_aligned_mm=aligned,
        rotation_deg=rotation,
        translation_mm=translation,
        loss=1.0,
    )


BASELINE = metrics(NAN, 4.0, 2.0, NAN, NAN)


@pytest.mark.parametrize(
    "fraction, text",
    [
        (0.0, "+0 %"),
        (-0.0, "+0 %"),
        (0.004, "+0 %"),
        (-0.004, "+0 %"),  # not "-0 %"
        (-0.126, "-13 %"),
        (0.126, "+13 %"),
        (-0.5, "-50 %"),
        (1.0, "+100 %"),
    ],
)
def test_change_is_a_signed_whole_percentage(fraction, text):
    assert _change(fraction) == text


def test_identity_signal_table():
    history = [
        {"epoch": 1, "reprojection_px": 6.0, "shape_aligned_mm": 2.0},
        {"epoch": 2, "reprojection_px": 1.5, "shape_aligned_mm": 2.5},
    ]
    t = identity_signal_table(history, 0.5, BASELINE, title="sig")
    assert t.title == "sig" and t.columns[2] == "reprojection / identity"
    assert t.rows == (
        ("1", "6.00 px", "12.0", "2.00 mm", "1.000"),
        ("2", "1.50 px", "3.0", "2.50 mm", "1.250"),
    )
    assert "0.50 px" in t.notes[0]


def test_validation_table():
    rows = {
        "SV": metrics(1.5, 3.0, 1.0, 10.0, 12.5),
        "MV Shape-Concat": metrics(2.0, 2.0, 1.5, NAN, NAN),  # no pose
        "odd": metrics(2.0, 6.0, 3.0, None, 4.0),  # no pose either
        "3DMM Mean": BASELINE,
    }
    t = validation_table(rows, BASELINE, title="val")
    assert t.title == "val"
    assert t.columns == (
        "model",
        "reprojection",
        "shape",
        "aligned shape",
        "rotation",
        "translation",
        "shape / mean",
        "aligned / mean",
    )
    assert t.rows == (
        ("SV", "1.50 px", "3.00 mm", "1.00 mm", "10.0 °", "12.5 mm", "0.75", "0.50"),
        ("MV Shape-Concat", "-", "2.00 mm", "1.50 mm", "-", "-", "0.50", "0.75"),
        ("odd", "-", "6.00 mm", "3.00 mm", "-", "-", "1.50", "1.50"),
        ("3DMM Mean", "-", "4.00 mm", "2.00 mm", "-", "-", "1.00", "1.00"),
    )


def summary(row, mean, ci=(0.0, 0.0), improvement=0.0, std=0.0) -> RowSummary:
    return RowSummary(row, mean, std, ci[0], ci[1], improvement, 3.0, 0.25)


def test_table1_table():
    table = [
        RowSummary("3DMM Mean", 3.0, 0.5, 2.75, 3.25, 0.0, 3.02, 0.0),
        RowSummary("SV Mean", 2.62, 0.25, 2.5, 2.75, 0.126, 2.51, 0.51 / 3.02),
        RowSummary("MV Add", 3.01, 0.1, 2.9, 3.1, -0.004, 2.43, -0.006),
    ]
    t = table1_table(table, title="Table 1")
    assert t.title == "Table 1"
    assert t.columns == (
        "model",
        "ARMSE (mm)",
        "95 % interval",
        "vs 3DMM Mean",
        "paper (mm)",
        "paper vs mean",
    )
    assert t.rows == (
        ("3DMM Mean", "3.00 ± 0.50", "2.75-3.25", "+0 %", "3.02", "+0 %"),
        # improvement 12.6 % is a change of -13 %; the paper's 0.51 / 3.02: -17 %
        ("SV Mean", "2.62 ± 0.25", "2.50-2.75", "-13 %", "2.51", "-17 %"),
        # 0.4 % worse rounds to +0 %, 0.6 % worse to +1 %
        ("MV Add", "3.01 ± 0.10", "2.90-3.10", "+0 %", "2.43", "+1 %"),
    )


def hand_table() -> list[RowSummary]:
    """Table 1 in the paper's row order, each pair built for one case."""
    means_and_intervals = {
        "3DMM Mean": (3.0, (2.8, 3.2)),
        "SV Frontal": (2.6, (2.5, 2.7)),  # below: in order, apart
        "SV Mean": (2.7, (2.6, 2.8)),  # above SV Frontal: NOT in order, overlap
        "MV Add": (2.4, (2.3, 2.6)),  # in order, intervals touch at 2.6
        "MV Concat": (2.3, (2.0, 2.5)),  # in order, one inside the other
        "MV Shape-Concat": (2.2, (2.1, 2.3)),
        "MV Shape-Concat Mean": (2.2, (2.1, 2.3)),  # a tie: allowed for this pair
    }
    return [summary(r, m, ci) for r, (m, ci) in means_and_intervals.items()]


def test_order_checks_on_hand_built_intervals():
    checks = order_checks(list(reversed(hand_table())))  # found by row name
    assert [(c.first, c.second) for c in checks] == list(zip(ROWS[:-1], ROWS[1:]))
    assert [c.as_in_paper for c in checks] == [True, False, True, True, True, True]
    assert [c.overlap for c in checks] == [False, True, True, True, True, True]
    assert (checks[1].first_mm, checks[1].second_mm) == (2.6, 2.7)


def test_order_checks_ties_and_inversions():
    table = hand_table()
    # a tie between any other pair is not the paper's order
    table[5] = summary("MV Shape-Concat", 2.3, (2.1, 2.3))
    table[6] = summary("MV Shape-Concat Mean", 2.35, (2.4, 2.5))
    checks = order_checks(table)
    assert checks[4] == OrderCheck(
        "MV Concat", "MV Shape-Concat", 2.3, 2.3, False, True
    )
    # the last pair reversed is not in order either; its intervals are apart
    assert checks[5] == OrderCheck(
        "MV Shape-Concat", "MV Shape-Concat Mean", 2.3, 2.35, False, False
    )


def test_order_table():
    t = order_table(order_checks(hand_table())[:2])
    assert t.columns == ("row (mm)", "", "next row (mm)", "order", "intervals overlap")
    assert t.rows == (
        ("3DMM Mean (3.00)", ">", "SV Frontal (2.60)", "as in the paper", "no"),
        ("SV Frontal (2.60)", "<=", "SV Mean (2.70)", "NOT as in the paper", "yes"),
    )


def test_network_errors_table():
    table = [
        summary("3DMM Mean", 3.0),
        summary("SV Frontal", 2.25, improvement=0.25),
        summary("SV Mean", 2.4, improvement=0.2),
        summary("MV Shape-Concat", 1.5, improvement=0.5),
        summary("MV Add", 3.03, improvement=-0.01),
    ]
    nets = {
        "SV": metrics(1.0, 3.0, 1.0, 7.3, 3.0),
        "MV Add": metrics(1.0, 3.0, 3.0, 0.5, 3.0),
        "MV Shape-Concat": metrics(NAN, 2.0, 0.5, NAN, NAN),
    }
    t = network_errors_table(nets, BASELINE, table)
    assert t.columns == (
        "network",
        "camera rotation error",
        "shape error / baseline",
        "Table 1 vs 3DMM Mean",
    )
    assert t.rows == (
        ("SV", "7.3 °", "0.50", "-25 %"),  # the SV's gain is SV Frontal's
        ("MV Add", "0.5 °", "1.50", "+1 %"),
        ("MV Shape-Concat", "-", "0.25", "-50 %"),
    )


def test_frame_curve_table():
    from facelib.evaluation.report import frame_curve_table

    summary = {
        "SV Mean": {1: (3.0, 2.9, 3.1), 3: (2.95, 2.85, 3.05)},
        "MV Concat": {3: (2.8, 2.7, 2.9)},
    }
    table = frame_curve_table(summary, [1, 3], title="t")
    assert table.columns == ("method", "1 frame", "3 frames")
    assert table.rows == (
        ("SV Mean", "3.00 (2.90-3.10)", "2.95 (2.85-3.05)"),
        ("MV Concat", "-", "2.80 (2.70-2.90)"),
    )


def test_beyond_table1_table_is_marked_as_ours_and_compares_with_the_mean():
    import numpy as np

    from facelib.evaluation.report import beyond_table1_table

    table = beyond_table1_table(
        {"MV Any (all frames)": np.array([2.0, 4.0])}, np.array([4.0, 4.0])
    )
    ((name, armse_cell, interval, change),) = table.rows
    assert name == "MV Any (all frames) (ours, not in the paper)"
    assert armse_cell == "3.00 ± 1.00" and change == "-25 %"
    low, high = (float(x) for x in interval.split("-"))
    assert 2.0 <= low <= 3.0 <= high <= 4.0


def test_ablation_table_lists_every_network_and_counts_the_winners(made_up_ablation):
    from facelib.evaluation.report import ablation_table

    baseline = Metrics(math.nan, 3.6, 3.3, math.nan, math.nan, 0.0)
    table = ablation_table(made_up_ablation, baseline)
    assert len(table.rows) == 1 + 7
    assert table.column("shape mm")[:4] == (
        "3.300",
        "3.000",
        "3.100",
        "2.800",
    )
    # relative to Eq. 2's 3.0 mm and 2.0 px, to a tenth of a per cent
    assert table.column("shape Δ")[0] == "+10.0 %"
    assert table.column("shape Δ")[4] == "-3.3 %"  # 2.9 mm
    assert table.column("reproj. Δ")[4] == "+25.0 %"  # 2.5 px
    assert table.column("β")[4:] == ("1", "1", "10", "10")
    assert table.column("γ /mm²")[4:] == ("0.01", "0.1", "0.01", "0.1")
    assert table.notes == (
        "aligned shape: 2 of 4 grid cells beat Eq. 2; a change of seed alone moves "
        "Eq. 2 by 0.100 mm.",
        "reprojection: 1 of 4 grid cells beat Eq. 2; a change of seed alone moves "
        "Eq. 2 by 0.20 px.",
    )


def test_ablation_verdict_says_each_metric_in_one_line(made_up_ablation):
    from facelib.evaluation.report import ablation_verdict

    shape, repro = ablation_verdict(made_up_ablation)
    assert shape == (
        "shape_aligned_mm: Eq. 2 3.000 mm (seed spread 0.100); 2 of 4 multi-term "
        "cells lower, 0 by more than the seed spread; best cell 2.900, worst 3.500; "
        "Eq. 2 + virtual views 2.800"
    )
    assert repro.startswith("reprojection_px: Eq. 2 2.00 px (seed spread 0.20); 1 of 4")


def test_the_decoupled_cell_has_its_row_and_its_verdict(made_up_ablation):
    from dataclasses import replace

    from facelib.evaluation.report import ablation_table, ablation_verdict
    from facelib.learn.ablation import AblationCell
    from facelib.learn.losses import Objective

    metrics = replace(made_up_ablation.single.metrics, shape_aligned_mm=2.95)
    cell = AblationCell(
        Objective("decoupled"), 0, metrics, [], made_up_ablation.single.path
    )
    ablation = replace(made_up_ablation, decoupled=cell)
    table = ablation_table(ablation)
    assert len(table.rows) == 8 and table.column("loss")[3] == "Eq. 2, decoupled"
    assert table.column("shape Δ")[3] == "-1.7 %"
    shape, _ = ablation_verdict(ablation)
    assert shape.endswith("Eq. 2 + virtual views 2.800; Eq. 2, decoupled 2.950")


def test_identity_reading_table_cell_by_cell():
    def reading(cos, gain, err):
        return IdentityReading(np.array(cos), np.array(gain), np.array(err))

    world = {
        "SV": reading([0.2, 0.4], [0.1, 0.3], [0.99, 0.97]),
        "MV": reading([-0.5], [0.0], [1.2]),
    }
    real = {
        "SV": reading([0.0], [-0.01], [1.0]),
        "MV": reading([0.25, 0.75], [1.0, 2.0], [0.5, 0.6]),
    }
    table = identity_reading_table({"ours": world, "james": real}, title="t")
    assert table.columns == (
        "row",
        "ours: cosine",
        "ours: gain",
        "ours: error",
        "james: cosine",
        "james: gain",
        "james: error",
    )
    assert table.rows == (
        ("SV", "+0.30", "+0.20", "0.98", "+0.00", "-0.01", "1.00"),
        ("MV", "-0.50", "+0.00", "1.20", "+0.50", "+1.50", "0.55"),
    )
    long = identity_reading_table({"ours": world, "james": real}, long=True)
    assert long.columns == ("row", "faces", "cosine", "gain", "error")
    assert long.rows == (
        ("SV", "ours", "+0.30", "+0.20", "0.98"),
        ("SV", "james", "+0.00", "-0.01", "1.00"),
        ("MV", "ours", "-0.50", "+0.00", "1.20"),
        ("MV", "james", "+0.50", "+1.50", "0.55"),
    )


def test_leading_mode_table_cell_by_cell():
    table = leading_mode_table({0: 4.0, 10: 3.0, 71: 1.7}, 4.0)
    assert table.rows == (
        ("none (the mean face)", "4.00", ""),
        ("the first 10", "3.00", "-25.0 %"),
        ("the first 71", "1.70", "-57.5 %"),
    )


def test_band_rms_table_cell_by_cell():
    table = band_rms_table(((1, 10), (11, 71)), {"a": [1.0, 2.944], "b": [0.5, 1.0]})
    assert table.columns == ("modes", "a: RMS (σ)", "b: RMS (σ)")
    assert table.rows == (("1-10", "1.00", "0.50"), ("11-71", "2.94", "1.00"))


def test_real_face_distance_table_cell_by_cell():
    scores = {
        "3DMM Mean": np.array([4.0, 2.0, 4.0, 2.0]),
        "MV": np.array([3.0, 2.2, 3.4, 2.2]),
        "SV": np.array([4.0, 2.0, 4.0, 2.0]),
    }
    cropped = {k: v * 0.5 if k == "MV" else v for k, v in scores.items()}
    table = real_face_distance_table(
        {"as taken": scores, "cropped": cropped}, (480.0, 660.0, 480.0, 660.0)
    )
    assert table.columns == ("row", "photographs", "480 mm", "660 mm", "all")
    # all: MV 10.8 / 12 mm = -10 %; cropped: 5.4 / 12 = -55 %
    assert table.rows == (
        ("MV", "as taken", "-20.0 %", "+10.0 %", "-10.0 %"),
        ("MV", "cropped", "-60.0 %", "-45.0 %", "-55.0 %"),
        ("SV", "as taken", "+0.0 %", "+0.0 %", "+0.0 %"),
        ("SV", "cropped", "+0.0 %", "+0.0 %", "+0.0 %"),
    )
    with pytest.raises(ValueError, match="one distance per set"):
        real_face_distance_table({"as taken": scores}, (480.0,))


def test_real_face_distance_table_with_distances_per_set_of_photographs():
    """Two sets of photographs with their own distances: a level one lacks is "–"."""
    real = {"3DMM Mean": np.array([4.0, 2.0]), "MV": np.array([3.0, 2.2])}
    world = {"3DMM Mean": np.array([4.0, 4.0, 2.0]), "MV": np.array([3.0, 3.8, 2.1])}
    table = real_face_distance_table(
        {"real": real, "world": world},
        {"real": (480.0, 660.0), "world": (480.0, 480.0, 570.0)},
    )
    assert table.columns == ("row", "photographs", "480 mm", "570 mm", "660 mm", "all")
    # world at 480 mm: 6.8 / 8 = -15 %; all: 8.9 / 10 = -11 %; real all: 5.2 / 6
    assert table.rows == (
        ("MV", "real", "-25.0 %", "–", "+10.0 %", "-13.3 %"),
        ("MV", "world", "-15.0 %", "+5.0 %", "–", "-11.0 %"),
    )
    with pytest.raises(ValueError, match="world: expected one distance per set"):
        real_face_distance_table(
            {"real": real, "world": world},
            {"real": (480.0, 660.0), "world": (480.0, 480.0)},
        )


def test_head_swap_table_cell_by_cell():
    readings = {
        "MV": {
            "own head": {"face": reading([0.3], [0.9]), "head": reading([0.3], [0.9])},
            "another's head": {
                "face": reading([0.1, 0.2], [1.0, 0.98]),
                "head": reading([0.25], [0.95]),
            },
        }
    }
    table = head_swap_table(readings)
    assert table.rows == (
        ("MV", "own head", "+0.30", "+0.30", "0.90"),
        ("MV", "another's head", "+0.15", "+0.25", "0.99"),
    )


def test_framing_table_cell_by_cell():
    readings = {
        "SV": {
            "cropped": [reading([0.1, 0.3], [0.9, 1.0]), reading([0.25], [0.96])],
            "uncropped": [reading([-0.05], [1.1]), reading([0.0, 0.1], [1.0, 1.04])],
        }
    }
    table = framing_table(readings, (480.0, 660.0))
    assert table.columns == (
        "network",
        "framing",
        "480 mm: cosine",
        "480 mm: error",
        "660 mm: cosine",
        "660 mm: error",
    )
    assert table.rows == (
        ("SV", "cropped", "+0.20", "0.95", "+0.25", "0.96"),
        ("SV", "uncropped", "-0.05", "1.10", "+0.05", "1.02"),
    )
