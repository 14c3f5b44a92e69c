"""facelib.learn.checkpoints: architectures, weights and optimiser state round-trip;
load_model refuses what it cannot trust."""

import json

import numpy as np
import pytest
import torch

from facelib.geometry.camera import intrinsics_from_fov
from facelib.geometry.morphable_model import MorphableModel
from facelib.learn.checkpoints import (
    FORMAT_VERSION,
    architecture,
    build_network,
    load_model,
    load_optimizer,
    load_tensors,
    optimizer_tensors,
    save_model,
    save_tensors,
)
from facelib.learn.nets import MultiView, SingleView


def morphable_model(shift: float = 0.0) -> MorphableModel:
    rng = np.random.default_rng(0)
    return MorphableModel(
        mean=rng.normal(0, 40, (12, 3)) + shift,
        components=np.linalg.qr(rng.normal(size=(36, 4)))[0].T.reshape(4, 12, 3),
        std=np.array([4.0, 3.0, 2.0, 1.0]),
        faces=np.array([[0, 1, 2]]),
        landmarks=np.arange(5),
        mirror=np.arange(12),
    )


def networks() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    sv = SingleView(
        4, 32, width=0.125, image_t_mean=(1.0, 2.0, -1.5), image_t_std=(5, 6, 0.2)
    )
    concat = MultiView.from_single_view(sv, 3, "concat")
    return {
        "sv": sv,
        "mv": MultiView.from_single_view(sv, 2, "add"),
        "mv_shape": MultiView.shape_only_from(concat),
    }


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("name", ["sv", "mv", "mv_shape"])
def test_architecture_rebuilds_the_network(name):
    net = networks()[name]
    arch = architecture(net)
    assert arch["network"] == name and json.loads(json.dumps(arch)) == arch
    assert arch["image_t_mean"] == [1.0, 2.0, -1.5] and arch["image_size"] == 32
    assert np.allclose(arch["K_default"], intrinsics_from_fov(30.0, 32, 32))
    if name != "sv":
        assert arch["n_views"] == net.n_views and "kind" not in arch
    rebuilt = build_network(arch)
    assert type(rebuilt) is type(net) and architecture(rebuilt) == arch
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {
        k: v.shape for k, v in net.state_dict().items()
    }
    with pytest.raises(ValueError, match="unknown network 'cnn'"):
        build_network({**arch, "network": "cnn"})


@pytest.mark.parametrize("name", ["sv", "mv", "mv_shape"])
def test_saved_models_load_back(tmp_path, name):
    net = networks()[name]
    mm = morphable_model()
    meta_path = save_model(
        tmp_path, net, {"morphable_model_sha256": mm.fingerprint(), "note": "x"}
    )
    meta = json.loads(meta_path.read_text())
    assert meta["format_version"] == FORMAT_VERSION == 3 and meta["note"] == "x"
    loaded, meta2 = load_model(tmp_path, morphable_model=mm, image_size=32)
    assert meta2 == meta and same_weights(loaded, net) and not loaded.training
    loaded, _ = load_model(meta_path)  # the JSON file itself
    assert same_weights(loaded, net)


def test_load_model_refuses_mismatches(tmp_path):
    mm = morphable_model()
    save_model(tmp_path, networks()["sv"], {"morphable_model_sha256": mm.fingerprint()})
    with pytest.raises(ValueError, match="another 3DMM"):
        load_model(tmp_path, morphable_model=morphable_model(shift=1.0))
    with pytest.raises(ValueError, match="expects 32 px images, not 64"):
        load_model(tmp_path, image_size=64)
    raw = bytearray((tmp_path / "model.safetensors").read_bytes())
    raw[-1] ^= 0xFF
    (tmp_path / "model.safetensors").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="corrupt"):
        load_model(tmp_path)
    with pytest.raises(FileNotFoundError, match="train the model first"):
        load_model(tmp_path / "nothing")


def test_load_model_refuses_version_1(tmp_path):
    """Version 1 named the architecture's network "kind" and its views "views"."""
    net = networks()["mv"]
    save_model(tmp_path, net, {})
    meta = json.loads((tmp_path / "model.json").read_text())
    arch = meta["architecture"]
    arch["kind"], arch["views"] = arch.pop("network"), arch.pop("n_views")
    meta["format_version"] = 1
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"checkpoint format 1.*retrain"):
        load_model(tmp_path)


def test_tensors_round_trip(tmp_path):
    tensors = {"a": torch.arange(6.0).view(2, 3).t(), "b": torch.tensor([1, 2])}
    path = save_tensors(tmp_path / "x.safetensors", tensors)
    back = load_tensors(path)
    assert back.keys() == tensors.keys()
    assert all(torch.equal(back[k], tensors[k]) for k in tensors)


def test_optimizer_state_round_trips_to_the_same_next_step(tmp_path):
    def trained_pair():
        torch.manual_seed(0)
        net = torch.nn.Linear(4, 2)
        opt = torch.optim.Adam(net.parameters(), lr=0.1)
        return net, opt

    def step(net, opt):
        opt.zero_grad()
        net(torch.ones(3, 4)).pow(2).sum().backward()
        opt.step()

    net, opt = trained_pair()
    step(net, opt)
    tensors, meta = optimizer_tensors(opt)
    assert set(tensors) == {
        f"opt.{i}.{k}" for i in (0, 1) for k in opt.state_dict()["state"][0]
    }
    # through the files of a checkpoint
    tensors = load_tensors(save_tensors(tmp_path / "opt.safetensors", tensors))
    meta = json.loads(json.dumps(meta))
    net2, opt2 = trained_pair()
    net2.load_state_dict(net.state_dict())
    load_optimizer(opt2, tensors, meta)
    step(net, opt)
    step(net2, opt2)
    assert same_weights(net, net2)
    net3, opt3 = trained_pair()  # a fresh optimiser's step differs
    net3.load_state_dict(net.state_dict())
    step(net3, opt3)
    step(net, opt)
    assert not same_weights(net, net3)
