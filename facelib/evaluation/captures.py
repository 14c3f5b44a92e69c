"""Table 1's rows on every test capture of a data set, and what the evaluation chapter
reads from them: scores per motion, per-vertex error maps, the 3DMM bound and the SV
Mean curve.

:func:`evaluate_captures` runs :func:`~facelib.evaluation.table1.predict_rows` on each
capture (one video per subject and motion) and scores every row with the 3DFAW-2019
ARMSE in worker processes; the result, :class:`CaptureEvaluation`, keeps the predictions
and the scores so that the chapter's figures and tables need no more computation of
their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from facelib.data.dataset import CAPTURE_MOTIONS, Dataset
from facelib.data.scan import RawScan
from facelib.evaluation.metrics import ARMSE
from facelib.evaluation.table1 import (
    ROWS,
    RowSummary,
    predict_rows,
    score_captures,
    summarise,
)
from facelib.learn.checkpoints import load_model, read_json
from facelib.learn.validation import Metrics

__all__ = [
    "RUN_FOLDERS",
    "load_networks",
    "network_metrics",
    "CaptureEvaluation",
    "evaluate_captures",
    "morphable_model_bound",
    "sv_mean_curve",
]

#: the trained network behind each network row of Table 1: its run folder in
# ``runs/<profile>/``
RUN_FOLDERS = {
    "SV": "sv",
    "MV Add": "mv_add",
    "MV Concat": "mv_concat",
    "MV Shape-Concat": "mv_shape_concat",
}


def load_networks(
    runs: str | Path, data: Dataset, device: str = "cpu"
) -> dict[str, torch.nn.Module]:
    """The four trained networks of Table 1 from ``runs/<folder>``
    (:data:`RUN_FOLDERS`), checked against the data set's 3DMM and image size."""
    return {
        name: load_model(
            Path(runs) / folder,
            morphable_model=data.morphable_model,
            image_size=data.image_size,
            device=device,
        )[0]
        for name, folder in RUN_FOLDERS.items()
    }


def network_metrics(runs: str | Path) -> dict[str, Metrics]:
    """The validation metrics that training stored with each network of Table 1
    (``runs/<folder>/model.json``, :data:`RUN_FOLDERS`)."""
    return {
        name: Metrics(**read_json(Path(runs) / folder / "model.json")["metrics"])
        for name, folder in RUN_FOLDERS.items()
    }


@dataclass(frozen=True)
class CaptureEvaluation:
    """Every row of Table 1 on every capture.

    Attributes:
        subjects: (M,) the captured test subjects, in the data set's order.
        keys: ``(subject, motion)`` of every capture, subjects in order.
        shapes: per capture, the predicted shape (P, 3) mm of every row.
        selections: per capture, the view selection of :func:`predict_rows` (the SV's
        yaw
            per frame, the frontal frame, the triplets, the SV's α per frame).
        results: per capture, the :class:`~facelib.evaluation.metrics.ARMSE` of every
        row.
        scans: the raw scan of every captured subject.
    """

    subjects: np.ndarray
    keys: list[tuple[int, str]]
    shapes: dict[tuple[int, str], dict[str, np.ndarray]]
    selections: dict[tuple[int, str], dict]
    results: dict[tuple[int, str], dict[str, ARMSE]]
    scans: dict[int, RawScan]

    def scores(self, motion: str, row: str) -> np.ndarray:
        """ARMSE (mm) of ``row`` on the captures of one motion, (M,) in subject
        order."""
        return np.array(
            [self.results[(s, m)][row].armse_mm for s, m in self.keys if m == motion]
        )

    def scores_both(self, row: str) -> np.ndarray:
        """ARMSE (mm) of ``row`` on every capture, the motions one after the other,
        (2 M,)."""
        return np.concatenate([self.scores(m, row) for m in CAPTURE_MOTIONS])

    def subject_means(self, row: str) -> np.ndarray:
        """ARMSE (mm) of ``row`` per subject, averaged over the motions, (M,)."""
        return np.mean([self.scores(m, row) for m in CAPTURE_MOTIONS], axis=0)

    def tables(self) -> dict[str, list[RowSummary]]:
        """Table 1 per motion and for both motions together (``"both"``)."""
        tables = {
            m: summarise({row: self.scores(m, row) for row in ROWS})
            for m in CAPTURE_MOTIONS
        }
        tables["both"] = summarise({row: self.scores_both(row) for row in ROWS})
        return tables

    def vertex_errors(self, n_points: int) -> dict[str, np.ndarray]:
        """Per row, the mean distance (mm) from each prediction vertex to the scan over
        all captures, (P,); only vertices the protocol sampled count, 0 where none
        did."""
        out = {}
        for row in ROWS:
            total, count = np.zeros(n_points), np.zeros(n_points)
            for key in self.keys:
                r = self.results[key][row]
                total[r.pred_vertex_ids] += r.pred_distances
                count[r.pred_vertex_ids] += 1
            out[row] = np.where(count > 0, total / np.maximum(count, 1), 0.0)
        return out


def evaluate_captures(
    data: Dataset,
    networks: dict[str, torch.nn.Module],
    *,
    workers: int = 1,
    engine: str | None = None,
    progress: bool = False,
) -> CaptureEvaluation:
    """Predict every row of Table 1 on every capture of ``data`` and score it against
    the subject's raw scan (ARMSE in ``workers`` processes on ``engine``:
    :func:`facelib.evaluation.table1.score_captures`)."""
    from tqdm import tqdm

    subjects = np.asarray(data.capture_subjects)
    template, model = data.template, data.morphable_model
    shapes, selections, scans = {}, {}, {}
    bar = tqdm(subjects, desc="predicting", mininterval=5.0, disable=not progress)
    for m, subject in enumerate(bar):
        scans[int(subject)] = data.scan(int(subject))
        for k, motion in enumerate(CAPTURE_MOTIONS):
            frames = data.tensor("capture_images", (m, k), dtype=None)
            key = (int(subject), motion)
            shapes[key], selections[key] = predict_rows(frames, model, networks)
    keys = list(shapes)
    scored = score_captures(
        [shapes[key] for key in keys],
        template.faces,
        template.landmarks,
        [scans[subject] for subject, _ in keys],
        workers=workers,
        engine=engine,
    )
    return CaptureEvaluation(
        subjects=subjects,
        keys=keys,
        shapes=shapes,
        selections=selections,
        results=dict(zip(keys, scored)),
        scans=scans,
    )


def morphable_model_bound(
    data: Dataset,
    evaluation: CaptureEvaluation,
    *,
    workers: int = 1,
    engine: str | None = None,
) -> np.ndarray:
    """ARMSE (mm) per captured subject, (M,), of the subject's true shape projected onto
    the 3DMM: what a network that regressed every coefficient perfectly would score
    (in ``workers`` processes on ``engine``, as :func:`evaluate_captures`)."""
    model = data.morphable_model
    true_shapes = data.tensor("shapes", evaluation.subjects)
    fits = model.shape(model.coefficients(true_shapes)).numpy()
    scored = score_captures(
        [{"3DMM fit": s} for s in fits],
        data.template.faces,
        data.template.landmarks,
        [evaluation.scans[int(s)] for s in evaluation.subjects],
        workers=workers,
        engine=engine,
    )
    return np.array([r["3DMM fit"].armse_mm for r in scored])


def sv_mean_curve(
    data: Dataset,
    evaluation: CaptureEvaluation,
    counts: list[int],
    n_subjects: int,
    *,
    workers: int = 1,
    engine: str | None = None,
) -> dict[int, list[float]]:
    """SV Mean's ARMSE (mm) against the number of frames averaged: for each count ``n``,
    the scores of the SV's coefficients averaged over ``n`` frames spread evenly over
    each video of the first ``n_subjects`` captured subjects (both motions); scored in
    ``workers`` processes on ``engine``, as :func:`evaluate_captures`."""
    model = data.morphable_model
    keys = [
        (int(s), m) for s in evaluation.subjects[:n_subjects] for m in CAPTURE_MOTIONS
    ]
    shapes = []
    for key in keys:
        alpha_frames = evaluation.selections[key]["alpha_frames"]
        last = len(alpha_frames) - 1
        picks = {n: np.linspace(0, last, n).round().astype(int) for n in counts}
        shapes.append(
            {
                n: model.shape(alpha_frames[pick].mean(0).double()).numpy()
                for n, pick in picks.items()
            }
        )
    scored = score_captures(
        shapes,
        data.template.faces,
        data.template.landmarks,
        [evaluation.scans[s] for s, _ in keys],
        workers=workers,
        engine=engine,
    )
    return {n: [r[n].armse_mm for r in scored] for n in counts}
