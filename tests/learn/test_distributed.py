"""facelib.learn.distributed and facelib.learn.train: two ranks under torchrun (gloo,
CPU) train the weights of one process with the same global batch, and a stopped
distributed run resumes exactly; the shares of a batch, the command's settings and the
refusals."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from facelib.learn import distributed
from facelib.learn.batches import SceneSampler, seeded_generator
from facelib.learn.train import main, parse_settings
from facelib.learn.training import TrainConfig, train

ROOT = Path(__file__).resolve().parents[2]

#: a tiny run that crosses the pose warm-up (the DDP wrapper is rebuilt), averages
#: the weights and checkpoints every step
SETTINGS = dict(
    width=0.125,
    batch_size=4,
    epochs=2,
    max_steps_per_epoch=3,
    patience=5,
    checkpoint_every=1,
    ema_decay=0.5,
    pose_warmup_epochs=1,
)


def torchrun(tiny_path, run_dir, *extra) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --nproc-per-node 2 -m facelib.learn.train``
    on the tiny data set with :data:`SETTINGS`, this checkout first on the path."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "facelib.learn.train",
        "--data",
        str(tiny_path),
        "--run-dir",
        str(run_dir),
        "--no-progress",
        "--set",
        *(f"{k}={json.dumps(v)}" for k, v in SETTINGS.items()),
        *extra,
    ]
    run = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run


def test_two_ranks_train_the_weights_of_one_process_and_resume_exactly(
    data, tiny_path, tmp_path
):
    """The same global batch of 4 scenes, 2 on each rank: after 6 steps the weights
    are those of one process to float precision, and a run stopped after 4 steps and
    resumed ends with the uninterrupted run's weights, bit for bit; rank 0 wrote the
    run folder and the history."""
    one = train(TrainConfig(**SETTINGS), data, tmp_path / "one", progress=False)
    whole = torchrun(tiny_path, tmp_path / "whole")
    assert "2 epochs on 2 rank(s)" in whole.stdout
    run_dir = tmp_path / "resumed"
    stopped = torchrun(tiny_path, run_dir, "--stop-after", "4")
    assert "stopped after 4 steps" in stopped.stdout
    state = json.loads((run_dir / "last.json").read_text())["state"]
    assert (state["epoch"], state["step"]) == (1, 1)
    torchrun(tiny_path, run_dir)
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "model.json",
        "model.safetensors",
    ]
    a = load_file(str(tmp_path / "one" / "model.safetensors"))
    b = load_file(str(tmp_path / "whole" / "model.safetensors"))
    c = load_file(str(run_dir / "model.safetensors"))
    assert a.keys() == b.keys() == c.keys()
    gap = max(float((a[k].double() - b[k].double()).abs().max()) for k in a)
    print(f"largest weight difference, 2 ranks vs 1 process: {gap:.3g}")
    assert gap < 1e-5
    assert all(torch.equal(b[k], c[k]) for k in b)
    history = json.loads((run_dir / "model.json").read_text())["history"]
    assert len(history) == len(one.history) == 2
    for mine, theirs in zip(history, one.history):
        assert mine["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-5)
        assert mine["loss"] == pytest.approx(theirs["loss"], rel=1e-5)


@pytest.mark.parametrize("n, world", [(4, 2), (5, 2), (7, 3), (2, 3), (32, 8)])
def test_shares_cover_the_batch_and_weigh_to_its_mean(monkeypatch, n, world):
    """Contiguous shares that put together are the batch; the ranks' weighted mean
    losses, averaged over the ranks, are the batch's mean loss."""
    losses = torch.arange(1.0, n + 1.0, dtype=torch.float64) ** 2
    covered, total = [], 0.0
    for r in range(world):
        monkeypatch.setattr(distributed, "rank", lambda r=r: r)
        monkeypatch.setattr(distributed, "world_size", lambda: world)
        part, weight = distributed.share(n)
        if weight:
            covered += list(range(n))[part]
        total += weight * float(losses[part].mean()) / world
    assert covered == list(range(n))
    assert total == pytest.approx(float(losses.mean()), rel=1e-12)
    if n % world == 0:
        monkeypatch.setattr(distributed, "rank", lambda: 0)
        assert distributed.share(n)[1] == 1.0


def test_the_shares_of_a_batch_are_the_batch(data):
    """A rank reads only its scenes, with the draws of the whole batch (views and
    mirroring): the parts put together are the batch, bit for bit."""
    sampler = SceneSampler(data, data.subjects("train"), 2)
    ids = np.array([3, 0, 5, 1, 2])

    def batch(part=None):
        g = seeded_generator(0, 1, 2)
        return sampler.training_batch(ids, g, mirror=True, part=part)

    whole = batch()
    parts = [batch(slice(0, 3)), batch(slice(3, 5))]
    for name, value in whole._asdict().items():
        joined = torch.cat([getattr(p, name) for p in parts])
        assert torch.equal(joined, value), name


def test_a_batch_the_ranks_cannot_share_is_refused(data, tmp_path, monkeypatch):
    monkeypatch.setattr(distributed, "world_size", lambda: 3)
    with pytest.raises(ValueError, match="multiple of the number of ranks.*e.g. 6"):
        train(TrainConfig(batch_size=4), data, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_one_gpu_by_index_is_refused_under_torchrun(monkeypatch):
    assert distributed.rank_device("cuda:1") == torch.device("cuda:1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed.rank_device("cuda") == torch.device("cuda:1")
    assert distributed.rank_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="set device='cuda'"):
        distributed.rank_device("cuda:1")


def test_without_a_process_group_the_helpers_do_nothing():
    assert not distributed.is_distributed()
    assert (distributed.rank(), distributed.world_size()) == (0, 1)
    assert distributed.on_rank0(lambda: 7) == 7
    x = torch.ones(2)
    assert distributed.mean_over_ranks(x) is x
    assert distributed.share(5) == (slice(0, 5), 1.0)


def test_the_command_reads_its_settings(capsys):
    assert parse_settings(
        ["lr=3e-4", "mirror=false", "max_steps_per_epoch=None", "device=cuda"]
    ) == {"lr": 3e-4, "mirror": False, "max_steps_per_epoch": None, "device": "cuda"}
    with pytest.raises(ValueError, match="name of TrainConfig"):
        parse_settings(["batch=4"])
    with pytest.raises(ValueError, match="name=value"):
        parse_settings(["lr"])
    assert main(["--data", "x", "--run-dir", "y", "--set", "width=2"]) == 2
    assert "width must be" in capsys.readouterr().err
