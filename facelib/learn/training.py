"""Training the paper's networks (section 4.2) on a SynthFAW data set, with checkpoints
and resuming.

One function, :func:`train`, driven by a :class:`TrainConfig`:

* ``kind="sv"``: the single-view network on (subject, view) pairs, Eq. 2 with V = 1;
* ``kind="mv"``: the multi-view network (``merge="add"`` or ``"concat"``) on N of a
  subject's views, Eq. 2 summed over the N views, initialised from a trained single-view
  checkpoint;
* ``kind="mv_shape"``: MV Shape-Concat, initialised from a trained MV Concat checkpoint,
  trained on the mean squared vertex error of the 3D shape (mm²).

Adam (learning rate 1e-4), batch 32, early stopping on the validation loss (the best
weights are kept). With ``ema_decay`` > 0, an exponential moving average of the weights
is what is validated, kept and returned (the optimiser still trains the weights
themselves); it is checkpointed with them. The network runs in channels_last memory
layout, under bf16 autocast on CUDA (and on a CPU when asked, ``precision="bf16"``); the
loss is always computed in float32. The multi-view networks see their N views sorted by
yaw (left to right), so that the slots of the concatenation mean the same thing in
training and in evaluation. Whole-scene mirroring (image, cameras and shape,
:func:`facelib.world.scenes.mirror_scene`) is applied to half the samples.

Randomness comes only from generators seeded by ``(seed, epoch, step)``, so a run that
is interrupted and resumed from its last checkpoint ends with exactly the weights of an
uninterrupted run.

On disk, ``runs/<profile>/<name>/``: ``model.safetensors`` + ``model.json`` when the run
is finished (architecture, configuration, history, validation metrics, the sha256 of the
3DMM and of the data set's manifest), and ``last.safetensors`` + ``last.json`` while it
runs (weights, optimiser state and progress). Nothing is loaded with pickle. A finished
run is not overwritten unless asked.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from facelib.data.dataset import Dataset
from facelib.geometry.camera import project, quaternion_to_yaw_pitch_roll
from facelib.geometry.mirror import mirror_scene
from facelib.geometry.morphable_model import MorphableModel
from facelib.geometry.procrustes import similarity_transform
from facelib.learn.losses import reprojection_loss
from facelib.learn.nets import MultiView, Prediction, SingleView
from facelib.storage import atomic_write, file_sha256

__all__ = [
    "TrainConfig",
    "TrainResult",
    "train",
    "training_step",
    "uses_bf16",
    "load_model",
    "evaluate",
    "select_views",
    "Metrics",
    "MeanShapeBaseline",
    "vertex_rms",
]

KINDS = ("sv", "mv", "mv_shape")
PRECISIONS = ("auto", "bf16", "fp32")


def uses_bf16(precision: str, device: str | torch.device) -> bool:
    """Whether training runs the network under bf16 autocast: ``"auto"`` on CUDA only,
    ``"bf16"`` always, ``"fp32"`` never. On a CPU, bf16 pays only with native support
    (AVX512-BF16 or AMX; about twice the float32 speed on such a CPU) and is emulated,
    slowly, elsewhere."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision == "bf16" or (
        precision == "auto" and torch.device(device).type == "cuda"
    )


FORMAT_VERSION = 1


@dataclass(frozen=True)
class TrainConfig:
    """What a training run does. ``views`` is N for the multi-view kinds (ignored for
    ``sv``)."""

    kind: str = "sv"
    merge: str = "concat"
    views: int = 3
    width: float = 0.25
    batch_size: int = 32
    lr: float = 1e-4
    epochs: int = 10
    patience: int = 3
    seed: int = 0
    device: str = "cpu"
    mirror: bool = True
    max_steps_per_epoch: int | None = None
    checkpoint_every: int = (
        0  # optimiser steps between checkpoints; 0: at the end of every epoch
    )
    encoder_weights: str | None = (
        None  # a local .safetensors file for the VGG-16 encoder
    )
    # sv only: first epochs with α held at 0 (the 3DMM mean): only the camera is learned
    pose_warmup_epochs: int = 0
    precision: str = (
        "auto"  # bf16 autocast: "auto" (on CUDA), "bf16", "fp32"; see uses_bf16
    )
    # > 0: validate and keep an exponential moving average of the weights (0: the
    # weights themselves)
    ema_decay: float = 0.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "mv_shape" and self.merge != "concat":
            raise ValueError("MV Shape-Concat uses merge='concat'")
        if (
            self.batch_size < 1
            or self.epochs < 1
            or self.patience < 1
            or self.views < 1
        ):
            raise ValueError(
                f"batch_size, epochs, patience and views must be positive: {self}"
            )
        if self.pose_warmup_epochs < 0 or (
            self.pose_warmup_epochs and self.kind != "sv"
        ):
            raise ValueError(
                f"pose_warmup_epochs must be >= 0, and only the single-view network has one: {self}"
            )
        uses_bf16(self.precision, self.device)  # checks the name
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(
                f"ema_decay must be in [0, 1) (0: no averaging), got {self.ema_decay}"
            )


@dataclass
class Metrics:
    """Validation metrics (means over the validation scenes). reprojection_px: mean
    distance between the true and the predicted projections of all 3DMM points;
    shape_mm: vertex RMS error of the shape against the truth (same model frame, no
    alignment); shape_aligned_mm: the same after a similarity alignment of the
    prediction onto the truth (the shape alone, as ARMSE sees it); rotation_deg,
    translation_mm: camera errors. ``nan`` where a model has no pose."""

    reprojection_px: float
    shape_mm: float
    shape_aligned_mm: float
    rotation_deg: float
    translation_mm: float
    loss: float


@dataclass
class TrainResult:
    model: torch.nn.Module
    path: Path
    history: list[dict]
    metrics: Metrics
    images_per_second: float


# ------------------------------------------------------------------------------------
# batches
def select_views(yaw: np.ndarray, n: int) -> np.ndarray:
    """The N views (indices into ``yaw`` (V,), in degrees) closest to N target yaws
    spread over -45°..45° (the paper's -45°, 0°, 45° for N = 3; 0° for N = 1), sorted by
    yaw, without repeats."""
    targets = np.linspace(-45.0, 45.0, n) if n > 1 else np.zeros(1)
    chosen: list[int] = []
    for target in targets:
        order = np.argsort(np.abs(yaw - target))
        chosen.append(int(next(i for i in order if i not in chosen)))
    return np.array(sorted(chosen, key=lambda i: yaw[i]))


def _generator(seed: int, *keys: int) -> torch.Generator:
    mixed = np.random.SeedSequence([seed, *keys]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(mixed % (2**63)))


class _Scenes:
    """Training samples from a data set: (subject, views) with images, cameras and
    shapes, as tensors."""

    def __init__(self, data: Dataset, subjects: np.ndarray, views: int | None):
        self.data, self.subjects, self.views = data, subjects, views
        self.yaw = quaternion_to_yaw_pitch_roll(data.tensor("q", subjects))[
            ..., 0
        ].numpy()  # (n, V)
        V = data.images.shape[1]
        # sv: every (subject, view) pair; mv: every subject
        self.items = (
            [(i, v) for i in range(len(subjects)) for v in range(V)]
            if views is None
            else [(i, -1) for i in range(len(subjects))]
        )

    def __len__(self):
        return len(self.items)

    def batch(
        self,
        item_ids: np.ndarray,
        generator: torch.Generator | None,
        mirror: bool,
        device: torch.device,
    ):
        """images uint8 (B, N, 3, S, S), K (B, N, 3, 3), q (B, N, 4), t (B, N, 3),
        shapes (B, P, 3)."""
        rows, views = [], []
        V = self.data.images.shape[1]
        for k in item_ids:
            i, v = self.items[k]
            if self.views is None:
                chosen = np.array([v])
            elif generator is None:  # evaluation: the views nearest -45, 0, 45 degrees
                chosen = select_views(self.yaw[i], self.views)
            else:  # training: N random views, sorted by yaw
                pick = torch.randperm(V, generator=generator)[: self.views].numpy()
                chosen = pick[np.argsort(self.yaw[i][pick])]
            rows.append(self.subjects[i])
            views.append(chosen)
        rows_arr, views_arr = np.array(rows), np.stack(views)
        take = lambda name, dtype=torch.float64: torch.from_numpy(  # noqa: E731
            np.stack(
                [
                    np.asarray(self.data.array(name)[r, vs])
                    for r, vs in zip(rows_arr, views_arr)
                ]
            )
        ).to(dtype)
        images = take("images", None)
        K, q, t = take("K"), take("q"), take("t")
        shapes = torch.from_numpy(np.array(self.data.shapes[rows_arr])).double()
        if mirror and generator is not None:
            flip = torch.rand(len(item_ids), generator=generator) < 0.5
            if flip.any():
                im, Km, qm, tm, sm = mirror_scene(
                    images[flip],
                    K[flip],
                    q[flip],
                    t[flip],
                    shapes[flip],
                    self.data.template.mirror,
                )
                if (
                    self.views is not None and self.views > 1
                ):  # keep the views sorted by yaw: mirroring reverses it
                    im, Km, qm, tm = im.flip(1), Km.flip(1), qm.flip(1), tm.flip(1)
                images[flip], K[flip], q[flip], t[flip], shapes[flip] = (
                    im,
                    Km,
                    qm,
                    tm,
                    sm,
                )
        to = lambda x: x.to(device)  # noqa: E731
        return (
            to(images),
            to(K.float()),
            to(q.float()),
            to(t.float()),
            to(shapes.float()),
        )


# -------------------------------------------------------------------------------------
# models
def _translation_stats(data: Dataset) -> tuple[list[float], list[float]]:
    t = np.asarray(data.t[data.subjects("train")]).reshape(-1, 3)
    return t.mean(0).tolist(), np.maximum(t.std(0), 1.0).tolist()


def _architecture(model: torch.nn.Module) -> dict:
    branch = model.branch if isinstance(model, MultiView) else model
    arch = {
        "n_modes": branch.n_modes,
        "image_size": branch.image_size,
        "width": branch.width,
        "pool": branch.pool,
        "t_mean": branch.t_mean.tolist(),
        "t_std": branch.t_std.tolist(),
    }
    if isinstance(model, MultiView):
        arch.update(
            kind="mv_shape" if model.shape_only else "mv",
            views=model.views,
            merge=model.merge_name,
        )
    else:
        arch.update(kind="sv")
    return arch


def _build(arch: dict) -> torch.nn.Module:
    branch = SingleView(
        arch["n_modes"],
        arch["image_size"],
        width=arch["width"],
        t_mean=arch["t_mean"],
        t_std=arch["t_std"],
        pool=arch["pool"],
    )
    if arch["kind"] == "sv":
        return branch
    return MultiView(
        branch, arch["views"], arch["merge"], shape_only=arch["kind"] == "mv_shape"
    )


def _save_json(path: Path, obj: dict) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(obj, indent=1)))


def _save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    atomic_write(
        path,
        lambda tmp: save_file(
            {k: v.detach().contiguous().cpu() for k, v in tensors.items()}, tmp
        ),
    )


def load_model(
    path: str | Path,
    *,
    model3dmm: MorphableModel | None = None,
    image_size: int | None = None,
    device: str = "cpu",
) -> tuple[torch.nn.Module, dict]:
    """A finished model from ``<run>/model.json`` + ``model.safetensors`` (``path`` is
    the run folder or the JSON file). Refuses a checkpoint made for another 3DMM or
    another image size when they are given."""
    path = Path(path)
    meta_path = path / "model.json" if path.is_dir() else path
    weights_path = meta_path.with_suffix(".safetensors")
    for p in (meta_path, weights_path):
        if not p.is_file():
            raise FileNotFoundError(
                f"no checkpoint file {p}: train the model first (notebooks 02_single_view / 03_multi_view)"
            )
    meta = json.loads(meta_path.read_text())
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{meta_path} has checkpoint format {meta.get('format_version')}, expected {FORMAT_VERSION}"
        )
    if (
        model3dmm is not None
        and meta["morphable_model_sha256"] != model3dmm.fingerprint()
    ):
        raise ValueError(
            f"{meta_path} was trained for another 3DMM (sha256 {meta['morphable_model_sha256'][:12]}..., "
            f"this one is {model3dmm.fingerprint()[:12]}...): retrain it on this data set"
        )
    if image_size is not None and meta["architecture"]["image_size"] != image_size:
        raise ValueError(
            f"{meta_path} expects {meta['architecture']['image_size']} px images, not {image_size} px"
        )
    if file_sha256(weights_path) != meta["weights_sha256"]:
        raise ValueError(
            f"{weights_path} does not match the checksum in {meta_path.name}: the file is corrupt; retrain"
        )
    model = _build(meta["architecture"])
    model.load_state_dict(load_file(str(weights_path)))
    return model.to(device).to(memory_format=torch.channels_last).eval(), meta


# ---------------------------------------------------------------------------------
# evaluation
class MeanShapeBaseline(torch.nn.Module):
    """The paper's "3DMM Mean" baseline: always the model's mean shape (α = 0), no
    pose."""

    def __init__(self, n_modes: int):
        super().__init__()
        self.n_modes = n_modes

    def forward(self, images: torch.Tensor) -> Prediction:
        return Prediction(
            alpha=torch.zeros(images.shape[0], self.n_modes, device=images.device),
            q=None,
            t=None,
        )


def _loss(kind: str, pred, shape_pred, K, q, t, shapes):
    if kind == "mv_shape":
        return (shape_pred - shapes).pow(2).sum(-1).mean()
    return reprojection_loss(
        shape_pred=shape_pred,
        q_pred=pred.q,
        t_pred=pred.t,
        shape_true=shapes,
        q_true=q,
        t_true=t,
        K=K,
    )


def training_step(
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    kind: str,
    model3dmm: MorphableModel,
    batch: tuple[torch.Tensor, ...],
    *,
    bf16: bool = False,
    where: str = "",
) -> torch.Tensor:
    """One optimiser step on ``batch`` = (images uint8 (B, N, 3, S, S), K (B, N, 3, 3),
    q (B, N, 4), t (B, N, 3) mm, shapes (B, P, 3) mm), all on the model's device; the
    network runs under bf16 autocast when ``bf16`` (the loss is computed in float32).
    Returns the loss (detached)."""
    images, K, q, t, shapes = batch
    with torch.autocast(
        device_type=images.device.type, dtype=torch.bfloat16, enabled=bf16
    ):
        pred = model(images[:, 0] if kind == "sv" else images)
    loss = _loss(kind, pred, model3dmm.shape(pred.alpha), K, q, t, shapes)
    if not torch.isfinite(loss):
        raise FloatingPointError(
            f"the loss became {loss.item()}{' at ' + where if where else ''}; lower the learning rate"
        )
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach()


def vertex_rms(shape_pred: torch.Tensor, shape_true: torch.Tensor) -> torch.Tensor:
    """Vertex RMS error (...,) in mm of shapes (..., P, 3) mm against the truth, in the
    same frame."""
    return (shape_pred - shape_true).pow(2).sum(-1).mean(-1).sqrt()


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    data: Dataset,
    subjects: np.ndarray,
    *,
    kind: str,
    views: int | None,
    device: str = "cpu",
    batch_size: int = 64,
) -> Metrics:
    """Validation metrics of ``model`` on ``subjects`` (each view for ``sv``; the N
    views nearest -45°..45° for the multi-view kinds)."""
    model.eval()
    scenes = _Scenes(data, subjects, None if kind == "sv" else views)
    dev = torch.device(device)
    model3dmm = data.morphable_model
    sums = {
        "reprojection_px": 0.0,
        "shape_mm": 0.0,
        "shape_aligned_mm": 0.0,
        "rotation_deg": 0.0,
        "translation_mm": 0.0,
        "loss": 0.0,
    }
    n_scenes = n_views = 0
    for start in range(0, len(scenes), batch_size):
        ids = np.arange(start, min(start + batch_size, len(scenes)))
        images, K, q, t, shapes = scenes.batch(ids, None, False, dev)
        pred = model(images[:, 0] if kind == "sv" else images)
        shape_pred = model3dmm.shape(pred.alpha)
        sums["loss"] += float(_loss(kind, pred, shape_pred, K, q, t, shapes)) * len(ids)
        sums["shape_mm"] += float(vertex_rms(shape_pred, shapes).sum())
        for p_np, s_np in zip(
            shape_pred.double().cpu().numpy(), shapes.double().cpu().numpy()
        ):
            aligned = similarity_transform(p_np, s_np).apply(p_np)
            sums["shape_aligned_mm"] += float(
                np.sqrt(((aligned - s_np) ** 2).sum(-1).mean())
            )
        if pred.q is not None:
            uv_true = project(shapes[:, None], K, q, t)
            uv_pred = project(shape_pred[:, None], K, pred.q, pred.t)
            sums["reprojection_px"] += float(
                (uv_pred - uv_true).norm(dim=-1).mean(-1).sum()
            )
            dot = (pred.q * q).sum(-1).abs().clamp(max=1.0)
            sums["rotation_deg"] += float(torch.rad2deg(2 * torch.acos(dot)).sum())
            sums["translation_mm"] += float((pred.t - t).norm(dim=-1).sum())
        n_scenes += len(ids)
        n_views += int(q.shape[0] * q.shape[1])
    has_pose = kind != "mv_shape"
    return Metrics(
        reprojection_px=sums["reprojection_px"] / n_views if has_pose else math.nan,
        shape_mm=sums["shape_mm"] / n_scenes,
        shape_aligned_mm=sums["shape_aligned_mm"] / n_scenes,
        rotation_deg=sums["rotation_deg"] / n_views if has_pose else math.nan,
        translation_mm=sums["translation_mm"] / n_views if has_pose else math.nan,
        loss=sums["loss"] / n_scenes,
    )


# -------------------------------------------------------------------------------------
# train
@torch.no_grad()
def _update_average(
    averaged: torch.nn.Module, model: torch.nn.Module, decay: float
) -> None:
    """One step of the exponential moving average of every floating-point parameter and
    buffer: ``a <- decay a + (1 - decay) w``; other buffers are copied."""
    for a, w in zip(averaged.state_dict().values(), model.state_dict().values()):
        if a.is_floating_point():
            a.lerp_(w, 1.0 - decay)
        else:
            a.copy_(w)


def _optimizer_tensors(
    opt: torch.optim.Optimizer,
) -> tuple[dict[str, torch.Tensor], dict]:
    state = opt.state_dict()
    tensors = {
        f"opt.{i}.{k}": (v if torch.is_tensor(v) else torch.tensor(v))
        for i, s in state["state"].items()
        for k, v in s.items()
    }
    return tensors, {
        "param_groups": state["param_groups"],
        "state_keys": {str(i): list(s) for i, s in state["state"].items()},
    }


def _load_optimizer(
    opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict
) -> None:
    state = {
        int(i): {k: tensors[f"opt.{i}.{k}"] for k in keys}
        for i, keys in meta["state_keys"].items()
    }
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def _config_json(config: TrainConfig) -> dict:
    """The configuration as it reads back from a checkpoint's JSON (tuples become
    lists)."""
    return json.loads(json.dumps(asdict(config)))


def _finished(
    config: TrainConfig, data: Dataset, run_dir: Path, manifest_sha: str
) -> TrainResult:
    """The finished run in ``run_dir`` as a :class:`TrainResult`, if it matches
    ``config`` and the data set."""
    model, meta = load_model(
        run_dir,
        model3dmm=data.morphable_model,
        image_size=int(data.images.shape[-1]),
        device=config.device,
    )
    if meta["config"] != _config_json(config):
        raise ValueError(
            f"{run_dir} holds a model trained with another configuration ({meta['config']}); "
            "pass overwrite=True to retrain it with this one"
        )
    if meta["dataset_manifest_sha256"] != manifest_sha:
        raise ValueError(
            f"{run_dir} holds a model trained on another build of the data set; pass overwrite=True to retrain"
        )
    return TrainResult(
        model=model,
        path=run_dir,
        history=meta["history"],
        metrics=Metrics(**meta["metrics"]),
        images_per_second=meta["images_per_second"],
    )


def train(
    config: TrainConfig,
    data: Dataset,
    run_dir: str | Path,
    *,
    init: str | Path | None = None,
    overwrite: bool = False,
    reuse_finished: bool = False,
    progress: bool = True,
    callback: Callable[[int], None] | None = None,
) -> TrainResult:
    """Train (or resume) one model; see the module doc. ``init``: the checkpoint to
    start from (a trained single-view run for ``mv``, a trained MV Concat run for
    ``mv_shape``). ``callback(step)`` runs after every optimiser step (and its
    checkpoint, if one is due).

    A finished model in ``run_dir`` is retrained with ``overwrite=True``; with
    ``reuse_finished=True`` it is loaded and returned instead, provided it was trained
    with this configuration on this data set; otherwise it is an error."""
    from tqdm import tqdm

    run_dir = Path(run_dir)
    final_json = run_dir / "model.json"
    device = torch.device(config.device)
    manifest_sha = file_sha256(data.path / "manifest.json")
    if final_json.exists() and not overwrite:
        if not reuse_finished:
            raise FileExistsError(
                f"{run_dir} holds a finished model; load it with load_model, or pass overwrite=True to retrain"
            )
        return _finished(config, data, run_dir, manifest_sha)
    model3dmm = data.morphable_model
    image_size = int(data.images.shape[-1])

    # the model, initialised like the paper: multi-view from single view, shape-only
    # from MV Concat
    torch.manual_seed(config.seed)
    if config.kind == "sv":
        t_mean, t_std = _translation_stats(data)
        model = SingleView(
            model3dmm.n_modes,
            image_size,
            width=config.width,
            weights_path=config.encoder_weights,
            t_mean=t_mean,
            t_std=t_std,
        )
    else:
        if init is None:
            raise ValueError(
                f"kind={config.kind!r} starts from a trained checkpoint: pass init=<run folder>"
            )
        start, start_meta = load_model(init, model3dmm=model3dmm, image_size=image_size)
        want = "sv" if config.kind == "mv" else "mv"
        if start_meta["architecture"]["kind"] != want:
            raise ValueError(
                f"{init} is a {start_meta['architecture']['kind']!r} model; {config.kind!r} starts from a {want!r} one"
            )
        model = (
            MultiView.from_single_view(start, config.views, config.merge)
            if config.kind == "mv"
            else MultiView.shape_only_from(start)
        )
    model = model.to(device).to(
        memory_format=torch.channels_last
    )  # faster convolutions on CUDA and on CPU
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    # the weights that are validated, kept and returned: an exponential moving average
    # of the trained ones (ema_decay > 0), or the trained ones themselves
    averaged = copy.deepcopy(model) if config.ema_decay else model

    train_scenes = _Scenes(
        data, data.subjects("train"), None if config.kind == "sv" else config.views
    )
    steps_per_epoch = math.ceil(len(train_scenes) / config.batch_size)
    if config.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, config.max_steps_per_epoch)
    progress_state = {
        "epoch": 0,
        "step": 0,
        "history": [],
        "best_loss": math.inf,
        "bad_epochs": 0,
        "train_seconds": 0.0,
        "images": 0,
        "train_loss": math.nan,
    }
    last_json, last_weights, best_weights = (
        run_dir / "last.json",
        run_dir / "last.safetensors",
        run_dir / "best.safetensors",
    )
    arch = _architecture(model)
    if last_json.exists() and not overwrite:  # resume
        meta = json.loads(last_json.read_text())
        if meta["config"] != _config_json(config) or meta["architecture"] != arch:
            raise ValueError(
                f"{run_dir} holds an unfinished run with another configuration; pass overwrite=True to restart"
            )
        tensors = load_file(str(last_weights))
        model.load_state_dict(
            {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
        )
        if averaged is not model:
            averaged.load_state_dict(
                {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
            )
        _load_optimizer(opt, tensors, meta["optimizer"])
        progress_state = meta["progress"]

    def checkpoint():
        opt_tensors, opt_meta = _optimizer_tensors(opt)
        ema = (
            {f"ema.{k}": v for k, v in averaged.state_dict().items()}
            if averaged is not model
            else {}
        )
        _save_tensors(
            last_weights,
            {
                **{f"model.{k}": v for k, v in model.state_dict().items()},
                **ema,
                **opt_tensors,
            },
        )
        _save_json(
            last_json,
            {
                "config": asdict(config),
                "architecture": arch,
                "optimizer": opt_meta,
                "progress": progress_state,
            },
        )

    use_bf16 = uses_bf16(config.precision, device)
    views_per_item = 1 if config.kind == "sv" else config.views
    bar = tqdm(
        total=config.epochs * steps_per_epoch,
        initial=progress_state["epoch"] * steps_per_epoch + progress_state["step"],
        disable=not progress,
        mininterval=5.0,
        desc=f"{config.kind}{'-' + config.merge if config.kind != 'sv' else ''}",
    )
    while (
        progress_state["epoch"] < config.epochs
        and progress_state["bad_epochs"] < config.patience
    ):
        epoch = progress_state["epoch"]
        order = torch.randperm(
            len(train_scenes), generator=_generator(config.seed, epoch)
        ).numpy()
        model.train()
        if (
            config.pose_warmup_epochs
        ):  # α's MLP starts learning after the warm-up (its output layer starts at 0)
            model.alpha_head.requires_grad_(epoch >= config.pose_warmup_epochs)
        tick = time.perf_counter()
        while progress_state["step"] < steps_per_epoch:
            step = progress_state["step"]
            ids = order[step * config.batch_size : (step + 1) * config.batch_size]
            g = _generator(config.seed, epoch, step + 1)
            batch = train_scenes.batch(ids, g, config.mirror, device)
            loss = training_step(
                model,
                opt,
                config.kind,
                model3dmm,
                batch,
                bf16=use_bf16,
                where=f"epoch {epoch}, step {step}",
            )
            if averaged is not model:
                _update_average(averaged, model, config.ema_decay)
            progress_state["step"] = step + 1
            progress_state["images"] += len(ids) * views_per_item
            progress_state["train_loss"] = float(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3g}")
            due = (
                config.checkpoint_every
                and progress_state["step"] % config.checkpoint_every == 0
            )
            progress_state["train_seconds"] += time.perf_counter() - tick
            tick = time.perf_counter()
            if due:
                checkpoint()
            if callback is not None:
                callback(epoch * steps_per_epoch + progress_state["step"])
        metrics = evaluate(
            averaged,
            data,
            data.subjects("val"),
            kind=config.kind,
            views=config.views,
            device=config.device,
        )
        progress_state["history"].append(
            {
                "epoch": epoch + 1,
                "train_loss": progress_state["train_loss"],
                **asdict(metrics),
            }
        )
        if metrics.loss < progress_state["best_loss"]:
            progress_state["best_loss"], progress_state["bad_epochs"] = metrics.loss, 0
            _save_tensors(best_weights, averaged.state_dict())
        else:
            progress_state["bad_epochs"] += 1
        progress_state["epoch"], progress_state["step"] = epoch + 1, 0
        checkpoint()
    bar.close()

    # the best (averaged) weights are the result
    model.load_state_dict(load_file(str(best_weights)))
    metrics = evaluate(
        model,
        data,
        data.subjects("val"),
        kind=config.kind,
        views=config.views,
        device=config.device,
    )
    weights_path = run_dir / "model.safetensors"
    _save_tensors(weights_path, model.state_dict())
    rate = progress_state["images"] / max(progress_state["train_seconds"], 1e-9)
    _save_json(
        final_json,
        {
            "format_version": FORMAT_VERSION,
            "architecture": arch,
            "config": asdict(config),
            "metrics": asdict(metrics),
            "history": progress_state["history"],
            "images_per_second": rate,
            "morphable_model_sha256": model3dmm.fingerprint(),
            "dataset_manifest_sha256": manifest_sha,
            "dataset": str(data.path),
            "init": str(init) if init else None,
            "weights_sha256": file_sha256(weights_path),
            "device": str(device),
            "torch": torch.__version__,
        },
    )
    for p in (last_json, last_weights, best_weights):
        p.unlink(missing_ok=True)
    return TrainResult(
        model=model.eval(),
        path=run_dir,
        history=progress_state["history"],
        metrics=metrics,
        images_per_second=rate,
    )
