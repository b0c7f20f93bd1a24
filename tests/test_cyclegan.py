"""CycleGAN: network sizes, instance norm over channels, cycle/identity losses, the image pool, bitwise resume."""

import json

import pytest
import torch
from conftest import crash_and_resume
from torch import nn

from gankit.models import resolve_config
from gankit.models.cyclegan import CycleGAN, cycle_loss, identity_loss, translate_both
from gankit.nn.image_pool import ImagePool
from gankit.nn.resnet_gen import ResnetGenerator

TINY = ["model.g_ngf=4", "model.g_blocks=1", "model.d_ndf=4", "model.d_layers=2", "data.size=16"]


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_paper_and_book_nets():
    torch.manual_seed(0)
    r = CycleGAN(resolve_config("cyclegan", "paper", None, []), (3, 256, 256), 0, "cpu")
    assert n_params(r.G) == n_params(r.F) == 11_378_179  # ResNet-9 generator of the reference code
    assert n_params(r.D_A) == n_params(r.D_B) == 2_764_737  # 70x70 PatchGAN on 3 channels
    assert n_params(r.pool) == 0 and r.pool.A.images.shape == (50, 3, 256, 256)
    assert r.D_A.receptive_field == 70
    book = CycleGAN(resolve_config("cyclegan", "book", None, []), (3, 128, 128), 0, "cpu")
    blocks = [m for m in book.G.modules() if m.__class__.__name__ == "ResnetBlock"]
    assert len(blocks) == 6 and book.D_A.receptive_field == 94
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        assert book.G(x).shape == (1, 3, 128, 128) and book.D_B(x).shape == (1, 1, 7, 7)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in book.G.modules())  # the book's BN in res blocks: gone


def test_instance_norm_is_over_channels_per_image():
    """Each image is normalised on its own: an image's output does not depend on its batch-mates, and a per-channel
    brightness shift of the input cannot leak through the first norm (the book normalised rows instead)."""
    torch.manual_seed(0)
    G = ResnetGenerator(3, 3, ngf=4, n_blocks=1).eval()
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        alone, together = G(x[:1]), G(x)[:1]
        shifted = G(x[:1] + torch.tensor([0.3, -0.2, 0.5]).view(1, 3, 1, 1))
    assert torch.allclose(alone, together, atol=1e-6)
    # a constant per-channel offset is a linear function after the first conv: removed by IN up to padding effects
    norm = [m for m in G.modules() if isinstance(m, nn.InstanceNorm2d)][0]
    assert norm.num_features == 4  # one statistic per channel
    assert (alone - shifted).abs().mean() < 0.05


def test_cycle_and_identity_losses_vanish_for_identity_generators():
    a, b = torch.rand(2, 3, 8, 8) * 2 - 1, torch.rand(2, 3, 8, 8) * 2 - 1
    out = translate_both(nn.Identity(), nn.Identity(), a, b)
    assert cycle_loss(out, a, b).item() == 0.0 and identity_loss(out, a, b).item() == 0.0
    # G and F inverse to each other: no cycle loss, but an identity loss
    shift, unshift = (lambda x: x + 0.25), (lambda x: x - 0.25)
    out = translate_both(shift, unshift, a, b)
    assert cycle_loss(out, a, b).item() < 1e-7 and identity_loss(out, a, b).item() == pytest.approx(0.5)
    out = translate_both(shift, nn.Identity(), a, b)  # not inverse: both cycles off by 0.25
    assert cycle_loss(out, a, b).item() == pytest.approx(0.5)


def test_image_pool_semantics():
    pool = ImagePool(3, (1, 2, 2))
    g = torch.Generator().manual_seed(0)
    first = torch.arange(2.0).view(2, 1, 1, 1).expand(2, 1, 2, 2)
    assert torch.equal(pool.query(first, g), first) and int(pool.count) == 2  # filling: returned as is
    second = torch.full((2, 1, 2, 2), 5.0)
    out = pool.query(second, g)  # the first fills the last slot; the pool is full for the second
    assert torch.equal(out[0], second[0]) and int(pool.count) == 3
    assert float(out[1, 0, 0, 0]) in (0.0, 1.0, 5.0)
    assert sorted(float(v) for v in pool.images[:, 0, 0, 0]) in ([0.0, 1.0, 5.0], [0.0, 5.0, 5.0], [1.0, 5.0, 5.0])
    # once full: each image comes back as is (p = 1/2) or swapped for a stored one, which it replaces
    swapped, n = 0, 400
    for i in range(n):
        before = pool.images.clone()
        new = torch.full((1, 1, 2, 2), 100.0 + i)
        got = pool.query(new, g)
        if torch.equal(got, new):
            assert torch.equal(pool.images, before)
        else:
            swapped += 1
            assert any(torch.equal(got[0], img) for img in before)
            assert any(torch.equal(new[0], img) for img in pool.images)
    assert 0.4 < swapped / n < 0.6
    # the same generator seed gives the same sequence; size 0 is a pass-through
    p1, p2 = ImagePool(2, (1,)), ImagePool(2, (1,))
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    seq = [torch.randn(3, 1) for _ in range(6)]
    assert all(torch.equal(p1.query(s, g1), p2.query(s, g2)) for s in seq)
    x = torch.randn(4, 1)
    assert torch.equal(ImagePool(0, (1,)).query(x), x)


def test_one_step_moves_generators_and_discriminators_and_fills_the_pools():
    torch.manual_seed(0)
    cfg = resolve_config("cyclegan", "default", None, [*TINY, "model.pool_size=5", "train.batch_size=2"])
    r = CycleGAN(cfg, (3, 16, 16), 0, "cpu")
    r.gen = torch.Generator().manual_seed(0)
    before = {n: [p.detach().clone() for p in getattr(r, n).parameters()] for n in ("G", "F", "D_A", "D_B")}
    r.step = 0
    r.train_step({"A": torch.rand(2, 3, 16, 16) * 2 - 1, "B": torch.rand(2, 3, 16, 16) * 2 - 1})
    for n, ps in before.items():
        assert any(not torch.equal(p, q) for p, q in zip(ps, getattr(r, n).parameters())), n
    assert int(r.pool.A.count) == int(r.pool.B.count) == 2
    lam = r.lr_lambda(10)  # the schedule the Trainer turns into LambdaLR objects
    assert lam(4) == 1.0 and lam(9) == pytest.approx(1 / 3)  # first half: no decay; step 9 of 10: 1 - 4/6


N = 8


def test_resume_is_bitwise_identical_including_the_pool(tmp_path):
    args = [
        "train",
        "cyclegan",
        "--steps",
        N,
        "--no-progress",
        *TINY,
        "data.limit=12",
        "train.batch_size=2",
        "model.pool_size=3",
        "train.ckpt_every=4",
        "train.log_every=2",
        "train.sample_every=100",
        "train.threads=1",
        "train.device=cpu",
    ]
    a, b, full, run = crash_and_resume(args, tmp_path, N)
    assert {"net.pool.A.images", "net.pool.B.count", "optim.D_A.0.exp_avg"} <= set(a) and set(a) == set(b)
    assert int(a["net.pool.A.count"]) == 3  # the pool filled up before the crash, so random draws matter
    different = [k for k in a if not (a[k].shape == b[k].shape and (a[k] == b[k]).all())]
    assert different == []
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss/cycle" in r] == [2, 4, 6, 8]


def test_residual_generators_start_as_the_identity_and_presets_keep_the_paper_net():
    """With ``g_out=residual`` G and F return their input exactly until training moves them (last conv zeroed after
    the weight init), so an untrained model scores as well as doing nothing; the presets keep the paper's tanh output
    and transposed convs."""
    torch.manual_seed(0)
    over = TINY + ["model.g_out=residual", "model.g_up=resize", "train.ema=0.999"]
    r = CycleGAN(resolve_config("cyclegan", "default", None, over), (3, 16, 16), 0, "cpu")
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    for G in (r.G, r.F):
        assert not any(isinstance(m, (nn.ConvTranspose2d, nn.Tanh)) for m in G.modules())
        assert torch.equal(G(x), x) and torch.equal(G.eval()(x), x)
        assert torch.equal(G(x * 1.5), (x * 1.5).clamp(-1, 1))  # eval mode clamps to the image range
        G.train()
    same = ResnetGenerator(3, 3, 4, 1)  # resize-conv has the transposed conv's parameter count
    assert n_params(ResnetGenerator(3, 3, 4, 1, up="resize", out="residual")) == n_params(same)
    for preset in ("default", "paper", "book"):
        o = resolve_config("cyclegan", preset, None, []).model
        assert (o.g_out, o.g_up) == ("tanh", "transpose"), preset
        assert resolve_config("cyclegan", preset, None, []).train.ema == 0.0
    with pytest.raises(ValueError, match="out='residual'"):
        same.init_identity()
