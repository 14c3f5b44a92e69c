"""The paper's Table 1 on 3DFAW-like test captures (section 4.3): view selection, the
seven rows, statistics.

For every test capture (a video of ``F`` frames of one subject) and every row of Table
1:

* **3DMM Mean**: the 3DMM's mean shape;
* **SV Frontal**: the single-view network on the most frontal frame (its own estimated
  yaw nearest 0°);
* **SV Mean**: the single-view network on every frame, coefficients averaged;
* **MV Add**, **MV Concat**, **MV Shape-Concat**: the multi-view networks on the three
  frames whose yaw, *as the single-view network estimates it*, is nearest -45°, 0° and
  45° (paper, 4.3);
* **MV Shape-Concat Mean**: the mean of five MV Shape-Concat predictions, the k-th from
  the frames ranked k-th nearest to each of the three target yaws (k = 1..5).

Each prediction (a mesh in template topology, with the template's landmarks) is scored
against the subject's raw scan and its landmarks with
:func:`facelib.evaluation.metrics.armse`.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from facelib.data.scan import RawScan
from facelib.evaluation.metrics import ARMSE, armse_against, scan_target
from facelib.geometry.camera import quaternion_to_yaw_pitch_roll
from facelib.geometry.morphable_model import MorphableModel
from facelib.learn.views import PAPER_TARGET_YAWS, ranked_views
from facelib.parallel import default_engine, process_map
from facelib.storage import atomic_write, verify_checksum, write_checksum

__all__ = [
    "ROWS",
    "PAPER_TABLE1",
    "predict_rows",
    "score_rows",
    "score_captures",
    "bootstrap_interval",
    "summarise",
    "write_tables",
    "read_tables",
]

ROWS = (
    "3DMM Mean",
    "SV Frontal",
    "SV Mean",
    "MV Add",
    "MV Concat",
    "MV Shape-Concat",
    "MV Shape-Concat Mean",
)
#: the paper's Table 1, ARMSE in mm on 3DFAW-2019
PAPER_TABLE1 = {
    "3DMM Mean": 3.02,
    "SV Frontal": 2.62,
    "SV Mean": 2.51,
    "MV Add": 2.43,
    "MV Concat": 2.33,
    "MV Shape-Concat": 2.23,
    "MV Shape-Concat Mean": 2.14,
}


@torch.no_grad()
def predict_rows(
    frames: torch.Tensor,
    morphable_model: MorphableModel,
    networks: dict[str, torch.nn.Module],
    *,
    batch: int = 64,
) -> tuple[dict[str, np.ndarray], dict]:
    """Predicted shapes (P, 3) mm for every row of :data:`ROWS` from one capture's uint8
    frames (F, 3, S, S).

    ``networks`` holds ``"SV"``, ``"MV Add"``, ``"MV Concat"`` and ``"MV
    Shape-Concat"``. Returns the shapes by row and the view selection (the SV's yaw per
    frame, the frontal frame, the triplets).
    """
    sv = networks["SV"]
    frames = frames.to(
        next(sv.parameters()).device
    )  # the networks' device (all four share it)
    preds = [sv(frames[i : i + batch]) for i in range(0, len(frames), batch)]
    alpha_frames = torch.cat([p.alpha for p in preds]).cpu()
    yaw = quaternion_to_yaw_pitch_roll(
        torch.cat([p.q[:, 0] for p in preds]).double().cpu()
    )[:, 0].numpy()
    frontal = int(np.argmin(np.abs(yaw)))
    triplets = ranked_views(yaw, PAPER_TARGET_YAWS, depth=5)
    alphas = {
        "3DMM Mean": torch.zeros(morphable_model.n_modes),
        "SV Frontal": alpha_frames[frontal],
        "SV Mean": alpha_frames.mean(0),
    }
    first = frames[torch.from_numpy(triplets[0])][
        None
    ]  # (1, 3, 3, S, S), sorted by yaw
    for name in ("MV Add", "MV Concat", "MV Shape-Concat"):
        alphas[name] = networks[name](first).alpha[0].cpu()
    all_triplets = frames[torch.from_numpy(triplets.reshape(-1))].view(
        len(triplets), 3, *frames.shape[1:]
    )
    alphas["MV Shape-Concat Mean"] = (
        networks["MV Shape-Concat"](all_triplets).alpha.mean(0).cpu()
    )
    shapes = {
        name: morphable_model.shape(a.double()).numpy() for name, a in alphas.items()
    }
    return shapes, {
        "yaw": yaw,
        "frontal": frontal,
        "triplets": triplets,
        "alpha_frames": alpha_frames,
    }


def score_rows(
    shapes: dict[str, np.ndarray],
    faces: np.ndarray,
    landmark_ids: np.ndarray,
    scan: RawScan,
) -> dict[str, ARMSE]:
    """ARMSE of every predicted shape (template topology, landmarks at ``landmark_ids``
    (68,)) against the scan (prepared once, :func:`~facelib.evaluation.metrics.
    scan_target`)."""
    target = scan_target(scan.vertices, scan.faces, scan.landmarks)
    return {
        name: armse_against(v, faces, v[landmark_ids], target)
        for name, v in shapes.items()
    }


def _score_job(args):
    return score_rows(*args)


def score_captures(
    shapes: list[dict[str, np.ndarray]],
    faces: np.ndarray,
    landmark_ids: np.ndarray,
    scans: list[RawScan],
    *,
    workers: int = 1,
    engine: str | None = None,
) -> list[dict[str, ARMSE]]:
    """:func:`score_rows` for many captures (``shapes[i]`` against ``scans[i]``), in
    ``workers`` processes (1: in this process) on ``engine``: ``"local"`` or a Dask
    scheduler's address (:func:`facelib.parallel.process_map`; None: the environment
    variable ``FACELIB_ENGINE``'s, :func:`facelib.parallel.default_engine`). The result
    is the same for any number of workers, on either engine."""
    if len(shapes) != len(scans):
        raise ValueError(
            f"expected one scan per capture, got {len(shapes)} captures and "
            f"{len(scans)} scans"
        )
    return process_map(
        _score_job,
        [(s, faces, landmark_ids, scan) for s, scan in zip(shapes, scans)],
        workers,
        default_engine() if engine is None else engine,
    )


def bootstrap_interval(
    values: np.ndarray, *, n: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampling subjects)."""
    values = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (n, len(values)))].mean(axis=1)
    lo, hi = np.percentile(means, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


@dataclass
class RowSummary:
    row: str
    mean: float
    std: float
    ci_low: float
    ci_high: float
    improvement: float  # relative to 3DMM Mean, (base - row) / base
    paper: float
    paper_improvement: float


def summarise(per_subject: dict[str, np.ndarray]) -> list[RowSummary]:
    """Mean ± std, 95 % bootstrap interval over subjects and improvement over 3DMM Mean,
    with the paper's."""
    base = float(np.mean(per_subject["3DMM Mean"]))
    paper_base = PAPER_TABLE1["3DMM Mean"]
    out = []
    for row in ROWS:
        v = np.asarray(per_subject[row], dtype=np.float64)
        lo, hi = bootstrap_interval(v)
        out.append(
            RowSummary(
                row,
                float(v.mean()),
                float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                lo,
                hi,
                (base - v.mean()) / base,
                PAPER_TABLE1[row],
                (paper_base - PAPER_TABLE1[row]) / paper_base,
            )
        )
    return out


CSV_COLUMNS = (
    "captures",
    "row",
    "armse_mean_mm",
    "armse_std_mm",
    "ci95_low_mm",
    "ci95_high_mm",
    "improvement_vs_mean",
    "paper_armse_mm",
    "paper_improvement_vs_mean",
)


def write_tables(
    tables: dict[str, list[RowSummary]], folder: str | Path
) -> tuple[Path, Path]:
    """Write Table 1 per capture motion (``{"orbit": [...], "turn": [...], "both":
    [...]}``) as ``table1.json`` (every field of :class:`RowSummary`) and ``table1.csv``
    (:data:`CSV_COLUMNS`, mm), atomically, each with its checksum record beside it
    (:func:`facelib.storage.write_checksum`; :func:`read_tables` checks them); returns
    both paths."""
    folder = Path(folder)
    payload = json.dumps(
        {motion: [asdict(r) for r in table] for motion, table in tables.items()},
        indent=1,
    )
    json_path = atomic_write(
        folder / "table1.json", lambda tmp: Path(tmp).write_text(payload)
    )
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for motion, table in tables.items():
        for r in table:
            writer.writerow(
                [
                    motion,
                    r.row,
                    f"{r.mean:.4f}",
                    f"{r.std:.4f}",
                    f"{r.ci_low:.4f}",
                    f"{r.ci_high:.4f}",
                    f"{r.improvement:.4f}",
                    r.paper,
                    f"{r.paper_improvement:.4f}",
                ]
            )
    csv_path = atomic_write(
        folder / "table1.csv", lambda tmp: Path(tmp).write_text(text.getvalue())
    )
    for path in (json_path, csv_path):
        write_checksum(path)
    return json_path, csv_path


def read_tables(folder: str | Path) -> dict[str, list[RowSummary]]:
    """Table 1 as :func:`write_tables` wrote it into ``folder``, after checking both
    files against their checksum records (``table1.json.sha256``,
    ``table1.csv.sha256``)."""
    folder = Path(folder)
    verify_checksum(folder / "table1.csv")
    data = json.loads(verify_checksum(folder / "table1.json").read_text())
    return {motion: [RowSummary(**r) for r in rows] for motion, rows in data.items()}
