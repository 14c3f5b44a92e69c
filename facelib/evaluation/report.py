"""The book's result tables, built from the numbers the library computed: validation
metrics of the trained networks, Table 1 beside the paper's, the pairwise order check,
and each network's camera error beside its shape error and Table 1 gain.

Every function returns a :class:`~facelib.tables.Table` (an HTML table in the book,
aligned text for the notebooks' regression checks); rounding is chosen here, once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from facelib.evaluation.identity import IdentityReading
from facelib.evaluation.table1 import ROWS, RowSummary
from facelib.learn.validation import Metrics
from facelib.tables import Table, fmt

if TYPE_CHECKING:
    from facelib.learn.ablation import Ablation

__all__ = [
    "validation_table",
    "identity_signal_table",
    "table1_table",
    "OrderCheck",
    "order_checks",
    "order_table",
    "network_errors_table",
    "real_face_table",
    "real_face_distance_table",
    "identity_reading_table",
    "head_swap_table",
    "framing_table",
    "leading_mode_table",
    "band_rms_table",
    "frame_curve_table",
    "beyond_table1_table",
    "ablation_table",
    "ablation_verdict",
]


def _change(fraction: float) -> str:
    """A relative change as a signed whole percentage ("+0 %" rather than "-0 %")."""
    percent = round(100 * fraction)  # an int: no negative zero
    return f"{percent:+d} %"


def _change_tenths(fraction: float) -> str:
    """A relative change as a signed percentage to one decimal ("+0.0 %", never
    "-0.0 %")."""
    return f"{round(100 * fraction, 1) + 0.0:+.1f} %"


def _has_pose(m: Metrics) -> bool:
    return m.rotation_deg is not None and not math.isnan(m.rotation_deg)


def validation_table(
    rows: dict[str, Metrics], baseline: Metrics, *, title: str = ""
) -> Table:
    """Validation metrics per model (reprojection error, vertex RMS raw and after
    similarity alignment, camera rotation and translation errors), each shape error also
    as a ratio to ``baseline`` (the 3DMM mean)."""
    body = []
    for name, m in rows.items():
        pose = _has_pose(m)
        body.append(
            (
                name,
                fmt(m.reprojection_px if pose else None, ".2f", "px"),
                fmt(m.shape_mm, ".2f", "mm"),
                fmt(m.shape_aligned_mm, ".2f", "mm"),
                fmt(m.rotation_deg if pose else None, ".1f", "°"),
                fmt(m.translation_mm if pose else None, ".1f", "mm"),
                fmt(m.shape_mm / baseline.shape_mm, ".2f"),
                fmt(m.shape_aligned_mm / baseline.shape_aligned_mm, ".2f"),
            )
        )
    columns = (
        "model",
        "reprojection",
        "shape",
        "aligned shape",
        "rotation",
        "translation",
        "shape / mean",
        "aligned / mean",
    )
    return Table(columns=columns, rows=tuple(body), title=title)


def identity_signal_table(
    history: list[dict], signal_px: float, baseline: Metrics, *, title: str = ""
) -> Table:
    """A run's validation epoch by epoch, its reprojection error (px) beside the
    identity signal ``signal_px`` (:func:`facelib.learn.validation.identity_signal_px`,
    averaged), and its aligned shape error as a ratio to ``baseline``'s: whether the
    shape improves while the loss is still mostly camera error."""
    body = tuple(
        (
            str(h["epoch"]),
            fmt(h["reprojection_px"], ".2f", "px"),
            fmt(h["reprojection_px"] / signal_px, ".1f"),
            fmt(h["shape_aligned_mm"], ".2f", "mm"),
            fmt(h["shape_aligned_mm"] / baseline.shape_aligned_mm, ".3f"),
        )
        for h in history
    )
    columns = (
        "epoch",
        "reprojection",
        "reprojection / identity",
        "aligned shape",
        "aligned / mean",
    )
    notes = [
        f"identity signal: {signal_px:.2f} px, the reprojection error of the mean "
        "face moved onto each true shape by the best similarity, seen through the "
        "true camera"
    ]
    return Table(columns=columns, rows=body, title=title, notes=notes)


def table1_table(table: list[RowSummary], *, title: str = "") -> Table:
    """Table 1: ARMSE mean ± std over captures, the 95 % bootstrap interval of the mean,
    the change against 3DMM Mean, and the paper's numbers."""
    body = tuple(
        (
            r.row,
            f"{r.mean:.2f} ± {r.std:.2f}",
            f"{r.ci_low:.2f}-{r.ci_high:.2f}",
            _change(-r.improvement),
            f"{r.paper:.2f}",
            _change(-r.paper_improvement),
        )
        for r in table
    )
    columns = (
        "model",
        "ARMSE (mm)",
        "95 % interval",
        "vs 3DMM Mean",
        "paper (mm)",
        "paper vs mean",
    )
    return Table(columns=columns, rows=body, title=title)


@dataclass(frozen=True)
class OrderCheck:
    """One pair of consecutive rows of Table 1: whether ours fall in the paper's order
    (``first`` above ``second``; the last pair may tie) and whether their 95 % intervals
    overlap."""

    first: str
    second: str
    first_mm: float
    second_mm: float
    as_in_paper: bool
    overlap: bool


def order_checks(table: list[RowSummary]) -> list[OrderCheck]:
    """The paper's order 3DMM Mean > SV Frontal > SV Mean > MV Add > MV Concat >
    MV Shape-Concat >= MV Shape-Concat Mean, checked pair by pair on our numbers."""
    by_row = {r.row: r for r in table}
    checks = []
    for a, b in zip(ROWS[:-1], ROWS[1:]):
        ra, rb = by_row[a], by_row[b]
        tie_ok = b == "MV Shape-Concat Mean" and ra.mean >= rb.mean
        overlap = ra.ci_low <= rb.ci_high and rb.ci_low <= ra.ci_high
        checks.append(
            OrderCheck(a, b, ra.mean, rb.mean, ra.mean > rb.mean or tie_ok, overlap)
        )
    return checks


def order_table(checks: list[OrderCheck]) -> Table:
    """:func:`order_checks` as a table."""
    body = tuple(
        (
            f"{c.first} ({c.first_mm:.2f})",
            (">" if c.first_mm > c.second_mm else ">=") if c.as_in_paper else "<=",
            f"{c.second} ({c.second_mm:.2f})",
            "as in the paper" if c.as_in_paper else "NOT as in the paper",
            "yes" if c.overlap else "no",
        )
        for c in checks
    )
    columns = ("row (mm)", "", "next row (mm)", "order", "intervals overlap")
    return Table(columns=columns, rows=body)


def network_errors_table(
    metrics: dict[str, Metrics],
    baseline: Metrics,
    table: list[RowSummary],
) -> Table:
    """Each network's validation camera rotation error and aligned shape error (relative
    to the 3DMM mean's) beside its Table 1 gain over 3DMM Mean (SV: the SV Frontal
    row)."""
    by_row = {r.row: r for r in table}
    body = []
    for name, m in metrics.items():
        row = "SV Frontal" if name == "SV" else name
        body.append(
            (
                name,
                fmt(m.rotation_deg if _has_pose(m) else None, ".1f", "°"),
                fmt(m.shape_aligned_mm / baseline.shape_aligned_mm, ".2f"),
                _change(-by_row[row].improvement),
            )
        )
    columns = (
        "network",
        "camera rotation error",
        "shape error / baseline",
        "Table 1 vs 3DMM Mean",
    )
    return Table(columns=columns, rows=tuple(body))


def real_face_table(scores: dict[str, np.ndarray], *, title: str = "") -> Table:
    """Every row's ARMSE on the real face (mm, mean ± SD over the photographs' sets,
    :func:`facelib.evaluation.real_face.reconstruct_real_face`) and its change against
    3DMM Mean."""
    mean = float(np.mean(scores["3DMM Mean"]))
    return Table(
        columns=("row", "ARMSE (mm)", "vs 3DMM Mean"),
        rows=[
            (
                row,
                f"{np.mean(v):.2f} ± {np.std(v):.2f}",
                ""
                if row == "3DMM Mean"
                else _change_tenths(float(np.mean(v)) / mean - 1),
            )
            for row, v in scores.items()
        ],
        title=title,
    )


def real_face_distance_table(
    scores: dict[str, dict[str, np.ndarray]],
    distances_mm: tuple[float, ...] | dict[str, tuple[float, ...]],
    *,
    title: str = "",
) -> Table:
    """Every row's change against 3DMM Mean on the real face at each camera distance
    and over all of them, for each set of photographs (a framing, a world):
    ``scores[photographs]`` holds (C,) mm per row
    (:func:`facelib.evaluation.real_face.score_real_face`), ``distances_mm`` (C,) the
    distance of each set, the same for all or ``distances_mm[photographs]`` for each;
    the sets at one distance are averaged ("–" where there are none)."""
    if not isinstance(distances_mm, dict):
        distances_mm = {name: distances_mm for name in scores}
    distances = {
        name: np.asarray(distances_mm[name], dtype=np.float64) for name in scores
    }
    for name, by_row in scores.items():
        if distances[name].shape != np.shape(by_row["3DMM Mean"]):
            raise ValueError(
                f"{name}: expected one distance per set of photographs, "
                f"{np.shape(by_row['3DMM Mean'])}, got {distances[name].shape}"
            )
    levels = sorted(set(np.concatenate(list(distances.values())).tolist()))

    def change(name: str, row: str, level: float | None) -> str:
        by_row, at = scores[name], distances[name]
        k = np.ones_like(at, bool) if level is None else at == level
        if not k.any():
            return "–"
        mean = float(np.mean(by_row["3DMM Mean"][k]))
        return _change_tenths(float(np.mean(by_row[row][k])) / mean - 1)

    rows = [
        (row, name, *(change(name, row, level) for level in [*levels, None]))
        for row in next(iter(scores.values()))
        if row != "3DMM Mean"
        for name in scores
    ]
    return Table(
        columns=("row", "photographs", *(f"{d:.0f} mm" for d in levels), "all"),
        rows=rows,
        title=title,
        notes=["change of the ARMSE against 3DMM Mean's at the same distance"],
    )


_READING_FORMATS = {"cosine": "+.2f", "gain": "+.2f", "error": ".2f"}


def _reading_mean(reading: IdentityReading, what: str) -> str:
    """The mean of a reading's ``what`` ("cosine", "gain" or "error"), formatted."""
    return format(np.mean(getattr(reading, what)), _READING_FORMATS[what])


def identity_reading_table(
    readings: dict[str, dict[str, IdentityReading]],
    *,
    title: str = "",
    long: bool = False,
) -> Table:
    """Per row of Table 1, the mean cosine, gain and error of its reconstructions
    (:func:`facelib.evaluation.identity.identity_reading`) on each group of faces,
    ``readings[group][row]``; the groups are the column triples, in order, or with
    ``long`` one table row per row of Table 1 and group."""
    groups = list(readings)
    rows = list(readings[groups[0]])

    def cells(group: str, row: str) -> tuple[str, ...]:
        return tuple(_reading_mean(readings[group][row], w) for w in _READING_FORMATS)

    if long:
        columns = ("row", "faces", *_READING_FORMATS)
        table_rows = [(row, g, *cells(g, row)) for row in rows for g in groups]
    else:
        columns = (
            "row",
            *(f"{g}: {what}" for g in groups for what in _READING_FORMATS),
        )
        table_rows = [
            (row, *(cell for g in groups for cell in cells(g, row))) for row in rows
        ]
    return Table(
        columns=columns,
        rows=table_rows,
        title=title,
        notes=[
            "deviations from the mean face over the protocol's crop, each face "
            "aligned onto the mean by a similarity; cosine: 1 the person's own face, "
            "0 nothing of it; gain: the share of the person's deviation the "
            "prediction carries; error: what is left, the mean face's = 1"
        ],
    )


def head_swap_table(
    readings: dict[str, dict[str, dict[str, IdentityReading]]], *, title: str = ""
) -> Table:
    """Where each network looks (:mod:`facelib.world.probes`):
    ``readings[network][photographs]`` holds the readings of its answers against the
    ``"face"`` shown and against the ``"head"``'s identity; one table row per network
    and set of photographs, with the mean cosine against each and the error against
    the face."""
    return Table(
        columns=(
            "network",
            "photographs",
            "cosine with the face",
            "cosine with the head's identity",
            "error against the face",
        ),
        rows=[
            (
                network,
                photographs,
                _reading_mean(r["face"], "cosine"),
                _reading_mean(r["head"], "cosine"),
                _reading_mean(r["face"], "error"),
            )
            for network, by_photographs in readings.items()
            for photographs, r in by_photographs.items()
        ],
        title=title,
        notes=[
            "cosine and error as in the table above; in its own head, the head's "
            "identity is the face's"
        ],
    )


def framing_table(
    readings: dict[str, dict[str, list[IdentityReading]]],
    distances_mm: tuple[float, ...],
    *,
    title: str = "",
) -> Table:
    """Does each network need the detector's crop
    (:func:`facelib.world.probes.photograph_framings`):
    ``readings[network][framing]`` holds the readings of its answers on the
    photographs framed so, one per camera distance of ``distances_mm``; one table row
    per network and framing, with the mean cosine and error at each distance."""
    return Table(
        columns=(
            "network",
            "framing",
            *(
                f"{d:.0f} mm: {what}"
                for d in distances_mm
                for what in ("cosine", "error")
            ),
        ),
        rows=[
            (
                network,
                framing,
                *(
                    cell
                    for r in by_distance
                    for cell in (_reading_mean(r, "cosine"), _reading_mean(r, "error"))
                ),
            )
            for network, by_framing in readings.items()
            for framing, by_distance in by_framing.items()
        ],
        title=title,
        notes=["cosine and error as in the reading table above"],
    )


def leading_mode_table(
    scores: dict[int, float], mean_mm: float, *, title: str = ""
) -> Table:
    """ARMSE (mm) of a face's 3DMM projection cut to its first k modes
    (:func:`facelib.evaluation.identity.leading_mode_scores`), and its change against
    the mean face's ``mean_mm``."""
    return Table(
        columns=("modes read", "ARMSE (mm)", "vs 3DMM Mean"),
        rows=[
            (
                "none (the mean face)" if k == 0 else f"the first {k}",
                f"{v:.2f}",
                "" if k == 0 else _change_tenths(v / mean_mm - 1),
            )
            for k, v in scores.items()
        ],
        title=title,
    )


def band_rms_table(
    bands: tuple[tuple[int, int], ...],
    rms: dict[str, list[float]],
    *,
    title: str = "",
) -> Table:
    """The RMS (standard deviations) of 3DMM coefficients over bands of modes
    ``(first, last)`` (:func:`facelib.evaluation.identity.band_rms`), one column per
    group of faces ``rms[group]`` (one value per band)."""
    return Table(
        columns=("modes", *(f"{g}: RMS (σ)" for g in rms)),
        rows=[
            (f"{first}-{last}", *(f"{values[i]:.2f}" for values in rms.values()))
            for i, (first, last) in enumerate(bands)
        ],
        title=title,
        notes=["a face drawn from the 3DMM's population has about 1 in every band"],
    )


def frame_curve_table(
    summary: dict[str, dict[int, tuple[float, float, float]]],
    counts: list[int],
    *,
    title: str = "",
) -> Table:
    """ARMSE (mm) against the number of frames: one row per method, one column per
    count, each cell the mean and its 95 % bootstrap interval
    (:meth:`facelib.evaluation.captures.FrameCurve.summary`); "-" where a method does
    not take that many photographs."""

    def cell(v: tuple[float, float, float] | None) -> str:
        return "-" if v is None else f"{v[0]:.2f} ({v[1]:.2f}-{v[2]:.2f})"

    rows = tuple(
        (name, *(cell(by_count.get(n)) for n in counts))
        for name, by_count in summary.items()
    )
    columns = ("method", *(f"{n} frame{'s' * (n > 1)}" for n in counts))
    return Table(columns=columns, rows=rows, title=title)


def beyond_table1_table(
    rows: dict[str, np.ndarray], mean_face: np.ndarray, *, title: str = ""
) -> Table:
    """Rows beyond the paper's Table 1, marked as ours: ARMSE (mm) per capture (2 M,)
    of each row as Table 1 gives it (mean ± std, the 95 % bootstrap interval of the
    mean, the change against 3DMM Mean's ``mean_face`` scores on the same captures)."""
    from facelib.evaluation.table1 import bootstrap_interval

    base = float(np.mean(mean_face))
    body = []
    for name, v in rows.items():
        low, high = bootstrap_interval(v)
        mean = float(np.mean(v))
        body.append(
            (
                f"{name} (ours, not in the paper)",
                f"{mean:.2f} ± {float(np.std(v)):.2f}",
                f"{low:.2f}-{high:.2f}",
                _change(mean / base - 1.0),
            )
        )
    columns = ("model", "ARMSE (mm)", "95 % interval", "vs 3DMM Mean")
    return Table(columns=columns, rows=tuple(body), title=title)


def ablation_table(
    ablation: Ablation, baseline: Metrics | None = None, *, title: str = ""
) -> Table:
    """The loss ablation, one row per trained network (Eq. 2 with both seeds and with
    the pose warm-up if any, Eq. 2 + virtual views, Eq. 2 decoupled if any, then the
    multi-term grid): its
    weights, the validation metrics of its kept epoch (aligned shape error, mm;
    reprojection, px; camera rotation, degrees, and translation, mm), and the aligned
    shape and reprojection errors relative to Eq. 2's (Δ; first seed; below 0 % is
    better).
    ``baseline`` (the 3DMM mean on the same subjects) adds a first row. The notes say
    how many grid cells beat Eq. 2 on each, and what a change of seed alone moves it
    by."""
    ref = ablation.single.metrics
    body = []
    if baseline is not None:
        body.append(
            (
                "3DMM mean (no network)",
                "-",
                "-",
                fmt(baseline.shape_aligned_mm, ".3f"),
                "-",
                "-",
                "-",
                _change_tenths(baseline.shape_aligned_mm / ref.shape_aligned_mm - 1.0),
                "-",
            )
        )
    for cell in ablation.cells():
        m, o = cell.metrics, cell.objective
        weighted = o.kind == "multi_term"
        if weighted:
            name = "multi-term"
        elif o.kind == "reprojection" and not cell.warmup_epochs:
            name = f"Eq. 2, seed {cell.seed}"
        else:
            name = cell.label
        body.append(
            (
                name,
                fmt(o.beta if weighted else None, "g"),
                fmt(o.gamma if weighted else None, "g"),
                fmt(m.shape_aligned_mm, ".3f"),
                fmt(m.reprojection_px, ".2f"),
                fmt(m.rotation_deg, ".1f"),
                fmt(m.translation_mm, ".1f"),
                _change_tenths(m.shape_aligned_mm / ref.shape_aligned_mm - 1.0),
                _change_tenths(m.reprojection_px / ref.reprojection_px - 1.0),
            )
        )
    n = len(ablation.betas) * len(ablation.gammas)
    notes = tuple(
        f"{what}: {ablation.beating(metric)} of {n} grid cells beat Eq. 2; a change "
        f"of seed alone moves Eq. 2 by {ablation.seed_spread(metric):{spec}} {unit}."
        for what, metric, spec, unit in (
            ("aligned shape", "shape_aligned_mm", ".3f", "mm"),
            ("reprojection", "reprojection_px", ".2f", "px"),
        )
    )
    columns = (
        "loss",
        "β",
        "γ /mm²",
        "shape mm",
        "reproj. px",
        "rot. °",
        "transl. mm",
        "shape Δ",
        "reproj. Δ",
    )
    return Table(columns=columns, rows=tuple(body), title=title, notes=notes)


def ablation_verdict(ablation: Ablation) -> list[str]:
    """One line per compared metric of the loss ablation: Eq. 2's value and seed
    spread, how many grid cells are lower and how many by more than that spread, the
    grid's best and worst, and Eq. 2 + virtual views, Eq. 2 with the warm-up and Eq.
    2 decoupled."""
    lines = []
    for metric, unit, spec in (
        ("shape_aligned_mm", "mm", ".3f"),
        ("reprojection_px", "px", ".2f"),
    ):
        single = getattr(ablation.single.metrics, metric)
        spread = ablation.seed_spread(metric)
        values = ablation.values(metric)
        others = [ablation.virtual, ablation.single_warmup, ablation.decoupled]
        lines.append(
            f"{metric}: Eq. 2 {single:{spec}} {unit} (seed spread {spread:{spec}}); "
            f"{ablation.beating(metric)} of {values.size} multi-term cells lower, "
            f"{ablation.beating(metric, spread)} by more than the seed spread; best "
            f"cell {values.min():{spec}}, worst {values.max():{spec}}; "
            + "; ".join(
                f"{c.label} {getattr(c.metrics, metric):{spec}}"
                for c in others
                if c is not None
            )
        )
    return lines
