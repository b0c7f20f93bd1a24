"""Each ``tutorial`` preset against its seed, point by point.

The tables below are written out of the seed texts (../shared/seeds/000-003), not from the presets: the layers
in Keras terms, activations, dropout, weight init, both optimizers with their constants (Keras 2's Adam has
epsilon 1e-7; ``'adam'`` as a string is lr 1e-3, beta_1 0.9), what each optimizer step sees, targets and the
loss. The test builds the preset's recipe and checks its nets, optimizers and one real training step against
them. The differences that remain are named in docs/fidelity.md.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.models import recipe_class, resolve_config

KERAS_ADAM = {"beta_2": 0.999, "epsilon": 1e-7}

# seed 003 (medium, "GAN using Keras"): create_generator / create_discriminator / create_gan / training
SEED_003 = {
    "preset": ("mlp-gan", "tutorial"),
    "input": (1, 28, 28),
    "latent": 100,
    "G": [
        ("Dense", 256),
        ("LeakyReLU", 0.2),
        ("Dense", 512),
        ("LeakyReLU", 0.2),
        ("Dense", 1024),
        ("LeakyReLU", 0.2),
        ("Dense", 784, "tanh"),
    ],
    "D": [
        ("Dense", 1024),
        ("LeakyReLU", 0.2),
        ("Dropout", 0.3),
        ("Dense", 512),
        ("LeakyReLU", 0.2),
        ("Dropout", 0.3),
        ("Dense", 256),
        ("LeakyReLU", 0.2),
        ("Dense", 1, "sigmoid"),
    ],
    "kernel_init": "glorot_uniform",
    "D_opt": {"lr": 0.0002, "beta_1": 0.5, **KERAS_ADAM},  # adam_optimizer()
    "G_opt": {"lr": 0.001, "beta_1": 0.9, **KERAS_ADAM},  # gan.compile(optimizer='adam')
    "loss": "binary_crossentropy",
    # one D train_on_batch on concatenate([128 real, 128 fake]) with y 0.9 / 0; G on 128 noise with y 1
    "D_updates": [{"real": 128, "fake": 128, "real_y": 0.9, "fake_y": 0.0}],
    "G_batch": 128,
    "G_y": 1.0,
    "combined_trainable_D": "none",  # discriminator.trainable=False before gan.compile
}

# seed 002 (LSGAN, MNIST): define_discriminator / define_generator / define_gan / train
SEED_002 = {
    "preset": ("lsgan", "tutorial"),
    "input": (1, 28, 28),
    "latent": 100,
    "G": [
        ("Dense", 256 * 7 * 7),
        ("BatchNormalization",),
        ("Activation", "relu"),
        ("Reshape", (7, 7, 256)),
        ("Conv2DTranspose", 128, 4, 2),
        ("BatchNormalization",),
        ("Activation", "relu"),
        ("Conv2DTranspose", 64, 4, 2),
        ("BatchNormalization",),
        ("Activation", "relu"),
        ("Conv2D", 1, 7, 1),
        ("Activation", "tanh"),
    ],
    "D": [
        ("Conv2D", 64, 4, 2),
        ("BatchNormalization",),
        ("LeakyReLU", 0.2),
        ("Conv2D", 128, 4, 2),
        ("BatchNormalization",),
        ("LeakyReLU", 0.2),
        ("Flatten",),
        ("Dense", 1, "linear"),
    ],
    "kernel_init": "RandomNormal(stddev=0.02)",  # BN: Keras defaults (gamma 1, beta 0, momentum 0.99, eps 1e-3)
    "D_opt": {"lr": 0.0002, "beta_1": 0.5, **KERAS_ADAM},
    "G_opt": {"lr": 0.0002, "beta_1": 0.5, **KERAS_ADAM},
    "loss": "mse",
    # n_batch 64, half_batch 32: d_model.train_on_batch(X_real, 1), then (X_fake, 0); gan on 64 with y 1
    "D_updates": [{"real": 32, "fake": 0, "real_y": 1.0}, {"real": 0, "fake": 32, "fake_y": 0.0}],
    "G_batch": 64,
    "G_y": 1.0,
    "combined_trainable_D": "batchnorm",  # `if not isinstance(layer, BatchNormalization): layer.trainable = False`
}

# seeds 000/001 (DCGAN, CIFAR-10): define_discriminator / define_generator / define_gan / train
SEED_000 = {
    "preset": ("dcgan", "tutorial"),
    "input": (3, 32, 32),
    "latent": 100,
    "G": [
        ("Dense", 256 * 4 * 4),
        ("LeakyReLU", 0.2),
        ("Reshape", (4, 4, 256)),
        ("Conv2DTranspose", 128, 4, 2),
        ("LeakyReLU", 0.2),
        ("Conv2DTranspose", 128, 4, 2),
        ("LeakyReLU", 0.2),
        ("Conv2DTranspose", 128, 4, 2),
        ("LeakyReLU", 0.2),
        ("Conv2D", 3, 3, 1, "tanh"),
    ],
    "D": [
        ("Conv2D", 64, 3, 1),
        ("LeakyReLU", 0.2),
        ("Conv2D", 128, 3, 2),
        ("LeakyReLU", 0.2),
        ("Conv2D", 128, 3, 2),
        ("LeakyReLU", 0.2),
        ("Conv2D", 256, 3, 2),
        ("LeakyReLU", 0.2),
        ("Flatten",),
        ("Dropout", 0.4),
        ("Dense", 1, "sigmoid"),
    ],
    "kernel_init": "glorot_uniform",
    "D_opt": {"lr": 0.0002, "beta_1": 0.5, **KERAS_ADAM},
    "G_opt": {"lr": 0.0002, "beta_1": 0.5, **KERAS_ADAM},
    "loss": "binary_crossentropy",
    "D_updates": [{"real": 64, "fake": 0, "real_y": 1.0}, {"real": 0, "fake": 64, "fake_y": 0.0}],
    "G_batch": 128,
    "G_y": 1.0,
    "combined_trainable_D": "none",  # d_model.trainable = False
    "params": {"G": 1_466_115, "D": 522_497},  # the seed's model.summary()
}

SEEDS = {"003": SEED_003, "002": SEED_002, "000": SEED_000}


# ---------------------------------------------------------------- the seed's layers in one vocabulary


def keras_layers(table: list[tuple], in_shape: tuple[int, int, int]) -> tuple[list[tuple], int]:
    """Keras layers -> canonical (kind, ...) tuples and Keras' trainable parameter count."""
    c, h, w = in_shape
    flat, out, params = c * h * w, [], 0
    for layer in table:
        kind, *args = layer
        act = None
        if kind == "Dense":
            units, *rest = args
            params += flat * units + units
            flat, c, h, w = units, units, 1, 1
            out.append(("linear", units))
            act = rest[0] if rest else None
        elif kind in ("Conv2D", "Conv2DTranspose"):
            f, k, s, *rest = args
            params += k * k * c * f + f
            h, w = (h // s, w // s) if kind == "Conv2D" else (h * s, w * s)
            c, flat = f, f * h * w
            out.append(("conv" if kind == "Conv2D" else "convT", f, k, s))
            act = rest[0] if rest else None
        elif kind == "BatchNormalization":
            params += 2 * c  # gamma, beta (the moving statistics are not trainable)
            out.append(("bn",))
        elif kind == "LeakyReLU":
            out.append(("lrelu", args[0]))
        elif kind == "Activation":
            act = args[0]
        elif kind == "Dropout":
            out.append(("dropout", args[0]))
        elif kind == "Reshape":
            h, w, c = args[0]  # Keras is channels-last
        elif kind == "Flatten":
            c, h, w = flat, 1, 1
        if act and act != "linear":
            out.append((act,))
    return out, params


def torch_layers(net: nn.Module) -> list[tuple]:
    out = []
    for m in net.modules():
        if list(m.children()):
            continue
        if isinstance(m, nn.Linear):
            out.append(("linear", m.out_features))
        elif isinstance(m, nn.ConvTranspose2d):
            out.append(("convT", m.out_channels, m.kernel_size[0], m.stride[0]))
        elif isinstance(m, nn.Conv2d):
            out.append(("conv", m.out_channels, m.kernel_size[0], m.stride[0]))
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            out.append(("bn",))
        elif isinstance(m, nn.LeakyReLU):
            out.append(("lrelu", pytest.approx(m.negative_slope)))
        elif isinstance(m, nn.ReLU):
            out.append(("relu",))
        elif isinstance(m, nn.Tanh):
            out.append(("tanh",))
        elif isinstance(m, nn.Sigmoid):
            out.append(("sigmoid",))
        elif isinstance(m, nn.Dropout):
            out.append(("dropout", pytest.approx(m.p)))
        elif isinstance(m, (nn.Flatten, nn.Unflatten, nn.Identity)):
            continue
        else:
            raise AssertionError(f"no Keras counterpart in the table's vocabulary: {m}")
    return out


def build(seed):
    recipe, preset = seed["preset"]
    cfg = resolve_config(recipe, preset)
    torch.manual_seed(0)
    r = recipe_class(recipe)(cfg, seed["input"], 0)
    r.gen = torch.Generator().manual_seed(0)
    return cfg, r


def n_trainable(net):
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("sid", SEEDS)
def test_layers_activations_dropout_and_parameter_counts(sid):
    seed = SEEDS[sid]
    cfg, r = build(seed)
    g_want, g_params = keras_layers(seed["G"], (seed["latent"], 1, 1))
    d_want, d_params = keras_layers(seed["D"], seed["input"])
    # Keras' sigmoid output + binary_crossentropy == a logit + BCE-with-logits; 'mse' on a linear unit == ls
    assert (seed["loss"], cfg.model.loss) in (("binary_crossentropy", "bce"), ("mse", "ls"))
    if d_want[-1] == ("sigmoid",):
        d_want = d_want[:-1]
    assert torch_layers(r.G) == g_want
    assert torch_layers(r.D) == d_want
    assert n_trainable(r.G) == g_params and n_trainable(r.D) == d_params
    if "params" in seed:
        assert (g_params, d_params) == (seed["params"]["G"], seed["params"]["D"])
    assert r.latent_dim == seed["latent"]
    assert r.G(torch.randn(2, seed["latent"])).shape == (2, *seed["input"])


@pytest.mark.parametrize("sid", SEEDS)
def test_weight_init(sid):
    seed = SEEDS[sid]
    _, r = build(seed)
    for net in (r.G, r.D):
        for m in net.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                w = m.weight.detach()
                assert torch.count_nonzero(m.bias) == 0
                if seed["kernel_init"] == "glorot_uniform":
                    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(w)
                    limit = (6 / (fan_in + fan_out)) ** 0.5
                    assert w.abs().max() <= limit and w.abs().max() > 0.9 * limit  # U(-limit, limit)
                else:  # RandomNormal(stddev=0.02)
                    assert abs(w.std().item() - 0.02) < 0.02 * (0.1 if w.numel() > 1000 else 0.5)
                    assert abs(w.mean().item()) < 0.01
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):  # Keras BatchNormalization() defaults
                assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
                assert m.momentum == pytest.approx(0.01) and m.eps == pytest.approx(1e-3)


@pytest.mark.parametrize("sid", SEEDS)
def test_optimizers_and_their_constants(sid):
    seed = SEEDS[sid]
    _, r = build(seed)
    for name in ("G", "D"):
        want, opt = seed[f"{name}_opt"], r.optim[name]
        assert isinstance(opt, torch.optim.Adam)
        for group in opt.param_groups:
            assert group["lr"] == pytest.approx(want["lr"])
            assert group["betas"] == pytest.approx((want["beta_1"], want["beta_2"]))
            assert group["eps"] == pytest.approx(want["epsilon"])
    # the combined model's trainable weights: G's, plus D's batch-norm gamma/beta in seed 002
    g_opt = {id(p) for grp in r.optim["G"].param_groups for p in grp["params"]}
    bn = {id(p) for m in r.D.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) for p in m.parameters()}
    extra = g_opt - {id(p) for p in r.G.parameters()}
    assert extra == (bn if seed["combined_trainable_D"] == "batchnorm" else set())
    assert {id(p) for p in r.G.parameters()} <= g_opt
    assert {id(p) for grp in r.optim["D"].param_groups for p in grp["params"]} == {id(p) for p in r.D.parameters()}


@pytest.mark.parametrize("sid", SEEDS)
def test_one_training_step_feeds_each_update_as_the_seed(sid, monkeypatch):
    """One real training step, spied on: how many optimizer steps, the batch D sees in each, the targets of its
    real and fake losses, G's batch and target."""
    import gankit.losses as L

    seed = SEEDS[sid]
    cfg, r = build(seed)
    events = []
    real_batch = torch.rand(cfg.train.batch_size, *seed["input"]) * 2 - 1
    d_forward = r.D.forward

    def spy_d(x, *a, **k):
        events.append(("D_in", x.shape[0], x.detach()))
        return d_forward(x, *a, **k)

    monkeypatch.setattr(r.D, "forward", spy_d)
    for fn in ("d_real", "d_fake", "g_loss"):
        orig = getattr(L, fn)

        def spy(kind, out, target, _fn=fn, _orig=orig):
            events.append((_fn, out.shape[0], float(target)))
            return _orig(kind, out, target)

        monkeypatch.setattr(L, fn, spy)
    update = r.update

    def spy_update(name, loss):
        events.append(("step", name))
        return update(name, loss)

    monkeypatch.setattr(r, "update", spy_update)
    r.train_step({"image": real_batch})

    steps = [e[1] for e in events if e[0] == "step"]
    assert steps == ["D"] * len(seed["D_updates"]) + ["G"]
    d_in = [e[1] for e in events if e[0] == "D_in"]
    assert d_in == [u["real"] + u["fake"] for u in seed["D_updates"]] + [seed["G_batch"]]
    reals = [e for e in events if e[0] == "d_real"]
    fakes = [e for e in events if e[0] == "d_fake"]
    assert [(n, y) for _, n, y in reals] == [
        (u["real"], pytest.approx(u["real_y"])) for u in seed["D_updates"] if u["real"]
    ]
    assert [(n, y) for _, n, y in fakes] == [
        (u["fake"], pytest.approx(u["fake_y"])) for u in seed["D_updates"] if u["fake"]
    ]
    assert [(e[1], e[2]) for e in events if e[0] == "g_loss"] == [(seed["G_batch"], pytest.approx(seed["G_y"]))]
    first = next(e[2] for e in events if e[0] == "D_in")  # D's first input starts with the real batch itself
    assert torch.equal(first[: seed["D_updates"][0]["real"]], real_batch)


def test_seed_002_generator_step_moves_d_batchnorm_with_gs_own_adam_state():
    """Keras 2: the combined model's Adam (not D's) steps D's BN gamma/beta on G's loss; D's other weights stay."""
    _, r = build(SEED_002)
    r.train_step({"image": torch.rand(32, 1, 28, 28) * 2 - 1})
    bn = [p for m in r.D.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) for p in m.parameters()]
    g_state = r.optim["G"].state
    d_state = r.optim["D"].state
    assert all(p in g_state and p in d_state for p in bn)  # two optimizers, two sets of moments
    assert all(not torch.equal(g_state[p]["exp_avg"], d_state[p]["exp_avg"]) for p in bn)
    assert all(p not in g_state for m in r.D.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) for p in m.parameters())
    assert all(p.requires_grad for p in r.D.parameters())  # the freeze was undone
