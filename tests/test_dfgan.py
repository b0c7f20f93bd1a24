"""DF-GAN (text to image, one stage): the fusion block's identity start, MA-GP's gradient on image and text, the
regression baseline and DF-GAN learning captions on a small set of coloured shapes (the regression baseline also
draws colour-shape pairs it never saw), bitwise resume, the inference surface, and the retrieval scorer."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import crash_and_resume

from gankit import losses
from gankit.errors import ConfigError
from gankit.metrics import retrieval as R
from gankit.models import resolve_config
from gankit.nn.dfgan import Affine, Discriminator, Fuse, Generator, TextNorm
from gankit.pipelines import TextPipeline
from gankit.train.loader import load_recipe
from gankit.train.trainer import Trainer

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 170, 40),
    "blue": (30, 60, 220),
    "yellow": (240, 210, 20),
    "purple": (140, 40, 180),
    "black": (20, 20, 20),
}
SHAPES = ("circle", "square", "triangle", "bar")
NOVEL = sorted((c, SHAPES[i % 4]) for i, c in enumerate(COLOURS))  # one shape per colour is never shown
SEEN = [(c, s) for c in COLOURS for s in SHAPES if (c, s) not in NOVEL]
TINY = [
    "data.size=16",
    "model.text_encoder=ngrams",
    "model.text_dim=64",
    "model.g_features=8",
    "model.d_features=8",
    "model.latent_dim=8",
    "train.batch_size=16",
    "train.threads=1",
    "train.device=cpu",
    "train.log_every=1000",
    "train.sample_every=100000",
    "train.ckpt_every=100000",
    "train.grid=2",
]


def draw(colour: str, shape: str, dx: int = 0, dy: int = 0):
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (16, 16), "white")
    d, c, b = ImageDraw.Draw(im), COLOURS[colour], (2 + dx, 2 + dy, 13 + dx, 13 + dy)
    if shape == "circle":
        d.ellipse(b, fill=c)
    elif shape == "square":
        d.rectangle(b, fill=c)
    elif shape == "triangle":
        d.polygon([(b[0], b[3]), (b[2], b[3]), ((b[0] + b[2]) // 2, b[1])], fill=c)
    else:
        d.rectangle((b[0], 5 + dy, b[2], 10 + dy), fill=c)
    return im


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """A captioned folder: 18 of the 24 colour-shape pairs, 4 placements each, "a red circle" / "red circle"."""
    root = tmp_path_factory.mktemp("shapes")
    for c, s in SEEN:
        for k, (dx, dy) in enumerate([(0, 0), (-1, 1), (1, -1), (1, 1)]):
            draw(c, s, dx, dy).save(root / f"{c}-{s}-{k}.png")
            (root / f"{c}-{s}-{k}.txt").write_text(f"a {c} {s}\n{c} {s}\n")
    return root


def pair_r1(model: TextPipeline, pairs) -> float:
    """Retrieval by pixels: the share of images drawn for "a <colour> <shape>" nearest (L2) to that pair's centred
    drawing among all 24 pairs' (chance 1/24)."""
    keys = [(c, s) for c in COLOURS for s in SHAPES]
    protos = torch.stack([torch.from_numpy(np.array(draw(*k))).permute(2, 0, 1).float() / 127.5 - 1 for k in keys])
    x = model([f"a {c} {s}" for c, s in pairs], 4, seed=0)
    want = torch.tensor([keys.index(p) for p in pairs]).repeat_interleave(4)
    return float((torch.cdist(x.flatten(1), protos.flatten(1)).argmin(1) == want).float().mean())


def trained(shapes, tmp_path, preset: str, steps: int, over=()) -> tuple[TextPipeline, TextPipeline]:
    """(untrained, trained) models of a run on the shapes folder."""
    cfg = resolve_config(
        "dfgan", preset, overrides=TINY + [f"data.name=folder:{shapes}", f"train.steps={steps}", *over]
    )
    t = Trainer(cfg, out=tmp_path, progress=False)
    before = TextPipeline(t.recipe, copy.deepcopy(t.recipe.G))
    return before, TextPipeline.from_loaded(load_recipe(t.fit()))


# --------------------------------------------------------------------------- the nets


def test_text_fusion_starts_as_the_identity_and_learns_from_there():
    torch.manual_seed(0)
    x, c = torch.randn(4, 6, 5, 5), torch.randn(4, 20)
    assert torch.equal(Affine(20, 6)(x, c), x)  # gamma 1, beta 0 for any caption
    assert torch.equal(Fuse(20, 6)(x, c), F.leaky_relu(F.leaky_relu(x, 0.2), 0.2))
    G = Generator(8, 12, 4, 16)
    z, e = torch.randn(3, 8), torch.randn(3, 12)
    assert torch.equal(G(z, e), G(z, torch.randn(3, 12)))  # at the start, the caption changes nothing
    G(z, e).square().mean().backward()
    last = G.blocks[0].fuse1.a0.gamma[2].weight.grad
    assert last is not None and last.abs().sum() > 0  # ... and its influence gets gradients from the first step


def test_caption_vectors_are_centred_and_whitened_on_the_training_captions_and_saved_with_G():
    g = torch.Generator().manual_seed(0)
    shared = F.normalize(torch.randn(16, generator=g), dim=0)  # a large common component, small differences
    words = torch.randn(300, 16, generator=g) * torch.linspace(0.01, 0.2, 16)  # ... of very unequal variance
    emb = F.normalize(3 * shared + words, dim=1)
    w = TextNorm(16).fit(emb, "whiten")(emb)
    assert w.mean(0).abs().max() < 1e-4 and abs(w.var(0).mean() - 1) < 1e-3  # z's scale: unit variance on average
    spread = [(ev.max() / ev.min()).item() for ev in map(torch.linalg.eigvalsh, (torch.cov(emb.T), torch.cov(w.T)))]
    assert spread[1] < 10 < 100 < spread[0], spread  # every direction counts about as much (shrinkage: not exactly)
    c = TextNorm(16).fit(emb, "center")(emb)
    assert c.mean(0).abs().max() < 1e-4 and abs(c.var(0).mean() - 1) < 1e-3
    assert torch.allclose(c / c.norm(dim=1, keepdim=True), F.normalize(emb - emb.mean(0), dim=1), atol=1e-5)
    G = Generator(8, 16, 4, 16, text_norm=True)
    assert {"text_norm.mean", "text_norm.proj"} <= set(G.state_dict())
    assert "text_norm.mean" not in Generator(8, 16, 4, 16).state_dict()  # what a run from before text_norm saved


def test_matching_aware_gp_takes_the_gradient_on_image_and_text():
    torch.manual_seed(0)
    D = Discriminator(12, 4, 16, projection=True)
    x, e = torch.randn(5, 3, 16, 16, requires_grad=True), torch.randn(5, 12, requires_grad=True)
    gx, ge = torch.autograd.grad(D(x, e).sum(), (x, e))
    assert gx.abs().sum() > 0 and ge.abs().sum() > 0
    pen = losses.matching_aware_gp(D(x, e), x, e, k=2.0, p=6.0)
    both = gx.flatten(1).pow(2).sum(1) + ge.pow(2).sum(1)
    assert torch.allclose(pen, 2.0 * both.pow(3).mean(), rtol=1e-4)  # k * E ||(grad_x, grad_e)||^6
    assert pen > 2.0 * gx.flatten(1).pow(2).sum(1).pow(3).mean() * 1.01  # the text's part counts
    pen.backward()
    assert D.joint[0].weight.grad[:, -12:].abs().sum() > 0  # it trains D's text path
    with pytest.raises(RuntimeError):  # a caption that does not require grad is an error, not a silent image-only GP
        losses.matching_aware_gp(D(x, e.detach()), x, e.detach())


def test_config_errors_name_the_key_and_presets_build_on_the_default():
    reg = resolve_config("dfgan", "regression")
    base = resolve_config("dfgan", "default")
    assert not reg.model.adversarial and reg.model.l1 > 0 and reg.train == base.train
    assert reg.data == base.data and reg.train.batch_size == base.train.batch_size
    with pytest.raises(ConfigError, match="model.l1"):
        resolve_config("dfgan", "default", overrides=["model.adversarial=false", "model.l1=0"])
    with pytest.raises(ConfigError, match="model.text_encoder"):
        resolve_config("dfgan", "default", overrides=["model.text_encoder=char-cnn-rnn"])
    with pytest.raises(ConfigError, match="data.size"):
        resolve_config("dfgan", "default", overrides=["data.size=24"])
    with pytest.raises(ConfigError, match="model.diffaug"):
        resolve_config("dfgan", "default", overrides=["model.diffaug=blur"])
    with pytest.raises(ConfigError, match="model.l1_z0"):
        resolve_config("dfgan", "regression", overrides=["model.l1_z0=true"])
    for preset, bad in (("default", ["-1"]), ("default", ["10", "model.l1=0"]), ("regression", ["10"])):
        with pytest.raises(ConfigError, match="model.l1_until"):
            resolve_config("dfgan", preset, overrides=[f"model.l1_until={bad[0]}", *bad[1:]])


def test_the_l1_weight_falls_linearly_to_zero_at_l1_until_by_step():
    from gankit.models.dfgan import DFGAN

    cfg = resolve_config("dfgan", "default", overrides=TINY + ["model.l1=0.8", "model.l1_until=100"])
    r = DFGAN(cfg, (3, 16, 16))
    assert [r.l1_weight(s) for s in (0, 25, 50, 100, 101, 10**6)] == pytest.approx([0.8, 0.6, 0.4, 0, 0, 0])
    kept = DFGAN(resolve_config("dfgan", "default", overrides=TINY), (3, 16, 16))
    assert kept.opts.l1_until == 0 and kept.l1_weight(10**6) == kept.opts.l1 == 1.0  # the default: L1 kept


# --------------------------------------------------------------------------- learning


@pytest.mark.slow
def test_regression_baseline_draws_captions_it_never_saw(shapes, tmp_path):
    """The conditioning path alone (G regressing the caption's image with L1, no D) must retrieve far above chance,
    on the pairs it trained on and on the six colour-shape pairs it never saw."""
    before, after = trained(
        shapes, tmp_path, "regression", 250, ["train.ema=0", "train.lr=2e-3", "train.batch_size=32"]
    )
    chance = 1 / 24
    assert pair_r1(before, SEEN) < 3 * chance
    seen, novel = pair_r1(after, SEEN), pair_r1(after, NOVEL)
    assert seen > 4 * chance and novel > 3 * chance, (seen, novel)


def test_resume_is_bitwise_identical(shapes, tmp_path):
    n = 4
    args = [
        "train",
        "dfgan",
        "--steps",
        str(n),
        "--no-progress",
        "--data",
        f"folder:{shapes}",
        *TINY,
        "train.ckpt_every=2",
        "train.ema=0.9",
        "model.diffaug=color,translation,cutout",
        "model.mode_seeking=1",
        "model.projection=true",
        "model.l1=0.5",
        "model.text_norm=whiten",
        "model.l1_size=8",
        "model.l1_until=3",  # a schedule by step: the resumed steps must see the same weights
    ]
    a, b, full, run = crash_and_resume(args, tmp_path, n)
    assert set(a) == set(b) and any(k.startswith("ema.") for k in a) and any(k.startswith("net.D.") for k in a)
    assert [k for k in a if not torch.equal(a[k], b[k])] == []


def test_text_to_image_draws_any_caption_reproducibly(shapes, tmp_path):
    _, model = trained(shapes, tmp_path, "default", 2, ["train.ema=0.9"])
    assert model.ema and model.recipe.opts.text_encoder == "ngrams"
    x = model(["a purple dragon reading a newspaper", "a red circle"], 3, seed=5)
    assert x.shape == (6, 3, 16, 16) and x.min() >= -1 and x.max() <= 1
    assert torch.equal(x, model(["a purple dragon reading a newspaper", "a red circle"], 3, seed=5))
    assert not torch.equal(x[0], x[1])  # each image its own z
    e = model.embed(["a cat"]).expand(2, -1)
    noise = model.recipe.noise(1, torch.Generator().manual_seed(0))
    y = model.generate(e, noise={"z": noise["z"].expand(2, -1)})
    assert torch.equal(y[0], y[1])  # the same caption and z: the same image


# --------------------------------------------------------------------------- the retrieval scorer


def test_r_precision_counts_own_caption_first():
    g = torch.Generator().manual_seed(0)
    caps = F.normalize(torch.randn(200, 32, generator=g), dim=1)
    groups = torch.arange(200)
    q = R.Queries(torch.arange(200), caps, groups, caps, groups, [str(i) for i in range(200)])
    assert R.r_precision(caps, q, 100) == 1.0
    assert R.r_precision(-caps, q, 100) == 0.0
    assert R.r_precision(torch.randn(200, 32, generator=g), q, 100) < 0.05  # chance: 1 %


def test_the_scorer_trains_on_real_pairs_once_and_is_read_from_the_cache(shapes, monkeypatch):
    from gankit.config import DataConfig
    from gankit.data.captions import embed_captions, load_captions
    from gankit.nn.text import NgramEncoder

    data = load_captions(DataConfig(name=f"folder:{shapes}", size=16))
    embed_captions([data], NgramEncoder(64))
    spec = R.ScorerSpec(size=16, width=8, steps=60, batch=16)
    net, card = R.scorer(data, spec, log=lambda m: None)
    assert "never" in card["used_in_training"] and str(len(data)) in card["trained_on"]
    monkeypatch.setattr(R, "train_scorer", lambda *a, **k: pytest.fail("a cached scorer must not be retrained"))
    again, _ = R.scorer(data, spec)
    x = data.images[:8].float() / 127.5 - 1
    assert torch.equal(R.embed_images(net, x, 16), R.embed_images(again, x, 16))
    assert R.embed_images(net, F.interpolate(x, scale_factor=2), 16).shape == (8, 64)  # any side, scored at 16


def test_export_takes_the_caption_embedding_and_matches_the_pipeline(shapes, tmp_path):
    import onnxruntime as ort

    from gankit.export import export, read_metadata

    cfg = resolve_config("dfgan", "default", overrides=TINY + [f"data.name=folder:{shapes}", "train.steps=2"])
    ckpt = Trainer(cfg, out=tmp_path / "run", progress=False).fit()
    out, meta = export(ckpt, "onnx", tmp_path / "dfgan.onnx")
    assert [i["name"] for i in meta["inputs"]] == ["embedding", "noise"] and meta["inputs"][0]["shape"][1] == 64
    pipe = TextPipeline.from_checkpoint(ckpt)
    emb, noise = pipe.embed(["a red circle", "a blue bar", "a green square"]), pipe.noise(3, seed=1)
    want = pipe.generate(emb, noise=noise).numpy()
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"embedding": emb.numpy(), "noise": noise["z"].numpy()})[0]
    assert got.shape == (3, 3, 16, 16) and np.abs(got - want).max() <= 1e-4
    assert read_metadata(out)["recipe"] == "dfgan"


def test_l1_z0_draws_a_quarter_of_gs_batch_at_z_zero(shapes, tmp_path):
    cfg = resolve_config(
        "dfgan", "default", overrides=TINY + [f"data.name=folder:{shapes}", "train.steps=1", "model.l1_z0=true"]
    )
    t = Trainer(cfg, out=tmp_path, progress=False)
    seen = []
    t.recipe.G.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    t.fit()
    z = next(z for z in seen if z.shape[0] == 16)  # the training step's call (the grid's has 4 rows)
    assert z[:4].abs().sum() == 0 and (z[4:].abs().sum(1) > 0).all()  # 4 at z = 0 (the L1's rows), 12 drawn
