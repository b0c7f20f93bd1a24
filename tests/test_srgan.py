"""SRResNet / SRGAN: parameter counts, x4 shapes, VGG plumbing, stage 1 -> 2, learning, bitwise resume."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
import torch
from conftest import gankit, gankit_killed
from PIL import Image

from gankit import config as C
from gankit.errors import CheckpointError
from gankit.metrics.sr import sr_scores
from gankit.models import config_from_dict, resolve_config
from gankit.nn.srresnet import SRDiscriminator, SRResNet
from gankit.nn.vgg import VGG_CUT, VGGFeatures, load_vgg
from gankit.pipelines import UpscalePipeline
from gankit.train import checkpoint as ckpt
from gankit.train.trainer import Trainer

torch.set_num_threads(1)

TINY = [
    "data.limit=40",
    "data.size=64",
    "model.crop=32",
    "model.g_features=8",
    "model.g_blocks=1",
    "model.d_features=8",
    "model.d_dense=16",
    "train.batch_size=4",
    "train.threads=1",
    "train.device=cpu",
    "train.report_every_epochs=null",
    "train.sample_every=1000",
    "train.log_every=1",
]


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


def count(m):
    return sum(p.numel() for p in m.parameters())


def conv(i, o, k):
    return i * o * k * k + o


def paper_g(f, blocks, scale=4, c=3):
    block = 2 * conv(f, f, 3) + 2 * 2 * f + f  # two convs, two BNs, PReLU(f)
    ups = (conv(f, 4 * f, 3) + f) * {2: 1, 4: 2, 8: 3}[scale]  # conv -> PixelShuffle -> PReLU(f)
    return conv(c, f, 9) + f + blocks * block + conv(f, f, 3) + 2 * f + ups + conv(f, c, 9)


def paper_d(f, size, dense, c=3):
    chans = [f, f, 2 * f, 2 * f, 4 * f, 4 * f, 8 * f, 8 * f]
    total, cin = 0, c
    for i, o in enumerate(chans):
        total += conv(cin, o, 3) + (2 * o if i else 0)
        cin = o
    side = size // 16
    return total + (8 * f * side * side * dense + dense) + (dense + 1)


def test_parameter_counts():
    assert count(SRResNet()) == paper_g(64, 16) == 1_550_659
    assert count(SRResNet(features=32, blocks=4)) == paper_g(32, 4)
    assert count(SRDiscriminator(size=96)) == paper_d(64, 96, 1024)
    # the book's Keras nets (spec B3/B8 counts, computed there from the Keras model)
    assert count(SRResNet(arch="book", bn_momentum=0.2, bn_eps=1e-3)) == 2_038_467
    assert count(SRDiscriminator(size=256, head="patch", bn_after_act=True)) == 5_215_425


def test_x4_shapes_any_size_and_heads():
    g = SRResNet(features=8, blocks=1).eval()
    for h, w in ((24, 24), (17, 13), (1, 5)):
        y = g(torch.rand(2, 3, h, w) * 2 - 1)
        assert y.shape == (2, 3, 4 * h, 4 * w) and y.abs().max() <= 1
    assert SRResNet(features=8, blocks=1, arch="book", up_features=16)(torch.zeros(1, 3, 7, 9)).shape == (1, 3, 28, 36)
    assert SRDiscriminator(features=8, size=32, dense=16)(torch.zeros(3, 3, 32, 32)).shape == (3, 1)
    assert SRDiscriminator(features=8, dense=16, head="patch")(torch.zeros(3, 3, 64, 48)).shape == (3, 1, 4, 3)


def test_presets_resolve_and_missing_vgg_weights_fall_back_to_mse_with_a_warning(capsys):
    for p in ("srresnet", "srresnet-paper", "default", "paper", "book"):
        cfg = resolve_config("srgan", p)
        assert cfg.model.scale == 4
    cfg = resolve_config("srgan", "paper")
    assert cfg.model.content == "mse" and "pixel MSE" in cfg.model.content_note
    assert "warning:" in capsys.readouterr().err
    assert "content_note: content=vgg54 needs VGG19 weights" in C.dump(cfg)  # the saved config says so
    ok = resolve_config("srgan", "paper", overrides=["model.vgg_weights=/x/vgg19.pth"])
    assert ok.model.content == "vgg54" and ok.model.content_note == ""
    assert resolve_config("srgan", "srresnet").model.content_note == ""  # stage 1 never uses VGG
    with pytest.raises(C.ConfigError, match="multiple"):
        resolve_config("srgan", "srresnet", overrides=["model.crop=30"])


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    """A random-init VGG19 up to conv2_2 (plumbing only: the numbers mean nothing)."""
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    feats = make_layers(cfgs["E"])[: VGG_CUT["vgg22"]]
    path = tmp_path_factory.mktemp("vgg") / "vgg19-random.pth"
    torch.save({f"features.{k}": v for k, v in feats.state_dict().items()}, path)
    return path


def test_vgg_features_get_imagenet_normalised_inputs(vgg_file):
    v = VGGFeatures(torch.load(vgg_file, weights_only=True), VGG_CUT["vgg22"])
    assert not any(p.requires_grad for p in v.parameters()) and len(v.net) == 9
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    mean, std = (
        torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1),
        torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1),
    )
    assert torch.allclose(v(x), v.net(((x + 1) / 2 - mean) / std))
    assert v(x).shape == (1, 128, 8, 8)
    with pytest.raises(CheckpointError, match="not a torchvision VGG19"):
        load_vgg(vgg_file, "vgg54")  # the file stops at conv2_2: phi5,4 cannot be built from it


def run(tmp, preset, extra, steps):
    cfg = resolve_config("srgan", preset, overrides=TINY + [f"train.steps={steps}"] + extra)
    t = Trainer(cfg, out=tmp, progress=False)
    return t, t.fit()


def test_stage2_starts_from_stage1_and_trains_with_vgg(tmp_path, vgg_file):
    t1, run1 = run(tmp_path, "srresnet", [], 3)
    assert t1.recipe.nets == ("G",) and "net.D.head.1.weight" not in ckpt.load(run1).tensors
    extra = [f"model.init_from={run1}", "model.content=vgg22", f"model.vgg_weights={vgg_file}"]
    cfg = resolve_config("srgan", "default", overrides=TINY + ["train.steps=2"] + extra)
    t2 = Trainer(cfg, out=tmp_path, progress=False)
    g1 = ckpt.load(run1).net("net.G")
    assert all(torch.equal(v, t2.recipe.G.state_dict()[k]) for k, v in g1.items())
    run2 = t2.fit()
    rows = [json.loads(x) for x in (run2 / "metrics.jsonl").read_text().splitlines()]
    assert all(k in rows[-1] for k in ("loss/G_content", "loss/G_adv", "loss/D_real", "D/p_fake"))
    grid = Image.open(run2 / "samples" / "step-0000002.png")
    assert abs(grid.size[0] / grid.size[1] - 0.5) < 0.05  # 6 rows of LR-bicubic | SR | HR
    m = UpscalePipeline.from_checkpoint(run2)  # inference needs neither D, VGG nor the stage-1 run
    assert m.scale == 4 and m.G(torch.zeros(1, 3, 5, 6)).shape == (1, 3, 20, 24)
    with pytest.raises(C.ConfigError, match="init_from"):
        Trainer(resolve_config("srgan", "default", overrides=TINY + ["model.init_from=/nope"]), out=tmp_path)
    # a resume takes G from its own checkpoint: the stage-1 run may be gone, and the config still records it
    g2 = ckpt.load(run2).net("net.G")
    shutil.rmtree(run1)
    t3 = Trainer(config_from_dict(ckpt.load(run2).config), out=tmp_path, resume=run2, progress=False)
    assert all(torch.equal(v, t3.recipe.G.state_dict()[k]) for k, v in g2.items())
    assert t3.cfg.model.init_from == str(run1)
    cfg3 = dataclasses.replace(t3.cfg, train=dataclasses.replace(t3.cfg.train, steps=3))
    assert Trainer(cfg3, out=tmp_path, resume=run2, progress=False).fit() == run2 and ckpt.load(run2).step == 3


def test_short_srresnet_training_beats_bicubic_on_heldout(tmp_path):
    over = [
        "data.limit=300",
        "model.g_features=16",
        "model.g_blocks=2",
        "train.batch_size=8",
        "train.lr=1e-3",
        "train.log_every=100",
    ]
    cfg = resolve_config("srgan", "srresnet", overrides=TINY + ["train.steps=200"] + over)
    t = Trainer(cfg, out=tmp_path, progress=False)
    before = sr_scores(t.recipe.G, t.data, 4)
    t.fit()
    after = sr_scores(t.recipe.G, t.data, 4)
    assert after["n"] >= 8
    assert before["sr"]["psnr_y"] < before["bicubic"]["psnr_y"]  # an untrained G is worse than bicubic ...
    assert after["sr"]["psnr_y"] > after["bicubic"]["psnr_y"] + 0.5, after  # ... a briefly trained one beats it
    assert after["sr"]["ssim_y"] > after["bicubic"]["ssim_y"]


def test_resume_of_srgan_is_bitwise_equal(tmp_path, vgg_file):
    over = [*TINY, "train.steps=4", "train.ckpt_every=2", "model.content=vgg22", f"model.vgg_weights={vgg_file}"]
    args = ["train", "srgan", "--no-progress", *over]
    Trainer(
        resolve_config("srgan", "default", overrides=over), out=tmp_path / "a", progress=False
    ).fit()  # uninterrupted
    gankit_killed(*args, "--out", str(tmp_path / "b"), at_step=2)  # SIGKILLed right after the step-2 checkpoint
    (run_b,) = (tmp_path / "b").iterdir()
    assert ckpt.load(run_b).step == 2
    gankit("train", "--resume", run_b, "--no-progress")
    (run_a,) = (tmp_path / "a").iterdir()
    a, b = ckpt.load(run_a), ckpt.load(run_b)
    assert a.step == b.step == 4
    keys = [k for k in a.tensors if k.startswith(("net.", "optim.", "rng."))]
    assert any(k.startswith("net.D.") for k in keys) and any(k.startswith("optim.D.") for k in keys)
    assert set(keys) <= set(b.tensors)
    for k in keys:
        assert torch.equal(a.tensors[k], b.tensors[k]), k
