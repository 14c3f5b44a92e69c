"""Training throughput of the paper's networks, measured on synthetic batches.

The figure of section 4.2's cost: optimiser steps per second of
:func:`facelib.learn.training.training_step` (the same step
:func:`facelib.learn.training.train` runs: forward, Eq. 2 or the shape loss, backward,
Adam) on random images of the requested size, with cameras drawn like the data set's and
a random 3DMM on the face template, so that it needs no data set and can be run on any
machine::

    python -m benchmarks.training_throughput --device cuda --image-size 224 --width 1.0
    --views 3   # the paper's size python -m benchmarks.training_throughput --device cpu
    --image-size 64 --width 0.25 --precision bf16   # the cpu profile

The step runs like training does: channels_last, and bf16 autocast as ``precision`` says
(``"auto"``: on CUDA only; see :func:`facelib.learn.training.uses_bf16`). Timing:
``warmup`` steps first (kernel selection, allocator), then the median of ``steps`` timed
steps, each closed by a device synchronisation. Images/s counts every view (a multi-view
step of batch B with N views is B N images).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from facelib.geometry.morphable_model import MorphableModel
from facelib.learn.nets import MultiView, SingleView
from facelib.learn.training import PRECISIONS, training_step, uses_bf16
from facelib.world.identity import Identity, face_shapes
from facelib.world.scenes import CameraSettings, sample_scene_cameras
from facelib.world.template import build_template

__all__ = ["Throughput", "MODELS", "random_morphable_model", "training_throughput"]

#: the four trained models of the book: (name, kind, merge)
MODELS = (
    ("SV", "sv", None),
    ("MV Add", "mv", "add"),
    ("MV Concat", "mv", "concat"),
    ("MV Shape-Concat", "mv_shape", "concat"),
)


@dataclass
class Throughput:
    """One measurement: images/s (every view counted), the median step in ms, peak
    device memory in GiB (CUDA only, else ``nan``)."""

    model: str
    image_size: int
    width: float
    views: int
    batch_size: int
    device: str
    bf16: bool
    images_per_second: float
    step_ms: float
    peak_memory_gib: float
    parameters: int


def random_morphable_model(n_modes: int, seed: int = 0) -> MorphableModel:
    """A 3DMM on the face template with ``n_modes`` random orthonormal modes of
    decreasing std (mm)."""
    template = build_template()
    rng = np.random.default_rng(seed)
    P = template.n_points
    basis, _ = np.linalg.qr(rng.standard_normal((3 * P, n_modes)))
    mean = face_shapes([Identity()], template)[0]  # the average face
    return MorphableModel(
        mean=mean,
        components=basis.T.reshape(n_modes, P, 3),
        std=np.geomspace(20.0, 0.5, n_modes),
        faces=template.faces,
        landmarks=template.landmarks,
        mirror=template.mirror,
    )


def _model(
    kind: str,
    merge: str | None,
    n_modes: int,
    image_size: int,
    width: float,
    views: int,
) -> torch.nn.Module:
    single = SingleView(n_modes, image_size, width=width)
    if kind == "sv":
        return single
    concat = MultiView.from_single_view(single, views, merge or "concat")
    return concat if kind == "mv" else MultiView.shape_only_from(concat)


def training_throughput(
    name: str,
    *,
    image_size: int = 224,
    width: float = 1.0,
    views: int = 3,
    batch_size: int = 32,
    device: str = "cuda",
    n_modes: int = 50,
    steps: int = 20,
    warmup: int = 5,
    seed: int = 0,
    precision: str = "auto",
    model3dmm: MorphableModel | None = None,
) -> Throughput:
    """Measure one of :data:`MODELS` (by name) training on random batches; see the
    module doc."""
    kinds = {m[0]: m[1:] for m in MODELS}
    if name not in kinds:
        raise ValueError(f"unknown model {name!r}; known: {list(kinds)}")
    if steps < 1 or warmup < 0:
        raise ValueError(f"expected steps >= 1 and warmup >= 0, got {steps}, {warmup}")
    kind, merge = kinds[name]
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "device='cuda' was asked for but torch sees no CUDA device; use --device "
            "cpu"
        )
    torch.manual_seed(seed)
    model3dmm = model3dmm or random_morphable_model(n_modes, seed)
    n_views = 1 if kind == "sv" else views
    model = (
        _model(kind, merge, model3dmm.n_modes, image_size, width, views)
        .to(dev)
        .to(memory_format=torch.channels_last)
    )
    bf16 = uses_bf16(precision, dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(seed)
    cams = sample_scene_cameras(
        batch_size, n_views, CameraSettings(image_size=image_size), g
    )
    images = torch.randint(
        0,
        256,
        (batch_size, n_views, 3, image_size, image_size),
        dtype=torch.uint8,
        generator=g,
    )
    shapes = model3dmm.shape(
        torch.randn(batch_size, model3dmm.n_modes, generator=g, dtype=torch.float64)
    )
    batch = tuple(
        x.to(dev)
        for x in (
            images,
            cams.K.float(),
            cams.q.float(),
            cams.t.float(),
            shapes.float(),
        )
    )
    model.train()

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    times = []
    for i in range(warmup + steps):
        sync()
        tick = time.perf_counter()
        training_step(model, opt, kind, model3dmm, batch, bf16=bf16)
        sync()
        if i >= warmup:
            times.append(time.perf_counter() - tick)
    step = statistics.median(times)
    peak = (
        torch.cuda.max_memory_allocated(dev) / 2**30
        if dev.type == "cuda"
        else float("nan")
    )
    return Throughput(
        model=name,
        image_size=image_size,
        width=width,
        views=n_views,
        batch_size=batch_size,
        device=str(dev),
        bf16=bf16,
        images_per_second=batch_size * n_views / step,
        step_ms=1e3 * step,
        peak_memory_gib=peak,
        parameters=sum(p.numel() for p in model.parameters()),
    )


def main(argv: list[str] | None = None) -> list[Throughput]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.training_throughput",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu"
    )
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--views", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--precision", choices=PRECISIONS, default="auto")
    parser.add_argument("--models", nargs="*", default=[m[0] for m in MODELS])
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    results = [
        training_throughput(
            name,
            image_size=args.image_size,
            width=args.width,
            views=args.views,
            batch_size=args.batch_size,
            device=args.device,
            steps=args.steps,
            warmup=args.warmup,
            precision=args.precision,
        )
        for name in args.models
    ]
    for r in results:
        print(
            f"{r.model:16s} {r.image_size:4d} px  width {r.width:<5g} N={r.views}  "
            f"batch {r.batch_size}  {r.device:6s} "
            f"bf16={r.bf16!s:5s}  {r.images_per_second:8.1f} images/s  step "
            f"{r.step_ms:7.1f} ms  "
            f"peak {r.peak_memory_gib:.2f} GiB  {r.parameters / 1e6:.1f} M parameters",
            flush=True,
        )
    if args.json:
        from pathlib import Path

        from facelib.storage import atomic_write

        atomic_write(
            Path(args.json),
            lambda tmp: Path(tmp).write_text(
                json.dumps([asdict(r) for r in results], indent=1)
            ),
        )
    return results


if __name__ == "__main__":
    main()
