"""Training across processes and machines: the ranks of a ``torchrun`` launch.

``python -m torch.distributed.run --nproc-per-node R -m facelib.learn.train ...``
starts R processes (ranks) per machine; each finds its place in the environment
that ``torchrun`` sets (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
``MASTER_PORT``), and :func:`init_from_env` joins them into one process group:
``gloo`` when the network trains on the CPU, ``nccl`` on CUDA, where rank r of a
machine takes the GPU ``cuda:<LOCAL_RANK>``.

:func:`facelib.learn.training.train` uses these helpers: every rank draws the same
global batch from the same seeded generators and loads only its contiguous share
(:func:`share`), DistributedDataParallel averages the gradients, and rank 0 alone
reads and writes the run folder (:func:`on_rank0` hands its result, or its error, to
every rank; :func:`broadcast_module` and :func:`broadcast_tensors` its weights and
optimiser state). Without a process group (or with one rank) every helper is a no-op
and training is the single-process run, bit for bit.

Objects that travel between ranks (:func:`on_rank0`) are pickled by
``torch.distributed`` between the processes of one launch; nothing read from disk is
unpickled.
"""

from __future__ import annotations

import datetime
import os
from typing import Callable, TypeVar

import torch
import torch.distributed as dist

__all__ = [
    "BACKENDS",
    "broadcast_module",
    "broadcast_tensors",
    "init_from_env",
    "is_distributed",
    "launched",
    "mean_over_ranks",
    "on_rank0",
    "rank",
    "rank_device",
    "share",
    "world_size",
]

T = TypeVar("T")

#: the process group's backend by device type
BACKENDS = {"cpu": "gloo", "cuda": "nccl"}

#: how long a rank waits for the others at a collective (rank 0 validates while the
#: others wait)
TIMEOUT = datetime.timedelta(minutes=60)


def launched() -> bool:
    """Whether this process is one of several ranks started by ``torchrun`` (its
    environment says ``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_distributed() -> bool:
    """Whether a process group of more than one rank is initialised."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank, 0 without a process group."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """The number of ranks, 1 without a process group."""
    return dist.get_world_size() if is_distributed() else 1


def rank_device(device: str | torch.device) -> torch.device:
    """Where this rank trains: ``device``, except that under a launch of several ranks
    ``"cuda"`` means this rank's GPU, ``cuda:<LOCAL_RANK>``. A GPU named by index
    (``"cuda:1"``) is refused there: every rank would use the same one."""
    device = torch.device(device)
    if not launched() or device.type != "cuda":
        return device
    if device.index is not None:
        raise ValueError(
            f"device={str(device)!r} names one GPU, but torchrun started "
            f"{os.environ['WORLD_SIZE']} ranks: set device='cuda' (rank r of a "
            "machine then takes cuda:<LOCAL_RANK>)"
        )
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


def init_from_env(device: str | torch.device) -> bool:
    """Join the process group that ``torchrun``'s environment describes, with the
    backend for ``device`` (:data:`BACKENDS`); on CUDA this rank's GPU becomes the
    current one. Does nothing outside a launch of several ranks or when the group
    exists. Returns whether a process group is initialised now."""
    if is_distributed() or not launched():
        return is_distributed()
    missing = [
        k
        for k in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
        if k not in os.environ
    ]
    if missing:
        raise RuntimeError(
            f"WORLD_SIZE={os.environ['WORLD_SIZE']} but {missing} are not set: start "
            "the ranks with `python -m torch.distributed.run` (torchrun)"
        )
    device = rank_device(device)
    if device.type not in BACKENDS:
        raise ValueError(
            f"distributed training runs on {sorted(BACKENDS)}, not on {device.type!r}"
        )
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(
        BACKENDS[device.type],
        timeout=TIMEOUT,
        **({"device_id": device} if device.type == "cuda" else {}),
    )
    return True


def share(n: int) -> tuple[slice, float]:
    """This rank's contiguous share of a global batch of ``n`` scenes, and the weight
    of its loss: its mean loss times the weight, averaged over the ranks (as
    DistributedDataParallel averages gradients), is the mean over the global batch.
    Equal shares weigh 1.0. A rank left without a scene (a last batch smaller than
    the world) takes the first scene with weight 0, so that it still steps."""
    r, w = rank(), world_size()
    base, extra = divmod(n, w)
    size = base + (r < extra)
    if size == 0:
        return slice(0, 1), 0.0
    start = r * base + min(r, extra)
    return slice(start, start + size), size * w / n


def on_rank0(fn: Callable[[], T]) -> T:
    """``fn()`` on rank 0 (its files, its checks), its result handed to every rank;
    an exception raised on rank 0 is raised on every rank, so that all stop with the
    same message. Without a process group: ``fn()``."""
    if not is_distributed():
        return fn()
    box: list = [None]
    if rank() == 0:
        try:
            box[0] = (True, fn())
        except Exception as err:  # handed to the other ranks, raised below
            box[0] = (False, err)
    dist.broadcast_object_list(box, src=0)
    ok, value = box[0]
    if not ok:
        raise value
    return value


def _comm_device() -> torch.device:
    """Where tensors travel: the current GPU under NCCL, the CPU under gloo."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


@torch.no_grad()
def broadcast_module(module: torch.nn.Module) -> None:
    """Rank 0's weights and buffers into ``module`` on every rank (in place; the
    ranks' modules have the same architecture)."""
    if not is_distributed():
        return
    comm = _comm_device()
    for v in module.state_dict().values():
        if v.device == comm:
            dist.broadcast(v, src=0)
        else:
            moved = v.to(comm)
            dist.broadcast(moved, src=0)
            v.copy_(moved)


def broadcast_tensors(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rank 0's named tensors on every rank (on the CPU; what the other ranks pass is
    ignored)."""
    if not is_distributed():
        return tensors
    specs = on_rank0(lambda: {k: (tuple(v.shape), v.dtype) for k, v in tensors.items()})
    comm = _comm_device()
    out = {}
    for k, (shape, dtype) in specs.items():
        v = (
            tensors[k].to(comm)
            if rank() == 0
            else torch.empty(shape, dtype=dtype, device=comm)
        )
        dist.broadcast(v, src=0)
        out[k] = v.cpu()
    return out


def mean_over_ranks(x: torch.Tensor) -> torch.Tensor:
    """The mean of ``x`` over the ranks (a new tensor; ``x`` itself without a process
    group)."""
    if not is_distributed():
        return x
    total = x.detach().clone()
    dist.all_reduce(total)
    return total / world_size()
