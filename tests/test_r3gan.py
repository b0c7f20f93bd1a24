"""R3GAN: the relativistic pairing loss and R1/R2 maths, nets without normalisation that start as
identity residual stacks, conditional and unconditional, resume bit for bit, and a short training that learns."""

import pytest
import torch
import torch.nn.functional as F
from conftest import crash_and_resume, needs_fmnist

from gankit import api, losses
from gankit import config as C
from gankit.errors import ConfigError
from gankit.models import recipe_class, resolve_config
from gankit.nn.layers import MinibatchStd
from gankit.nn.resnet_gan import ResidualBlock

TINY = ["model.widths=[32,16,16]", "model.latent_dim=16", "model.embed_dim=8", "model.group_width=8"]


def test_relativistic_losses_and_penalties():
    r, f = torch.tensor([2.0, -1.0]), torch.tensor([0.0, 1.0])
    assert losses.rp_d(r, f).item() == pytest.approx(F.softplus(torch.tensor([-2.0, 2.0])).mean().item())
    assert losses.rp_g(r, f).item() == pytest.approx(F.softplus(torch.tensor([2.0, -2.0])).mean().item())
    # zero-centred penalty of D(x) = sum(w * x): ||w||^2 for every sample
    w = torch.randn(1, 3, 4, 4)
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    out = (x * w).flatten(1).sum(1)
    gp = losses.zero_centered_gp(out, x)
    assert gp.shape == (5,) and torch.allclose(gp, w.pow(2).sum().expand(5))


@pytest.mark.parametrize(
    "shape, widths, cond", [((1, 28, 28), "[32,16,16]", False), ((3, 32, 32), "[32,32,16,16]", True)]
)
def test_nets_have_no_norm_and_start_as_identity(shape, widths, cond):
    cfg = resolve_config("r3gan", "default", overrides=TINY + [f"model.widths={widths}", f"model.conditional={cond}"])
    r = recipe_class("r3gan")(cfg, shape, 10)
    r.gen = torch.Generator().manual_seed(0)
    mods = list(r.G.modules()) + list(r.D.modules())
    assert not any(
        isinstance(
            m, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.GroupNorm, torch.nn.LayerNorm, torch.nn.InstanceNorm2d)
        )
        for m in mods
    )
    blocks = [m for m in mods if isinstance(m, ResidualBlock)]
    x = torch.randn(2, blocks[0].f[0].in_channels, 8, 8)
    assert blocks and torch.equal(blocks[0](x), x)  # fix-up: the last conv of each branch starts at zero
    assert any(m.groups > 1 for m in mods if isinstance(m, torch.nn.Conv2d))  # grouped 3x3 convolutions
    lab = torch.tensor([1, 2]) if cond else None
    img = r.generate(r.G, r.latent(2), lab)
    assert img.shape == (2, *shape)
    if cond:
        a = r.D(img, torch.tensor([0, 0]))
        b = r.D(img, torch.tensor([5, 5]))
        assert not torch.allclose(a, b)
    reports = {}
    r._report = lambda k, v: reports.__setitem__(k, v)
    batch = {"image": torch.rand(4, *shape) * 2 - 1, "label": torch.tensor([0, 1, 2, 3])}
    before = [p.clone() for p in r.D.parameters()]
    r.step = 0
    r.train_step(batch)
    assert {"loss/D", "loss/D_r1", "loss/D_r2", "loss/G"} <= set(reports)
    assert reports["loss/D_r1"] > 0 and reports["loss/D_r2"] > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, r.D.parameters()))


@pytest.mark.parametrize("g_input", ["basis", "dense"])
def test_generator_input(g_input):
    """basis (the paper): every channel of G's first map is one learned s x s pattern, scaled by z, so two latents
    give proportional maps; dense (the default): z sets every pixel of it, so they do not."""
    cfg = resolve_config("r3gan", "default", overrides=TINY + [f"model.g_input={g_input}"])
    G = recipe_class("r3gan")(cfg, (1, 28, 28), 0).G
    first = G.body[0]
    maps = []
    first.register_forward_hook(lambda m, i, o: maps.append(i[0].detach()))
    assert G(torch.randn(2, 16)).shape == (2, 1, 28, 28)
    a, b = maps[0].flatten(2).unbind(0)  # (channels, s*s) for each latent
    cos = F.cosine_similarity(a, b, dim=1).abs()
    assert (cos > 0.999).all() if g_input == "basis" else (cos < 0.99).all()
    with pytest.raises(ConfigError, match="g_input"):
        resolve_config("r3gan", "default", overrides=["model.g_input=conv"])


def test_generator_output():
    """model.g_out: linear (the paper) leaves G's last 1x1 conv unbounded; tanh keeps every pixel in the data's
    range [-1, 1] and is the same map squashed."""
    z = torch.randn(4, 16)
    outs = {}
    for g_out in ("linear", "tanh"):
        cfg = resolve_config("r3gan", "default", overrides=TINY + [f"model.g_out={g_out}"])
        torch.manual_seed(0)
        G = recipe_class("r3gan")(cfg, (3, 32, 32), 0).G
        with torch.no_grad():
            G.out.weight.mul_(50)  # drive the map far outside [-1, 1]
            outs[g_out] = G(z)
    assert outs["linear"].abs().max() > 1 and outs["tanh"].abs().max() <= 1
    torch.testing.assert_close(outs["tanh"], torch.tanh(outs["linear"]))
    with pytest.raises(ConfigError, match="g_out"):
        resolve_config("r3gan", "default", overrides=["model.g_out=sigmoid"])


def test_schedules_and_validation():
    cfg = resolve_config("r3gan", "default", overrides=TINY + ["model.decay_steps=100", "model.lr_end=0.25"])
    r = recipe_class("r3gan")(cfg, (1, 28, 28), 0)
    lam = r.lr_lambda(None)
    assert (
        lam(0) == pytest.approx(1.0)
        and lam(50) == pytest.approx(0.625)
        and lam(100) == lam(10**6) == pytest.approx(0.25)
    )
    with pytest.raises(ConfigError, match="labelled"):
        recipe_class("r3gan")(
            resolve_config("r3gan", "default", overrides=TINY + ["model.conditional=true"]), (1, 28, 28), 0
        )
    with pytest.raises(ConfigError, match="reg_every"):
        resolve_config("r3gan", "default", overrides=["model.reg_every=0"])
    with pytest.raises(ConfigError, match="data.size"):
        resolve_config("r3gan", "default", overrides=["data.size=30"])


def test_conditional_preset_takes_the_class():
    """r3gan.conditional (the default plus the class and one grid row per class: its file holds only those, on
    base: default): built on labelled data its G and D take the class."""
    c = resolve_config("r3gan", "conditional")
    assert c.model.conditional and c.train.grid == 10
    r = recipe_class("r3gan")(resolve_config("r3gan", "conditional", overrides=TINY), (1, 28, 28), 10)
    z, y = torch.randn(2, 16), torch.tensor([1, 7])
    assert not torch.allclose(r.G(z, y), r.G(z, torch.tensor([2, 3])))


def test_color32_preset_has_a_fourth_stage():
    """r3gan.color32 (32-px colour, tuned on Twemoji-32; base: default plus a fourth stage, gamma and the data): its G
    starts from 4x4 and makes 3x32x32, and 28-px data is refused by name."""
    d, c = resolve_config("r3gan", "default"), resolve_config("r3gan", "color32")
    assert c.model.widths == [64, 64, 64, 32] and c.model.gamma == 4 * d.model.gamma and c.model.g_out == "tanh"
    r = recipe_class("r3gan")(resolve_config("r3gan", "color32", overrides=TINY[1:]), (3, 32, 32), 0)
    assert r.G.start == 4 and r.G(torch.randn(2, 16)).shape == (2, 3, 32, 32)
    with pytest.raises(ConfigError, match="data.size"):
        resolve_config("r3gan", "color32", overrides=["data.size=28"])


def test_beta2_rises_along_the_cosine_horizon():
    """model.beta2_start (the official code's 0.9 -> 0.99): Adam's beta2 starts there and reaches train.beta2 at
    decay_steps; the optimizers' param groups carry the value of the step being taken."""
    cfg = resolve_config(
        "r3gan", "default", overrides=TINY + ["model.decay_steps=100", "model.beta2_start=0.9", "train.beta2=0.99"]
    )
    r = recipe_class("r3gan")(cfg, (1, 28, 28), 0)
    r.gen, r._report = torch.Generator().manual_seed(0), None
    batch = {"image": torch.rand(4, 1, 28, 28) * 2 - 1}
    seen = []
    for step in (0, 50, 100, 500):
        r.step = step
        r.train_step(batch)
        seen.append([g["betas"][1] for o in r.optim.values() for g in o.param_groups])
    assert [s[0] for s in seen] == pytest.approx([0.9, 0.945, 0.99, 0.99])
    assert all(len(set(s)) == 1 for s in seen)  # G and D alike
    with pytest.raises(ConfigError, match="beta2_start"):
        resolve_config("r3gan", "default", overrides=["model.beta2_start=1.0"])


def test_init_and_ema_ramp_options():
    """model.last_gain > 0: the residual branches start non-zero (not identity); model.ema_ramp=cosine: the EMA's
    half-life rises from 0 at step 0 to train.ema's at decay_steps (the official code), where the default ramp is
    the trainer's (1 + t) / (10 + t)."""
    x = torch.randn(2, 32, 8, 8)
    assert not torch.equal(ResidualBlock(32, 2, 2, 3, last_gain=1.0)(x), x)
    cfg = resolve_config(
        "r3gan", "default", overrides=TINY + ["model.decay_steps=100", "model.ema_ramp=cosine", "train.ema=0.999"]
    )
    r = recipe_class("r3gan")(cfg, (1, 28, 28), 0)
    decays = [r.ema_decay(t, 0.999) for t in (0, 10, 50, 99, 100, 1000)]
    assert decays[0] == 0.0 and decays == sorted(decays) and decays[-2:] == pytest.approx([0.999, 0.999])
    assert 0.9 < decays[1] < 0.97 < decays[2] < 0.999  # half-lives of ~17 steps at t = 10, ~350 at t = 50
    assert r.ema_decay(10, 1.0) == pytest.approx(11 / 20)  # no half-life to ramp: the trainer's ramp
    steps = recipe_class("r3gan")(resolve_config("r3gan", "default", overrides=TINY), (1, 28, 28), 0)
    assert steps.ema_decay(10, 0.999) == pytest.approx(11 / 20)
    for bad, key in (("model.ema_ramp=linear", "ema_ramp"), ("model.last_gain=-1", "last_gain")):
        with pytest.raises(ConfigError, match=key):
            resolve_config("r3gan", "default", overrides=[bad])


def test_minibatch_std_never_mixes_real_with_fake():
    """model.mbstd: D's head sees one more map, the std over groups of consecutive samples; with D's batch laid out
    as cat([real, fake]) the real half's map does not move when the fake half does, and a group of copies (a
    collapsed G) gets a map near 0. A group that does not divide train.batch_size is refused."""
    layer = MinibatchStd(4)
    x = torch.randn(16, 8, 4, 4).to(memory_format=torch.channels_last)
    y = layer(x)
    assert y.shape == (16, 9, 4, 4) and torch.equal(y[:, :8], x)
    x2 = x.clone()
    x2[8:] = x[8:9]  # the fake half collapses to one image
    y2 = layer(x2)
    assert torch.equal(y2[:8, 8], y[:8, 8])
    assert y2[8:, 8].max() < 1e-3 < y[8:, 8].min()
    cfg = resolve_config("r3gan", "default", overrides=TINY + ["model.mbstd=4"])
    r = recipe_class("r3gan")(cfg, (1, 28, 28), 0)
    assert r.D(torch.randn(8, 1, 28, 28)).shape == (8, 1)
    with pytest.raises(ConfigError, match="mbstd"):
        recipe_class("r3gan").validate(resolve_config("r3gan", "default", overrides=["model.mbstd=3"]))


def test_mode_seeking_pairs_the_halves_of_gs_batch():
    """model.mode_seeking (MSGAN): G's two half-batches share their classes (and reals), and G's loss adds
    weight / ratio, the ratio of the halves' image distance to their latent distance."""
    cfg = resolve_config("r3gan", "conditional", overrides=TINY + ["model.mode_seeking=0.5"])
    r = recipe_class("r3gan")(cfg, (1, 28, 28), 10)
    seen, labels = {}, []
    r.gen, r._report = torch.Generator().manual_seed(0), lambda k, v: seen.__setitem__(k, float(v))
    r.G.register_forward_pre_hook(lambda m, a: labels.append(a[1].clone()))
    r.step = 1
    r.train_step({"image": torch.rand(8, 1, 28, 28) * 2 - 1, "label": torch.arange(8)})
    g_lab = labels[-1]
    assert torch.equal(g_lab[:4], g_lab[4:]) and torch.equal(g_lab[:4], torch.arange(4))
    assert seen["loss/G"] - seen["loss/G_adv"] == pytest.approx(0.5 / (seen["loss/G_ms_ratio"] + 1e-5), rel=1e-4)
    with pytest.raises(ConfigError, match="mode_seeking"):
        resolve_config("r3gan", "default", overrides=["model.mode_seeking=-1"])


def test_resume_is_bitwise_identical(tmp_path):
    n = 6
    args = [
        "train",
        "r3gan",
        "--steps",
        str(n),
        "--no-progress",
        "train.ckpt_every=3",
        "train.log_every=2",
        "train.sample_every=100",
        "data.limit=128",
        "train.batch_size=8",
        "train.threads=1",
        "--data",
        "twemoji",
        "data.size=16",
        "model.reg_every=2",
        *TINY,
    ]
    a, b, full, run = crash_and_resume(args, tmp_path, n)
    assert set(a) == set(b) and any(k.startswith("ema.") for k in a)
    assert [k for k in a if not torch.equal(a[k], b[k])] == []


@needs_fmnist
@pytest.mark.slow
def test_r3gan_learns_fashion_mnist(tmp_path):
    from test_learning import classifier_score, nearest_real, train_classifier

    from gankit.data import load
    from gankit.train.trainer import Trainer

    cfg = resolve_config(
        "r3gan",
        "default",
        overrides=TINY
        + [
            "model.widths=[48,32,16]",
            "train.steps=400",
            "train.batch_size=32",
            "model.mode_seeking=0",
            "train.lr=1e-3",
            "train.ema=0.95",
            "train.log_every=100",
            "train.sample_every=400",
            "train.ckpt_every=400",
            "train.threads=1",
            "data.limit=6000",
        ],
    )
    data = load(C.DataConfig(name="fashion-mnist", limit=12000))
    test = load(C.DataConfig(name="fashion-mnist", split="test", limit=2000))
    trainer = Trainer(cfg, out=tmp_path, progress=False)
    untrained = api.Generator(trainer.recipe, trainer.recipe.G, None, False).sample(500, seed=1)
    trained = api.load(trainer.fit()).sample(500, seed=1)
    clf = train_classifier(data)
    real = test.batch(torch.arange(2000))["image"]
    s_before, s_after = classifier_score(clf, untrained), classifier_score(clf, trained)
    d_before, d_after = nearest_real(untrained, real), nearest_real(trained, real)
    print(
        f"classifier score untrained={s_before:.2f} trained={s_after:.2f}; nearest real {d_before:.2f} -> {d_after:.2f}"
    )
    # measured at train.seed 0 / 1: score +1.31 / +0.98, nearest real x0.74 / x0.44 (an untrained or stuck G: ~+0, x1);
    # batch 32 and no mode seeking, the recipe these thresholds were set at (with the default's 0.2: +2.03, x0.87), then
    # with G's linear output; with the tanh output G has now, seed 0: +2.59, x0.75
    assert s_after > s_before + 0.75 and d_after < 0.8 * d_before
