"""The on-disk data set as a typed record: what the face world writes and what learning
and evaluation read.

A data set is a folder, ``data/<profile>/``, holding memory-mappable ``.npy`` arrays
(the fields of :class:`Dataset`), the template (``template.npz``) and the 3DMM
(``morphable_model.npz``), the raw scans as ``.ply`` + ``.landmarks.txt`` under
``scans/train`` and ``scans/test``, ``registration.json`` and ``manifest.json``
(profile, seed, configuration, counts, package versions, sha256 of every file).

:func:`write_dataset` writes the folder under a temporary name and renames it into
place, so an interrupted write leaves no half-written data set; an existing data set is
replaced only with ``overwrite=True``. :func:`load_dataset` checks the manifest and
every checksum and refuses a mismatch with an error that says what to re-run.

Words: a *subject* is one identity; each has ``V`` *photographs* (training scenes) with
their cameras; test subjects also have 3DFAW-like *captures*, one video per capture
*motion* (:data:`CAPTURE_MOTIONS`).
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from facelib.data.scan import RawScan, load_scan, save_scan
from facelib.data.template import FaceTemplate, load_template, save_template
from facelib.geometry.morphable_model import MorphableModel
from facelib.storage import file_sha256

__all__ = [
    "Dataset",
    "load_dataset",
    "write_dataset",
    "SPLITS",
    "CAPTURE_MOTIONS",
    "ARRAY_FIELDS",
    "FORMAT_VERSION",
]

FORMAT_VERSION = 3  # 2: true shapes in the 3DMM frame; 3: photographs are face crops
SPLITS = ("train", "val", "test")
#: a hand-held camera circling the head; the head turning
CAPTURE_MOTIONS = ("orbit", "turn")
REBUILD_HINT = (
    "re-run notebooks/01_dataset (make book PROFILE={profile}, "
    "or python -m facelib.book run --profile {profile} --only 01_dataset)"
)


@dataclass(frozen=True)
class Dataset:
    """A data set read from disk. Arrays are memory-mapped and read-only.

    Attributes:
        path: the data set's folder.
        manifest: the parsed ``manifest.json``.
        template: the shared topology of every shape.
        morphable_model: the 3DMM fitted on the training subjects.
        images: photographs, uint8 (N, V, 3, S, S); V photographs per subject, S px.
        K: intrinsics (N, V, 3, 3) px, float32.
        q: rotations (N, V, 4), unit quaternions (w, x, y, z), model to camera, float32.
        t: translations (N, V, 3) mm, float32.
        shapes: true shapes (N, P, 3) mm in the 3DMM's frame, float32.
        split: (N,) int8, 0 train, 1 val, 2 test (:data:`SPLITS`).
        registered: (N,) bool, whose raw scan went through registration.
        registered_shapes: (R, P, 3) mm, the registered template of each registered
        subject,
            in its scan's frame.
        registration_vertex_error: (R, P) mm, against the known identity.
        identity_parameters: (N, D) the face world's identity parameters.
        capture_subjects: (M,) ids of the test subjects with captures.
        capture_images: uint8 (M, 2, F, 3, S, S), motions :data:`CAPTURE_MOTIONS`, F
        frames. capture_K, capture_q, capture_t: (M, 2, F, 3, 3), (M, 2, F, 4), (M, 2,
        F, 3).
    """

    path: Path
    manifest: dict
    template: FaceTemplate
    morphable_model: MorphableModel
    images: np.ndarray
    K: np.ndarray
    q: np.ndarray
    t: np.ndarray
    shapes: np.ndarray
    split: np.ndarray
    registered: np.ndarray
    registered_shapes: np.ndarray
    registration_vertex_error: np.ndarray
    identity_parameters: np.ndarray
    capture_subjects: np.ndarray
    capture_images: np.ndarray
    capture_K: np.ndarray
    capture_q: np.ndarray
    capture_t: np.ndarray

    @property
    def photos_per_subject(self) -> int:
        """V, the training photographs of each subject."""
        return int(self.images.shape[1])

    @property
    def image_size(self) -> int:
        """S, the photographs' side in pixels."""
        return int(self.images.shape[-1])

    @property
    def capture_frames(self) -> int:
        """F, the frames of each capture."""
        return int(self.capture_images.shape[2])

    def array(self, name: str) -> np.ndarray:
        """The array field ``name`` (one of :data:`ARRAY_FIELDS`)."""
        if name not in ARRAY_FIELDS:
            raise ValueError(f"no array {name!r} in a data set; arrays: {ARRAY_FIELDS}")
        return getattr(self, name)

    def tensor(
        self, name: str, index=slice(None), dtype: torch.dtype | None = torch.float64
    ) -> torch.Tensor:
        """A copy of ``array(name)[index]`` as a tensor (float64 by default;
        ``dtype=None`` keeps the type)."""
        x = torch.from_numpy(np.array(self.array(name)[index]))
        return x if dtype is None else x.to(dtype)

    def subjects(self, split: str) -> np.ndarray:
        """Subject ids of ``"train"``, ``"val"`` or ``"test"``."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return np.flatnonzero(self.split == SPLITS.index(split))

    def scan(self, subject: int) -> RawScan:
        """The raw scan of a registered training subject or a captured test subject."""
        for part in ("train", "test"):
            path = self.path / "scans" / part / f"subject_{subject:05d}.ply"
            if path.is_file():
                return load_scan(path)
        raise FileNotFoundError(
            f"subject {subject} has no raw scan in {self.path / 'scans'}"
        )


#: the array fields of :class:`Dataset`, one ``<name>.npy`` file each
ARRAY_FIELDS = tuple(
    f.name
    for f in fields(Dataset)
    if f.name not in ("path", "manifest", "template", "morphable_model")
)


def _versions() -> dict[str, str]:
    import scipy
    import trimesh

    import facelib

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "torch": torch.__version__,
        "trimesh": trimesh.__version__,
        "facelib": getattr(facelib, "__version__", "0"),
    }


def write_dataset(
    target: str | Path,
    *,
    arrays: dict[str, np.ndarray],
    template: FaceTemplate,
    morphable_model: MorphableModel,
    scans: dict[str, dict[int, RawScan]],
    registration: dict,
    manifest: dict,
    overwrite: bool = False,
) -> Path:
    """Write a data set folder at ``target`` (see the module doc); returns ``target``.

    ``arrays`` holds every name of :data:`ARRAY_FIELDS`; ``scans`` maps
    ``"train"``/``"test"`` to ``{subject: scan}``; ``manifest`` holds the caller's
    entries (profile, seed, configuration, counts, seconds), to which the format
    version, package versions, the 3DMM's fingerprint and the sha256 of every file are
    added.
    """
    target = Path(target)
    missing = sorted(set(ARRAY_FIELDS) - set(arrays))
    extra = sorted(set(arrays) - set(ARRAY_FIELDS))
    if missing or extra:
        raise ValueError(f"data set arrays: missing {missing}, unknown {extra}")
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"{target} exists; pass overwrite=True to rebuild it, or load it with "
            "load_dataset"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the data set is not
    try:
        for name in ARRAY_FIELDS:
            np.save(tmp / f"{name}.npy", arrays[name], allow_pickle=False)
        save_template(template, tmp / "template.npz")
        morphable_model.save(tmp / "morphable_model.npz")
        for part, by_subject in scans.items():
            for i, scan in by_subject.items():
                save_scan(scan, tmp / "scans" / part / f"subject_{i:05d}.ply")
        (tmp / "registration.json").write_text(json.dumps(registration, indent=1))
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        full = {
            "format_version": FORMAT_VERSION,
            **manifest,
            "morphable_model_sha256": morphable_model.fingerprint(),
            "versions": _versions(),
            "files": {str(p.relative_to(tmp)): file_sha256(p) for p in files},
        }
        (tmp / "manifest.json").write_text(json.dumps(full, indent=1))
        if target.exists():
            old = target.with_name(f".{target.name}.replaced-{time.time_ns()}")
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old)
        else:
            tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return target


def load_dataset(path: str | Path, *, verify: bool = True) -> Dataset:
    """Read a data set written by :func:`write_dataset`, checking its manifest (and,
    with ``verify``, the sha256 of every file)."""
    path = Path(path)
    hint = REBUILD_HINT.format(profile=path.name)
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"no data set at {path} (no manifest.json): {hint}")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{manifest_path} is not valid JSON ({err}): {hint}") from err
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} has format version {manifest.get('format_version')}, "
            f"this facelib reads {FORMAT_VERSION}: {hint}"
        )
    for rel, digest in manifest["files"].items():
        f = path / rel
        if not f.is_file():
            raise FileNotFoundError(f"{f} is missing from the data set: {hint}")
        if verify and file_sha256(f) != digest:
            raise ValueError(
                f"{f} does not match its checksum in the manifest (corrupt or "
                f"modified): {hint}"
            )
    for name in ARRAY_FIELDS:
        if f"{name}.npy" not in manifest["files"]:
            raise ValueError(f"{path} has no {name}.npy in its manifest: {hint}")
    template = load_template(path / "template.npz")
    morphable_model = MorphableModel.load(path / "morphable_model.npz")
    if morphable_model.fingerprint() != manifest["morphable_model_sha256"]:
        raise ValueError(
            f"{path / 'morphable_model.npz'} is not the model this data set was built "
            f"with: {hint}"
        )
    arrays = {
        name: np.load(path / f"{name}.npy", mmap_mode="r", allow_pickle=False)
        for name in ARRAY_FIELDS
    }
    return Dataset(
        path=path,
        manifest=manifest,
        template=template,
        morphable_model=morphable_model,
        **arrays,
    )
