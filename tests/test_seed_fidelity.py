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


# ================================================================ the book's chapters (004) against the `book` presets
#
# One table per chapter, written out of the book's text and Keras listings (../shared/specs/book_ch*.md quote them):
# the config values the book fixes, its nets' trainable parameter counts (Keras summaries; the named deviations of
# docs/fidelity.md subtracted where gankit drops a layer), its Adam constants per optimizer, its initialiser, and
# what one training iteration does: the optimizer steps in order, and whether the fakes D learns from come from G in
# inference mode (Keras ``predict``) or in training mode. The step tests run the book's step on narrow nets (the
# widths change no step), so the whole section takes seconds.

KERAS_EPS = 1e-7  # Keras 2's Adam default (K.epsilon()); the books' `epsilon=10e-8` is this too

BOOK = {
    "ch2": {
        "preset": ("gan3d", "book"),
        "shape": (1, 64, 64, 64),
        "config": {
            "data.size": 64,
            "train.batch_size": 32,
            "model.latent_dim": 200,
            "model.z_std": 0.33,
            "model.d_bn_first": True,  # the text and the code: BN on D's first layer
            "model.g_bn_out": False,  # the code's BN on the output layers: not in the text (named)
            "model.d_bn_out": False,
            "model.bn_momentum": 0.01,  # Keras BatchNormalization() defaults
            "model.bn_eps": 1e-3,
            "model.d_policy": "always",
            "model.reuse_fakes": False,  # G's step draws a fresh z
        },
        "params": {"G": 17_570_625, "D": 11_049_793},  # the code's 17,570,627 / 11,049,795 less its output-layer BN
        "adam": {"G": (0.0025, 0.5, 0.999, KERAS_EPS), "D": (1e-5, 0.9, 0.999, KERAS_EPS)},
        "init": "glorot_uniform",
        "steps": ["D", "D", "G"],  # D.train_on_batch(real), D.train_on_batch(fake), adversarial_model
        "fakes_mode": "train",  # generator.predict, but every BN is called with training=True
        "small": ["data.size=16", "model.g_channels=[16,8]", "model.d_channels=[8,16]", "train.batch_size=4"],
    },
    "ch3": {
        "preset": ("agecgan", "book"),
        "shape": (3, 64, 64),
        "classes": 6,
        "config": {
            "data.size": 64,
            "train.batch_size": 128,
            "model.g_dense": 2048,
            "model.g_channels": [256, 128, 64],
            "model.d_channels": [64, 128, 256, 512],
            "model.bn_momentum": 0.01,
            "model.g_conv_bn_momentum": 0.2,  # BatchNormalization(momentum=0.8)
            "model.bn_eps": 1e-3,
            "model.real_label": 0.9,
            "model.fake_label": 0.0,
            "model.fake_label_source": "real_batch",  # fakes for D at the real batch's ages; G's at random ages
            "model.balance": False,  # the book reads its files in order
        },
        "params": {"G": 34_852_099, "D": 1_567_873},
        "adam": {"G": (2e-4, 0.5, 0.999, KERAS_EPS), "D": (2e-4, 0.5, 0.999, KERAS_EPS)},
        "init": "glorot_uniform",
        "steps": ["D", "D", "G"],
        "fakes_mode": "eval",  # generator.predict_on_batch
        "small": [
            "data.size=16",
            "model.g_dense=32",
            "model.g_channels=[16,8]",
            "model.d_channels=[8,16]",
            "train.batch_size=4",
        ],
    },
    "ch4": {
        "preset": ("dcgan", "book"),
        "shape": (3, 64, 64),
        "config": {
            "data.size": 64,
            "train.batch_size": 128,
            "train.optimizer": "sgd",
            "model.arch": "book",
            "model.label_noise": 0.2,
            "model.d_split_steps": True,
        },
        "params": {"G": 34_839_427, "D": 20_361_473},
        "sgd": {"lr": 5e-4, "momentum": 0.9, "nesterov": True},
        "init": "glorot_uniform",
        "steps": ["D", "D", "G"],
        "fakes_mode": "train",  # the book's predict (inference-mode BN): the named deviation of ch.4
        "small": ["train.batch_size=4"],
    },
    "ch5": {
        "preset": ("srgan", "book"),
        "shape": (3, 256, 256),
        "overrides": ["model.vgg_weights=vgg19.pth"],  # named, so validation keeps the VGG content loss
        "config": {
            "train.batch_size": 2,  # the book's batch 1 for D, then another batch 1 for G (g_fresh_batch)
            "model.g_fresh_batch": True,
            "model.crop": 256,  # whole 256 px images, LR 64 px
            "model.scale": 4,
            "model.flip_vertical": False,
            "model.arch": "book",
            "model.d_head": "patch",
            "model.d_loss": "mse",
            "model.content": "vgg33",
            "model.vgg_scale": 1.0,
            "model.adv_weight": 1e-3,
            "model.bn_momentum": 0.2,
            "model.bn_eps": 1e-3,
            "model.lr_drop_at": None,
            "model.init_from": None,  # trained from scratch
            "train.steps": 20000,
        },
        "params": {"G": 2_038_467, "D": 5_215_425},
        "adam": {"G": (2e-4, 0.5, 0.999, KERAS_EPS), "D": (2e-4, 0.5, 0.999, KERAS_EPS)},
        "init": "glorot_uniform",
        "steps": ["D", "D", "G"],  # D real, D fake, then the adversarial model on a fresh image
        "fakes_mode": "eval",
        "small": [
            "model.crop=32",
            "model.g_features=8",
            "model.g_blocks=1",
            "model.up_features=8",
            "model.content=mse",
        ],
    },
    "ch6": {
        "preset": ("stackgan", "book-stage1"),
        "shape": (3, 64, 64),
        "overrides": ["model.text_encoder=precomputed"],  # the book's 1024-d char-CNN-RNN embeddings
        "config": {
            "data.size": 64,
            "train.batch_size": 64,
            "model.latent_dim": 100,
            "model.condition_dim": 128,
            "model.kl_weight": 2.0,
            "model.real_label": 0.9,
            "model.fc_bn": False,
            "model.bn_momentum": 0.01,
            "model.bn_eps": 1e-3,
            "model.lr_halve_every": None,  # stage1_lr_decay_step is declared, never used
        },
        "params": {"G": 10_268_480, "D": 3_094_785 + 131_200},  # D1 + the (here trained) compressor
        "adam": {"G": (2e-4, 0.5, 0.999, KERAS_EPS), "D": (2e-4, 0.5, 0.999, KERAS_EPS)},
        "init": "glorot_uniform",
        "steps": ["D", "G"],  # the book's three D steps (real, fake, wrong) are one here: named
        "fakes_mode": "eval",
        "small": ["model.g_features=4", "model.d_features=4"],
    },
    "ch7": {
        "preset": ("cyclegan", "book"),
        "shape": (3, 128, 128),
        "config": {
            "data.size": 128,
            "train.batch_size": 1,
            "model.g_ngf": 32,
            "model.g_blocks": 6,
            "model.g_padding": "zero",
            "model.g_up_bias": False,
            "model.d_layers": 4,
            "model.d_s1_layer": False,
            "model.lambda_cycle": 10.0,
            "model.lambda_identity": 1.0,
        },
        "params": {"G": 1_968_675, "D_A": 2_766_529},  # IN affine over channels (γ/β of the book's res-block BN too)
        "adam": {n: (2e-4, 0.5, 0.999, KERAS_EPS) for n in ("G", "D_A", "D_B")},
        "init": "glorot_uniform",
        "steps": ["G", "D_A", "D_A", "D_B", "D_B"],  # the book: its four D steps first (named: G first, a pool)
        "small": ["data.size=16", "model.g_ngf=4", "model.g_blocks=1", "model.d_layers=2"],
    },
    "ch8": {
        "preset": ("pix2pix", "book"),
        "shape": (1, 256, 256),
        "config": {
            "data.channels": 1,
            "data.size": 256,
            "data.direction": "BtoA",  # facade labels -> photos
            "data.load_size": None,
            "data.flip": False,
            "train.batch_size": 1,
            "model.g_downs": 8,
            "model.g_ngf": 64,
            "model.g_up_channels": [512, 1024, 1024, 1024, 1024, 512, 256],
            "model.g_dropout": 0.5,
            "model.g_dropout_blocks": 3,
            "model.d_ndf": 64,
            "model.d_arch": "book",  # unconditional: D(y)
            "model.lambda_l1": 100.0,  # loss_weights=[1E2, 1] on ['mae', 'binary_crossentropy']
            "model.loss": "bce",
            "model.d_loss_scale": 1.0,
            "model.lr_decay_start": 1.0,
        },
        # Keras: G 129,137,089 and D 19,796,880, less the BN on each net's 1x1 layer (2 x 512 each): named
        "params": {"G": 129_137_089 - 1024, "D": 19_796_880 - 1024},
        "adam": {"G": (1e-4, 0.9, 0.999, 1e-8), "D": (1e-4, 0.9, 0.999, 1e-8)},
        "init": "glorot_uniform",
        "steps": ["D", "G"],  # per iteration; D's batch alternates real (odd batch_counter) and fake
        "fakes_mode": "eval",
        "small": ["data.size=32", "model.g_downs=5", "model.g_ngf=4", "model.g_up_channels=[8,8,8,8]", "model.d_ndf=4"],
    },
}


def book_config(ch, small=False):
    t = BOOK[ch]
    recipe, preset = t["preset"]
    return resolve_config(recipe, preset, None, t.get("overrides", []) + (t["small"] if small else []))


def book_recipe(ch, small=False):
    t = BOOK[ch]
    cfg = book_config(ch, small)
    shape = t["shape"]
    if small:
        s = cfg.model.crop if t["preset"][0] == "srgan" else cfg.data.size
        shape = (shape[0], *(s,) * (len(shape) - 1))
    torch.manual_seed(0)
    r = recipe_class(t["preset"][0])(cfg, shape, t.get("classes", 0))
    r.gen = torch.Generator().manual_seed(0)
    return cfg, r


def test_every_book_chapter_has_a_book_preset_and_a_table():
    from gankit.config import list_presets

    book_recipes = {r for r, p, _ in list_presets() if p == "book" or p == "book-stage1"}
    assert book_recipes == {t["preset"][0] for t in BOOK.values()}
    assert {"gan3d", "agecgan", "dcgan", "srgan", "stackgan", "cyclegan", "pix2pix"} == book_recipes


@pytest.mark.parametrize("ch", BOOK)
def test_book_preset_config_is_the_books(ch):
    cfg = book_config(ch)
    for key, want in BOOK[ch]["config"].items():
        section, name = key.split(".")
        assert getattr(getattr(cfg, section), name) == want, key


@pytest.mark.parametrize("ch", BOOK)
def test_book_nets_optimizers_and_init(ch):
    t = BOOK[ch]
    cfg, r = book_recipe(ch)
    for name, want in t["params"].items():
        assert n_trainable(getattr(r, name)) == want, name
    if "adam" in t:
        for name, (lr, b1, b2, eps) in t["adam"].items():
            for group in r.optim[name].param_groups:
                assert isinstance(r.optim[name], torch.optim.Adam)
                assert (group["lr"], *group["betas"], group["eps"]) == pytest.approx((lr, b1, b2, eps)), name
    else:
        for opt in r.optim.values():
            g = opt.param_groups[0]
            assert isinstance(opt, torch.optim.SGD)
            assert (g["lr"], g["momentum"], g["nesterov"]) == (t["sgd"]["lr"], t["sgd"]["momentum"], True)
    assert t["init"] == "glorot_uniform"
    for name in t["params"]:
        for m in getattr(r, name).modules():
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.Conv3d, nn.ConvTranspose3d)):
                w = m.weight.detach()
                fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(w)
                limit = (6 / (fan_in + fan_out)) ** 0.5
                assert w.abs().max() <= limit * (1 + 1e-6), m
                assert w.numel() < 100 or w.abs().max() > 0.9 * limit, m
                assert m.bias is None or torch.count_nonzero(m.bias) == 0, m


def _spy_step(r, batch, monkeypatch, g_name="G"):
    """One training step; returns the optimizer steps in order and G's mode (train/eval) at each of its calls
    before the first optimizer step (the fakes D learns from)."""
    events = []
    update = r.update
    monkeypatch.setattr(r, "update", lambda name, loss: (events.append(("step", name)), update(name, loss))[1])
    G = getattr(r, g_name)
    g_forward = G.forward

    def spy_g(*a, **k):
        events.append(("G", "train" if G.training else "eval"))
        return g_forward(*a, **k)

    monkeypatch.setattr(G, "forward", spy_g)
    r.train_step(batch)
    steps = [e[1] for e in events if e[0] == "step"]
    first = next(i for i, e in enumerate(events) if e[0] == "step")
    return steps, [e[1] for e in events[:first] if e[0] == "G"]


def _batch(ch, r, n):
    recipe = BOOK[ch]["preset"][0]
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n, *r.shape, generator=g) * 2 - 1
    if recipe == "gan3d":
        return {"voxels": (x > 0).float()}
    if recipe == "agecgan":
        return {"image": x, "label": torch.arange(n) % r.num_classes}
    if recipe == "srgan":
        from gankit.data.sr import downscale

        return {"hr": x, "lr": downscale(x, 4)}
    if recipe == "stackgan":
        emb = torch.randn(n, r.opts.text_dim, generator=g)
        return {"image": x, "emb": emb, "emb_wrong": emb.roll(1, 0)}
    if recipe in ("cyclegan", "pix2pix"):
        return {"A": x, "B": torch.rand(n, *r.shape, generator=g) * 2 - 1}
    return {"image": x}


@pytest.mark.parametrize("ch", BOOK)
def test_book_iteration_steps_in_the_books_order_on_the_books_fakes(ch, monkeypatch):
    t = BOOK[ch]
    cfg, r = book_recipe(ch, small=True)
    r.step = 1  # an odd step: pix2pix's book D learns from the fakes on odd steps, from the real batch on even ones
    steps, g_modes = _spy_step(r, _batch(ch, r, cfg.train.batch_size), monkeypatch)
    assert steps == t["steps"]
    if "fakes_mode" in t:
        assert g_modes and g_modes[0] == t["fakes_mode"]
