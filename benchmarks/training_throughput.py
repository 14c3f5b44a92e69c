"""Training throughput of the paper's networks, from the command line.

Runs :func:`facelib.learn.throughput.training_throughput` (optimiser steps of the real
training step on synthetic batches; see that module) for each model, with a random 3DMM
on the face world's template, so that it needs no data set and can be run on any
machine::

    # the paper's size
    python -m benchmarks.training_throughput --device cuda --image-size 224 \\
        --width 1.0 --n-views 3
    # the cpu profile
    python -m benchmarks.training_throughput --device cpu --image-size 64 \\
        --width 0.25 --precision bf16
"""

from __future__ import annotations

import argparse
from dataclasses import asdict

import numpy as np
import torch

from facelib.geometry.morphable_model import MorphableModel
from facelib.learn.precision import PRECISIONS
from facelib.learn.throughput import MODELS, Throughput, training_throughput
from facelib.storage import write_json
from facelib.world.identity import Identity, face_shapes
from facelib.world.template import build_template

__all__ = ["random_morphable_model", "main"]


def random_morphable_model(n_modes: int, seed: int = 0) -> MorphableModel:
    """A 3DMM on the face template: the average face of the face world as the mean,
    ``n_modes`` random orthonormal modes of decreasing std (20 mm down to 0.5 mm)."""
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


def main(argv: list[str] | None = None) -> list[Throughput]:
    """Parse the command line (``argv``, else ``sys.argv``), measure, print one line
    per model and, with ``--json``, write the results; returns them."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.training_throughput",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu"
    )
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--n-views", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--n-modes", type=int, default=50)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", choices=PRECISIONS, default="auto")
    parser.add_argument(
        "--models", nargs="*", default=[m[0] for m in MODELS], metavar="NAME"
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="run the networks through torch.compile (compiled in the warm-up)",
    )
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    morphable_model = random_morphable_model(args.n_modes, args.seed)
    results = [
        training_throughput(
            name,
            morphable_model,
            image_size=args.image_size,
            width=args.width,
            n_views=args.n_views,
            batch_size=args.batch_size,
            device=args.device,
            steps=args.steps,
            warmup=args.warmup,
            seed=args.seed,
            precision=args.precision,
            compiled=args.compile,
        )
        for name in args.models
    ]
    for r in results:
        print(
            f"{r.model:16s} {r.image_size:4d} px  width {r.width:<5g} N={r.n_views}  "
            f"batch {r.batch_size}  {r.device:6s} "
            f"bf16={r.bf16!s:5s}{' compiled' if r.compiled else ''}  "
            f"{r.images_per_second:8.1f} images/s  step "
            f"{r.step_ms:7.1f} ms  "
            f"peak {r.peak_memory_gib:.2f} GiB  {r.parameters / 1e6:.1f} M parameters",
            flush=True,
        )
    if args.json:
        write_json(args.json, [asdict(r) for r in results])
    return results


if __name__ == "__main__":
    main()
