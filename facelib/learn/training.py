"""Training the paper's networks (section 4.2) on a SynthFAW data set, with checkpoints
and resuming.

One function, :func:`train`, driven by a :class:`TrainConfig`; ``network`` is one of
:data:`facelib.learn.nets.NETWORKS`:

* ``"sv"``: the single-view network on (subject, photograph) pairs, Eq. 2 with V = 1;
* ``"mv"``: the multi-view network (``merge="add"`` or ``"concat"``) on ``n_views``
  photographs of a subject, Eq. 2 summed over them, initialised from a trained
  single-view checkpoint;
* ``"mv_shape"``: MV Shape-Concat, initialised from a trained MV Concat checkpoint,
  trained on the mean squared vertex error of the 3D shape (mm²);
* ``"mv_any"``: MV Any (:class:`facelib.learn.nets.AnyView`), initialised from a
  trained single-view checkpoint: every batch draws its number of photographs N from
  1 to the data set's photographs per subject and each scene's photographs in random
  order, Eq. 2 summed over them; validated on the ``n_views`` photographs nearest
  -45°..45°.

Adam (learning rate 1e-4), batch 32, early stopping on the validation loss
(:func:`facelib.learn.validation.validate`; the best weights are kept). With
``ema_decay`` > 0, an exponential moving average of the weights
(:class:`facelib.learn.averaging.WeightAverage`) is what is validated, kept and
returned (the optimiser still trains the weights themselves); it is checkpointed with
them. The network runs in channels_last memory layout, under bf16 autocast as
``precision`` says (:func:`facelib.learn.precision.uses_bf16`); the loss is always
computed in float32. The samples come from :class:`facelib.learn.batches.SceneSampler`
(the multi-view networks see their photographs sorted by yaw, so that the slots of the
concatenation mean the same thing in training and in evaluation; half the scenes are
mirrored).

Randomness comes only from generators seeded by ``(seed, epoch, step)``
(:func:`facelib.learn.batches.seeded_generator`), and the loop's whole state
(:class:`TrainState`) is checkpointed, so a run that is interrupted and resumed from its
last checkpoint ends with exactly the weights of an uninterrupted run.

On disk, ``runs/<profile>/<name>/``: ``model.safetensors`` + ``model.json`` when the run
is finished (:func:`facelib.learn.checkpoints.save_model`: architecture, configuration,
history, validation metrics, the sha256 of the 3DMM and of the data set's manifest), and
``last.safetensors`` + ``last.json`` while it runs (weights, averaged weights, optimiser
state and :class:`TrainState`), with ``best.safetensors`` (the best weights so far).
``last.json`` records the sha256 of ``last.safetensors`` and of ``best.safetensors``: a
damaged resume file is refused (it is not resumed from), and damaged best weights are
refused at the end (their fresh checksum never reaches ``model.json``). A save writes
the new weights as ``last.next.safetensors``, then ``last.json``, then renames them, so
that a kill at any moment leaves a consistent pair to resume from. A resume state
whose step counter disagrees with the optimiser's is refused too. A diverging run (a
loss, prediction or weight that is not finite) stops with a FloatingPointError that
names the step and a lower learning rate, before it writes a checkpoint: the last good
one stays on disk. Nothing is loaded with pickle. A finished run is not overwritten
unless asked.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from facelib.data.dataset import Dataset
from facelib.geometry.camera import translation_to_image
from facelib.geometry.morphable_model import MorphableModel
from facelib.learn import distributed
from facelib.learn.averaging import WeightAverage
from facelib.learn.batches import Batch, SceneSampler, seeded_generator
from facelib.learn.checkpoints import (
    FORMAT_VERSION,
    architecture,
    build_network,
    load_model,
    load_optimizer,
    load_tensors,
    optimizer_tensors,
    read_json,
    save_model,
    save_tensors,
)
from facelib.learn.losses import Objective, network_loss
from facelib.learn.nets import MERGES, NETWORKS, AnyView, MultiView, SingleView
from facelib.learn.precision import uses_bf16
from facelib.learn.validation import Metrics, validate
from facelib.storage import file_sha256, write_json

__all__ = [
    "TrainConfig",
    "TrainState",
    "TrainResult",
    "train",
    "training_step",
    "validation_subjects",
]


@dataclass(frozen=True)
class TrainConfig:
    """What a training run does. Every field is checked when the configuration is made
    (a ValueError names the field, its allowed values and the value given).

    Attributes:
        network: one of :data:`facelib.learn.nets.NETWORKS` (``"sv"``, ``"mv"``,
            ``"mv_shape"``, ``"mv_any"``).
        merge: the multi-view merge block, ``"add"`` or ``"concat"``
            (``"mv_shape"``: ``"concat"``).
        n_views: N, the photographs a multi-view network sees (unused for ``"sv"``;
            for ``"mv_any"`` the N it is validated on: it trains on any N).
        width: the VGG-16 channel multiplier (1.0: the paper's network).
        batch_size: scenes per optimiser step.
        lr: Adam's learning rate.
        epochs: at most this many epochs.
        patience: stop after this many epochs without a better validation loss.
        seed: seeds the initialisation and every random draw.
        device: where the network trains (``"cpu"``, ``"cuda"``).
        mirror: mirror half the training scenes.
        max_steps_per_epoch: cut every epoch at this many steps (``None``: every
            scene once).
        checkpoint_every: optimiser steps between checkpoints; 0: at the end of every
            epoch only.
        encoder_weights: a local ``.safetensors`` file for the VGG-16 encoder.
        pose_warmup_epochs: ``"sv"`` only: the first epochs hold α at 0 (the 3DMM
            mean), so that only the camera is learned.
        precision: bf16 autocast, ``"auto"`` (on CUDA), ``"bf16"`` or ``"fp32"``
            (:func:`facelib.learn.precision.uses_bf16`).
        ema_decay: > 0: validate and keep an exponential moving average of the weights
            with this decay per step; 0: the weights themselves.
        loss: what a network with cameras trains on, one of
            :data:`facelib.learn.losses.LOSSES` (``"reprojection"``: the paper's Eq.
            2; the others are the loss ablation's, :class:`Objective`); the
            validation loss (early stopping, the kept epoch) is the same loss.
        beta, gamma: ``loss="multi_term"`` only: the weights of the quaternion and of
            the translation error (γ per mm²).
        val_subjects: validate on the first this many validation subjects; 0: all
            of them.
    """

    network: str = "sv"
    merge: str = "concat"
    n_views: int = 3
    width: float = 0.25
    batch_size: int = 32
    lr: float = 1e-4
    epochs: int = 10
    patience: int = 3
    seed: int = 0
    device: str = "cpu"
    mirror: bool = True
    max_steps_per_epoch: int | None = None
    checkpoint_every: int = 0
    encoder_weights: str | None = None
    pose_warmup_epochs: int = 0
    precision: str = "auto"
    ema_decay: float = 0.0
    loss: str = "reprojection"
    beta: float = 1.0
    gamma: float = 1.0
    val_subjects: int = 0

    def __post_init__(self):
        def refuse(name: str, allowed: str) -> None:
            raise ValueError(
                f"TrainConfig.{name} must be {allowed}, got {getattr(self, name)!r}"
            )

        def integer(x) -> bool:
            return isinstance(x, int) and not isinstance(x, bool)

        def number(x) -> bool:
            return (
                isinstance(x, (int, float))
                and not isinstance(x, bool)
                and math.isfinite(x)
            )

        if self.network not in NETWORKS:
            raise ValueError(f"network must be one of {NETWORKS}, got {self.network!r}")
        if self.merge not in MERGES:
            refuse("merge", f"one of {sorted(MERGES)} (the multi-view merge block)")
        if self.network == "mv_shape" and self.merge != "concat":
            raise ValueError(
                f"MV Shape-Concat uses merge='concat', got merge={self.merge!r}"
            )
        for name in ("batch_size", "epochs", "patience", "n_views"):
            if not integer(getattr(self, name)) or getattr(self, name) < 1:
                refuse(name, "positive (an integer >= 1)")
        if not integer(self.seed) or self.seed < 0:
            refuse("seed", "an integer >= 0")
        if not integer(self.val_subjects) or self.val_subjects < 0:
            refuse("val_subjects", "an integer >= 0 (0: every validation subject)")
        if not number(self.width) or not 0.0 < self.width <= 1.0:
            refuse("width", "a number in (0, 1] (1.0: the paper's VGG-16)")
        if not number(self.lr) or self.lr <= 0:
            refuse("lr", "a finite number > 0 (Adam's learning rate; the paper's 1e-4)")
        if self.max_steps_per_epoch is not None and (
            not integer(self.max_steps_per_epoch) or self.max_steps_per_epoch < 1
        ):
            refuse("max_steps_per_epoch", "None (every scene once) or an integer >= 1")
        if not integer(self.checkpoint_every) or self.checkpoint_every < 0:
            refuse("checkpoint_every", "an integer >= 0 (0: at the end of every epoch)")
        if not isinstance(self.mirror, bool):
            refuse("mirror", "True or False")
        if self.encoder_weights is not None and not isinstance(
            self.encoder_weights, str
        ):
            refuse("encoder_weights", "None or a path as a str")
        if (
            not integer(self.pose_warmup_epochs)
            or self.pose_warmup_epochs < 0
            or (self.pose_warmup_epochs and self.network != "sv")
        ):
            raise ValueError(
                "pose_warmup_epochs must be >= 0, and only the single-view network "
                f"has one: got {self.pose_warmup_epochs!r} for {self.network!r}"
            )
        try:
            torch.device(self.device)
        except (RuntimeError, TypeError, ValueError):
            refuse("device", "a torch device such as 'cpu', 'cuda' or 'cuda:1'")
        uses_bf16(self.precision, self.device)  # checks the name
        if not number(self.ema_decay) or not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(
                f"ema_decay must be in [0, 1) (0: no averaging), got {self.ema_decay}"
            )
        try:
            self.objective
        except ValueError as err:
            raise ValueError(f"TrainConfig: {err}") from None
        if self.network == "mv_shape" and self.loss != "reprojection":
            raise ValueError(
                "MV Shape-Concat has no cameras and trains on the shape error only: "
                f"leave loss='reprojection', got {self.loss!r}"
            )

    @property
    def objective(self) -> Objective:
        """The loss as an :class:`~facelib.learn.losses.Objective`."""
        return Objective(self.loss, self.beta, self.gamma)

    def as_json(self) -> dict:
        """The configuration as it reads back from a checkpoint's JSON (tuples become
        lists)."""
        return json.loads(json.dumps(asdict(self)))


@dataclass
class TrainState:
    """Where a training run stands; checkpointed in ``last.json`` for resuming.

    Attributes:
        epoch: epochs finished.
        step: optimiser steps done in the current epoch.
        history: one entry per finished epoch: ``epoch`` (1-based), ``train_loss``
            (the last step's) and the fields of :class:`Metrics`.
        best_loss: the best validation loss so far (``inf`` before the first).
        bad_epochs: epochs since the validation loss last improved.
        train_seconds: seconds spent in optimiser steps (validation not counted).
        images: images trained on (every view counted).
        train_loss: the last step's loss (``nan`` before the first).
    """

    epoch: int = 0
    step: int = 0
    history: list[dict] = field(default_factory=list)
    best_loss: float = math.inf
    bad_epochs: int = 0
    train_seconds: float = 0.0
    images: int = 0
    train_loss: float = math.nan

    def as_json(self) -> dict:
        """The state as a JSON-ready dictionary."""
        return asdict(self)

    @classmethod
    def from_json(cls, state: dict) -> TrainState:
        """The state written by :meth:`as_json`; an entry that is unknown, missing or
        of the wrong type is a ValueError."""
        if not isinstance(state, dict):
            raise ValueError(
                f"a training state must be a dictionary, got {type(state).__name__}"
            )
        kinds = {
            "epoch": "count",
            "step": "count",
            "history": "list",
            "best_loss": "number",
            "bad_epochs": "count",
            "train_seconds": "number",
            "images": "count",
            "train_loss": "number",
        }
        unknown = sorted(set(state) - set(kinds))
        missing = sorted(set(kinds) - set(state))
        if unknown or missing:
            raise ValueError(
                f"a training state has the entries {sorted(kinds)}; got unknown "
                f"{unknown}, missing {missing}"
            )
        for name, kind in kinds.items():
            x = state[name]
            ok = {
                "count": isinstance(x, int) and not isinstance(x, bool) and x >= 0,
                "list": isinstance(x, list),
                "number": isinstance(x, (int, float)) and not isinstance(x, bool),
            }[kind]
            if not ok:
                want = {"count": "an integer >= 0", "list": "a list"}.get(kind, kind)
                raise ValueError(
                    f"the training state's {name} must be {want}, got {x!r}"
                )
        return cls(**state)


@dataclass
class TrainResult:
    """A finished run: the kept network (in evaluation mode), its folder, the history
    (:attr:`TrainState.history`), the final validation metrics and the training speed
    (images/s, every view counted)."""

    model: torch.nn.Module
    path: Path
    history: list[dict]
    metrics: Metrics
    images_per_second: float


def training_step(
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    network: str,
    morphable_model: MorphableModel,
    batch: Batch | tuple[torch.Tensor, ...],
    *,
    bf16: bool = False,
    where: str = "",
    loss_weight: float = 1.0,
    objective: Objective = Objective(),
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One optimiser step of ``network`` (one of :data:`NETWORKS`) on ``batch``
    (:class:`Batch`: images uint8 (B, N, 3, S, S), K (B, N, 3, 3) px, q (B, N, 4), t (B,
    N, 3) mm, shapes (B, P, 3) mm), all on the model's device; the network runs under
    bf16 autocast when ``bf16`` (the loss is computed in float32). ``where`` names the
    step in the FloatingPointError raised when the network's predictions or the loss
    are not finite (a diverging run: the error names the learning rate to lower).
    ``loss_weight``: the gradient is that of the loss times this weight (a rank's
    share of a distributed batch, :func:`facelib.learn.distributed.share`).
    ``objective``: the loss (:class:`Objective`; the paper's Eq. 2 by default);
    ``generator`` draws the virtual cameras of ``"virtual_views"``. Returns the loss
    (detached, unweighted; px², or mm² for ``"mv_shape"``)."""
    images, K, q, t, shapes = batch
    with torch.autocast(
        device_type=images.device.type, dtype=torch.bfloat16, enabled=bf16
    ):
        pred = model(*((images[:, 0], K[:, 0]) if network == "sv" else (images, K)))
    outputs = {"alpha": pred.alpha, "q": pred.q, "t": pred.t}
    outputs = {k: v for k, v in outputs.items() if v is not None}
    finite = torch.stack([torch.isfinite(v).all() for v in outputs.values()])
    if not finite.all():  # before the 3DMM and the cameras see them
        bad = [k for k, ok in zip(outputs, finite.tolist()) if not ok]
        raise FloatingPointError(
            _diverged(opt, where, f"the network's predictions of {bad} are not finite")
        )
    shape_pred = morphable_model.shape(pred.alpha)
    loss = network_loss(
        network,
        pred,
        shape_pred,
        K=K,
        q=q,
        t=t,
        shapes=shapes,
        objective=objective,
        morphable_model=morphable_model,
        generator=generator,
    )
    if not torch.isfinite(loss):
        raise FloatingPointError(_diverged(opt, where, f"the loss is {loss.item()}"))
    opt.zero_grad(set_to_none=True)
    (loss if loss_weight == 1.0 else loss * loss_weight).backward()
    opt.step()
    return loss.detach()


def _diverged(opt: torch.optim.Optimizer, where: str, what: str) -> str:
    """The message of a diverging run: ``what`` went wrong ``where``, and the
    learning rate to try instead."""
    lr = opt.param_groups[0]["lr"]
    return (
        f"the loss diverged{' at ' + where if where else ''} ({what}) with learning "
        f"rate lr={lr:g}: lower it, e.g. to lr={lr / 10:g} (TrainConfig.lr), and "
        "restart the run (overwrite=True)"
    )


def _translation_stats(data: Dataset) -> tuple[list[float], list[float], np.ndarray]:
    """The output scale of the translation head: mean and std (3,) of the training
    cameras' translations as the crops show them
    (:func:`~facelib.geometry.camera.translation_to_image`: u px, v px, log(f_x /
    t_z); stds floored at 0.5 px and 0.01), and the training intrinsics' mean (3, 3)
    px, the network's ``K_default``."""
    train = data.subjects("train")
    K = torch.from_numpy(np.asarray(data.K[train]).reshape(-1, 3, 3)).double()
    t = torch.from_numpy(np.asarray(data.t[train]).reshape(-1, 3)).double()
    image_t = translation_to_image(t, K).numpy()
    floor = np.array([0.5, 0.5, 0.01])
    return (
        image_t.mean(0).tolist(),
        np.maximum(image_t.std(0), floor).tolist(),
        K.mean(0).float().numpy(),
    )


def _initial_network(
    config: TrainConfig, data: Dataset, init: str | Path | None
) -> torch.nn.Module:
    """The network before training, initialised like the paper: single view from
    scratch, multi-view from a single-view checkpoint, shape-only from MV Concat."""
    torch.manual_seed(config.seed)
    if config.network == "sv":
        image_t_mean, image_t_std, K_default = _translation_stats(data)
        return SingleView(
            data.morphable_model.n_modes,
            data.image_size,
            width=config.width,
            weights_path=config.encoder_weights,
            image_t_mean=image_t_mean,
            image_t_std=image_t_std,
            K_default=torch.from_numpy(K_default),
        )
    want = "sv" if config.network in ("mv", "mv_any") else "mv"
    if init is None:
        raise ValueError(
            f"network={config.network!r} starts from a trained {want!r} checkpoint: "
            "pass init=<run folder>"
        )
    start, start_meta = load_model(
        init, morphable_model=data.morphable_model, image_size=data.image_size
    )
    found = start_meta["architecture"]["network"]
    if found != want:
        raise ValueError(
            f"{init} is a {found!r} model; {config.network!r} starts from a {want!r} "
            "one: pass the right run folder as init"
        )
    arch = start_meta["architecture"]
    differ = {
        name: arch[name]
        for name in ("width", *(("n_views",) if want == "mv" else ()))
        if arch[name] != getattr(config, name)
    }
    if differ:
        raise ValueError(
            f"{init} holds a network with "
            + ", ".join(f"{k}={v!r}" for k, v in differ.items())
            + ", but the configuration says "
            + ", ".join(f"{k}={getattr(config, k)!r}" for k in differ)
            + ": set them to the init's values in TrainConfig"
        )
    if config.network == "mv":
        return MultiView.from_single_view(start, config.n_views, config.merge)
    if config.network == "mv_any":
        return AnyView.from_single_view(start)
    return MultiView.shape_only_from(start)


def _finished(
    config: TrainConfig, data: Dataset, run_dir: Path, manifest_sha: str
) -> TrainResult:
    """The finished run in ``run_dir`` as a :class:`TrainResult`, if it matches
    ``config`` and the data set."""
    model, meta = load_model(
        run_dir,
        morphable_model=data.morphable_model,
        image_size=data.image_size,
        device=config.device,
    )
    if meta["config"] != config.as_json():
        raise ValueError(
            f"{run_dir} holds a model trained with another configuration "
            f"({meta['config']}); pass overwrite=True to retrain it with this one"
        )
    if meta["dataset_manifest_sha256"] != manifest_sha:
        raise ValueError(
            f"{run_dir} holds a model trained on another build of the data set; pass "
            "overwrite=True to retrain"
        )
    return TrainResult(
        model=model,
        path=run_dir,
        history=meta["history"],
        metrics=Metrics(**meta["metrics"]),
        images_per_second=meta["images_per_second"],
    )


#: what to do with an unfinished run that cannot be resumed
_RESTART = (
    "delete the run folder's last.* and best.* to restart it, or pass overwrite=True "
    "to train(...)"
)


def _check_finite_weights(
    modules: dict[str, torch.nn.Module | None], opt: torch.optim.Optimizer, where: str
) -> None:
    """Refuse to checkpoint weights that are not finite (a diverging run): raises
    FloatingPointError naming the step and the learning rate to lower."""
    for name, module in modules.items():
        if module is None:
            continue
        bad = [
            k
            for k, v in module.state_dict().items()
            if v.is_floating_point() and not torch.isfinite(v).all()
        ]
        if bad:
            raise FloatingPointError(
                _diverged(
                    opt,
                    where,
                    f"the {name} {bad[:3]}{' ...' if len(bad) > 3 else ''} are not "
                    "finite; the last good checkpoint is kept",
                )
            )


def _save_progress(
    run_dir: Path,
    config: TrainConfig,
    arch: dict,
    model: torch.nn.Module,
    average: WeightAverage | None,
    opt: torch.optim.Optimizer,
    state: TrainState,
    best_sha256: str | None,
) -> None:
    """Write ``last.safetensors`` (``model.*``, ``ema.*``, ``opt.*``) and
    ``last.json``, which records the sha256 of ``last.safetensors`` and
    ``best_sha256`` (that of ``best.safetensors``, ``None`` before the first)."""
    _check_finite_weights(
        {
            "weights": model,
            "averaged weights": None if average is None else average.model,
        },
        opt,
        f"epoch {state.epoch}, step {state.step}",
    )
    opt_tensors, opt_meta = optimizer_tensors(opt)
    ema = (
        {}
        if average is None
        else {f"ema.{k}": v for k, v in average.model.state_dict().items()}
    )
    # three steps, each atomic, so that a kill anywhere leaves a consistent pair: the
    # new weights under a new name, then last.json with their checksum, then the rename
    # (:func:`_finish_interrupted_save` completes or drops an interrupted save)
    pending = save_tensors(
        run_dir / _PENDING,
        {
            **{f"model.{k}": v for k, v in model.state_dict().items()},
            **ema,
            **opt_tensors,
        },
    )
    write_json(
        run_dir / "last.json",
        {
            "format_version": FORMAT_VERSION,
            "config": asdict(config),
            "architecture": arch,
            "optimizer": opt_meta,
            "state": state.as_json(),
            "sha256": {
                "last.safetensors": file_sha256(pending),
                "best.safetensors": best_sha256,
            },
        },
    )
    os.replace(pending, run_dir / "last.safetensors")


#: where :func:`_save_progress` writes the next resume weights before ``last.json``
#: records them
_PENDING = "last.next.safetensors"


def _finish_interrupted_save(run_dir: Path, recorded: str) -> None:
    """A save that a kill interrupted: weights in ``last.next.safetensors`` whose
    checksum ``last.json`` already records (``recorded``) are the latest and take
    their place; weights it does not record were never committed and are dropped
    (``last.json`` and ``last.safetensors`` are then the previous, consistent
    pair)."""
    pending = run_dir / _PENDING
    if not pending.is_file():
        return
    if file_sha256(pending) == recorded:
        os.replace(pending, run_dir / "last.safetensors")
    else:
        pending.unlink()


def _optimizer_steps(tensors: dict[str, torch.Tensor]) -> int:
    """The optimiser steps an Adam state (``opt.<i>.step``) has taken: the most of
    any parameter (parameters without gradients, e.g. a held head, take none)."""
    steps = [int(v.item()) for k, v in tensors.items() if k.endswith(".step")]
    return max(steps, default=0)


def _resume(
    run_dir: Path,
    config: TrainConfig,
    arch: dict,
    model: torch.nn.Module,
    average: WeightAverage | None,
    opt: torch.optim.Optimizer,
    steps_per_epoch: int,
) -> tuple[TrainState, str | None]:
    """Load what :func:`_save_progress` wrote into ``model``, ``average`` and ``opt``;
    returns the state to continue from and the recorded sha256 of
    ``best.safetensors``. Refuses (ValueError, naming the fix) a run of an older
    facelib or another configuration, a ``last.safetensors`` that does not match its
    checksum, and a state that disagrees with the optimiser's step count
    (``steps_per_epoch`` steps an epoch)."""
    meta = read_json(run_dir / "last.json", _RESTART)
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{run_dir} holds an unfinished run of an older facelib (checkpoint format "
            f"{meta.get('format_version')}); pass overwrite=True to restart it"
        )
    if meta.get("config") != config.as_json() or meta.get("architecture") != arch:
        raise ValueError(
            f"{run_dir} holds an unfinished run with another configuration; pass "
            "overwrite=True to restart"
        )
    sums = meta.get("sha256")
    if not isinstance(sums, dict) or not isinstance(sums.get("last.safetensors"), str):
        raise ValueError(
            f"{run_dir / 'last.json'} records no checksum of last.safetensors (written "
            f"by an older facelib, or edited): {_RESTART}"
        )
    _finish_interrupted_save(run_dir, sums["last.safetensors"])
    last = run_dir / "last.safetensors"
    if not last.is_file():
        raise FileNotFoundError(f"{last} is missing: {_RESTART}")
    if file_sha256(last) != sums["last.safetensors"]:
        raise ValueError(
            f"{last} does not match its checksum in last.json (damaged, or its write "
            f"was interrupted): {_RESTART}"
        )
    try:
        state = TrainState.from_json(meta.get("state"))
    except ValueError as err:
        raise ValueError(f"{run_dir / 'last.json'}: {err}: {_RESTART}") from None
    if state.epoch > config.epochs or state.step > steps_per_epoch:
        raise ValueError(
            f"{run_dir / 'last.json'} says epoch {state.epoch}, step {state.step}, "
            f"beyond this run's {config.epochs} epochs of {steps_per_epoch} steps: "
            f"{_RESTART}"
        )
    tensors = load_tensors(last)
    done = state.epoch * steps_per_epoch + state.step
    taken = _optimizer_steps(tensors)
    if taken != done:
        raise ValueError(
            f"{run_dir / 'last.json'} says {done} steps were taken (epoch "
            f"{state.epoch}, step {state.step}, {steps_per_epoch} steps an epoch), but "
            f"the optimiser state in last.safetensors has taken {taken}: the state was "
            f"edited, or belongs to another run; {_RESTART}"
        )
    model.load_state_dict(
        {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    )
    if average is not None:
        average.model.load_state_dict(
            {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
        )
    load_optimizer(opt, tensors, meta["optimizer"])
    best = sums.get("best.safetensors")
    return state, best if isinstance(best, str) else None


def validation_subjects(data: Dataset, config: TrainConfig) -> np.ndarray:
    """The subject ids (n,) a run validates on: the validation split, or its first
    ``config.val_subjects`` subjects if that is > 0."""
    subjects = data.subjects("val")
    return subjects[: config.val_subjects or len(subjects)]


def _validate(
    model: torch.nn.Module, data: Dataset, config: TrainConfig, device: torch.device
) -> Metrics:
    """Validation metrics of ``model`` on :func:`validation_subjects` (``config``'s
    N), on ``device``, the network at the training's precision (bf16 autocast where it
    trains under it: twice as fast on a CPU with bf16 units)."""
    return validate(
        model,
        data,
        validation_subjects(data, config),
        network=config.network,
        n_views=config.n_views,
        device=str(device),
        bf16=uses_bf16(config.precision, device),
        objective=config.objective,
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
    """Train (or resume) one network; see the module doc.

    Under ``torchrun`` (several ranks, :mod:`facelib.learn.distributed`; the process
    group is joined here if it is not yet) every rank calls this with the same
    arguments: each draws the global batch of ``batch_size`` scenes (a multiple of
    the number of ranks) and reads its contiguous share, DistributedDataParallel
    averages the gradients, and rank 0 alone reads and writes ``run_dir`` and
    validates; every rank returns the same result. The data set, and ``init``, must be
    readable on every machine.

    Args:
        config: what to train.
        data: the data set (training and validation subjects).
        run_dir: the run's folder.
        init: the checkpoint to start from: a trained single-view run for ``"mv"``, a
            trained MV Concat run for ``"mv_shape"``.
        overwrite: retrain a finished run, restart an unfinished one.
        reuse_finished: load and return a finished run instead, provided it was
            trained with this configuration on this data set (otherwise an error).
        progress: show a progress bar (rank 0's).
        callback: ``callback(step)`` runs after every optimiser step (and its
            checkpoint, if one is due), with the steps done since the start.
    """
    from tqdm import tqdm

    run_dir = Path(run_dir)
    distributed.init_from_env(config.device)
    ranks = distributed.world_size()
    if config.batch_size % ranks:
        raise ValueError(
            f"batch_size={config.batch_size} scenes a step cannot be shared equally "
            f"by {ranks} ranks: make batch_size a multiple of the number of ranks "
            f"(e.g. {ranks * math.ceil(config.batch_size / ranks)}), or start "
            "torchrun with a number of ranks that divides it"
        )
    device = distributed.rank_device(config.device)
    manifest_sha = file_sha256(data.path / "manifest.json")
    finished = distributed.on_rank0(lambda: (run_dir / "model.json").exists())
    if finished and not overwrite:
        if not reuse_finished:
            raise FileExistsError(
                f"{run_dir} holds a finished model; load it with load_model, or pass "
                "overwrite=True to retrain"
            )
        return _finished_on_every_rank(config, data, run_dir, manifest_sha, device)
    morphable_model = data.morphable_model

    # channels_last: faster convolutions on CUDA and on CPU
    model = _initial_network(config, data, init)
    model = model.to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    average = WeightAverage(model, config.ema_decay) if config.ema_decay else None
    # the weights that are validated, kept and returned
    kept = model if average is None else average.model
    arch = architecture(model)

    sampler = SceneSampler(
        data,
        data.subjects("train"),
        None if config.network == "sv" else config.n_views,
        any_views=config.network == "mv_any",
    )
    steps_per_epoch = math.ceil(len(sampler) / config.batch_size)
    if config.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, config.max_steps_per_epoch)
    best_weights = run_dir / "best.safetensors"
    state, best_sha256 = TrainState(), None
    resuming = distributed.on_rank0(lambda: (run_dir / "last.json").exists())
    if resuming and not overwrite:
        state, best_sha256 = distributed.on_rank0(
            lambda: _resume(run_dir, config, arch, model, average, opt, steps_per_epoch)
        )
        _share_resumed(model, average, opt)

    use_bf16 = uses_bf16(config.precision, device)
    merge = f"-{config.merge}" if config.network in ("mv", "mv_shape") else ""
    bar = tqdm(
        total=config.epochs * steps_per_epoch,
        initial=state.epoch * steps_per_epoch + state.step,
        disable=not progress or distributed.rank() != 0,
        mininterval=5.0,
        desc=f"{config.network}{merge}",
    )
    # what the optimiser steps run: the network, or its DistributedDataParallel
    # wrapper (rebuilt when the trainable parameters change: the pose warm-up)
    stepper, trainable = model, None
    while state.epoch < config.epochs and state.bad_epochs < config.patience:
        epoch = state.epoch
        order = torch.randperm(
            len(sampler), generator=seeded_generator(config.seed, epoch)
        ).numpy()
        model.train()
        if config.pose_warmup_epochs:
            # α's MLP starts learning after the warm-up (its output layer starts at 0)
            model.alpha_head.requires_grad_(epoch >= config.pose_warmup_epochs)
        if ranks > 1:
            now = tuple(p.requires_grad for p in model.parameters())
            if now != trainable:
                stepper = None  # the old wrapper's gradient hooks go first
                stepper = DistributedDataParallel(
                    model, device_ids=[device] if device.type == "cuda" else None
                )
                trainable = now
        tick = time.perf_counter()
        while state.step < steps_per_epoch:
            step = state.step
            ids = order[step * config.batch_size : (step + 1) * config.batch_size]
            g = seeded_generator(config.seed, epoch, step + 1)
            part, weight = distributed.share(len(ids)) if ranks > 1 else (None, 1.0)
            batch = sampler.training_batch(
                ids, g, mirror=config.mirror, device=device, part=part
            )
            loss = training_step(
                stepper,
                opt,
                config.network,
                morphable_model,
                batch,
                bf16=use_bf16,
                where=f"epoch {epoch}, step {step}",
                loss_weight=weight,
                objective=config.objective,
                generator=g,
            )
            if ranks > 1:  # the global batch's loss
                loss = distributed.mean_over_ranks(loss * weight)
            if average is not None:
                average.update(model)
            state.step = step + 1
            state.images += len(ids) * batch.images.shape[1]  # scenes x views
            state.train_loss = float(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3g}")
            state.train_seconds += time.perf_counter() - tick
            tick = time.perf_counter()
            if config.checkpoint_every and state.step % config.checkpoint_every == 0:
                distributed.on_rank0(
                    lambda: _save_progress(
                        run_dir, config, arch, model, average, opt, state, best_sha256
                    )
                )
            if callback is not None:
                callback(epoch * steps_per_epoch + state.step)
        metrics = distributed.on_rank0(lambda: _validate(kept, data, config, device))
        state.history.append(
            {"epoch": epoch + 1, "train_loss": state.train_loss, **asdict(metrics)}
        )
        if metrics.loss < state.best_loss:
            where = f"epoch {epoch}, step {state.step}"
            best_sha256 = distributed.on_rank0(
                lambda: _keep_best(kept, opt, best_weights, where)
            )
            state.best_loss, state.bad_epochs = metrics.loss, 0
        else:
            state.bad_epochs += 1
        state.epoch, state.step = epoch + 1, 0
        distributed.on_rank0(
            lambda: _save_progress(
                run_dir, config, arch, model, average, opt, state, best_sha256
            )
        )
    bar.close()

    def finish() -> tuple[Metrics, float]:
        """Rank 0: the best (averaged) weights into ``model``, if they are the ones
        saved; validated and written as the finished run."""
        if best_sha256 is None or not best_weights.is_file():
            raise FileNotFoundError(
                f"{run_dir} has no best weights (best.safetensors) to finish with: no "
                "epoch gave a finite validation loss, or the file was removed; "
                f"{_RESTART}"
            )
        if file_sha256(best_weights) != best_sha256:
            raise ValueError(
                f"{best_weights} does not match its checksum in last.json (damaged): "
                f"{_RESTART}"
            )
        model.load_state_dict(load_tensors(best_weights))
        # these weights were validated when they were kept: their epoch's metrics
        metrics = _best_epoch_metrics(state)
        rate = state.images / max(state.train_seconds, 1e-9)
        save_model(
            run_dir,
            model,
            {
                "config": asdict(config),
                "metrics": asdict(metrics),
                "history": state.history,
                "images_per_second": rate,
                "morphable_model_sha256": morphable_model.fingerprint(),
                "dataset_manifest_sha256": manifest_sha,
                "dataset": str(data.path),
                "init": str(init) if init else None,
                "device": str(device),
                "torch": torch.__version__,
            },
        )
        for name in ("last.json", "last.safetensors", _PENDING, "best.safetensors"):
            (run_dir / name).unlink(missing_ok=True)
        return metrics, rate

    metrics, rate = distributed.on_rank0(finish)
    distributed.broadcast_module(model)  # rank 0's best weights
    return TrainResult(
        model=model.eval(),
        path=run_dir,
        history=state.history,
        metrics=metrics,
        images_per_second=rate,
    )


def _best_epoch_metrics(state: TrainState) -> Metrics:
    """The validation metrics of the epoch whose weights were kept as the best (the
    first epoch that reached ``state.best_loss``)."""
    for entry in state.history:
        if entry["loss"] == state.best_loss:
            return Metrics(**{k: entry[k] for k in Metrics.__dataclass_fields__})
    raise ValueError(
        f"no epoch of the history reached the best validation loss {state.best_loss}: "
        f"the training state was edited; {_RESTART}"
    )


def _keep_best(
    kept: torch.nn.Module, opt: torch.optim.Optimizer, path: Path, where: str
) -> str:
    """Write the kept weights to ``path`` (the best so far) after checking that they
    are finite; returns the file's sha256."""
    _check_finite_weights({"kept weights": kept}, opt, where)
    return file_sha256(save_tensors(path, kept.state_dict()))


def _share_resumed(
    model: torch.nn.Module, average: WeightAverage | None, opt: torch.optim.Optimizer
) -> None:
    """Rank 0's resumed weights, averaged weights and optimiser state on every rank
    (only rank 0 reads the run folder); nothing without a process group."""
    if not distributed.is_distributed():
        return
    distributed.broadcast_module(model)
    if average is not None:
        distributed.broadcast_module(average.model)
    tensors, meta = optimizer_tensors(opt) if distributed.rank() == 0 else ({}, {})
    meta = distributed.on_rank0(lambda: meta)
    tensors = distributed.broadcast_tensors(tensors)
    if distributed.rank() != 0:
        load_optimizer(opt, tensors, meta)


def _finished_on_every_rank(
    config: TrainConfig,
    data: Dataset,
    run_dir: Path,
    manifest_sha: str,
    device: torch.device,
) -> TrainResult:
    """:func:`_finished` on rank 0 (which reads the run folder); the other ranks build
    the same network and take rank 0's weights."""
    if not distributed.is_distributed():
        return _finished(config, data, run_dir, manifest_sha)
    held: dict[str, TrainResult] = {}

    def load() -> tuple[dict, list[dict], dict, float]:
        result = held["result"] = _finished(config, data, run_dir, manifest_sha)
        return (
            architecture(result.model),
            result.history,
            asdict(result.metrics),
            result.images_per_second,
        )

    arch, history, metrics, rate = distributed.on_rank0(load)
    model = held["result"].model if "result" in held else build_network(arch)
    model = model.to(device).to(memory_format=torch.channels_last)
    distributed.broadcast_module(model)
    return TrainResult(
        model=model.eval(),
        path=run_dir,
        history=history,
        metrics=Metrics(**metrics),
        images_per_second=rate,
    )
