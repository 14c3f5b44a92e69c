"""``make bench``: each part of facelib against a baseline measured in the same run, on
the same machine, as a ratio.

    python -m benchmarks.run --size full   # make bench: a few minutes on 2 cores
    python -m benchmarks.run --size tiny   # seconds; what make test runs

Parts (one JSON file each in ``--out``, default ``runs/bench/``, written atomically
with a checksum record beside it; then the table ``--table``, default
``book/bench_table.md``, that the book's reproduce page includes):

``rasterizer``
    The face world's average face (the template, 12k triangles at full size) seen from
    yaws spread over -90°..90° at 600 mm with a 30° field of view, at 64, 128 and 224
    px. :func:`facelib.graphics.render.rasterize` against the slow reference
    (:mod:`benchmarks.reference_raster`, one image at a time), and
    :func:`facelib.graphics.render.render` (Lambertian, readback to uint8 numpy
    images) against the peer, OpenGL on Mesa's llvmpipe CPU rasterizer
    (:mod:`benchmarks.peer_raster`), with the mesh uploaded once (its best case).
    Each also records how many pixels agree with its baseline's (coverage, and for the
    peer the colour), so that the comparison is known to be of the same images.
``training``
    :func:`facelib.learn.throughput.training_throughput` at the cpu profile's size
    (64 px, width 0.25, batch 32; N = 3 for the multi-view network): bf16 autocast
    against fp32, both channels_last (the step always is), and with ``--compile``
    ``torch.compile`` against eager fp32 (its compilation, about a minute and a half on
    2 cores when the cache is cold, is left out of the rate).
``inference``
    Single-view reconstruction of one photograph (scikit-image's astronaut, resized),
    batch 1, with the cpu profile's network (width 0.25, 64 px, random weights):
    :class:`facelib.learn.inference.Reconstructor` from uint8 photograph to mesh,
    against the network's forward alone (the ceiling the pipeline can reach).
``armse``
    :func:`facelib.evaluation.metrics.armse` per pair (a face of the face world
    against another identity's simulated raw scan) against the straightforward
    implementation of the protocol in :mod:`benchmarks.reference_armse`; the two
    scores must agree.
``registration``
    :func:`facelib.world.registration.register` per simulated raw scan, seconds,
    against ``trimesh.registration.nricp_amberg`` (the implementation of the same
    non-rigid ICP that ``register`` used before :mod:`facelib.world.nricp`) with the
    same schedule from the same aligned template; the vertices must agree.

Every ratio reads "times the baseline's speed": ours/baseline for rates,
baseline/ours for seconds; above 1 we are faster. Rates are the best of a few
repeats (the machine may be shared; the load average is recorded).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from benchmarks.reference_armse import reference_armse
from benchmarks.reference_raster import reference_rasterize
from benchmarks.report import PARTS, write_markdown
from benchmarks.training_throughput import random_morphable_model
from facelib.storage import write_checksum, write_json

__all__ = ["BenchSize", "SIZES", "main"]

TARGETS = {
    # the "rasterizer >= 2,000 images/s at 128 px", read both ways: the
    # rasterizer alone (coverage, depth, barycentrics) and the whole render (shaded)
    "rasterize_128_images_per_s": 2000.0,
    "render_128_images_per_s": 2000.0,
    "inference_frames_per_s": 30.0,  # single view, cpu profile, batch 1
}


@dataclass(frozen=True)
class BenchSize:
    """How much each part measures.

    Attributes:
        name: ``"tiny"`` or ``"full"``.
        template: (columns, rows) of the face template (:func:`build_template`).
        image_sizes: the rasterizer's image sides S, px.
        batch: images per call of ours, and images the peer renders per repeat.
        repeats: timed repeats of ours and the peer (the best counts).
        reference_images: images the slow reference rasterizes per size.
        train_models: the :data:`~facelib.learn.throughput.MODELS` trained.
        train_image_size, train_width, train_batch, train_steps, train_warmup,
        train_rounds, n_modes: the training step's size (px, channel multiplier,
            scenes) and its timing (median of ``train_steps`` after
            ``train_warmup``, the best of ``train_rounds`` runs); 3DMM modes.
        infer_image_size, infer_width, infer_frames: the inference network and the
            frames timed.
        armse_pairs: prediction-scan pairs scored; scan_points: raw scan vertices.
        registration_scans: scans registered; registration_steps: the non-rigid
            schedule (None: the library's default).
    """

    name: str
    template: tuple[int, int]
    image_sizes: tuple[int, ...]
    batch: int
    repeats: int
    reference_images: int
    train_models: tuple[str, ...]
    train_image_size: int
    train_width: float
    train_batch: int
    train_steps: int
    train_warmup: int
    train_rounds: int
    n_modes: int
    infer_image_size: int
    infer_width: float
    infer_frames: int
    armse_pairs: int
    scan_points: int
    registration_scans: int
    registration_steps: tuple | None


SIZES = {
    "full": BenchSize(
        name="full",
        template=(81, 75),
        image_sizes=(64, 128, 224),
        batch=64,
        repeats=3,
        reference_images=2,
        train_models=("SV", "MV Concat"),
        train_image_size=64,
        train_width=0.25,
        train_batch=32,
        train_steps=4,
        train_warmup=1,
        train_rounds=2,
        n_modes=50,
        infer_image_size=64,
        infer_width=0.25,
        infer_frames=60,
        armse_pairs=3,
        scan_points=20000,
        registration_scans=1,
        registration_steps=None,
    ),
    "tiny": BenchSize(
        name="tiny",
        template=(31, 27),
        image_sizes=(32,),
        batch=4,
        repeats=1,
        reference_images=1,
        train_models=("SV",),
        train_image_size=32,
        train_width=0.125,
        train_batch=2,
        train_steps=1,
        train_warmup=1,
        train_rounds=1,
        n_modes=5,
        infer_image_size=32,
        infer_width=0.125,
        infer_frames=3,
        armse_pairs=1,
        scan_points=1500,
        registration_scans=1,
        registration_steps=((0.05, 10.0, 0.5, 1),),
    ),
}


def _row(
    case: str,
    ours: tuple[str, float],
    baseline: tuple[str, float] | None,
    unit: str,
    *,
    higher_is_better: bool = True,
    note: str = "",
    **extra,
) -> dict:
    """One comparison: ``ours`` and ``baseline`` as (what, value) in ``unit``; the
    ratio is our speed over the baseline's (see the module doc), None without a
    baseline."""
    ratio = None
    if baseline is not None and baseline[1] > 0 and ours[1] > 0:
        ratio = ours[1] / baseline[1] if higher_is_better else baseline[1] / ours[1]
    return dict(
        case=case,
        ours=dict(what=ours[0], value=float(ours[1])),
        baseline=None
        if baseline is None
        else dict(what=baseline[0], value=float(baseline[1])),
        unit=unit,
        higher_is_better=higher_is_better,
        ratio=ratio,
        note=note,
        **extra,
    )


def _best_seconds(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """The shortest of ``repeats`` timed calls of ``fn`` after ``warmup`` untimed
    ones, seconds."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        tick = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - tick)
    return best


def _face(size: BenchSize):
    """The face template and its average face (P, 3) mm."""
    from facelib.world.identity import Identity, face_shapes
    from facelib.world.template import build_template

    template = build_template(*size.template)
    return template, face_shapes([Identity()], template)[0]


# ------------------------------------------------------------------------------------
# rasterizer
def _cameras(batch: int, image_size: int):
    """K (B, 3, 3) px, q (B, 4), t (B, 3) mm: yaws over -90°..90°, 600 mm, 30°."""
    from facelib.geometry.camera import intrinsics_from_fov, orbit_pose

    yaw = torch.linspace(-90.0, 90.0, batch)
    zero = torch.zeros(batch)
    q, t = orbit_pose(torch.stack([yaw, zero, zero], -1), 600.0)
    K = intrinsics_from_fov(30.0, image_size, image_size).expand(batch, 3, 3)
    return K.contiguous(), q, t


def bench_rasterizer(size: BenchSize) -> dict:
    """The rasterizer part (see the module doc): rows per image size."""
    from benchmarks.peer_raster import PeerUnavailable, measure_in_subprocess
    from facelib.geometry.camera import (
        model_to_camera,
        project,
        quaternion_to_matrix,
    )
    from facelib.graphics.render import RasterSettings, rasterize, render
    from facelib.graphics.render import vertex_normals as normals_of

    template, face = _face(size)
    faces_np = template.faces
    faces = torch.from_numpy(faces_np)
    B = size.batch
    v = torch.from_numpy(face).float().expand(B, -1, -1)
    albedo = torch.full_like(v, 0.7)
    light = torch.tensor([0.3, -0.4, -1.0])
    light = light / light.norm()
    rows, info = [], {}
    for S in size.image_sizes:
        K, q, t = _cameras(B, S)
        bg = torch.zeros(B, 3, S, S)
        settings = RasterSettings(image_size=(S, S))

        def ours_raster():
            fr = rasterize(v, faces, K, q, t, settings)
            return fr.triangle.numpy(), fr.depth.numpy()

        def ours_render():
            images = render(v, faces, albedo, K, q, t, light.expand(B, 3), bg).images
            return (images.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()

        # the slow reference, on cameras spread over the same yaws
        picks = np.linspace(0, B - 1, size.reference_images).round().astype(int)
        v64 = torch.from_numpy(face)

        def reference(k):
            Kd, qd, td = K[k].double(), q[k].double(), t[k].double()
            uv = project(v64, Kd, qd, td).numpy()
            z = model_to_camera(v64, qd, td)[:, 2].numpy()
            return reference_rasterize(uv, z, faces_np, S, S)

        tick = time.perf_counter()
        ref = [reference(k) for k in picks]
        ref_rate = len(picks) / (time.perf_counter() - tick)
        raster_rate = B / _best_seconds(ours_raster, size.repeats)
        triangle, _ = ours_raster()
        same = np.mean([(triangle[k] >= 0) == (r[0] >= 0) for k, r in zip(picks, ref)])
        rows.append(
            _row(
                f"rasterize {S} px",
                (f"rasterize, batch {B}", raster_rate),
                ("slow reference, one image at a time", ref_rate),
                "images/s",
                agreement=float(same),
                note=f"coverage agrees on {100 * same:.2f}% of the pixels",
            )
        )
        render_rate = B / _best_seconds(ours_render, size.repeats)
        case = f"render {S} px, Lambertian, to uint8"
        normals = normals_of(v[:1], faces)[0].numpy()
        Rn = quaternion_to_matrix(q).numpy()
        try:
            peer = measure_in_subprocess(
                face,
                faces_np,
                normals,
                K.numpy(),
                Rn,
                t.numpy(),
                light.numpy(),
                S,
                size.repeats,
            )
        except PeerUnavailable as err:
            info["peer"] = f"unavailable: {err}"
            rows.append(
                _row(
                    case,
                    (f"render, batch {B}", render_rate),
                    None,
                    "images/s",
                    note=f"peer {info['peer']}",
                )
            )
            continue
        info["peer"] = peer["renderer"]
        peer_rate = peer["images_per_second"]
        theirs, mine = peer["images"], ours_render()
        cover_t, cover_m = theirs.max(-1) > 0, mine.max(-1) > 0
        both = cover_t & cover_m
        colour = float(np.abs(theirs.astype(int) - mine)[both].mean() / 255)
        same = float((cover_t == cover_m).mean())
        rows.append(
            _row(
                case,
                (f"render, batch {B}", render_rate),
                ("OpenGL on Mesa llvmpipe (moderngl), one image at a time", peer_rate),
                "images/s",
                agreement=same,
                colour_difference=colour,
                note=f"coverage agrees on {100 * same:.2f}% of the pixels, colour "
                f"differs by {100 * colour:.2f}% on average",
            )
        )
    targets = []
    for r in rows:
        if r["case"].startswith("rasterize 128 px"):
            goal = TARGETS["rasterize_128_images_per_s"]
            targets.append(
                dict(
                    what=f"rasterize at 128 px >= {goal:.0f} images/s",
                    value=r["ours"]["value"],
                    met=r["ours"]["value"] >= goal,
                )
            )
        if r["case"].startswith("render 128 px"):
            goal = TARGETS["render_128_images_per_s"]
            targets.append(
                dict(
                    what=f"render at 128 px >= {goal:.0f} images/s",
                    value=r["ours"]["value"],
                    met=r["ours"]["value"] >= goal,
                )
            )
            if r["ratio"] is not None:
                targets.append(
                    dict(
                        what="render at 128 px ahead of the peer",
                        value=r["ratio"],
                        met=r["ratio"] > 1.0,
                    )
                )
    info.update(
        mesh=f"the face world's average face, {template.n_points} vertices, "
        f"{len(faces_np)} triangles",
        cameras="yaw -90..90 deg, 600 mm, 30 deg field of view",
    )
    return dict(rows=rows, targets=targets, info=info)


# ------------------------------------------------------------------------------------
# training
def bench_training(size: BenchSize, compiled: bool = False) -> dict:
    """The training part (see the module doc): rows per model."""
    from facelib.learn.throughput import training_throughput

    model_3dmm = random_morphable_model(size.n_modes)
    common = dict(
        image_size=size.train_image_size,
        width=size.train_width,
        batch_size=size.train_batch,
        device="cpu",
        steps=size.train_steps,
        warmup=size.train_warmup,
    )
    rows = []
    for name in size.train_models:
        # alternate the two, the best of each: a shared machine's load hits both
        fp32, bf16 = [], []
        for _ in range(size.train_rounds):
            for runs, precision in ((fp32, "fp32"), (bf16, "bf16")):
                runs.append(
                    training_throughput(name, model_3dmm, precision=precision, **common)
                )
        fp32 = max(fp32, key=lambda r: r.images_per_second)
        bf16 = max(bf16, key=lambda r: r.images_per_second)
        what = (
            f"{name}, {size.train_image_size} px, width {size.train_width:g}, "
            f"batch {size.train_batch} x N={fp32.n_views}"
        )
        rows.append(
            _row(
                f"training step {what}",
                ("bf16 autocast + channels_last", bf16.images_per_second),
                ("fp32 + channels_last", fp32.images_per_second),
                "images/s",
                note=f"the faster of {size.train_rounds} alternating runs each, "
                f"median of {size.train_steps} steps",
            )
        )
        if compiled:
            tick = time.perf_counter()
            # compilation, and recompilation at the second call, in the warm-up
            warm = dict(common, warmup=max(3, size.train_warmup))
            comp = training_throughput(
                name, model_3dmm, precision="fp32", compiled=True, **warm
            )
            total = time.perf_counter() - tick
            rows.append(
                _row(
                    f"training step {what}",
                    ("torch.compile, fp32", comp.images_per_second),
                    ("eager fp32", fp32.images_per_second),
                    "images/s",
                    note=f"compilation and timing took {total:.0f} s",
                )
            )
    avx = _cpu_flags() & {"avx512_bf16", "amx_bf16"}
    info = dict(
        bf16_hardware=", ".join(sorted(avx)) or "none (bf16 is emulated: slow)",
        torch_compile="measured" if compiled else "not run (pass --compile)",
    )
    return dict(rows=rows, targets=[], info=info)


# ------------------------------------------------------------------------------------
# inference
def _photograph(image_size: int) -> np.ndarray:
    """scikit-image's astronaut, her face cropped and resized: (S, S, 3) uint8."""
    from skimage import data, transform

    crop = data.astronaut()[20:220, 120:320]
    small = transform.resize(crop, (image_size, image_size), anti_aliasing=True)
    return (small * 255).round().astype(np.uint8)


def bench_inference(size: BenchSize) -> dict:
    """The inference part (see the module doc)."""
    from facelib.learn.inference import Reconstructor
    from facelib.learn.nets import SingleView

    torch.manual_seed(0)
    model_3dmm = random_morphable_model(size.n_modes)
    S = size.infer_image_size
    net = SingleView(model_3dmm.n_modes, S, width=size.infer_width)
    recon = Reconstructor(net, model_3dmm)
    photo = _photograph(S)
    x = torch.from_numpy(photo).permute(2, 0, 1)[None].contiguous()

    def network():
        with torch.no_grad():
            return net(x)

    def pipeline():
        return recon(photo, fov_deg=60.0)

    # interleaved frame by frame, so that a shared machine's load hits both alike
    times: dict = {pipeline: [], network: []}
    for k in range(2 + size.infer_frames):
        for fn, spent in times.items():
            tick = time.perf_counter()
            fn()
            if k >= 2:  # two warm-up frames
                spent.append(time.perf_counter() - tick)
    ours, bare = (1.0 / statistics.median(times[fn]) for fn in (pipeline, network))
    goal = TARGETS["inference_frames_per_s"]
    row = _row(
        f"single view, one {S} px photograph, width {size.infer_width:g}",
        ("photograph to mesh (Reconstructor), batch 1", ours),
        ("the network's forward alone, batch 1", bare),
        "frames/s",
        note=f"median of {size.infer_frames} frames, the two interleaved; the "
        "baseline is the ceiling of the pipeline",
    )
    targets = []
    if S == 64 and size.infer_width == 0.25:
        targets.append(
            dict(what=f"inference >= {goal:.0f} frames/s", value=ours, met=ours >= goal)
        )
    return dict(
        rows=[row],
        targets=targets,
        info=dict(parameters=sum(p.numel() for p in net.parameters())),
    )


# ------------------------------------------------------------------------------------
# ARMSE and registration
def _scans(size: BenchSize, n: int, seed: int):
    """n (identity, raw scan) pairs of the face world."""
    from facelib.world.identity import sample_identities
    from facelib.world.scans import ScanSettings, simulate_scan

    template, _ = _face(size)
    rng = np.random.default_rng(seed)
    identities = sample_identities(n, rng)
    settings = ScanSettings(n_points=size.scan_points)
    return template, [
        (idt, simulate_scan(idt, template, rng, settings)) for idt in identities
    ]


def bench_armse(size: BenchSize) -> dict:
    """The ARMSE part (see the module doc)."""
    from facelib.evaluation.metrics import armse
    from facelib.world.identity import face_shape

    template, pairs = _scans(size, size.armse_pairs + 1, seed=1)
    ours_s, base_s, worst, worst_norm = [], [], 0.0, 0.0
    for (_, scan), (other, _) in zip(pairs[:-1], pairs[1:]):
        pred = face_shape(other, template)  # another person's face
        args = (
            pred,
            template.faces,
            pred[template.landmarks],
            scan.vertices,
            scan.faces,
            scan.landmarks,
        )
        tick = time.perf_counter()
        a = armse(*args)
        ours_s.append(time.perf_counter() - tick)
        tick = time.perf_counter()
        b_mm, b_norm = reference_armse(*args)
        base_s.append(time.perf_counter() - tick)
        worst = max(worst, abs(a.armse_mm - b_mm))
        worst_norm = max(worst_norm, abs(a.normalized - b_norm))
    row = _row(
        "ARMSE, one prediction against one raw scan "
        f"({size.scan_points} points, {template.n_points}-vertex prediction)",
        ("facelib.evaluation.metrics.armse", min(ours_s)),
        ("straightforward numpy/scipy (benchmarks.reference_armse)", min(base_s)),
        "s/pair",
        higher_is_better=False,
        agreement_mm=worst,
        agreement_normalized=worst_norm,
        note=f"scores agree within {worst:.1e} mm; the fastest of {len(ours_s)} "
        "pairs each",
    )
    return dict(rows=[row], targets=[], info={})


def bench_registration(size: BenchSize) -> dict:
    """The registration part (see the module doc): seconds per scan against trimesh's
    ``nricp_amberg`` (the same algorithm and schedule from the same aligned
    template)."""
    import trimesh
    from trimesh.registration import nricp_amberg

    from facelib.data.template import IBUG51
    from facelib.world.identity import Identity, face_shape
    from facelib.world.registration import RegistrationSettings, register

    template, pairs = _scans(size, size.registration_scans, seed=2)
    settings = RegistrationSettings()
    if size.registration_steps is not None:
        settings = RegistrationSettings(steps=size.registration_steps)
    start = face_shape(Identity(), template)
    ours_s, base_s, gap = [], [], 0.0
    for _, scan in pairs:
        tick = time.perf_counter()
        reg = register(scan, template, start, settings)
        ours_s.append(time.perf_counter() - tick)
        landmarks = scan.landmarks[IBUG51]
        known = np.isfinite(landmarks).all(axis=1)
        source = trimesh.Trimesh(
            reg.alignment.apply(start), template.faces, process=False
        )
        tick = time.perf_counter()
        theirs = nricp_amberg(
            source,
            scan.mesh(),
            source_landmarks=template.landmarks51[known],
            target_positions=landmarks[known],
            steps=[list(step) for step in settings.steps],
            # trimesh measures it in units of the template's size
            distance_threshold=settings.distance_threshold_mm / source.scale,
        )
        base_s.append(time.perf_counter() - tick)
        gap = max(gap, float(np.linalg.norm(reg.vertices - theirs, axis=1).max()))
    iterations = sum(s[3] for s in settings.steps)
    row = _row(
        f"registration of one raw scan ({size.scan_points} points) onto the "
        f"{template.n_points}-vertex template, up to {iterations} non-rigid "
        "iterations",
        ("facelib.world.registration.register", statistics.median(ours_s)),
        ("trimesh.registration.nricp_amberg", statistics.median(base_s)),
        "s/scan",
        higher_is_better=False,
        agreement_mm=gap,
        note=f"the same algorithm and schedule; vertices agree within {gap:.2f} mm "
        "(trimesh keeps its right-hand side in float32)",
    )
    return dict(rows=[row], targets=[], info={})


# ------------------------------------------------------------------------------------
def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return set(line.split(":", 1)[-1].split())


def machine() -> dict:
    """What the numbers were measured on: CPU, cores, torch's threads, versions."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return dict(
        cpu=model,
        cores=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        torch=torch.__version__,
        numpy=np.__version__,
        python=platform.python_version(),
        load_average=os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    )


BENCHES = {
    "rasterizer": bench_rasterizer,
    "training": bench_training,
    "inference": bench_inference,
    "armse": bench_armse,
    "registration": bench_registration,
}
assert tuple(BENCHES) == PARTS


def _print(part: str, result: dict) -> None:
    print(f"\n{part}", flush=True)
    for r in result["rows"]:
        base = r["baseline"]
        ratio = "" if r["ratio"] is None else f"  x{r['ratio']:.3g}"
        line = f"  {r['case']}\n    ours {r['ours']['value']:.4g} {r['unit']}"
        line += f" ({r['ours']['what']})"
        if base is not None:
            line += f"\n    baseline {base['value']:.4g} {r['unit']} ({base['what']})"
        print(line + ratio, flush=True)
        if r["note"]:
            print(f"    {r['note']}", flush=True)
    for t in result["targets"]:
        print(f"  target {t['what']}: {'met' if t['met'] else 'NOT met'}", flush=True)


def main(argv: list[str] | None = None) -> dict[str, dict]:
    """Parse the command line (``argv``, else ``sys.argv``), run the parts, print
    them, write ``<out>/<part>.json`` (+ ``.sha256``) and the markdown table; returns
    the results by part."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--size", choices=tuple(SIZES), default="full")
    parser.add_argument("--out", default="runs/bench", help="folder of the JSON files")
    parser.add_argument(
        "--table",
        default="book/bench_table.md",
        help="the markdown table for the book ('' for none)",
    )
    parser.add_argument(
        "--parts", nargs="*", choices=PARTS, default=list(PARTS), metavar="PART"
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also time the training step through torch.compile (slow to compile)",
    )
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    out = Path(args.out)
    results = {}
    for part in args.parts:
        tick = time.perf_counter()
        before = machine()
        kwargs = dict(compiled=args.compile) if part == "training" else {}
        result = BENCHES[part](size, **kwargs)
        result.update(
            part=part,
            size=size.name,
            seconds=time.perf_counter() - tick,
            machine=before,
            load_average_after=machine()["load_average"],
            command=" ".join(["python -m benchmarks.run", *sys.argv[1:]])
            if argv is None
            else " ".join(["python -m benchmarks.run", *argv]),
        )
        path = write_json(out / f"{part}.json", result)
        write_checksum(path)
        _print(part, result)
        results[part] = result
    if args.table:
        write_markdown(out, args.table)
        print(f"\ntable: {args.table}", flush=True)
    return results


if __name__ == "__main__":
    main()
