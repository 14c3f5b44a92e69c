"""Building the SynthFAW data set on disk, and reading it back with validation.

:func:`build_dataset` runs the whole pipeline of the data set chapter for one :class:`DatasetConfig`:

1. identities (:mod:`facelib.identity`) on the template (:mod:`facelib.template`), split 70/10/20 by subject;
2. raw scans (:mod:`facelib.scans`) of a sample of training subjects, registered to the template
   (:mod:`facelib.registration`) in parallel processes; the other training subjects use their exact
   template-topology shape (registration takes seconds per scan; the chapter reports which were registered);
3. the 3DMM (:class:`facelib.morphable_model.MorphableModel`): generalized Procrustes with scale and PCA
   of the training shapes, 99 % variance. A face's size cannot be told from a photograph (a face s times
   larger at s times the distance projects the same), so the modes carry shape, not size; the mean keeps
   the average size in mm, and a subject's size goes into the camera distance. Every subject's true shape
   (with its true size) is then rigidly aligned onto the model's mean: the model frame of the cameras;
4. training scenes: ``views`` photographs per subject with their cameras (:mod:`facelib.scenes`);
5. 3DFAW-like test captures (``orbit`` and ``turn`` videos) of test subjects, with their raw scans and
   landmarks as ground truth.

On disk, ``data/<profile>/`` holds memory-mappable ``.npy`` arrays, the template and the 3DMM as
``.npz``, the raw scans as ``.ply`` + ``.landmarks.txt``, ``registration.json`` and ``manifest.json``
(profile, seed, configuration, counts, package versions, sha256 of every file). The folder is built
under a temporary name and renamed into place, so an interrupted build leaves no half-written data
set; an existing data set is replaced only with ``overwrite=True``. :func:`load_dataset` checks the
manifest and every checksum and refuses a mismatch with an error that says what to re-run.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import trimesh

from facelib.appearance import sample_appearances, vertex_albedo
from facelib.identity import Identity, face_shapes, sample_identities
from facelib.morphable_model import MorphableModel
from facelib.parallel import process_map
from facelib.procrustes import similarity_transform
from facelib.registration import RegistrationSettings, register
from facelib.scans import RawScan, ScanSettings, load_scan, save_scan, simulate_scan
from facelib.scenes import CameraSettings, Cameras, render_images, sample_capture_cameras, sample_scene_cameras
from facelib.template import FaceTemplate, build_template

__all__ = ["DatasetConfig", "Dataset", "build_dataset", "load_dataset", "face_shapes_parallel", "SPLITS", "CAPTURE_KINDS"]

FORMAT_VERSION = 2  # 2: true shapes in the 3DMM frame
SPLITS = ("train", "val", "test")
CAPTURE_KINDS = ("orbit", "turn")
REBUILD_HINT = "re-run notebooks/01_dataset (make book PROFILE={profile}, or python -m facelib.book run --profile {profile} --only 01_dataset)"


@dataclass(frozen=True)
class DatasetConfig:
    """Everything that determines a data set. Sizes in pixels; the split is by subject."""

    profile: str = "smoke"
    seed: int = 0
    n_subjects: int = 40
    views: int = 5
    image_size: int = 32
    n_registered: int = 2  # training subjects whose raw scan goes through registration
    n_capture_subjects: int = 4  # test subjects with captures and raw scans
    capture_frames: int = 30
    variance: float = 0.99
    workers: int = 2
    render_device: str = "cpu"  # where the rasterizer runs ("cuda" on a GPU machine); random draws stay on the CPU
    split_fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
    scan: ScanSettings = field(default_factory=ScanSettings)
    registration: RegistrationSettings = field(default_factory=RegistrationSettings)

    def __post_init__(self):
        n_train = int(round(self.split_fractions[0] * self.n_subjects))
        n_test = self.n_subjects - n_train - int(round(self.split_fractions[1] * self.n_subjects))
        problems = []
        if self.n_subjects < 10:
            problems.append(f"n_subjects={self.n_subjects} (at least 10 for a 70/10/20 split)")
        if abs(sum(self.split_fractions) - 1.0) > 1e-9:
            problems.append(f"split_fractions={self.split_fractions} (must sum to 1)")
        if not 0 <= self.n_registered <= n_train:
            problems.append(f"n_registered={self.n_registered} (0..{n_train}, the training subjects)")
        if not 1 <= self.n_capture_subjects <= n_test:
            problems.append(f"n_capture_subjects={self.n_capture_subjects} (1..{n_test}, the test subjects)")
        if self.capture_frames < 30 or self.views < 1 or self.image_size < 16:
            problems.append(f"capture_frames={self.capture_frames} (>= 30), views={self.views} (>= 1), "
                            f"image_size={self.image_size} (>= 16)")
        try:
            render_device = torch.device(self.render_device)
        except RuntimeError:
            render_device = None
        if render_device is None or render_device.type not in ("cpu", "cuda"):
            problems.append(f"render_device={self.render_device!r} (\"cpu\" or \"cuda\")")
        elif render_device.type == "cuda" and not torch.cuda.is_available():
            problems.append(f"render_device={self.render_device!r}, but torch sees no CUDA device here (use \"cpu\")")
        if problems:
            raise ValueError("bad data set configuration: " + "; ".join(problems))


# --------------------------------------------------------------------------------------- build
def _streams(seed: int) -> dict[str, int]:
    """Independent seeds per stage, so that changing one stage's size leaves the others' draws alone."""
    names = ["identities", "split", "appearance", "scans", "cameras", "render", "captures"]
    states = np.random.SeedSequence(seed).spawn(len(names))
    return {name: int(s.generate_state(1, dtype=np.uint64)[0] % (2**63)) for name, s in zip(names, states)}


def _face_shapes_job(args):
    return face_shapes(*args)


def face_shapes_parallel(identities: list[Identity], template: FaceTemplate, workers: int) -> np.ndarray:
    """:func:`facelib.identity.face_shapes` (N, P, 3) mm in ``workers`` processes, in chunks of at least 100
    faces (fewer faces are built in this process). Any number of workers gives the same faces up to rounding
    (about 1e-14 mm: a worker's BLAS runs one thread); the same ``workers`` gives the same bytes."""
    chunks = np.array_split(np.arange(len(identities)), max(1, min(len(identities) // 100, 4 * workers)))
    jobs = [([identities[i] for i in chunk], template) for chunk in chunks]
    return np.concatenate(process_map(_face_shapes_job, jobs, workers))


def _register_one(args):
    scan, template, start, settings, truth = args
    reg = register(scan, template, start, settings)
    vertex_error = np.linalg.norm(reg.vertices - truth, axis=1)
    _, surface_error, _ = trimesh.proximity.closest_point(trimesh.Trimesh(truth, template.faces, process=False), reg.vertices)
    return reg.vertices, vertex_error, surface_error, reg.seconds


def file_sha256(path: Path) -> str:
    """sha256 (hex) of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def build_dataset(config: DatasetConfig, data_root: str | Path, *, overwrite: bool = False, log=None) -> Path:
    """Build the data set of ``config`` into ``data_root/<profile>/`` (see the module doc); returns the path.

    ``log`` (a callable taking one string) reports progress; library code does not print.
    """
    log = log or (lambda message: None)
    target = Path(data_root) / config.profile
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True to rebuild it, or load it with load_dataset")
    streams = _streams(config.seed)
    timings = {}
    tick = time.perf_counter()
    template = build_template()
    faces = torch.from_numpy(template.faces)
    N = config.n_subjects

    # 1. identities and the split by subject
    identities = sample_identities(N, np.random.default_rng(streams["identities"]))
    exact = face_shapes_parallel(identities, template, config.workers)
    order = np.random.default_rng(streams["split"]).permutation(N)
    n_train = int(round(config.split_fractions[0] * N))
    n_val = int(round(config.split_fractions[1] * N))
    split = np.empty(N, dtype=np.int8)
    split[order[:n_train]] = 0
    split[order[n_train:n_train + n_val]] = 1
    split[order[n_train + n_val:]] = 2
    train, test = np.flatnonzero(split == 0), np.flatnonzero(split == 2)
    timings["identities"] = time.perf_counter() - tick
    log(f"{N} identities: {len(train)} train, {n_val} val, {len(test)} test")

    # 2. raw scans of a sample of training subjects, registered to the template
    tick = time.perf_counter()
    scan_rng = np.random.default_rng(streams["scans"])
    registered_ids = train[: config.n_registered]
    train_scans = {int(i): simulate_scan(identities[i], template, scan_rng, config.scan) for i in registered_ids}
    capture_ids = test[: config.n_capture_subjects]
    test_scans = {int(i): simulate_scan(identities[i], template, scan_rng, config.scan) for i in capture_ids}
    start_shape = face_shapes([Identity()], template)[0]
    jobs = [(train_scans[int(i)], template, start_shape, config.registration, train_scans[int(i)].pose.apply(exact[i]))
            for i in registered_ids]
    results = process_map(_register_one, jobs, config.workers)
    registered_shapes = {int(i): r[0] for i, r in zip(registered_ids, results)}
    registration = {
        "subjects": [int(i) for i in registered_ids],
        "seconds": [float(r[3]) for r in results],
        "vertex_error_median_mm": [float(np.median(r[1])) for r in results],
        "vertex_error_p95_mm": [float(np.percentile(r[1], 95)) for r in results],
        "surface_error_median_mm": [float(np.median(r[2])) for r in results],
        "surface_error_p95_mm": [float(np.percentile(r[2], 95)) for r in results],
        "workers": config.workers,
    }
    timings["scans_and_registration"] = time.perf_counter() - tick
    log(f"registered {len(results)} raw scans ({sum(registration['seconds']):.0f} s of work)")

    # 3. the 3DMM from the training subjects (registered scans, exact shapes for the others)
    tick = time.perf_counter()
    train_shapes = np.stack([registered_shapes.get(int(i), exact[i]) for i in train])
    model = MorphableModel.fit(train_shapes, faces=template.faces, landmarks=template.landmarks, mirror=template.mirror,
                               variance=config.variance, scale=True, reference=start_shape)
    # every subject's true shape in the 3DMM's frame: rigidly aligned onto the model's mean, as the GPA aligned
    # the training shapes. The cameras (and so the images) are relative to this frame, the frame the networks
    # predict shapes in; an identity-dependent offset between the two frames would be a pose error that no
    # image shows (the networks could only absorb it with wrong shape coefficients).
    shapes_model = np.stack([similarity_transform(s, model.mean, scale=False).apply(s) for s in exact])
    timings["morphable_model"] = time.perf_counter() - tick
    log(f"3DMM: {model.n_modes} modes for {config.variance:.0%} of the variance")

    # 4. training scenes
    tick = time.perf_counter()
    appearance_rng = np.random.default_rng(streams["appearance"])
    albedo = torch.from_numpy(np.stack([vertex_albedo(a, template) for a in sample_appearances(N, appearance_rng)]))
    cam_settings = CameraSettings(image_size=config.image_size)
    cams = sample_scene_cameras(N, config.views, cam_settings, torch.Generator().manual_seed(streams["cameras"]))
    render_gen = torch.Generator().manual_seed(streams["render"])
    shapes_t = torch.from_numpy(shapes_model)
    images = render_images(shapes_t, faces, albedo, cams, cam_settings, render_gen, device=config.render_device)
    timings["scenes"] = time.perf_counter() - tick
    log(f"rendered {N * config.views} training images at {config.image_size} px")

    # 5. captures of test subjects
    tick = time.perf_counter()
    cap_gen = torch.Generator().manual_seed(streams["captures"])
    F = config.capture_frames
    cap = {name: [] for name in ("K", "q", "t", "light_dir", "ambient", "diffuse")}
    for _ in capture_ids:
        for kind in CAPTURE_KINDS:
            c = sample_capture_cameras(kind, F, cam_settings, cap_gen)
            for name in cap:
                cap[name].append(getattr(c, name))
    M = len(capture_ids)
    cap_cams = Cameras(**{k: torch.stack(v).view(M * 2, F, *v[0].shape[1:]) for k, v in cap.items()})
    rows = np.repeat(capture_ids, 2)
    cap_images = render_images(shapes_t[rows], faces, albedo[rows], cap_cams, cam_settings, cap_gen, one_background_per_row=True,
                               device=config.render_device)
    timings["captures"] = time.perf_counter() - tick
    log(f"rendered {M} subjects x {len(CAPTURE_KINDS)} captures x {F} frames")

    # write everything under a temporary name, then rename into place
    arrays = {
        "images": images.numpy(),
        "K": cams.K.numpy().astype(np.float32), "q": cams.q.numpy().astype(np.float32), "t": cams.t.numpy().astype(np.float32),
        "shapes": shapes_model.astype(np.float32),
        "split": split,
        "registered": np.isin(np.arange(N), registered_ids),
        "registered_shapes": np.stack([registered_shapes[int(i)] for i in registered_ids]).astype(np.float32)
        if len(registered_ids) else np.zeros((0, template.n_points, 3), np.float32),
        "registration_vertex_error": np.stack([r[1] for r in results]).astype(np.float32)
        if results else np.zeros((0, template.n_points), np.float32),
        "identity_parameters": np.stack([i.parameters() for i in identities]),
        "capture_subjects": capture_ids.astype(np.int64),
        "capture_images": cap_images.numpy().reshape(M, 2, F, 3, config.image_size, config.image_size),
        "capture_K": cap_cams.K.numpy().astype(np.float32).reshape(M, 2, F, 3, 3),
        "capture_q": cap_cams.q.numpy().astype(np.float32).reshape(M, 2, F, 4),
        "capture_t": cap_cams.t.numpy().astype(np.float32).reshape(M, 2, F, 3),
    }
    Path(data_root).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{config.profile}.building-", dir=data_root))
    tmp.chmod(0o755)  # mkdtemp makes it private; the data set is not
    try:
        for name, arr in arrays.items():
            np.save(tmp / f"{name}.npy", arr, allow_pickle=False)
        np.savez(tmp / "template.npz", canonical=template.canonical, faces=template.faces, mirror=template.mirror,
                 landmarks=template.landmarks, grid_shape=np.array(template.grid_shape))
        model.save(tmp / "morphable_model.npz")
        for i, scan in train_scans.items():
            save_scan(scan, tmp / "scans" / "train" / f"subject_{i:05d}.ply")
        for i, scan in test_scans.items():
            save_scan(scan, tmp / "scans" / "test" / f"subject_{i:05d}.ply")
        (tmp / "registration.json").write_text(json.dumps(registration, indent=1))
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        manifest = {
            "format_version": FORMAT_VERSION,
            "profile": config.profile,
            "seed": config.seed,
            "config": json.loads(json.dumps(asdict(config))),
            "counts": {"subjects": N, "train": int(len(train)), "val": int(n_val), "test": int(len(test)),
                       "views": config.views, "image_size": config.image_size, "registered": int(len(registered_ids)),
                       "capture_subjects": int(M), "capture_frames": F, "modes": model.n_modes, "vertices": template.n_points},
            "morphable_model_sha256": model.fingerprint(),
            "versions": _versions(),
            "seconds": {k: round(v, 2) for k, v in timings.items()},
            "files": {str(p.relative_to(tmp)): file_sha256(p) for p in files},
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        if target.exists():
            old = target.with_name(f".{config.profile}.replaced-{time.time_ns()}")
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old)
        else:
            tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    log(f"wrote {target}")
    return target


def _versions() -> dict[str, str]:
    import scipy

    import facelib

    return {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
            "torch": torch.__version__, "trimesh": trimesh.__version__, "facelib": getattr(facelib, "__version__", "0")}


# ---------------------------------------------------------------------------------------- load
@dataclass
class Dataset:
    """A data set read from disk. Arrays are memory-mapped, read-only.

    images (N, V, 3, S, S) uint8; K (N, V, 3, 3), q (N, V, 4), t (N, V, 3) float32; shapes (N, P, 3) float32
    mm in the model frame; split (N,) int8 (0 train, 1 val, 2 test); registered (N,) bool;
    registered_shapes (R, P, 3) float32, the registered template of each registered subject in its scan's
    frame, and registration_vertex_error (R, P) mm against the known identity;
    capture_subjects (M,); capture_images (M, 2, F, 3, S, S) uint8 with kinds ``CAPTURE_KINDS``;
    capture_K/q/t (M, 2, F, ...).
    """

    path: Path
    manifest: dict
    template: FaceTemplate
    model: MorphableModel
    arrays: dict[str, np.ndarray]

    def __getattr__(self, name):
        arrays = self.__dict__.get("arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(name)

    def tensor(self, name: str, index=slice(None), dtype: torch.dtype | None = torch.float64) -> torch.Tensor:
        """A copy of ``arrays[name][index]`` as a torch tensor (float64 by default; ``dtype=None`` keeps the type)."""
        x = torch.from_numpy(np.array(self.arrays[name][index]))
        return x if dtype is None else x.to(dtype)

    def subjects(self, split: str) -> np.ndarray:
        """Subject ids of ``"train"``, ``"val"`` or ``"test"``."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return np.flatnonzero(self.arrays["split"] == SPLITS.index(split))

    def scan(self, subject: int) -> RawScan:
        """The raw scan of a registered training subject or a captured test subject."""
        for part in ("train", "test"):
            path = self.path / "scans" / part / f"subject_{subject:05d}.ply"
            if path.is_file():
                return load_scan(path)
        raise FileNotFoundError(f"subject {subject} has no raw scan in {self.path / 'scans'}")


def load_dataset(path: str | Path, *, verify: bool = True) -> Dataset:
    """Read a data set written by :func:`build_dataset`, checking its manifest (and, with ``verify``,
    the sha256 of every file)."""
    path = Path(path)
    profile = path.name
    hint = REBUILD_HINT.format(profile=profile)
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"no data set at {path} (no manifest.json): {hint}")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{manifest_path} is not valid JSON ({err}): {hint}") from err
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} has format version {manifest.get('format_version')}, this facelib reads {FORMAT_VERSION}: {hint}")
    for rel, digest in manifest["files"].items():
        f = path / rel
        if not f.is_file():
            raise FileNotFoundError(f"{f} is missing from the data set: {hint}")
        if verify and file_sha256(f) != digest:
            raise ValueError(f"{f} does not match its checksum in the manifest (corrupt or modified): {hint}")
    with np.load(path / "template.npz", allow_pickle=False) as t:
        template = FaceTemplate(canonical=t["canonical"], faces=t["faces"], mirror=t["mirror"], landmarks=t["landmarks"],
                                grid_shape=tuple(int(x) for x in t["grid_shape"]))
    model = MorphableModel.load(path / "morphable_model.npz")
    if model.fingerprint() != manifest["morphable_model_sha256"]:
        raise ValueError(f"{path / 'morphable_model.npz'} is not the model this data set was built with: {hint}")
    arrays = {p.stem: np.load(p, mmap_mode="r", allow_pickle=False) for p in sorted(path.glob("*.npy"))}
    return Dataset(path=path, manifest=manifest, template=template, model=model, arrays=arrays)
