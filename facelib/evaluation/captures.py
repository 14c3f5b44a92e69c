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
from facelib.data.template import FaceTemplate
from facelib.evaluation.metrics import (
    ARMSE,
    point_to_mesh_distances,
    scan_crop_faces,
)
from facelib.evaluation.table1 import (
    ROWS,
    RowSummary,
    bootstrap_interval,
    predict_rows,
    score_captures,
    summarise,
)
from facelib.learn.checkpoints import load_model, read_json
from facelib.learn.validation import Metrics

__all__ = [
    "RUN_FOLDERS",
    "BEYOND_RUN_FOLDERS",
    "load_networks",
    "network_metrics",
    "CaptureEvaluation",
    "evaluate_captures",
    "morphable_model_bound",
    "sv_mean_curve",
    "FrameCurve",
    "frame_count_curve",
    "OnScan",
    "aligned_on_scan",
]

#: the trained network behind each network row of Table 1: its run folder in
# ``runs/<profile>/``
RUN_FOLDERS = {
    "SV": "sv",
    "MV Add": "mv_add",
    "MV Concat": "mv_concat",
    "MV Shape-Concat": "mv_shape_concat",
}


#: networks beyond the paper's Table 1 (:mod:`facelib.learn.nets`'s MV Any): their run
#: folders in ``runs/<profile>/``
BEYOND_RUN_FOLDERS = {"MV Any": "mv_any"}


def load_networks(
    runs: str | Path,
    data: Dataset,
    device: str = "cpu",
    *,
    folders: dict[str, str] = RUN_FOLDERS,
) -> dict[str, torch.nn.Module]:
    """The trained networks of ``folders`` (by default the four of Table 1,
    :data:`RUN_FOLDERS`) from ``runs/<folder>``, checked against the data set's 3DMM
    and image size."""
    return {
        name: load_model(
            Path(runs) / folder,
            morphable_model=data.morphable_model,
            image_size=data.image_size,
            device=device,
        )[0]
        for name, folder in folders.items()
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
    fits = model.project(true_shapes).numpy()
    scored = score_captures(
        [{"3DMM fit": s} for s in fits],
        data.template.faces,
        data.template.landmarks,
        [evaluation.scans[int(s)] for s in evaluation.subjects],
        workers=workers,
        engine=engine,
    )
    return np.array([r["3DMM fit"].armse_mm for r in scored])


def _score_videos(
    data: Dataset,
    evaluation: CaptureEvaluation,
    keys: list[tuple[int, str]],
    shapes: list[dict],
    workers: int,
    engine: str | None,
) -> list[dict]:
    """The ARMSE of each video's predicted shapes (one dict per key (subject,
    motion)) against its subject's scan (:func:`score_captures`)."""
    return score_captures(
        shapes,
        data.template.faces,
        data.template.landmarks,
        [evaluation.scans[s] for s, _ in keys],
        workers=workers,
        engine=engine,
    )


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
    scored = _score_videos(data, evaluation, keys, shapes, workers, engine)
    return {n: [r[n].armse_mm for r in scored] for n in counts}


@dataclass
class FrameCurve:
    """ARMSE against the number of frames (:func:`frame_count_curve`).

    Attributes:
        counts: the numbers of frames n.
        scores: per method and n, the ARMSE (mm) of every scored capture video,
            (2 M,) (both motions of M subjects); a method that takes a fixed number
            of photographs has that n only.
        videos: the scored videos (subject, motion), in the order of the scores.
        shapes: per video, the predicted shape (P, 3) mm, model frame, of each
            (method, n).
        results: per video, the protocol's result of each (method, n)
            (:func:`score_captures`: the alignment onto the scan, the distances).
    """

    counts: list[int]
    scores: dict[str, dict[int, np.ndarray]]
    videos: list[tuple[int, str]]
    shapes: list[dict[tuple[str, int], np.ndarray]]
    results: list[dict]

    def summary(self) -> dict[str, dict[int, tuple[float, float, float]]]:
        """Per method and n: the mean ARMSE (mm) and its 95 % bootstrap interval
        (resampling captures), ``(mean, low, high)``."""
        return {
            name: {
                n: (float(np.mean(v)), *bootstrap_interval(v))
                for n, v in by_count.items()
            }
            for name, by_count in self.scores.items()
        }


def frame_count_curve(
    data: Dataset,
    evaluation: CaptureEvaluation,
    networks: dict[str, torch.nn.Module],
    counts: list[int],
    n_subjects: int,
    *,
    workers: int = 1,
    engine: str | None = None,
) -> FrameCurve:
    """ARMSE against the number of frames given to each method: for each count n, the
    n frames spread evenly over each video of the first ``n_subjects`` captured
    subjects (both motions), in video order (ordered by the single-view network's yaw
    estimate for a network with a fixed number of views, as it was trained).

    ``networks`` maps a method's name to a network taking (1, n, 3, S, S): MV Any
    (:class:`facelib.learn.nets.AnyView`) and SV Mean
    (:class:`facelib.learn.nets.ViewAverage`) for every n, a
    :class:`facelib.learn.nets.MultiView` for its own ``n_views`` only. Scored in
    ``workers`` processes on ``engine``, as :func:`evaluate_captures`."""
    from facelib.learn.nets import MultiView

    if not counts or any(int(n) < 1 for n in counts):
        raise ValueError(f"expected counts of frames >= 1, got {counts!r}")
    model = data.morphable_model
    keys = [
        (int(s), m) for s in evaluation.subjects[:n_subjects] for m in CAPTURE_MOTIONS
    ]
    index = {int(s): i for i, s in enumerate(np.asarray(data.capture_subjects))}
    shapes, methods = [], {}
    for name, net in networks.items():
        fixed = net.n_views if isinstance(net, MultiView) else None
        methods[name] = [n for n in counts if fixed in (None, n)]
    for subject, motion in keys:
        frames = data.tensor(
            "capture_images",
            (index[subject], CAPTURE_MOTIONS.index(motion)),
            dtype=None,
        )
        yaw = evaluation.selections[(subject, motion)]["yaw"]
        last = len(frames) - 1
        per_video = {}
        for name, net in networks.items():
            device = next(net.parameters()).device
            for n in methods[name]:
                pick = np.linspace(0, last, n).round().astype(int)
                if isinstance(net, MultiView):
                    pick = pick[np.argsort(yaw[pick], kind="stable")]
                x = frames[torch.from_numpy(pick)][None].to(device)
                with torch.no_grad():
                    alpha = net(x).alpha[0].cpu().double()
                per_video[(name, n)] = model.shape(alpha).numpy()
        shapes.append(per_video)
    scored = _score_videos(data, evaluation, keys, shapes, workers, engine)
    return FrameCurve(
        counts=[int(n) for n in counts],
        scores={
            name: {n: np.array([r[(name, n)].armse_mm for r in scored]) for n in ns}
            for name, ns in methods.items()
        },
        videos=keys,
        shapes=shapes,
        results=scored,
    )


@dataclass(frozen=True)
class OnScan:
    """A predicted shape as the protocol placed it on its scan
    (:func:`aligned_on_scan`).

    Attributes:
        vertices: the shape aligned by the protocol's similarity, (P, 3) mm.
        faces: its triangles within the protocol's crop round its nose tip (F, 3).
        distances: every vertex's distance (P,) mm to the scored part of the scan
            (not only the protocol's every-4th sample).
        scan_faces: the scan's scored triangles (G, 3), over the scan's vertices.
    """

    vertices: np.ndarray
    faces: np.ndarray
    distances: np.ndarray
    scan_faces: np.ndarray


def aligned_on_scan(
    shape: np.ndarray, result: ARMSE, scan: RawScan, template: FaceTemplate
) -> OnScan:
    """The predicted shape (P, 3) mm, model frame, in ``template``'s topology, that
    ``result`` scored against ``scan``, placed as the protocol placed it
    (:class:`OnScan`)."""
    aligned = result.transform.apply(np.asarray(shape, dtype=np.float64))
    scan_faces = scan_crop_faces(scan.vertices, scan.faces, scan.landmarks)
    return OnScan(
        vertices=aligned,
        faces=scan_crop_faces(aligned, template.faces, aligned[template.landmarks]),
        distances=point_to_mesh_distances(aligned, scan.vertices, scan_faces),
        scan_faces=scan_faces,
    )
