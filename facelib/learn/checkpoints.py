"""Checkpoints on disk: a network's architecture, its weights, optimiser state.

A finished model is two files in its run folder: ``model.safetensors`` (the weights)
and ``model.json`` (:data:`FORMAT_VERSION`, the architecture, the sha256 of the weights
and whatever the trainer adds: configuration, history, validation metrics, the sha256
of the 3DMM and of the data set's manifest). Tensors are stored as safetensors and
everything else as JSON: nothing is loaded with pickle. Every file is written
atomically (:func:`facelib.storage.atomic_write`).

The architecture is a small JSON dictionary (:func:`architecture`) from which
:func:`build_network` rebuilds the network before its weights are loaded; it is checked
(:func:`check_architecture`) before anything is built. :func:`load_model` refuses a
``model.json`` whose architecture, training configuration and weights disagree (an
edited or damaged file) instead of loading something other than what was trained.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from facelib.geometry.morphable_model import MorphableModel
from facelib.learn.nets import (
    MERGES,
    NETWORKS,
    AnyView,
    MultiView,
    SingleView,
    network_name,
)
from facelib.storage import atomic_write, file_sha256, read_json, write_json

__all__ = [
    "FORMAT_VERSION",
    "architecture",
    "check_architecture",
    "build_network",
    "save_tensors",
    "load_tensors",
    "read_json",
    "optimizer_tensors",
    "load_optimizer",
    "save_model",
    "load_model",
]

#: 2: the architecture names the network ("network") and its views ("n_views"), which
#: version 1 called "kind" and "views"; 3: the translation head regresses the head's
#: place in the crop ("image_t_mean", "image_t_std", "K_default"), not t in mm
FORMAT_VERSION = 3

_RETRAIN = "train the model first (notebooks 02_single_view / 03_multi_view)"


def architecture(model: torch.nn.Module) -> dict:
    """What :func:`build_network` needs to rebuild ``model`` (a :class:`SingleView` or
    :class:`MultiView`), JSON-ready: ``network`` (one of :data:`NETWORKS`),
    ``n_modes``, ``image_size`` (px), ``width``, ``pool``, ``image_t_mean`` and
    ``image_t_std`` ((3,): u px, v px, log(f_x / t_z)), ``K_default`` (3, 3) px, and
    for the multi-view networks ``n_views`` and ``merge``."""
    branch = model.branch if isinstance(model, (MultiView, AnyView)) else model
    arch = {
        "n_modes": branch.n_modes,
        "image_size": branch.image_size,
        "width": branch.width,
        "pool": branch.pool,
        "image_t_mean": branch.image_t_mean.tolist(),
        "image_t_std": branch.image_t_std.tolist(),
        "K_default": branch.K_default.tolist(),
        "network": network_name(model),
    }
    if isinstance(model, MultiView):
        arch.update(n_views=model.n_views, merge=model.merge_name)
    return arch


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _finite_numbers(x, n: int) -> bool:
    return (
        isinstance(x, list)
        and len(x) == n
        and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in x
        )
    )


def check_architecture(arch: dict, where: str = "an architecture") -> None:
    """Refuse (ValueError, naming ``where``, the entry and its value) an architecture
    that :func:`build_network` cannot rebuild: not a dictionary, an unknown
    ``network``, an entry of :func:`architecture` missing or out of its range."""
    if not isinstance(arch, dict):
        raise ValueError(
            f"{where}: the architecture must be a dictionary, got {type(arch).__name__}"
        )
    if arch.get("network") not in NETWORKS:
        raise ValueError(
            f"unknown network {arch.get('network')!r} in {where}; expected one "
            f"of {NETWORKS}"
        )
    multi = arch["network"] in ("mv", "mv_shape")  # a fixed number of views, a merge
    rules = {
        "n_modes": ("an integer >= 1", lambda x: _is_int(x) and x >= 1),
        "image_size": ("an integer >= 32 (px)", lambda x: _is_int(x) and x >= 32),
        "width": (
            "a number in (0, 1]",
            lambda x: (
                isinstance(x, (int, float)) and not isinstance(x, bool) and 0 < x <= 1
            ),
        ),
        "pool": ("true or false", lambda x: isinstance(x, bool)),
        "image_t_mean": ("3 finite numbers", lambda x: _finite_numbers(x, 3)),
        "image_t_std": (
            "3 finite numbers > 0",
            lambda x: _finite_numbers(x, 3) and min(x) > 0,
        ),
        "K_default": (
            "a 3 x 3 list of finite numbers",
            lambda x: (
                isinstance(x, list)
                and len(x) == 3
                and all(_finite_numbers(row, 3) for row in x)
            ),
        ),
    }
    if multi:
        rules["n_views"] = ("an integer >= 1", lambda x: _is_int(x) and x >= 1)
        rules["merge"] = (f"one of {sorted(MERGES)}", lambda x: x in MERGES)
    missing = [name for name in rules if name not in arch]
    if missing:
        raise ValueError(f"{where}: the architecture has no {missing}")
    for name, (allowed, ok) in rules.items():
        if not ok(arch[name]):
            raise ValueError(
                f"{where}: the architecture's {name} must be {allowed}, got "
                f"{arch[name]!r}"
            )


def build_network(arch: dict) -> torch.nn.Module:
    """A freshly initialised network of the architecture ``arch`` (see
    :func:`architecture`; checked by :func:`check_architecture`)."""
    check_architecture(arch)
    branch = SingleView(
        arch["n_modes"],
        arch["image_size"],
        width=arch["width"],
        image_t_mean=arch["image_t_mean"],
        image_t_std=arch["image_t_std"],
        K_default=torch.tensor(arch["K_default"]),
        pool=arch["pool"],
    )
    if arch["network"] == "sv":
        return branch
    if arch["network"] == "mv_any":
        return AnyView(branch)
    return MultiView(
        branch,
        arch["n_views"],
        arch["merge"],
        shape_only=arch["network"] == "mv_shape",
    )


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor]) -> Path:
    """Write named tensors to a ``.safetensors`` file (moved to the CPU), atomically;
    returns the path."""
    cpu = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    return atomic_write(path, lambda tmp: save_file(cpu, tmp))


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """The named tensors of a ``.safetensors`` file, on the CPU."""
    return load_file(str(path))


def optimizer_tensors(
    opt: torch.optim.Optimizer,
) -> tuple[dict[str, torch.Tensor], dict]:
    """An optimiser's state as named tensors (``opt.<parameter>.<name>``) and a JSON
    dictionary (the parameter groups and the names of each parameter's state);
    :func:`load_optimizer` restores it."""
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


def load_optimizer(
    opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict
) -> None:
    """Restore the state saved by :func:`optimizer_tensors` into ``opt``."""
    state = {
        int(i): {k: tensors[f"opt.{i}.{k}"] for k in keys}
        for i, keys in meta["state_keys"].items()
    }
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_model(folder: str | Path, model: torch.nn.Module, info: dict) -> Path:
    """Write a finished model to ``folder/model.safetensors`` + ``folder/model.json``
    (the format version, the architecture, the weights' sha256, then ``info``); returns
    the JSON's path."""
    folder = Path(folder)
    weights = save_tensors(folder / "model.safetensors", model.state_dict())
    meta = {
        "format_version": FORMAT_VERSION,
        "architecture": architecture(model),
        **info,
        "weights_sha256": file_sha256(weights),
    }
    return write_json(folder / "model.json", meta)


def load_model(
    path: str | Path,
    *,
    morphable_model: MorphableModel | None = None,
    image_size: int | None = None,
    device: str = "cpu",
) -> tuple[torch.nn.Module, dict]:
    """A finished model and its JSON metadata from ``<run>/model.json`` +
    ``model.safetensors`` (``path`` is the run folder or the JSON file), in evaluation
    mode and channels_last layout on ``device``.

    Refuses a checkpoint of another format version, one made for another 3DMM or
    another image size (px) when they are given, weights that do not match their
    checksum, and a ``model.json`` whose architecture is malformed or disagrees with
    the weights or with the training configuration it records (``config``: network,
    width, views, merge).
    """
    path = Path(path)
    meta_path = path / "model.json" if path.is_dir() else path
    weights_path = meta_path.with_suffix(".safetensors")
    for p in (meta_path, weights_path):
        if not p.is_file():
            raise FileNotFoundError(f"no checkpoint file {p}: {_RETRAIN}")
    damaged = (
        f"{meta_path.name} was edited or damaged: restore it, or retrain with "
        "train(..., overwrite=True)"
    )
    meta = read_json(meta_path, damaged)
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{meta_path} has checkpoint format {version}, this facelib reads "
            f"{FORMAT_VERSION} (version 2 renamed the architecture's 'kind' and "
            "'views' to 'network' and 'n_views'; version 3 reads the translation "
            "in the crop): retrain it with "
            "train(..., overwrite=True)"
        )
    if not isinstance(meta.get("weights_sha256"), str):
        raise ValueError(f"{meta_path} has no 'weights_sha256': {damaged}")
    arch = meta.get("architecture")
    try:
        check_architecture(arch, str(meta_path))
    except ValueError as err:
        raise ValueError(f"{err}: {damaged}") from None
    _check_config(meta, meta_path, damaged)
    if (
        morphable_model is not None
        and meta.get("morphable_model_sha256") != morphable_model.fingerprint()
    ):
        raise ValueError(
            f"{meta_path} was trained for another 3DMM (sha256 "
            f"{str(meta.get('morphable_model_sha256'))[:12]}..., this one is "
            f"{morphable_model.fingerprint()[:12]}...): retrain it on this data set"
        )
    if image_size is not None and arch["image_size"] != image_size:
        raise ValueError(
            f"{meta_path} expects {arch['image_size']} px images, not "
            f"{image_size} px: resize the photographs or retrain at this size"
        )
    if file_sha256(weights_path) != meta["weights_sha256"]:
        raise ValueError(
            f"{weights_path} does not match the checksum in {meta_path.name}: the file "
            "is corrupt; retrain"
        )
    model = build_network(arch)
    try:
        model.load_state_dict(load_tensors(weights_path))
    except RuntimeError as err:
        raise ValueError(
            f"{weights_path} does not fit the architecture in {meta_path.name} "
            f"({str(err).splitlines()[0]} ...): {damaged}"
        ) from None
    held = architecture(model)  # the buffers (image_t_mean, ...) come from the weights
    if held != arch:
        diff = sorted(k for k in set(held) | set(arch) if held.get(k) != arch.get(k))
        raise ValueError(
            f"{meta_path}'s architecture disagrees with its weights in {diff}: "
            f"{damaged}"
        )
    return model.to(device).to(memory_format=torch.channels_last).eval(), meta


#: the entries of a training configuration that an architecture also records
_CONFIG_IN_ARCHITECTURE = {
    "sv": ("network", "width"),
    "mv": ("network", "width", "n_views", "merge"),
    "mv_shape": ("network", "width", "n_views", "merge"),
    "mv_any": ("network", "width"),
}


def _check_config(meta: dict, meta_path: Path, fix: str) -> None:
    """Refuse a ``config`` (the trainer's configuration) in ``meta`` that disagrees
    with ``meta["architecture"]`` on the network, its width, views or merge."""
    if "config" not in meta:
        return
    config, arch = meta["config"], meta["architecture"]
    if not isinstance(config, dict):
        raise ValueError(
            f"{meta_path}: 'config' must be a dictionary, got "
            f"{type(config).__name__}: {fix}"
        )
    differ = {
        name: (config.get(name), arch[name])
        for name in _CONFIG_IN_ARCHITECTURE[arch["network"]]
        if config.get(name) != arch[name]
    }
    if differ:
        raise ValueError(
            f"{meta_path}: the training configuration disagrees with the architecture "
            "(config, architecture): "
            + ", ".join(f"{k}: {a!r} vs {b!r}" for k, (a, b) in differ.items())
            + f": {fix}"
        )
