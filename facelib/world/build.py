"""Building the SynthFAW data set: the face world's pipeline as named stages.

:func:`build_dataset` runs the data set chapter for one :class:`DatasetConfig`, stage by
stage; each stage is a function that returns a dataclass:

1. :func:`sample_population`: identities (:mod:`facelib.world.identity`) on the template
   (:mod:`facelib.world.template`) and their exact shapes -> :class:`Population`;
2. :func:`split_subjects`: 70/10/20 by subject -> :class:`Split`;
3. :func:`scan_and_register`: raw scans (:mod:`facelib.world.scans`) of a sample of
   training subjects, registered to the template (:mod:`facelib.world.registration`) in
   worker processes (of this machine, or of a Dask cluster: ``DatasetConfig.engine``),
   and raw scans of the captured test subjects -> :class:`Scans`; the
   other training subjects use their exact template-topology shape (registration takes
   seconds per scan);
4. :func:`fit_model`: the 3DMM
   (:class:`~facelib.geometry.morphable_model.MorphableModel`), generalized Procrustes
   with scale and PCA of the training shapes, 99 % variance. A face's size cannot be
   told from a photograph (a face s times larger at s times the distance projects the
   same), so the modes carry shape, not size; the mean keeps the average size in mm, and
   a subject's size goes into the camera distance. Every subject's true shape (with its
   true size) is then rigidly aligned onto the model's mean: the model frame of the
   cameras -> :class:`Model`;
5. :func:`render_photographs`: every subject's appearance and whole head
   (:func:`dress_heads`, :mod:`facelib.world.head`), then ``V`` training photographs
   per subject with their cameras and lights (:mod:`facelib.world.scenes`) ->
   :class:`Photographs`;
6. :func:`render_captures`: 3DFAW-like captures (one video per motion, ``orbit`` and
   ``turn``) of the captured test subjects -> :class:`Captures`.

Every stage draws from its own random stream (:func:`random_streams`), so that changing
one stage's size leaves the others' draws alone. The folder is written by
:func:`facelib.data.dataset.write_dataset` and read by
:func:`facelib.data.dataset.load_dataset`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import trimesh

from facelib.data.dataset import CAPTURE_MOTIONS, write_dataset
from facelib.data.scan import RawScan
from facelib.data.template import FaceTemplate
from facelib.geometry.morphable_model import MorphableModel
from facelib.geometry.procrustes import similarity_transform
from facelib.parallel import LOCAL, default_engine, engine_problem, process_map
from facelib.world.appearance import (
    head_albedo,
    head_gloss,
    sample_appearances,
    vertex_albedo,
)
from facelib.world.head import (
    build_head,
    eye_latitude,
    head_vertices,
    sample_head_styles,
    shadow_faces,
)
from facelib.world.identity import Identity, face_shapes, sample_identities
from facelib.world.registration import RegistrationSettings, register
from facelib.world.scans import ScanSettings, simulate_scan
from facelib.world.scenes import (
    Cameras,
    CameraSettings,
    Heads,
    frame_faces,
    render_images,
    sample_capture_cameras,
    sample_scene_cameras,
)
from facelib.world.template import build_template

__all__ = [
    "DatasetConfig",
    "build_dataset",
    "face_shapes_parallel",
    "random_streams",
    "Population",
    "Split",
    "Scans",
    "Model",
    "Photographs",
    "Captures",
    "sample_population",
    "split_subjects",
    "scan_and_register",
    "fit_model",
    "render_photographs",
    "render_captures",
]

#: parameters renamed since an earlier version: old name -> new name
RENAMED = {"views": "photos_per_subject"}


@dataclass(frozen=True)
class DatasetConfig:
    """Everything that determines a data set. Sizes in pixels; the split is by
    subject.

    ``workers`` and ``engine`` say where the per-subject jobs (faces of the
    identities, registration, heads) run, not what is built: ``engine`` is ``"local"``
    (``workers`` processes of this machine) or a Dask scheduler's address
    ``"tcp://host:8786"`` (:mod:`facelib.parallel`), by default the environment
    variable ``FACELIB_ENGINE``'s. Either engine writes the same files, byte for byte;
    ``engine`` is left out of the repr and the manifest (an address names a machine,
    not the data)."""

    profile: str = "smoke"
    seed: int = 0
    n_subjects: int = 40
    photos_per_subject: int = 5  # V: training photographs of each subject
    image_size: int = 32
    n_registered: int = 2  # training subjects whose raw scan goes through registration
    n_capture_subjects: int = 4  # test subjects with captures and raw scans
    capture_frames: int = 30
    variance: float = 0.99
    workers: int = 2
    # where the workers run: "local" or a Dask scheduler's address (facelib.parallel)
    engine: str = field(default_factory=default_engine, repr=False, compare=False)
    # where the rasterizer runs ("cuda" on a GPU machine); random draws stay on the CPU
    render_device: str = "cpu"
    split_fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
    scan: ScanSettings = field(default_factory=ScanSettings)
    registration: RegistrationSettings = field(default_factory=RegistrationSettings)

    def __post_init__(self):
        n_train = self.n_train
        n_test = self.n_subjects - n_train - self.n_val
        problems = []
        if self.n_subjects < 10:
            problems.append(
                f"n_subjects={self.n_subjects} (at least 10 for a 70/10/20 split)"
            )
        if abs(sum(self.split_fractions) - 1.0) > 1e-9:
            problems.append(f"split_fractions={self.split_fractions} (must sum to 1)")
        if not 0 <= self.n_registered <= n_train:
            problems.append(
                f"n_registered={self.n_registered} (0..{n_train}, the training "
                "subjects)"
            )
        if not 1 <= self.n_capture_subjects <= n_test:
            problems.append(
                f"n_capture_subjects={self.n_capture_subjects} (1..{n_test}, the test "
                "subjects)"
            )
        if (
            self.capture_frames < 30
            or self.photos_per_subject < 1
            or self.image_size < 16
        ):
            problems.append(
                f"capture_frames={self.capture_frames} (>= 30), "
                f"photos_per_subject={self.photos_per_subject} (>= 1), "
                f"image_size={self.image_size} (>= 16)"
            )
        try:
            render_device = torch.device(self.render_device)
        except RuntimeError:
            render_device = None
        if render_device is None or render_device.type not in ("cpu", "cuda"):
            problems.append(f'render_device={self.render_device!r} ("cpu" or "cuda")')
        elif render_device.type == "cuda" and not torch.cuda.is_available():
            problems.append(
                f"render_device={self.render_device!r}, but torch sees no CUDA device "
                "here "
                '(use "cpu")'
            )
        engine = engine_problem(self.engine)
        if engine:
            problems.append(engine)
        elif self.engine != LOCAL and self.workers < 2:
            problems.append(
                f"workers={self.workers} with engine={self.engine!r} (workers <= 1 "
                "runs every job in this process: set workers >= 2, which also sets how "
                "the work is cut into jobs, or use the engine 'local')"
            )
        if problems:
            raise ValueError("bad data set configuration: " + "; ".join(problems))

    @property
    def n_train(self) -> int:
        """Training subjects: the first split fraction of ``n_subjects``, rounded."""
        return int(round(self.split_fractions[0] * self.n_subjects))

    @property
    def n_val(self) -> int:
        """Validation subjects: the second split fraction of ``n_subjects``, rounded."""
        return int(round(self.split_fractions[1] * self.n_subjects))


def random_streams(seed: int) -> dict[str, int]:
    """Independent seeds per stage, so that changing one stage's size leaves the others'
    draws alone."""
    names = [
        "identities",
        "split",
        "appearance",
        "scans",
        "cameras",
        "render",
        "captures",
    ]
    states = np.random.SeedSequence(seed).spawn(len(names))
    return {
        name: int(s.generate_state(1, dtype=np.uint64)[0] % (2**63))
        for name, s in zip(names, states)
    }


# ------------------------------------------------------------------------ 1. the
# population
@dataclass(frozen=True)
class Population:
    """The template, every subject's identity and its exact shape (N, P, 3) mm in the
    template's frame."""

    template: FaceTemplate
    identities: list[Identity]
    shapes: np.ndarray


def _face_shapes_job(args):
    return face_shapes(*args)


def face_shapes_parallel(
    identities: list[Identity],
    template: FaceTemplate,
    workers: int,
    engine: str = LOCAL,
) -> np.ndarray:
    """:func:`facelib.world.identity.face_shapes` (N, P, 3) mm in ``workers`` processes
    (on ``engine``: :func:`facelib.parallel.process_map`), in chunks of at least 100
    faces (fewer faces are built in this process). Any number of workers gives the same
    faces up to rounding (about 1e-14 mm: a worker's BLAS runs one thread); the same
    ``workers`` gives the same bytes, on either engine."""
    n_chunks = max(1, min(len(identities) // 100, 4 * workers))
    chunks = np.array_split(np.arange(len(identities)), n_chunks)
    jobs = [([identities[i] for i in chunk], template) for chunk in chunks]
    return np.concatenate(process_map(_face_shapes_job, jobs, workers, engine))


def sample_population(
    n_subjects: int, seed: int, workers: int, engine: str = LOCAL
) -> Population:
    """``n_subjects`` random identities (drawn from ``seed``) and their shapes (in
    ``workers`` processes on ``engine``)."""
    template = build_template()
    identities = sample_identities(n_subjects, np.random.default_rng(seed))
    shapes = face_shapes_parallel(identities, template, workers, engine)
    return Population(template=template, identities=identities, shapes=shapes)


# ------------------------------------------------------------------------------ 2. the
# split
@dataclass(frozen=True)
class Split:
    """split (N,) int8, 0 train, 1 val, 2 test; the subject ids of each part."""

    split: np.ndarray
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def split_subjects(n_subjects: int, n_train: int, n_val: int, seed: int) -> Split:
    """A random split by subject: ``n_train`` training, ``n_val`` validation, the rest
    test."""
    order = np.random.default_rng(seed).permutation(n_subjects)
    split = np.empty(n_subjects, dtype=np.int8)
    split[order[:n_train]] = 0
    split[order[n_train : n_train + n_val]] = 1
    split[order[n_train + n_val :]] = 2
    return Split(
        split=split,
        train=np.flatnonzero(split == 0),
        val=np.flatnonzero(split == 1),
        test=np.flatnonzero(split == 2),
    )


# -------------------------------------------------------------- 3. raw scans and
# registration
@dataclass(frozen=True)
class Scans:
    """Raw scans and the registration of the training ones.

    Attributes:
        train: the raw scan of each registered training subject.
        test: the raw scan of each captured test subject.
        registered: the registered template (P, 3) mm of each registered subject, in its
        scan's
            frame.
        vertex_error: (P,) mm per registered subject, against the known identity.
        summary: ``registration.json``: subjects, seconds, error medians and 95th
        percentiles.
        start_shape: the template shape registration starts from (the average face) (P,
        3) mm.
    """

    train: dict[int, RawScan]
    test: dict[int, RawScan]
    registered: dict[int, np.ndarray]
    vertex_error: dict[int, np.ndarray]
    summary: dict
    start_shape: np.ndarray


def _register_one(args):
    scan, template, start, settings, truth = args
    reg = register(scan, template, start, settings)
    vertex_error = np.linalg.norm(reg.vertices - truth, axis=1)
    truth_mesh = trimesh.Trimesh(truth, template.faces, process=False)
    _, surface_error, _ = trimesh.proximity.closest_point(truth_mesh, reg.vertices)
    return reg.vertices, vertex_error, surface_error, reg.seconds


def scan_and_register(
    population: Population,
    registered_ids: np.ndarray,
    capture_ids: np.ndarray,
    seed: int,
    scan_settings: ScanSettings,
    registration_settings: RegistrationSettings,
    workers: int,
    engine: str = LOCAL,
) -> Scans:
    """Simulate the raw scans of ``registered_ids`` then ``capture_ids`` (in that order,
    from one stream), and register the first to the template in ``workers``
    processes, on ``engine`` (:func:`facelib.parallel.process_map`)."""
    template, identities = population.template, population.identities
    rng = np.random.default_rng(seed)
    train = {
        int(i): simulate_scan(identities[i], template, rng, scan_settings)
        for i in registered_ids
    }
    test = {
        int(i): simulate_scan(identities[i], template, rng, scan_settings)
        for i in capture_ids
    }
    start_shape = face_shapes([Identity()], template)[0]
    jobs = [
        (
            train[int(i)],
            template,
            start_shape,
            registration_settings,
            train[int(i)].pose.apply(population.shapes[i]),
        )
        for i in registered_ids
    ]
    results = process_map(_register_one, jobs, workers, engine)
    summary = {
        "subjects": [int(i) for i in registered_ids],
        "seconds": [float(r[3]) for r in results],
        "vertex_error_median_mm": [float(np.median(r[1])) for r in results],
        "vertex_error_p95_mm": [float(np.percentile(r[1], 95)) for r in results],
        "surface_error_median_mm": [float(np.median(r[2])) for r in results],
        "surface_error_p95_mm": [float(np.percentile(r[2], 95)) for r in results],
        "workers": workers,
    }
    ids = [int(i) for i in registered_ids]
    return Scans(
        train=train,
        test=test,
        registered={i: r[0] for i, r in zip(ids, results)},
        vertex_error={i: r[1] for i, r in zip(ids, results)},
        summary=summary,
        start_shape=start_shape,
    )


# ------------------------------------------------------------------------------- 4. the
# 3DMM
@dataclass(frozen=True)
class Model:
    """The 3DMM and every subject's true shape (N, P, 3) mm in its frame."""

    morphable_model: MorphableModel
    shapes: np.ndarray


def fit_model(
    population: Population, split: Split, scans: Scans, variance: float
) -> Model:
    """The 3DMM of the training subjects (registered shapes where there are, exact ones
    elsewhere), and every subject's true shape in its frame."""
    template, exact = population.template, population.shapes
    train_shapes = np.stack(
        [scans.registered.get(int(i), exact[i]) for i in split.train]
    )
    morphable_model = MorphableModel.fit(
        train_shapes,
        faces=template.faces,
        landmarks=template.landmarks,
        mirror=template.mirror,
        variance=variance,
        scale=True,
        reference=scans.start_shape,
    )
    # every subject's true shape in the 3DMM's frame: rigidly aligned onto the model's
    # mean, as the GPA aligned the training shapes. The cameras (and so the images) are
    # relative to this frame, the frame the networks predict shapes in; an
    # identity-dependent offset between the two frames would be a pose error that no
    # image shows (the networks could only absorb it with wrong shape coefficients).
    mean = morphable_model.mean
    shapes = np.stack(
        [similarity_transform(s, mean, scale=False).apply(s) for s in exact]
    )
    return Model(morphable_model=morphable_model, shapes=shapes)


# ------------------------------------------------------------------ 5. training
# photographs
@dataclass(frozen=True)
class Photographs:
    """Training photographs uint8 (N, V, 3, S, S), their cameras (N, V, ...) and every
    subject's vertex albedo (N, P, 3) in [0, 1]."""

    images: torch.Tensor
    cameras: Cameras
    albedo: torch.Tensor
    heads: Heads


def _head_vertices_job(args) -> np.ndarray:
    identities, styles, shapes, template = args
    mesh = build_head(template)
    return np.stack(
        [
            head_vertices(i, st, template, mesh=mesh, face=f)
            for i, st, f in zip(identities, styles, shapes)
        ]
    ).astype(np.float32)


def dress_heads(
    template: FaceTemplate,
    identities: list[Identity],
    shapes: np.ndarray,
    appearances: list,
    rng: np.random.Generator,
    workers: int = 1,
    engine: str = LOCAL,
) -> Heads:
    """Every subject's whole head (:mod:`facelib.world.head`): a random style (hair,
    head length, gaze...) around its face ``shapes`` (N, P, 3), coloured by its
    appearance; the heads' vertices in ``workers`` processes on ``engine``."""
    mesh = build_head(template)
    styles = sample_head_styles(len(identities), rng)
    chunks = np.array_split(np.arange(len(identities)), max(1, len(identities) // 200))
    jobs = [
        ([identities[i] for i in c], [styles[i] for i in c], shapes[c], template)
        for c in chunks
    ]
    vertices = np.concatenate(process_map(_head_vertices_job, jobs, workers, engine))
    latitude = eye_latitude()
    albedo = np.stack(
        [
            head_albedo(a, mesh.parts, latitude, st.frame_colour)
            for a, st in zip(appearances, styles)
        ]
    ).astype(np.float32)
    return Heads(
        vertices=torch.from_numpy(vertices),
        albedo=torch.from_numpy(albedo),
        faces=torch.from_numpy(mesh.faces),
        gloss=torch.from_numpy(head_gloss(mesh.parts)).float(),
    )


def render_photographs(
    template: FaceTemplate,
    identities: list[Identity],
    shapes: np.ndarray,
    photos_per_subject: int,
    camera_settings: CameraSettings,
    streams: dict[str, int],
    render_device: str,
    workers: int = 1,
    engine: str = LOCAL,
) -> Photographs:
    """Appearances, heads (in ``workers`` processes on ``engine``), cameras and the
    rendered photographs of every subject (in this process)."""
    appearance_rng = np.random.default_rng(streams["appearance"])
    appearances = sample_appearances(len(shapes), appearance_rng)
    albedo = torch.from_numpy(
        np.stack([vertex_albedo(a, template) for a in appearances])
    )
    heads = dress_heads(
        template, identities, shapes, appearances, appearance_rng, workers, engine
    )
    camera_stream = torch.Generator().manual_seed(streams["cameras"])
    cameras = sample_scene_cameras(
        len(shapes), photos_per_subject, camera_settings, camera_stream
    )
    cameras = frame_faces(
        cameras,
        torch.from_numpy(shapes[:, template.landmarks]),
        camera_settings,
        camera_stream,
    )
    images = render_images(
        torch.from_numpy(shapes),
        torch.from_numpy(build_head(template).face_faces),
        albedo,
        cameras,
        camera_settings,
        torch.Generator().manual_seed(streams["render"]),
        heads=heads,
        shadow_faces=torch.from_numpy(
            shadow_faces(build_head(template), len(albedo[0]))
        ),
        # in this process: torch's threads render faster here than worker processes
        device=render_device,
    )
    return Photographs(images=images, cameras=cameras, albedo=albedo, heads=heads)


# ------------------------------------------------------------------------------ 6.
# captures
@dataclass(frozen=True)
class Captures:
    """Capture frames uint8 (M, 2, F, 3, S, S) of the captured subjects, one video per
    motion of :data:`~facelib.data.dataset.CAPTURE_MOTIONS`, and their cameras (M * 2,
    F, ...)."""

    images: np.ndarray
    cameras: Cameras


def render_captures(
    template: FaceTemplate,
    shapes: np.ndarray,
    albedo: torch.Tensor,
    heads: Heads,
    capture_ids: np.ndarray,
    n_frames: int,
    camera_settings: CameraSettings,
    seed: int,
    render_device: str,
) -> Captures:
    """The captures of ``capture_ids``: cameras of every motion of every subject, then
    the frames (each video over one background), all from one stream."""
    generator = torch.Generator().manual_seed(seed)
    parts = {f.name: [] for f in fields(Cameras)}
    for _ in capture_ids:
        for motion in CAPTURE_MOTIONS:
            c = sample_capture_cameras(motion, n_frames, camera_settings, generator)
            for name in parts:
                parts[name].append(getattr(c, name))
    M, F, S = len(capture_ids), n_frames, camera_settings.image_size
    n_videos = M * len(CAPTURE_MOTIONS)
    cameras = Cameras(
        **{
            k: torch.stack(v).view(n_videos, F, *v[0].shape[1:])
            for k, v in parts.items()
        }
    )
    rows = np.repeat(capture_ids, len(CAPTURE_MOTIONS))
    landmarks = torch.from_numpy(shapes[rows][:, template.landmarks])
    cameras = frame_faces(cameras, landmarks, camera_settings, generator)
    images = render_images(
        torch.from_numpy(shapes)[rows],
        torch.from_numpy(build_head(template).face_faces),
        albedo[rows],
        cameras,
        camera_settings,
        generator,
        heads=Heads(heads.vertices[rows], heads.albedo[rows], heads.faces, heads.gloss),
        shadow_faces=torch.from_numpy(
            shadow_faces(build_head(template), len(albedo[0]))
        ),
        one_background_per_row=True,
        device=render_device,
    )
    images = images.numpy().reshape(M, len(CAPTURE_MOTIONS), F, 3, S, S)
    return Captures(images=images, cameras=cameras)


# ---------------------------------------------------------------------------- the whole
# build
def build_dataset(
    config: DatasetConfig,
    data_root: str | Path,
    *,
    overwrite: bool = False,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Build the data set of ``config`` into ``data_root/<profile>/`` (see the module
    doc); returns the path. ``log`` (a callable taking one string) reports progress;
    library code does not print."""
    log = log or (lambda message: None)
    target = Path(data_root) / config.profile
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"{target} exists; pass overwrite=True to rebuild it, or load it with "
            "load_dataset"
        )
    streams = random_streams(config.seed)
    seconds = {}
    N = config.n_subjects

    tick = time.perf_counter()
    population = sample_population(
        N, streams["identities"], config.workers, config.engine
    )
    split = split_subjects(N, config.n_train, config.n_val, streams["split"])
    seconds["identities"] = time.perf_counter() - tick
    log(
        f"{N} identities: {len(split.train)} train, {len(split.val)} val, "
        f"{len(split.test)} test"
    )

    tick = time.perf_counter()
    registered_ids = split.train[: config.n_registered]
    capture_ids = split.test[: config.n_capture_subjects]
    scans = scan_and_register(
        population,
        registered_ids,
        capture_ids,
        streams["scans"],
        config.scan,
        config.registration,
        config.workers,
        config.engine,
    )
    seconds["scans_and_registration"] = time.perf_counter() - tick
    log(
        f"registered {len(registered_ids)} raw scans "
        f"({sum(scans.summary['seconds']):.0f} s of work)"
    )

    tick = time.perf_counter()
    model = fit_model(population, split, scans, config.variance)
    seconds["morphable_model"] = time.perf_counter() - tick
    n_modes = model.morphable_model.n_modes
    log(f"3DMM: {n_modes} modes for {config.variance:.0%} of the variance")

    tick = time.perf_counter()
    camera_settings = CameraSettings(image_size=config.image_size)
    photos = render_photographs(
        population.template,
        population.identities,
        model.shapes,
        config.photos_per_subject,
        camera_settings,
        streams,
        config.render_device,
        config.workers,
        config.engine,
    )
    seconds["scenes"] = time.perf_counter() - tick
    log(
        f"rendered {N * config.photos_per_subject} training images at "
        f"{config.image_size} px"
    )

    tick = time.perf_counter()
    captures = render_captures(
        population.template,
        model.shapes,
        photos.albedo,
        photos.heads,
        capture_ids,
        config.capture_frames,
        camera_settings,
        streams["captures"],
        config.render_device,
    )
    seconds["captures"] = time.perf_counter() - tick
    M, F = len(capture_ids), config.capture_frames
    log(f"rendered {M} subjects x {len(CAPTURE_MOTIONS)} captures x {F} frames")

    template = population.template
    P = template.n_points
    registered_list = [int(i) for i in registered_ids]
    cams, cap = photos.cameras, captures.cameras
    arrays = {
        "images": photos.images.numpy(),
        "K": cams.K.numpy().astype(np.float32),
        "q": cams.q.numpy().astype(np.float32),
        "t": cams.t.numpy().astype(np.float32),
        "shapes": model.shapes.astype(np.float32),
        "split": split.split,
        "registered": np.isin(np.arange(N), registered_ids),
        "registered_shapes": np.stack(
            [scans.registered[i] for i in registered_list]
        ).astype(np.float32)
        if registered_list
        else np.zeros((0, P, 3), np.float32),
        "registration_vertex_error": np.stack(
            [scans.vertex_error[i] for i in registered_list]
        ).astype(np.float32)
        if registered_list
        else np.zeros((0, P), np.float32),
        "identity_parameters": np.stack(
            [i.parameters() for i in population.identities]
        ),
        "capture_subjects": capture_ids.astype(np.int64),
        "capture_images": captures.images,
        "capture_K": cap.K.numpy().astype(np.float32).reshape(M, 2, F, 3, 3),
        "capture_q": cap.q.numpy().astype(np.float32).reshape(M, 2, F, 4),
        "capture_t": cap.t.numpy().astype(np.float32).reshape(M, 2, F, 3),
    }
    manifest = {
        "profile": config.profile,
        "seed": config.seed,
        # the engine names machines, not the data: left out, so that a build on a
        # cluster writes the manifest a local build writes
        "config": json.loads(
            json.dumps({k: v for k, v in asdict(config).items() if k != "engine"})
        ),
        "counts": {
            "subjects": N,
            "train": int(len(split.train)),
            "val": int(len(split.val)),
            "test": int(len(split.test)),
            "photos_per_subject": config.photos_per_subject,
            "image_size": config.image_size,
            "registered": int(len(registered_ids)),
            "capture_subjects": int(M),
            "capture_frames": F,
            "modes": n_modes,
            "vertices": P,
        },
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
    }
    write_dataset(
        target,
        arrays=arrays,
        template=template,
        morphable_model=model.morphable_model,
        scans={"train": scans.train, "test": scans.test},
        registration=scans.summary,
        manifest=manifest,
        overwrite=True,
    )
    log(f"wrote {target}")
    return target
