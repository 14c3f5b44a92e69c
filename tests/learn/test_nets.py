"""facelib.learn.nets: VGG-16 as torchvision builds it, the paper's heads, siamese
merges and input checks."""

import math

import numpy as np
import pytest
import torch
import torchvision
from safetensors.torch import save_file

from facelib.learn.nets import (
    MERGES,
    NETWORKS,
    AnyView,
    MultiView,
    SingleView,
    ViewAverage,
    network_name,
    vgg16_encoder,
)


def images(B, N=None, S=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = (B, 3, S, S) if N is None else (B, N, 3, S, S)
    return torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)


def test_width_one_is_torchvision_vgg16():
    ours = vgg16_encoder(1.0)
    ref = torchvision.models.vgg16(weights=None).features
    assert str(ours) == str(ref)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in ref.state_dict().items()
    }
    assert (
        sum(p.numel() for p in ours.parameters()) == 14_714_688
    )  # VGG-16's convolutional part


def test_narrow_encoder_keeps_the_layout():
    narrow = vgg16_encoder(0.25)
    convs = [m for m in narrow if isinstance(m, torch.nn.Conv2d)]
    assert (
        len(convs) == 13
        and [c.out_channels for c in convs][:2] == [16, 16]
        and convs[-1].out_channels == 128
    )
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in narrow) == 5


def _input_dependence(encoder: torch.nn.Module) -> float:
    """How much the final features vary across random images, relative to their size."""
    torch.manual_seed(3)
    with torch.no_grad():
        f = encoder(torch.randn(16, 3, 64, 64)).flatten(1)
    return float(f.std(0).mean() / f.abs().mean())


@pytest.mark.parametrize("width", [0.125, 0.25, 0.5])
def test_narrow_encoder_is_initialised_like_torchvision_vgg(width):
    """He normal (fan-out) weights and zero biases, as torchvision's VGG: the image
    still shows in the features after 13 layers, as much as in torchvision's own VGG-16
    (PyTorch's default Conv2d initialisation leaves a signal about 1e-4 of the biases
    there)."""
    torch.manual_seed(0)
    narrow = vgg16_encoder(width)
    for conv in (m for m in narrow if isinstance(m, torch.nn.Conv2d)):
        fan_out = conv.out_channels * 9
        assert abs(conv.weight.std().item() / np.sqrt(2.0 / fan_out) - 1.0) < 0.15
        assert torch.count_nonzero(conv.bias) == 0
    reference = _input_dependence(torchvision.models.vgg16(weights=None).features)
    assert _input_dependence(narrow) > 0.5 * reference > 0.02


def test_local_weights_only(tmp_path):
    enc = vgg16_encoder(0.25)
    save_file(enc.state_dict(), tmp_path / "enc.safetensors")
    again = vgg16_encoder(0.25, tmp_path / "enc.safetensors")
    assert all(
        torch.equal(a, b)
        for a, b in zip(enc.state_dict().values(), again.state_dict().values())
    )
    with pytest.raises(ValueError, match="does not fit"):
        vgg16_encoder(0.5, tmp_path / "enc.safetensors")
    with pytest.raises(FileNotFoundError, match="never downloads"):
        vgg16_encoder(0.25, tmp_path / "missing.safetensors")


def test_single_view_outputs():
    torch.manual_seed(0)
    net = SingleView(n_modes=7, image_size=64, width=0.125)
    pred = net(images(4))
    assert (
        pred.alpha.shape == (4, 7)
        and pred.q.shape == (4, 1, 4)
        and pred.t.shape == (4, 1, 3)
    )
    np.testing.assert_allclose(pred.q.norm(dim=-1).detach().numpy(), 1.0, atol=1e-5)
    assert (
        len(net.alpha_head) == 3 and net.alpha_head[0].out_features == 256
    )  # one hidden layer of 256


def test_translation_is_read_in_the_crop_and_placed_with_K():
    """The t-MLP regresses (u, v, log f/t_z) around the training mean in units of its
    spread; the photograph's K turns them into mm (values derived by hand)."""
    torch.manual_seed(0)
    f = 32.0 / math.tan(math.radians(15.0))  # K_default: 30° across 64 px
    net = SingleView(n_modes=7, image_size=64, width=0.125, image_t_std=(2, 3, 0.1))
    x = images(4)
    with torch.no_grad():
        # the output layer starts at zero: the head at the crop's centre, 600 mm away
        torch.testing.assert_close(net(x).t, torch.tensor([[[0.0, 0.0, 600.0]]] * 4))
        net.t_head[-1].bias.copy_(torch.tensor([1.0, -2.0, 0.5]))
        # u = 31.5 + 2, v = 31.5 - 6, f / t_z = (f / 600) e^0.05
        tz = 600.0 / math.exp(0.05)
        want = torch.tensor([2.0 * tz / f, -6.0 * tz / f, tz])
        torch.testing.assert_close(net(x).t[0, 0], want)
        # another crop: focal 200 px, principal point (10, 40)
        K = torch.tensor([[200.0, 0.0, 10.0], [0.0, 200.0, 40.0], [0.0, 0.0, 1.0]])
        tz = 200.0 / (f / 600.0 * math.exp(0.05))
        want = torch.tensor(
            [(33.5 - 10.0) * tz / 200.0, (25.5 - 40.0) * tz / 200.0, tz]
        )
        torch.testing.assert_close(net(x, K).t[0, 0], want)
        torch.testing.assert_close(net(x, K.expand(4, 3, 3)).t[:, 0], want.expand(4, 3))
        with pytest.raises(ValueError, match="intrinsics K"):
            net(x, K.expand(3, 3, 3))
        torch.nn.init.normal_(net.t_head[-1].weight, std=0.05)
        t = net(x).t[:, 0]
        assert (t[0] - t[1]).abs().min() > 0  # now it depends on the image


def test_bad_images_are_explained():
    net = SingleView(n_modes=3, image_size=64, width=0.125)
    with pytest.raises(ValueError, match="uint8"):
        net(images(2).float())
    with pytest.raises(ValueError, match=r"S = 64.*got \(2, 3, 32, 32\)"):
        net(images(2, S=32))
    with pytest.raises(ValueError, match="3 channels"):
        net(torch.zeros(2, 1, 64, 64, dtype=torch.uint8))
    mv = MultiView(net, n_views=3, merge="concat")
    with pytest.raises(ValueError, match="N = 3 views, got 2"):
        mv(images(2, N=2))
    with pytest.raises(ValueError, match="unknown merge"):
        MultiView(net, n_views=3, merge="max")


def test_merges_follow_the_paper():
    """MV: per-view α from the shared branch, merged (sum or concatenation in view
    order), then the MLP."""
    torch.manual_seed(1)
    sv = SingleView(n_modes=5, image_size=64, width=0.125).eval()
    x = images(2, N=3)
    add = MultiView.from_single_view(sv, 3, "add").eval()
    concat = MultiView.from_single_view(sv, 3, "concat").eval()
    with torch.no_grad():
        per_view = torch.stack(
            [sv(x[:, n]).alpha for n in range(3)], 1
        )  # (B, N, K) by the single-view net
        torch.testing.assert_close(add(x).alpha, add.shape_head(per_view.sum(1)))
        torch.testing.assert_close(
            concat(x).alpha, concat.shape_head(per_view.flatten(1))
        )
        torch.testing.assert_close(
            add(x[:, [2, 0, 1]]).alpha, add(x).alpha, rtol=1e-5, atol=1e-6
        )  # order-free
        torch.testing.assert_close(
            add(x).q[:, 1], sv(x[:, 1]).q[:, 0]
        )  # per-view poses are the branch's
    merged = MERGES["concat"]()(torch.arange(6.0).view(1, 3, 2))
    assert merged.tolist() == [
        [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    ]  # concatenation keeps the view order
    # initialised from the single-view weights, not sharing them
    assert all(
        torch.equal(a, b)
        for a, b in zip(sv.state_dict().values(), add.branch.state_dict().values())
    )
    assert add.branch.encoder[0].weight.data_ptr() != sv.encoder[0].weight.data_ptr()
    assert concat.shape_head[0].in_features == 15 and add.shape_head[0].in_features == 5


def test_shape_concat_from_concat():
    torch.manual_seed(2)
    concat = MultiView.from_single_view(
        SingleView(n_modes=5, image_size=64, width=0.125), 3, "concat"
    )
    shape = MultiView.shape_only_from(concat)
    assert shape.shape_only and shape.branch.pool and shape.branch.q_head is None
    assert torch.equal(shape.branch.encoder[0].weight, concat.branch.encoder[0].weight)
    assert torch.equal(shape.shape_head[0].weight, concat.shape_head[0].weight)
    pred = shape(images(2, N=3))
    assert pred.q is None and pred.t is None and pred.alpha.shape == (2, 5)
    with pytest.raises(ValueError, match="MV Concat"):
        MultiView.shape_only_from(MultiView.from_single_view(concat.branch, 3, "add"))


def test_network_names():
    torch.manual_seed(3)
    sv = SingleView(n_modes=5, image_size=32, width=0.125)
    concat = MultiView.from_single_view(sv, 2, "concat")
    assert concat.n_views == 2
    named = {
        network_name(sv),
        network_name(concat),
        network_name(MultiView.shape_only_from(concat)),
        network_name(AnyView.from_single_view(sv)),
    }
    assert named == set(NETWORKS) == {"sv", "mv", "mv_shape", "mv_any"}
    with pytest.raises(TypeError, match="SingleView, MultiView or AnyView"):
        network_name(ViewAverage(sv))


# ---------------------------------------------------------------------------- MV Any
def _any_view_inputs(n_views: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(
        0, 256, (2, n_views, 3, 64, 64), dtype=torch.uint8, generator=g
    )
    return images


def test_untrained_mv_any_is_sv_mean_for_any_number_of_views():
    """Its score and correction start at zero: equal weights, no correction, so the
    coefficients are the mean of the single-view network's (SV Mean), for N = 1 (the
    single-view network itself), 3 and 5; one camera per view."""
    from facelib.learn.nets import AnyView, ViewAverage

    torch.manual_seed(0)
    single = SingleView(n_modes=7, image_size=64, width=0.125).eval()
    net = AnyView.from_single_view(single).eval()
    with torch.no_grad():
        for n in (1, 3, 5):
            images = _any_view_inputs(n)
            got = net(images)
            want = ViewAverage(single)(images)
            assert got.alpha.shape == (2, 7) and got.q.shape == (2, n, 4)
            torch.testing.assert_close(got.alpha, want.alpha, rtol=0, atol=1e-5)
            torch.testing.assert_close(got.t, want.t)


def test_mv_any_does_not_depend_on_the_order_of_the_views():
    """With a trained-looking (non-zero) score and correction, the views get unequal
    weights, and permuting the photographs permutes the cameras and leaves α."""
    from facelib.learn.nets import AnyView

    torch.manual_seed(1)
    net = AnyView(SingleView(n_modes=7, image_size=64, width=0.125)).eval()
    with torch.no_grad():
        for head in (net.score, net.correction):
            head[-1].weight.normal_(0, 0.5)
        images = _any_view_inputs(4, seed=2)
        order = torch.tensor([2, 0, 3, 1])
        a, b = net(images), net(images[:, order])
        weights = net.view_weights(
            net.branch.features(images.flatten(0, 1)).view(2, 4, -1)
        )
    assert (weights.max(1).values - weights.min(1).values > 1e-3).all()
    torch.testing.assert_close(weights.sum(1), torch.ones(2))
    torch.testing.assert_close(b.alpha, a.alpha, rtol=0, atol=1e-5)
    torch.testing.assert_close(b.q, a.q[:, order])
    torch.testing.assert_close(b.t, a.t[:, order])


def test_mv_any_refuses_images_without_a_view_axis():
    from facelib.learn.nets import AnyView

    net = AnyView(SingleView(n_modes=3, image_size=64, width=0.125))
    with pytest.raises(ValueError, match=r"\(B, N, 3, S, S\) with any number N"):
        net(torch.zeros(2, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(ValueError, match="N >= 1"):
        net(torch.zeros(2, 0, 3, 64, 64, dtype=torch.uint8))
