"""The training toolbox (book ch.1 §1.7 + modern practice): each option's mechanism, shown working."""

import json

import pytest
import torch
from conftest import gankit, needs_fmnist

from gankit import losses
from gankit.models import recipe_class, resolve_config
from gankit.nn import HistoricalAverage, MinibatchDiscrimination, diff_augment
from gankit.nn import augment as A

TINY_MLP = ["model.g_hidden=[64]", "model.d_hidden=[64]"]


def make(recipe, preset="default", shape=(1, 28, 28), overrides=(), classes=0):
    cfg = resolve_config(recipe, preset, overrides=list(overrides))
    r = recipe_class(recipe)(cfg, shape, classes)
    r.gen = torch.Generator().manual_seed(0)
    return r


def fmnist(n=256):
    from gankit.config import DataConfig
    from gankit.data import load

    d = load(DataConfig(name="fashion-mnist", limit=n))
    return d.batch(torch.arange(n))["image"]


# --------------------------------------------------------------------------- losses


def test_gradient_penalty_and_r1_on_a_linear_critic():
    w = torch.tensor([3.0, 4.0])  # ||w|| = 5 everywhere
    D = lambda x: (x * w).sum(1, keepdim=True)
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    assert losses.gradient_penalty(D, real, fake) == pytest.approx((5 - 1) ** 2)
    x = real.clone().requires_grad_(True)
    assert losses.r1_penalty(D(x), x) == pytest.approx(25.0)


def test_minimax_loss_saturates_where_non_saturating_does_not():
    """Book §1.6.2: when D confidently rejects fakes, log(1 - D(G(z))) gives G almost no gradient."""
    logit = torch.tensor([[-8.0]], requires_grad=True)
    losses.g_loss("minimax", logit).backward()
    g_minimax = logit.grad.abs().item()
    logit.grad = None
    losses.g_loss("bce", logit).backward()
    assert g_minimax < 1e-3 < 0.9 < logit.grad.abs().item()


def test_wgan_gp_with_n_critic_updates_g_every_nth_step():
    r = make(
        "dcgan",
        "default",
        (3, 32, 32),
        [
            "model.loss=wgan",
            "model.gp=10",
            "model.n_critic=3",
            "model.d_norm=none",
            "model.d_dropout=0",
            "model.d_channels=[16,16,16]",
            "model.d_stem=0",
            "model.g_base=16",
            "model.g_channels=[16,16,16]",
        ],
    )
    seen, steps = {}, {"G": 0, "D": 0}
    r._report = lambda k, v: seen.setdefault(k, []).append(float(v))
    for n in ("G", "D"):
        orig = r.optim[n].step
        r.optim[n].step = (lambda o, n: lambda *a, **k: (steps.__setitem__(n, steps[n] + 1), o(*a, **k)))(orig, n)  # noqa: B023
    for s in range(6):
        r.step = s
        r.train_step({"image": torch.rand(8, 3, 32, 32) * 2 - 1})
    assert steps == {"D": 6, "G": 2}
    assert len(seen["loss/D_gp"]) == 6 and all(v >= 0 for v in seen["loss/D_gp"])


def test_relativistic_pairing_pairs_each_fake_with_a_real(monkeypatch):
    """loss=rp: D's loss is softplus(-(D(x) - D(G(z)))) over pairs; G's pairs its batch (here twice D's) with the
    same reals re-scored by the updated D, each real used in turn; label options are refused."""
    from gankit.errors import ConfigError

    with pytest.raises(ConfigError, match="loss=rp"):
        resolve_config("mlp-gan", "default", overrides=["model.loss=rp"])  # the default smooths real labels to 0.9
    r = make(
        "mlp-gan",
        "default",
        overrides=TINY_MLP + ["model.loss=rp", "model.real_label=1", "model.dropout=0", "model.g_batch_mult=2"],
    )
    calls, seen = {}, {}
    for name in ("rp_d", "rp_g"):
        monkeypatch.setattr(
            losses,
            name,
            (lambda f, name: lambda a, b: (calls.setdefault(name, (a, b)), f(a, b))[1])(getattr(losses, name), name),  # noqa: B023
        )
    r._report = lambda k, v: seen.__setitem__(k, float(v))
    real = torch.rand(8, 1, 28, 28) * 2 - 1
    r.step = 0
    r.train_step({"image": real})
    d_real, d_fake = calls["rp_d"]
    assert d_real.shape == d_fake.shape == (8, 1)
    assert seen["loss/D_real"] == pytest.approx(
        torch.nn.functional.softplus(-(d_real - d_fake)).mean().item(), rel=1e-5
    )
    ref, out = calls["rp_g"]
    assert ref.shape == out.shape == (16, 1)
    assert torch.equal(ref[:8], ref[8:])  # the 8 reals, scored once per half of G's batch
    with torch.no_grad():
        assert torch.allclose(ref[:8].float(), r.D(real, None).float(), atol=1e-5)  # by the D after its update
    assert 0 <= seen["D/acc_real"] <= 1 and seen["D/acc_real"] == seen["D/acc_fake"]


def test_wgan_without_a_lipschitz_constraint_is_refused():
    from gankit.errors import ConfigError

    with pytest.raises(ConfigError, match="Lipschitz"):
        resolve_config("dcgan", "default", overrides=["model.loss=wgan"])


# --------------------------------------------------------------------------- ch.1 stabilisers


def test_label_targets_one_sided_smoothing_and_noise():
    g = torch.Generator().manual_seed(0)
    assert losses.targets(4, 0.9) == 0.9
    real = losses.targets(5000, 1.0, noise=0.2, generator=g)
    fake = losses.targets(5000, 0.0, noise=0.2, generator=g)
    assert 0.8 < real.min() and real.max() <= 1.0 and 0.0 <= fake.min() and fake.max() < 0.2
    flipped = losses.targets(5000, 1.0, flip=0.1, generator=g)
    assert 0.07 < (flipped == 0).float().mean() < 0.13


@needs_fmnist
def test_one_sided_label_smoothing_caps_d_confidence():
    """With real target 0.9, D learns sigmoid(D(x)) ~ 0.9 on real data instead of pushing it to 1."""
    real = fmnist(128)
    conf = {}
    for label in (1.0, 0.9):
        r = make(
            "mlp-gan",
            "tutorial",
            overrides=TINY_MLP + [f"model.real_label={label}", "model.dropout=0", "train.lr=0", "train.lr_d=2e-3"],
        )
        for s in range(150):
            r.step = s
            r.train_step({"image": real})
        with torch.no_grad():
            conf[label] = torch.sigmoid(r.D(real)).mean().item()
    assert conf[1.0] > 0.97 and 0.85 < conf[0.9] < 0.93


@needs_fmnist
def test_feature_matching_pulls_fake_feature_means_to_real():
    real = fmnist(128)
    dist = {}
    for w in (0.0, 10.0):
        r = make(
            "mlp-gan",
            "default",
            overrides=TINY_MLP + [f"model.feature_matching={w}", "train.lr_d=0", "train.lr=1e-3", "model.dropout=0"],
        )
        torch.manual_seed(0)
        for s in range(120):
            r.step = s
            r.train_step({"image": real})
        with torch.no_grad():
            _, f_real = r.D(real, features=True)
            _, f_fake = r.D(r.G(r.latent(128)), features=True)
            dist[w] = losses.feature_matching(f_real, f_fake).item()
    assert dist[10.0] < 0.5 * dist[0.0]


def test_minibatch_discrimination_layer():
    mbd = MinibatchDiscrimination(20, kernels=7, kernel_dim=3)
    same = torch.randn(1, 20).repeat(6, 1)
    o = mbd(same)
    assert o.shape == (6, 7) and torch.allclose(o, torch.full_like(o, 5.0))  # n - 1 identical neighbours
    assert (mbd(torch.randn(6, 20) * 5) < 5.0).all()


@needs_fmnist
def test_minibatch_discrimination_lets_d_spot_a_collapsed_batch():
    """A collapsed batch (copies of one real image) looks real sample by sample; only minibatch features
    can reject it. D with the T-tensor layer learns to; the same D without it cannot."""
    data = fmnist(512)
    acc = {}
    for k in (0, 16):
        torch.manual_seed(0)
        r = make(
            "mlp-gan",
            "tutorial",
            overrides=TINY_MLP
            + [f"model.minibatch_disc={k}", "model.dropout=0", "model.real_label=1.0", "train.lr_d=1e-3"],
        )
        opt, g = r.optim["D"], torch.Generator().manual_seed(1)
        for _ in range(200):
            idx = torch.randperm(512, generator=g)[:32]
            real, fake = data[idx], data[idx[:1]].repeat(32, 1, 1, 1)
            loss = losses.d_real("bce", r.D(real)) + losses.d_fake("bce", r.D(fake))
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            idx = torch.randperm(512, generator=g)[:32]
            real, fake = data[idx], data[idx[:1]].repeat(32, 1, 1, 1)
            ar, af = losses.d_accuracy(r.D(real), r.D(fake))
            acc[k] = (ar + af).item() / 2
    assert acc[16] > 0.9 and acc[0] < 0.75


def test_historical_average_penalty():
    net = torch.nn.Linear(3, 2)
    ha = HistoricalAverage(net)
    snaps = [torch.cat([p.detach().flatten() for p in net.parameters()])]
    assert ha.penalty() == 0
    for _ in range(4):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p))
        ha.update()
        snaps.append(torch.cat([p.detach().flatten() for p in net.parameters()]))
    mean = torch.stack(snaps).mean(0)
    theta = torch.cat([p.detach().flatten() for p in net.parameters()])
    assert ha.penalty().item() == pytest.approx((theta - mean).pow(2).sum().item(), rel=1e-5)
    net.zero_grad()
    ha.penalty().backward()
    grad = torch.cat([p.grad.flatten() for p in net.parameters()])
    assert torch.allclose(grad, 2 * (theta - mean), atol=1e-5)


def test_historical_averaging_keeps_weights_near_their_running_mean():
    drift = {}
    for w in (0.0, 1.0):
        r = make("mlp-gan", "default", overrides=TINY_MLP + [f"model.historical_avg={w}", "train.lr=5e-3"])
        ha = HistoricalAverage(r.D)
        for s in range(40):
            r.step = s
            r.train_step({"image": torch.rand(16, 1, 28, 28) * 2 - 1})
            ha.update()
        drift[w] = ha.penalty().item()
    assert drift[1.0] < 0.5 * drift[0.0]


def test_mode_seeking_pairs_share_classes_and_punish_a_g_that_ignores_z():
    """MSGAN: G's batch is two halves with the same classes; the term is weight / (|dG| / |dz|), so a G whose output
    does not move with z pays 1 / eps."""
    r = make(
        "cgan",
        overrides=[
            "model.g_base=32",
            "model.g_channels=[16,8]",
            "model.d_channels=[8,16]",
            "model.embed_dim=8",
            "model.mode_seeking=1.0",
        ],
        classes=10,
    )
    z = torch.randn(6, r.opts.latent_dim)
    same = torch.zeros(6, 1, 28, 28)
    assert float(r.ms_term(same, z)) > 1e4  # output independent of z: 1 / 1e-5
    moving = z[:, :1, None, None].expand(6, 1, 28, 28)
    assert float(r.ms_term(moving, z)) == pytest.approx(
        1 / (float((moving[:3] - moving[3:]).abs().mean() / (z[:3] - z[3:]).abs().mean()) + 1e-5), rel=1e-5
    )
    r._report = lambda *a, **k: None
    captured = {}
    G = r.G
    orig = G.forward

    def spy(zz, lab):
        captured["lab"] = lab.clone()
        return orig(zz, lab)

    G.forward = spy
    x = fmnist(16)
    r.train_step({"image": x, "label": torch.arange(16) % 10})
    lab = captured["lab"]
    assert torch.equal(lab[:8], lab[8:16])  # the pairs of the G step share their classes
    # the one-G-forward path (dcgan's reuse_fakes) carries its latents to the term too
    d = make(
        "dcgan",
        shape=(1, 32, 32),
        overrides=[
            "model.g_base=16",
            "model.g_channels=[8,8,8]",
            "model.d_stem=8",
            "model.d_channels=[8,8,8]",
            "model.mode_seeking=1.0",
        ],
    )
    assert d.opts.reuse_fakes
    seen = {}
    d._report = lambda name, v: seen.__setitem__(name, float(v))
    d.train_step({"image": torch.rand(8, 1, 32, 32) * 2 - 1})
    assert seen["loss/G_ms_ratio"] > 0


@pytest.mark.parametrize("norm", ["batch", "instance", "spectral"])
def test_norm_choices(norm):
    r = make("dcgan", "default", (3, 32, 32), [f"model.d_norm={norm}", "model.d_dropout=0"])
    x = torch.randn(6, 3, 32, 32)
    body = r.D.body
    if norm == "spectral":
        for _ in range(30):  # power iterations run in train mode
            body(x)
        convs = [m for m in body.modules() if isinstance(m, torch.nn.Conv2d)]
        for m in convs:
            w = m.weight.detach().flatten(1)
            assert torch.linalg.matrix_norm(w, ord=2) == pytest.approx(1.0, abs=0.05)
        return
    kind = {"batch": torch.nn.BatchNorm2d, "instance": torch.nn.InstanceNorm2d}[norm]
    assert any(isinstance(m, kind) for m in body.modules())
    alone = body(x[:1])
    with_others = body(x)[:1]
    if norm == "instance":  # each sample normalised by its own statistics: the batch does not matter
        assert torch.allclose(alone, with_others, atol=1e-5)
    else:
        assert not torch.allclose(body(x[:2])[:1], with_others, atol=1e-3)


# --------------------------------------------------------------------------- DiffAugment


def test_diffaugment_transforms():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 3, 16, 16) * 2 - 1
    t = A.translation(x, 0.125, g)
    for i in range(16):  # each output is its input shifted by at most 2 px with zero fill
        hits = [
            (dx, dy)
            for dx in range(-2, 3)
            for dy in range(-2, 3)
            if torch.allclose(t[i, :, 3:13, 3:13], x[i, :, 3 + dx : 13 + dx, 3 + dy : 13 + dy])
        ]
        assert hits
    assert not torch.equal(t, x)
    c = A.cutout(x, 0.5, g)
    zero_frac = (c == 0).all(1).float().mean((1, 2))
    assert ((zero_frac >= 16 / 256) & (zero_frac <= 0.25 + 1e-6)).all()  # an 8x8 hole, clipped at borders
    y = x.clone().requires_grad_(True)
    diff_augment(y, "color,translation,cutout", g).sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0  # differentiable: G gets gradients through it
    a = diff_augment(x, "color,translation", torch.Generator().manual_seed(5))
    b = diff_augment(x, "color,translation", torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_diffaugment_is_what_d_sees_in_both_steps():
    r = make("dcgan", "default", (3, 32, 32), ["model.diffaug=translation,cutout", "model.d_dropout=0"])
    seen = []
    h = r.D.body.register_forward_hook(lambda m, i, o: seen.append(i[0].detach()))
    real = torch.rand(8, 3, 32, 32) * 2 - 1
    r.train_step({"image": real})
    h.remove()
    rows = torch.cat(seen)
    assert rows.shape[0] == 24  # real, fake (D step: one joint forward or two) and fake (G step)
    seen_real = rows[:8]
    assert (seen_real == 0).all(1).float().mean() > 0.1  # cutout holes in what D saw of the real batch
    assert not torch.equal(seen_real, real)


def test_bad_diffaug_policy_is_a_config_error():
    from gankit.errors import ConfigError

    with pytest.raises(ConfigError, match="diffaug"):
        resolve_config("dcgan", "default", overrides=["model.diffaug=rotate"])


# --------------------------------------------------------------------------- from the CLI


@needs_fmnist
def test_every_option_trains_from_the_cli(tmp_path):
    common = ["--steps", "4", "train.log_every=2", "train.batch_size=8", "data.limit=64", "--out", tmp_path]
    gankit(
        "train",
        "mlp-gan",
        *common,
        *TINY_MLP,
        "model.feature_matching=1",
        "model.minibatch_disc=8",
        "model.historical_avg=0.01",
        "model.label_noise=0.1",
        "model.label_flip=0.05",
        "model.diffaug=color,cutout",
        "model.d_norm=spectral",
        "model.g_norm=batch",
        "model.r1=1",
    )
    gankit(
        "train",
        "dcgan",
        *common,
        "data.name=twemoji",
        "data.size=32",
        "model.g_base=16",
        "model.g_channels=[16,16,16]",
        "model.d_stem=0",
        "model.d_channels=[16,16,16]",
        "model.loss=wgan",
        "model.gp=10",
        "model.n_critic=2",
        "model.d_norm=instance",
        "model.g_norm=instance",
        "model.minibatch_disc=4",
        "model.feature_matching=1",
        "model.diffaug=color,translation,cutout",
    )
    gankit(
        "train",
        "lsgan",
        *common,
        "model.d_norm=spectral",
        "model.historical_avg=0.01",
        "model.real_label=0.9",
        "model.loss=hinge",
    )
    runs = sorted(tmp_path.iterdir())
    assert len(runs) == 3
    for run in runs:
        rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
        assert rows[-1]["step"] == 4 or any(r.get("step") == 4 for r in rows)
        assert (run / "health.md").exists()
