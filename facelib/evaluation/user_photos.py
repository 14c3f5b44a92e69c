"""The "Your photographs" chapter's measurements: test captures written as a user's
photographs, the ``facelib reconstruct`` command run on them as a user would run it,
and its exported file scored against the subject's scan.

* :func:`capture_photographs`: the frames of a test capture whose true yaw is nearest
  the wanted yaws, written as JPEG files;
* :func:`detectable_capture`: the first test capture whose chosen frames the face
  detector finds faces in;
* :func:`run_reconstruct`: ``python -m facelib reconstruct`` in a subprocess;
* :func:`score_export`: ARMSE of the exported ``face.obj`` against the subject's raw
  scan with one call of :func:`~facelib.evaluation.metrics.armse_from_files`, beside
  the 3DMM mean face's;
* :func:`phone_photographs`: a real photograph placed in 640 x 480 frames, for timing.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from facelib.data.dataset import CAPTURE_MOTIONS, Dataset
from facelib.evaluation.metrics import armse, armse_from_files
from facelib.geometry.camera import quaternion_to_yaw_pitch_roll
from facelib.reconstruct.photos import FaceNotFound, find_face
from facelib.storage import atomic_write

__all__ = [
    "capture_photographs",
    "detectable_capture",
    "run_reconstruct",
    "ExportScore",
    "score_export",
    "phone_photographs",
    "write_jpeg",
]


def write_jpeg(path: str | Path, image: np.ndarray, quality: int = 92) -> Path:
    """An (H, W, 3) uint8 image as a JPEG file, atomically."""
    return atomic_write(
        path, lambda tmp: Image.fromarray(image).save(tmp, "JPEG", quality=quality)
    )


def capture_photographs(
    data: Dataset,
    capture: int,
    folder: str | Path,
    *,
    yaws=(-30.0, 0.0, 30.0),
    motion: str = "orbit",
) -> tuple[list[Path], np.ndarray]:
    """Write the frames of test capture ``capture`` (an index into
    ``data.capture_subjects``, video ``motion``) whose true yaw is nearest each of
    ``yaws`` (degrees) as ``folder/frame_FF.jpg``; returns the paths and the frames'
    true yaws."""
    k = CAPTURE_MOTIONS.index(motion)
    q = torch.from_numpy(np.array(data.capture_q[capture, k], dtype=np.float64))
    yaw = quaternion_to_yaw_pitch_roll(q)[:, 0].numpy()
    picks = [int(np.argmin(np.abs(yaw - y))) for y in yaws]
    paths = []
    for f in picks:
        image = np.asarray(data.capture_images[capture, k, f]).transpose(1, 2, 0)
        paths.append(write_jpeg(Path(folder) / f"frame_{f:02d}.jpg", image))
    return paths, yaw[picks]


def detectable_capture(
    data: Dataset, yaws, *, need: int = 3, motion: str = "orbit"
) -> tuple[int, int]:
    """The first test capture (index into ``data.capture_subjects``) in which the
    face detector (:func:`facelib.reconstruct.photos.find_face`) finds a face in at
    least ``need`` of the frames nearest ``yaws``; returns it and how many captures
    were tried. Raises ``ValueError`` when none qualifies."""
    k = CAPTURE_MOTIONS.index(motion)
    for capture in range(len(data.capture_subjects)):
        q = torch.from_numpy(np.array(data.capture_q[capture, k], dtype=np.float64))
        yaw = quaternion_to_yaw_pitch_roll(q)[:, 0].numpy()
        found = 0
        for y in yaws:
            f = int(np.argmin(np.abs(yaw - y)))
            image = np.asarray(data.capture_images[capture, k, f]).transpose(1, 2, 0)
            try:
                find_face(np.ascontiguousarray(image))
                found += 1
            except FaceNotFound:
                pass
        if found >= need:
            return capture, capture + 1
    raise ValueError(
        f"the detector finds {need} faces in no test capture's frames at yaws {yaws}"
    )


def run_reconstruct(
    photos, runs: str | Path, out: str | Path, *, extra=()
) -> subprocess.CompletedProcess:
    """``python -m facelib reconstruct PHOTOS --model RUNS -o OUT --overwrite``, as a
    user would type it; returns the finished process (its stderr holds the
    progress)."""
    command = [sys.executable, "-m", "facelib", "reconstruct"]
    command += [str(p) for p in photos]
    command += ["--model", str(runs), "-o", str(out), "--overwrite", *extra]
    return subprocess.run(command, capture_output=True, text=True)


@dataclass(frozen=True)
class ExportScore:
    """ARMSE (mm) of the exported mesh and of the 3DMM mean face against a subject's
    scan."""

    subject: int
    export_mm: float
    mean_face_mm: float


def score_export(out: str | Path, data: Dataset, subject: int) -> ExportScore:
    """Score ``out/face.obj`` with ``out/landmarks.txt`` against test subject
    ``subject``'s raw scan files, and the 3DMM's mean face against the same scan."""
    out = Path(out)
    scan_path = data.path / "scans" / "test" / f"subject_{subject:05d}.ply"
    scan_lm = scan_path.with_suffix(".landmarks.txt")
    export = armse_from_files(
        out / "face.obj", out / "landmarks.txt", scan_path, scan_lm
    )
    scan = data.scan(subject)
    mm = data.morphable_model
    mean = mm.mean.reshape(-1, 3)
    mean_score = armse(
        mean,
        mm.faces,
        mean[data.template.landmarks],
        scan.vertices,
        scan.faces,
        scan.landmarks,
    )
    return ExportScore(subject, export.armse_mm, mean_score.armse_mm)


def phone_photographs(image: np.ndarray, n: int = 3) -> list[np.ndarray]:
    """``n`` 640 x 480 frames holding ``image`` (H, W, 3) uint8 scaled to 400 px high,
    each placed a little further right, over grey: photographs of a phone's size."""
    h = 400
    w = round(image.shape[1] * h / image.shape[0])
    small = np.asarray(Image.fromarray(image).resize((w, h)))
    frames = []
    for k in range(n):
        frame = np.full((480, 640, 3), 110, np.uint8)
        x0 = min(640 - w, 40 + 60 * k)
        frame[40 : 40 + h, x0 : x0 + w] = small
        frames.append(frame)
    return frames
