"""The on-disk data set as a typed record: what the face world writes and what learning
and evaluation read.

A data set is a folder, ``data/<profile>/``, holding memory-mappable ``.npy`` arrays
(the fields of :class:`Dataset`), the template (``template.npz``) and the 3DMM
(``morphable_model.npz``), the raw scans as ``.ply`` + ``.landmarks.txt`` under
``scans/train`` and ``scans/test``, ``registration.json`` and ``manifest.json``
(profile, seed, configuration, counts, package versions, sha256 of every file).

:func:`write_dataset` writes the folder under a temporary name and renames it into
place, so an interrupted write leaves no half-written data set; an existing data set is
replaced only with ``overwrite=True``. The manifest is complete: it lists every file
of the folder (a file on disk that it does not list, or a file of the data set that it
does not list, is refused), and its ``counts`` (:data:`COUNTS`; :data:`COUNT_AXES`)
are the sizes of the arrays' axes (:data:`ARRAY_LAYOUT`). :func:`write_dataset`
refuses arrays that disagree with each other or with the caller's counts;
:func:`load_dataset` checks the manifest, the listing, the arrays' dtypes and shapes
against the counts (from the ``.npy`` headers: no data is read but the (N,) ``split``
and ``registered`` and the (M,) ``capture_subjects``) and every checksum, and refuses a
mismatch with an error that says what to re-run.

Words: a *subject* is one identity; each has ``V`` *photographs* (training scenes) with
their cameras; test subjects also have 3DFAW-like *captures*, one video per capture
*motion* (:data:`CAPTURE_MOTIONS`).
"""

from __future__ import annotations

import json
import platform
import re
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
from facelib.storage import file_sha256, read_json

__all__ = [
    "Dataset",
    "load_dataset",
    "write_dataset",
    "SPLITS",
    "CAPTURE_MOTIONS",
    "ARRAY_FIELDS",
    "ARRAY_LAYOUT",
    "COUNT_AXES",
    "COUNTS",
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

#: every array field: its dtype (a name, or a kind: ``"f"`` any float, ``"i"`` any
#: signed integer) and its axes in the letters of the :class:`Dataset` docstring (a
#: digit: that size; ``C``: the capture motions, :data:`CAPTURE_MOTIONS`; ``D``: any
#: size, the same in every array)
ARRAY_LAYOUT = {
    "images": ("uint8", "N V 3 S S"),
    "K": ("float32", "N V 3 3"),
    "q": ("float32", "N V 4"),
    "t": ("float32", "N V 3"),
    "shapes": ("float32", "N P 3"),
    "split": ("int8", "N"),
    "registered": ("bool", "N"),
    "registered_shapes": ("f", "R P 3"),
    "registration_vertex_error": ("f", "R P"),
    "identity_parameters": ("f", "N D"),
    "capture_subjects": ("i", "M"),
    "capture_images": ("uint8", "M C F 3 S S"),
    "capture_K": ("f", "M C F 3 3"),
    "capture_q": ("f", "M C F 4"),
    "capture_t": ("f", "M C F 3"),
}
#: the manifest's ``counts`` that are sizes of the arrays' axes (:data:`ARRAY_LAYOUT`)
COUNT_AXES = {
    "subjects": "N",
    "photos_per_subject": "V",
    "image_size": "S",
    "registered": "R",
    "capture_subjects": "M",
    "capture_frames": "F",
    "vertices": "P",
}
#: every entry of the manifest's ``counts``, in the order they are written
COUNTS = (
    "subjects",
    "train",
    "val",
    "test",
    "photos_per_subject",
    "image_size",
    "registered",
    "capture_subjects",
    "capture_frames",
    "modes",
    "vertices",
)
#: the entries of a manifest that :func:`write_dataset` adds itself
_RESERVED = ("format_version", "morphable_model_sha256", "versions", "files")
#: the files of a data set besides its arrays and scans
_OTHER_FILES = ("template.npz", "morphable_model.npz", "registration.json")
_SCAN_FILE = re.compile(r"scans/(train|test)/subject_(\d{5,})\.(ply|landmarks\.txt)")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_counts_types(counts, where: str, fix: str) -> None:
    """Refuse a ``counts`` entry that is not a dictionary of integers >= 0."""
    if not isinstance(counts, dict):
        raise ValueError(
            f"{where}: 'counts' must be a dictionary of sizes, got "
            f"{type(counts).__name__} {counts!r}: {fix}"
        )
    bad = {k: v for k, v in counts.items() if k in COUNTS and not _is_count(v)}
    if bad:
        raise ValueError(f"{where}: the counts {bad} are not integers >= 0: {fix}")


def _dtype_fits(dtype: np.dtype, want: str) -> bool:
    return dtype.kind == want if len(want) == 1 else dtype == np.dtype(want)


def _checked_counts(
    arrays: dict[str, np.ndarray],
    template: FaceTemplate,
    morphable_model: MorphableModel,
    claimed: dict,
    where: str,
    fix: str,
) -> dict:
    """The data set's counts (:data:`COUNTS`): ``claimed`` completed from the arrays,
    after checking that every array has its dtype and that the sizes of their axes
    (:data:`ARRAY_LAYOUT`) agree with each other, with ``claimed``, with the template
    and the 3DMM. Reads only the headers of the arrays, and the (N,) ``split`` and
    ``registered`` and the (M,) ``capture_subjects``. Raises ValueError naming the
    array, the count and ``fix``."""
    sizes = {"C": len(CAPTURE_MOTIONS)}
    source = {"C": f"the {len(CAPTURE_MOTIONS)} capture motions {CAPTURE_MOTIONS}"}
    for key, letter in COUNT_AXES.items():
        if key in claimed:
            sizes[letter] = claimed[key]
            source[letter] = f"counts[{key!r}] of the manifest"
    for name, (dtype, axes) in ARRAY_LAYOUT.items():
        array = arrays[name]
        if not _dtype_fits(array.dtype, dtype):
            kind = {"f": "a float type", "i": "a signed integer type"}.get(dtype, dtype)
            raise ValueError(
                f"{where}: {name}.npy holds {array.dtype}, a data set's {name} is "
                f"{kind}: {fix}"
            )
        letters = axes.split()
        if array.ndim != len(letters):
            raise ValueError(
                f"{where}: {name}.npy has shape {tuple(array.shape)}, a data set's "
                f"{name} is ({', '.join(letters)}): {fix}"
            )
        for axis, (letter, n) in enumerate(zip(letters, array.shape)):
            want = int(letter) if letter.isdigit() else sizes.get(letter)
            if want is None:
                sizes[letter], source[letter] = n, f"{name}.npy"
            elif n != want:
                raise ValueError(
                    f"{where}: {name}.npy has shape {tuple(array.shape)} "
                    f"({', '.join(letters)}), but {letter} = {want} from "
                    f"{source.get(letter, 'its layout')}: {fix}"
                )
    split = np.asarray(arrays["split"])
    if split.size and (split.min() < 0 or split.max() >= len(SPLITS)):
        raise ValueError(
            f"{where}: split.npy holds values outside 0..{len(SPLITS) - 1} "
            f"({SPLITS}): {fix}"
        )
    per_split = np.bincount(split.astype(np.int64), minlength=len(SPLITS))
    registered = np.flatnonzero(np.asarray(arrays["registered"]))
    if len(registered) != sizes["R"]:
        raise ValueError(
            f"{where}: registered.npy marks {len(registered)} subjects, but "
            f"registered_shapes.npy holds {sizes['R']}: {fix}"
        )
    if len(registered) and (split[registered] != SPLITS.index("train")).any():
        raise ValueError(f"{where}: a registered subject is not a training one: {fix}")
    captured = np.asarray(arrays["capture_subjects"])
    if len(captured) and (
        captured.min() < 0
        or captured.max() >= sizes["N"]
        or (split[captured] != SPLITS.index("test")).any()
        or len(np.unique(captured)) != len(captured)
    ):
        raise ValueError(
            f"{where}: capture_subjects.npy holds {captured.tolist()}, which are not "
            f"distinct test subjects of the {sizes['N']}: {fix}"
        )
    found = {key: sizes[letter] for key, letter in COUNT_AXES.items()}
    found.update(zip(SPLITS, (int(n) for n in per_split)))
    found["modes"] = morphable_model.n_modes
    for what, n in (
        ("the template", template.n_points),
        ("the 3DMM", morphable_model.n_points),
    ):
        if n != found["vertices"]:
            raise ValueError(
                f"{where}: {what} has {n} vertices, the arrays have P = "
                f"{found['vertices']}: {fix}"
            )
    for key in COUNTS:
        if key in claimed and claimed[key] != found[key]:
            held = (
                "the 3DMM has"
                if key == "modes"
                else "split.npy holds"
                if key in SPLITS
                else "the arrays hold"
            )
            raise ValueError(
                f"{where}: the manifest's counts[{key!r}] is {claimed[key]}, but "
                f"{held} {found[key]}: {fix}"
            )
    return {**claimed, **{k: found[k] for k in COUNTS if k not in claimed}}


def _check_scans(
    scan_files: list[str], arrays: dict[str, np.ndarray], where: str, fix: str
) -> None:
    """Refuse scan files (``scans/<part>/subject_<i>.ply`` and ``.landmarks.txt``,
    relative paths) that come without their pair, training scans that are not exactly
    the registered subjects' and test scans that are neither none nor exactly the
    captured subjects'."""
    by_part: dict[str, dict[int, set[str]]] = {"train": {}, "test": {}}
    for rel in scan_files:
        part, subject, kind = _SCAN_FILE.fullmatch(rel).groups()
        by_part[part].setdefault(int(subject), set()).add(kind)
    for part, subjects in by_part.items():
        for subject, kinds in subjects.items():
            if len(kinds) != 2:
                raise ValueError(
                    f"{where}: the {part} scan of subject {subject} has only its "
                    f".{kinds.pop()} file (a scan is a .ply and a .landmarks.txt): "
                    f"{fix}"
                )
    registered = set(np.flatnonzero(np.asarray(arrays["registered"])).tolist())
    if set(by_part["train"]) != registered:
        raise ValueError(
            f"{where}: training scans of subjects {sorted(by_part['train'])}, but the "
            f"registered subjects are {sorted(registered)}: {fix}"
        )
    captured = set(np.asarray(arrays["capture_subjects"]).tolist())
    if by_part["test"] and set(by_part["test"]) != captured:
        raise ValueError(
            f"{where}: test scans of subjects {sorted(by_part['test'])}, but the "
            f"captured subjects are {sorted(captured)} (a data set holds the raw scan "
            f"of every captured subject, or of none): {fix}"
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

    ``arrays`` holds every name of :data:`ARRAY_FIELDS`, with the dtypes and shapes of
    :data:`ARRAY_LAYOUT`; ``scans`` maps ``"train"`` (exactly the registered subjects)
    and ``"test"`` (every captured subject, or none) to ``{subject: scan}``;
    ``manifest`` holds the caller's entries (profile, seed, configuration, counts,
    seconds), to which the format version, package versions, the 3DMM's fingerprint
    and the sha256 of every file are added, and the counts of :data:`COUNTS` that the
    caller left out (taken from the arrays). Arrays that disagree with each other, with
    the template, the 3DMM or the caller's counts are refused (ValueError) before
    anything is written.
    """
    target = Path(target)
    missing = sorted(set(ARRAY_FIELDS) - set(arrays))
    extra = sorted(set(arrays) - set(ARRAY_FIELDS))
    if missing or extra:
        raise ValueError(f"data set arrays: missing {missing}, unknown {extra}")
    reserved = sorted(set(manifest) & set(_RESERVED))
    if reserved:
        raise ValueError(
            f"write_dataset adds the manifest's {reserved} itself: leave them out of "
            "manifest"
        )
    fix = "fix the arrays (or the counts) passed to write_dataset"
    where = f"data set {target}"
    _check_counts_types(manifest.get("counts", {}), where, fix)
    arrays = {name: np.asarray(arrays[name]) for name in ARRAY_FIELDS}
    counts = _checked_counts(
        arrays, template, morphable_model, manifest.get("counts", {}), where, fix
    )
    unknown_parts = sorted(set(scans) - {"train", "test"})
    if unknown_parts:
        raise ValueError(
            f"scans: unknown parts {unknown_parts}; a data set has 'train' scans (of "
            "the registered subjects) and 'test' scans (of the captured subjects)"
        )
    _check_scans(
        [
            f"scans/{part}/subject_{i:05d}.{kind}"
            for part, by_subject in scans.items()
            for i in by_subject
            for kind in ("ply", "landmarks.txt")
        ],
        arrays,
        where,
        fix,
    )
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
            "counts": counts,
            "morphable_model_sha256": morphable_model.fingerprint(),
            "versions": _versions(),
            "files": {p.relative_to(tmp).as_posix(): file_sha256(p) for p in files},
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


def _read_manifest(path: Path, hint: str) -> dict:
    """The parsed ``manifest.json`` of the data set at ``path``, its structure checked:
    a JSON object of this format version, with ``files`` (relative path -> sha256),
    ``counts`` (every entry of :data:`COUNTS`, integers >= 0) and
    ``morphable_model_sha256``."""
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"no data set at {path} (no manifest.json): {hint}")
    manifest = read_json(manifest_path, hint)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} has format version {manifest.get('format_version')}, "
            f"this facelib reads {FORMAT_VERSION}: {hint}"
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise ValueError(
            f"{manifest_path} has no 'files' dictionary (relative path -> sha256), got "
            f"{type(files).__name__}: {hint}"
        )
    for rel, digest in files.items():
        parts = rel.split("/")
        if rel.startswith("/") or "\\" in rel or ".." in parts or "" in parts:
            raise ValueError(
                f"{manifest_path} lists {rel!r}, which is not a relative path inside "
                f"the data set: {hint}"
            )
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise ValueError(
                f"{manifest_path} lists {rel} with checksum {digest!r}, not a sha256 "
                f"(64 hex digits): {hint}"
            )
    counts = manifest.get("counts")
    _check_counts_types(counts, str(manifest_path), hint)
    absent = [key for key in COUNTS if key not in counts]
    if absent:
        raise ValueError(f"{manifest_path} has no counts {absent}: {hint}")
    if not isinstance(manifest.get("morphable_model_sha256"), str):
        raise ValueError(f"{manifest_path} has no 'morphable_model_sha256': {hint}")
    return manifest


def _check_listing(path: Path, files: dict, hint: str) -> None:
    """Refuse a manifest that leaves out a file of the data set (on disk or not), that
    lists a file no data set has, or a file that is missing."""
    for name in (*(f"{n}.npy" for n in ARRAY_FIELDS), *_OTHER_FILES):
        if name not in files:
            raise ValueError(f"{path} has no {name} in its manifest: {hint}")
    known = {f"{n}.npy" for n in ARRAY_FIELDS} | set(_OTHER_FILES)
    for rel in files:
        if rel not in known and not _SCAN_FILE.fullmatch(rel):
            raise ValueError(
                f"{path}'s manifest lists {rel}, which is no file of a data set: {hint}"
            )
    on_disk = {
        p.relative_to(path).as_posix()
        for p in path.rglob("*")
        if p.is_file() or p.is_symlink()
    } - {"manifest.json"}
    unlisted = sorted(on_disk - set(files))
    if unlisted:
        raise ValueError(
            f"{path} holds {unlisted[:5]}{' ...' if len(unlisted) > 5 else ''} that "
            f"its manifest does not list (added or left over): remove "
            f"{'them' if len(unlisted) > 1 else 'it'} if stray, or {hint}"
        )
    for rel in files:
        if not (path / rel).is_file():
            raise FileNotFoundError(
                f"{path / rel} is missing from the data set: {hint}"
            )


def _load_array(f: Path, hint: str) -> np.ndarray:
    """``f`` memory-mapped, read-only; an unreadable ``.npy`` is a ValueError."""
    try:
        return np.load(f, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"{f} is not a readable .npy array ({err}): {hint}") from err


def load_dataset(path: str | Path, *, verify: bool = True) -> Dataset:
    """Read a data set written by :func:`write_dataset`, checking its manifest, the
    listing of the folder, the arrays' dtypes and shapes against its counts (see the
    module doc) and, with ``verify``, the sha256 of every file."""
    path = Path(path)
    hint = REBUILD_HINT.format(profile=path.name)
    manifest = _read_manifest(path, hint)
    _check_listing(path, manifest["files"], hint)
    if verify:
        for rel, digest in manifest["files"].items():
            f = path / rel
            if file_sha256(f) != digest:
                raise ValueError(
                    f"{f} does not match its checksum in the manifest (corrupt or "
                    f"modified): {hint}"
                )
    template = load_template(path / "template.npz")
    morphable_model = MorphableModel.load(path / "morphable_model.npz")
    if morphable_model.fingerprint() != manifest["morphable_model_sha256"]:
        raise ValueError(
            f"{path / 'morphable_model.npz'} is not the model this data set was built "
            f"with: {hint}"
        )
    arrays = {name: _load_array(path / f"{name}.npy", hint) for name in ARRAY_FIELDS}
    where = f"data set {path}"
    _checked_counts(arrays, template, morphable_model, manifest["counts"], where, hint)
    scan_files = [rel for rel in manifest["files"] if _SCAN_FILE.fullmatch(rel)]
    _check_scans(scan_files, arrays, where, hint)
    return Dataset(
        path=path,
        manifest=manifest,
        template=template,
        morphable_model=morphable_model,
        **arrays,
    )
