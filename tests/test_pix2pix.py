"""pix2pix: U-Net and PatchGAN sizes, the 70x70 receptive field, a conditional D, and learning on held-out pairs."""

import pytest
import torch
import torch.nn.functional as F

from gankit.errors import ConfigError
from gankit.models import resolve_config
from gankit.models.pix2pix import Pix2Pix, lr_factor
from gankit.nn.patchgan import PatchDiscriminator
from gankit.nn.unet import UNetGenerator

TINY = ["model.g_ngf=8", "model.g_downs=5", "model.g_dropout_blocks=1", "model.d_ndf=8", "data.size=32"]


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def recipe(overrides=(), preset="default", shape=(3, 32, 32)):
    cfg = resolve_config("pix2pix", preset, None, [*TINY, *overrides] if preset == "default" else list(overrides))
    return Pix2Pix(cfg, shape, 0, "cpu")


def test_paper_nets_match_the_reference_sizes():
    torch.manual_seed(0)
    r = recipe(preset="paper", shape=(3, 256, 256))
    # U-Net-256 (ngf 64, batch norm) and the 70x70 PatchGAN on 6 channels, as in the reference implementation
    assert n_params(r.G) == 54_413_955
    assert n_params(r.D) == 2_768_705
    x = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        r.G.eval()
        assert r.G(x).shape == (1, 3, 256, 256)
        assert r.discriminate(r.D, x, x).shape == (1, 1, 30, 30)
    dropouts = [m for m in r.G.modules() if isinstance(m, torch.nn.Dropout)]
    assert len(dropouts) == 3 and all(d.p == 0.5 for d in dropouts)


def test_patchgan_receptive_field_is_70_by_gradient():
    torch.manual_seed(0)
    D = PatchDiscriminator(6, ndf=8, n_layers=3, norm="none")  # norm none: batch statistics would couple all pixels
    assert D.receptive_field == 70
    x = torch.randn(1, 6, 160, 160, requires_grad=True)
    out = D(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    nz = x.grad.abs().sum((0, 1)) > 0
    rows, cols = nz.any(1).nonzero().flatten(), nz.any(0).nonzero().flatten()
    assert rows.max() - rows.min() + 1 == 70 and cols.max() - cols.min() + 1 == 70
    # the book's D (4 stride-2 convs, no stride-1 layer) sees 94x94 patches
    assert PatchDiscriminator(3, n_layers=4, s1_layer=False).receptive_field == 94


def test_discriminator_is_conditional_on_the_input():
    torch.manual_seed(0)
    r = recipe()
    r.D.eval()
    x1, x2, y = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        d1, d2 = r.discriminate(r.D, x1, y), r.discriminate(r.D, x2, y)
    assert d1.shape == (2, 1, 6, 6)  # a map of patch logits, not one score
    assert (d1 - d2).abs().max() > 1e-3
    assert r.D.net[0].in_channels == 6


def test_unet_skips_and_size_checks():
    G = UNetGenerator(3, 3, num_downs=5, ngf=8, dropout=0.0)
    G.eval()
    x = torch.randn(1, 3, 64, 96)  # any multiple of 2^5, not only squares
    assert G(x).shape == (1, 3, 64, 96)
    assert G.ups[-1][1].in_channels == 16  # the last decoder block sees its output and the first encoder's
    with pytest.raises(ConfigError, match="multiple of 32"):
        resolve_config("pix2pix", "default", None, [*TINY, "data.size=48"])
    with pytest.raises(ConfigError, match="g_dropout_blocks"):
        resolve_config("pix2pix", "default", None, [*TINY, "model.g_dropout_blocks=4"])


def test_lr_decays_linearly_over_the_second_half():
    assert lr_factor(0, 100, 1.0) == lr_factor(99, 100, 1.0) == 1.0
    assert lr_factor(50, 100, 0.5) == 1.0 and lr_factor(10, None, 0.5) == 1.0
    f = [lr_factor(s, 100, 0.5) for s in range(50, 100)]
    assert all(a > b for a, b in zip(f, f[1:])) and 0 < f[-1] < 0.05


def test_short_training_lowers_held_out_l1(tmp_path):
    from gankit.train.trainer import Trainer

    cfg = resolve_config(
        "pix2pix",
        "default",
        None,
        [
            *TINY,
            "data.limit=48",
            "train.batch_size=8",
            "train.steps=40",
            "train.log_every=20",
            "train.sample_every=1000",
            "train.lr=1e-3",
            "train.ckpt_every=1000",
            "train.threads=1",
            "train.device=cpu",
        ],
    )
    t = Trainer(cfg, out=tmp_path, progress=False)
    held = t.data.test.batch(torch.arange(len(t.data.test.A)))
    assert held["A"].shape[0] == 48  # data.limit caps the held-out split too

    def l1():
        return F.l1_loss(t.recipe.translate(t.recipe.G, held["A"]), held["B"]).item()

    before = l1()
    run = t.fit()
    after = l1()
    assert after < 0.7 * before, (before, after)
    grids = sorted((run / "samples").glob("*.png"))
    assert len(grids) == 2  # step 0 and the last step: rows of input | output | target
    from PIL import Image

    w, h = Image.open(grids[-1]).size
    assert (w, h) == (8 * 64 + 9 * 2 * 2, 6 * 64 + 7 * 2 * 2)  # 8 columns, 6 rows (2 x input|output|target)


BOOK_TINY = ["data.size=32", "model.g_downs=5", "model.g_ngf=4", "model.g_up_channels=[8,8,8,8]", "model.d_ndf=4"]


def test_book_d_tells_images_apart_at_batch_1_and_alternates_real_and_fake(monkeypatch):
    """The book's nets at batch 1 in training mode: without BN on the 1x1 layers (the named fix) D's logit and G's
    bottleneck depend on the input; and D steps on the real target at even steps, on predict()ed fakes at odd ones."""
    torch.manual_seed(0)
    r = recipe(BOOK_TINY, preset="book", shape=(1, 32, 32))
    r.gen = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 1, 1, 32, 32) * 2 - 1
    assert r.D.training and not torch.allclose(r.D(a), r.D(b))
    bottleneck = []
    for x in (a, b):
        for down in r.G.downs:
            x = down(x)
        bottleneck.append(x)
    assert x.shape[-1] == 1 and not torch.allclose(*bottleneck)
    seen = []
    d_forward = r.D.forward
    monkeypatch.setattr(r.D, "forward", lambda img: (seen.append(img.detach().clone()), d_forward(img))[1])
    x, y = torch.rand(2, 1, 1, 32, 32) * 2 - 1
    for step in range(3):
        r.step = step
        seen.clear()
        r.train_step({"A": x, "B": y})
        assert torch.equal(seen[0], y) == (step % 2 == 0)  # D's own step: the target photo, then the fakes
