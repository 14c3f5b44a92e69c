"""Training throughput of the paper's networks, measured on synthetic batches.

The figure of section 4.2's cost: optimiser steps per second of
:func:`facelib.learn.training.training_step` (the step that
:func:`facelib.learn.training.train` runs: forward, Eq. 2 or the shape loss, backward,
Adam) on random images of the requested size, so that it needs no data set and runs on
any machine. The cameras are
drawn with :func:`facelib.geometry.camera.orbit_pose` over the ranges of the data set's
(yaw within ±90°, pitch and roll of a few degrees, 420..720 mm away, a 30° field of
view), the shapes from the given 3DMM.

The step runs like training does: channels_last, and bf16 autocast as ``precision``
says (:func:`facelib.learn.precision.uses_bf16`). Timing: ``warmup`` steps first
(kernel selection, allocator), then the median of ``steps`` timed steps, each closed by
a device synchronisation. Images/s counts every view (a multi-view step of batch B with
N views is B N images).

The command-line script ``python -m benchmarks.training_throughput`` runs it with a
random 3DMM on the face template.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from facelib.geometry.camera import intrinsics_from_fov, orbit_pose
from facelib.geometry.morphable_model import MorphableModel
from facelib.learn.batches import Batch
from facelib.learn.nets import MultiView, SingleView
from facelib.learn.precision import uses_bf16
from facelib.learn.training import training_step

__all__ = ["Throughput", "MODELS", "synthetic_batch", "training_throughput"]

#: the four trained models of the book: (name, network, merge)
MODELS = (
    ("SV", "sv", None),
    ("MV Add", "mv", "add"),
    ("MV Concat", "mv", "concat"),
    ("MV Shape-Concat", "mv_shape", "concat"),
)


@dataclass
class Throughput:
    """One measurement.

    Attributes:
        model: the name in :data:`MODELS`.
        image_size: S, px.
        width: the VGG-16 channel multiplier.
        n_views: N, the photographs of each scene (1 for the single-view network).
        batch_size: B, scenes per step.
        device: where it ran.
        bf16: whether the network ran under bf16 autocast.
        images_per_second: B N images per median step.
        step_ms: the median step, ms.
        peak_memory_gib: peak device memory, GiB (CUDA only, else ``nan``).
        parameters: the network's parameter count.
        compiled: whether the network ran through ``torch.compile``.
        flops_per_image: floating-point operations of one training step (forward and
            backward, as counted by ``torch.utils.flop_counter`` on the uncompiled
            network) divided by its B N images; ``nan`` when compiled.
    """

    model: str
    image_size: int
    width: float
    n_views: int
    batch_size: int
    device: str
    bf16: bool
    images_per_second: float
    step_ms: float
    peak_memory_gib: float
    parameters: int
    compiled: bool = False
    flops_per_image: float = float("nan")

    def achieved_tflops(self) -> float:
        """The step's arithmetic rate, TFLOP/s: images/s x FLOPs per image."""
        return self.images_per_second * self.flops_per_image / 1e12

    def mfu(self, peak_tflops: float) -> float:
        """Model FLOPs utilisation: :meth:`achieved_tflops` over ``peak_tflops``."""
        if not peak_tflops > 0:
            raise ValueError(f"peak_tflops must be > 0, got {peak_tflops}")
        return self.achieved_tflops() / peak_tflops


def _network(
    network: str,
    merge: str | None,
    n_modes: int,
    image_size: int,
    width: float,
    n_views: int,
) -> torch.nn.Module:
    single = SingleView(n_modes, image_size, width=width)
    if network == "sv":
        return single
    concat = MultiView.from_single_view(single, n_views, merge or "concat")
    return concat if network == "mv" else MultiView.shape_only_from(concat)


def synthetic_batch(
    morphable_model: MorphableModel,
    batch_size: int,
    n_views: int,
    image_size: int,
    generator: torch.Generator,
) -> Batch:
    """A random :class:`Batch` on the CPU: uint8 noise images (B, N, 3, S, S), cameras
    (B, N, ...) looking at the head (yaw uniform in ±90°, pitch N(0, 10°) within ±25°,
    roll N(0, 5°) within ±15°, distance uniform in 420..720 mm, 30° field of view) and
    shapes (B, P, 3) mm of standard-normal 3DMM coefficients."""
    g, shape = generator, (batch_size, n_views)
    yaw = (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1) * 90.0
    pitch = (torch.randn(shape, generator=g, dtype=torch.float64) * 10.0).clamp(-25, 25)
    roll = (torch.randn(shape, generator=g, dtype=torch.float64) * 5.0).clamp(-15, 15)
    distance = 420.0 + 300.0 * torch.rand(shape, generator=g, dtype=torch.float64)
    q, t = orbit_pose(torch.stack([yaw, pitch, roll], -1), distance)
    K = intrinsics_from_fov(30.0, image_size, image_size).expand(*shape, 3, 3)
    images = torch.randint(
        0, 256, (*shape, 3, image_size, image_size), dtype=torch.uint8, generator=g
    )
    alpha = torch.randn(
        batch_size, morphable_model.n_modes, generator=g, dtype=torch.float64
    )
    return Batch(
        images,
        K.float().contiguous(),
        q.float(),
        t.float(),
        morphable_model.shape(alpha).float(),
    )


def training_throughput(
    name: str,
    morphable_model: MorphableModel,
    *,
    image_size: int = 224,
    width: float = 1.0,
    n_views: int = 3,
    batch_size: int = 32,
    device: str = "cuda",
    steps: int = 20,
    warmup: int = 5,
    seed: int = 0,
    precision: str = "auto",
    compiled: bool = False,
) -> Throughput:
    """Measure one of :data:`MODELS` (by name) training on a random batch of
    :func:`synthetic_batch`; see the module doc.

    Args:
        name: a name in :data:`MODELS`.
        morphable_model: the 3DMM whose shapes the loss sees (its number of modes sets
            the networks' output).
        image_size: S, px (at least 32).
        width: the VGG-16 channel multiplier (1.0: the paper's network).
        n_views: N for the multi-view networks (the single-view one sees 1).
        batch_size: B, scenes per step.
        device: ``"cuda"`` or ``"cpu"``.
        steps: timed steps (the median is reported).
        warmup: untimed steps before them.
        seed: seeds the network and the batch.
        precision: see :func:`facelib.learn.precision.uses_bf16`.
        compiled: run the network through ``torch.compile`` (its compilation happens
            in the warm-up steps, so give at least one).
    """
    networks = {m[0]: m[1:] for m in MODELS}
    if name not in networks:
        raise ValueError(f"unknown model {name!r}; known: {list(networks)}")
    if steps < 1 or warmup < 0:
        raise ValueError(f"expected steps >= 1 and warmup >= 0, got {steps}, {warmup}")
    if compiled and warmup < 1:
        raise ValueError(
            "compiled=True needs warmup >= 1: the first step compiles the network"
        )
    network, merge = networks[name]
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "device='cuda' was asked for but torch sees no CUDA device; use "
            "device='cpu' (--device cpu)"
        )
    torch.manual_seed(seed)
    n = 1 if network == "sv" else n_views
    model = _network(network, merge, morphable_model.n_modes, image_size, width, n)
    model = model.to(dev).to(memory_format=torch.channels_last)
    if compiled:
        model = torch.compile(model)
    bf16 = uses_bf16(precision, dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    batch = synthetic_batch(
        morphable_model,
        batch_size,
        n,
        image_size,
        torch.Generator().manual_seed(seed),
    )
    batch = Batch(*(x.to(dev) for x in batch))
    model.train()

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    times = []
    for i in range(warmup + steps):
        sync()
        tick = time.perf_counter()
        training_step(model, opt, network, morphable_model, batch, bf16=bf16)
        sync()
        if i >= warmup:
            times.append(time.perf_counter() - tick)
    step = statistics.median(times)
    flops = float("nan")
    if not compiled:
        with FlopCounterMode(display=False) as counter:
            training_step(model, opt, network, morphable_model, batch, bf16=bf16)
        flops = counter.get_total_flops() / (batch_size * n)
    peak = (
        torch.cuda.max_memory_allocated(dev) / 2**30
        if dev.type == "cuda"
        else float("nan")
    )
    return Throughput(
        model=name,
        image_size=image_size,
        width=width,
        n_views=n,
        batch_size=batch_size,
        device=str(dev),
        bf16=bf16,
        images_per_second=batch_size * n / step,
        step_ms=1e3 * step,
        peak_memory_gib=peak,
        parameters=sum(p.numel() for p in model.parameters()),
        compiled=compiled,
        flops_per_image=flops,
    )
