"""`gankit translate`: any size, greyscale and RGBA files and folders; directions; held-out grids and scores."""

import numpy as np
import pytest
import torch
from conftest import gankit
from PIL import Image
from test_pairs import make_aligned

from gankit import api
from gankit.cli import main as cli
from gankit.data.images import to_float, to_tensor_u8
from gankit.errors import GankitError
from gankit.pipelines import TranslatePipeline
from gankit.pipelines.translate import evaluate

COMMON = [
    "train.steps=2",
    "train.batch_size=2",
    "train.log_every=1",
    "train.sample_every=100",
    "train.threads=1",
    "train.device=cpu",
    "data.size=16",
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("translate")
    data = make_aligned(base / "ab", n_train=4, n_test=3)
    p2p = api.train(
        "pix2pix",
        overrides=[
            *COMMON,
            f"data.name={data}",
            "model.g_ngf=4",
            "model.g_downs=4",
            "model.g_dropout_blocks=1",
            "model.d_ndf=4",
        ],
        out=base / "runs",
    )
    cyc = api.train(
        "cyclegan",
        overrides=[
            *COMMON,
            f"data.name={data}",
            "model.g_ngf=4",
            "model.g_blocks=1",
            "model.d_ndf=4",
            "model.d_layers=2",
            "data.disjoint=false",
            "model.g_out=residual",  # G and F start as the identity (an option)
            "model.g_up=resize",
            "train.ema=0.999",
        ],
        out=base / "runs",
    )
    return {"pix2pix": p2p, "cyclegan": cyc, "base": base}


@pytest.fixture
def odd_inputs(tmp_path):
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (23, 37, 3), dtype=np.uint8))
    rgb.save(d / "odd.jpg")
    rgb.convert("L").save(d / "grey.png")
    rgba = Image.fromarray(rng.integers(0, 256, (40, 9, 4), dtype=np.uint8), "RGBA")
    rgba.save(d / "sub" / "alpha.png")
    rgb.convert("P").save(d / "sub" / "palette.gif")
    return d


def test_translate_cli_any_size_grey_and_rgba(runs, odd_inputs, tmp_path):
    for fit in ("scale", "native"):
        out = tmp_path / f"out-{fit}"
        if fit == "scale":  # once in a fresh process, as a user runs it
            p = gankit("translate", runs["pix2pix"], odd_inputs, "--out", out, "--fit", fit)
            assert "4 image(s) AtoB" in p.stdout
        else:
            assert cli(["translate", str(runs["pix2pix"]), str(odd_inputs), "--out", str(out), "--fit", fit]) == 0
        for src, dst in (
            ("odd.jpg", "odd.png"),
            ("grey.png", "grey.png"),
            ("sub/alpha.png", "sub/alpha.png"),
            ("sub/palette.gif", "sub/palette.png"),
        ):
            with Image.open(odd_inputs / src) as a, Image.open(out / dst) as b:
                assert b.size == a.size and b.mode == "RGB", (fit, src)


def test_translator_matches_the_network_where_no_resizing_is_needed(runs):
    tr = TranslatePipeline.from_checkpoint(runs["pix2pix"])
    assert (tr.size, tr.stride, tr.direction) == (16, 16, "AtoB")
    x = torch.rand(3, 16, 16) * 2 - 1
    direct = tr(x[None])[0]
    assert torch.allclose(tr.translate_tensor(x, "scale"), direct, atol=1e-5)
    assert torch.allclose(tr.translate_tensor(x, "native"), direct, atol=1e-6)
    wide = torch.rand(3, 16, 48) * 2 - 1  # native: fully convolutional at 16 x 48, no padding needed
    assert torch.allclose(tr.translate_tensor(wide, "native"), tr(wide[None])[0], atol=1e-6)
    assert tr.translate_tensor(torch.rand(3, 5, 70) * 2 - 1, "native").shape == (3, 5, 70)


def test_directions(runs, odd_inputs, tmp_path, capsys):
    with pytest.raises(GankitError, match="translates that way only"):
        TranslatePipeline.from_checkpoint(runs["pix2pix"], direction="BtoA")
    fwd, back = (TranslatePipeline.from_checkpoint(runs["cyclegan"], direction=d) for d in ("AtoB", "BtoA"))
    assert fwd.net is fwd.nets["G"] and back.net is back.nets["F"] and fwd.net is not back.net
    assert fwd.ema and back.ema  # a run with train.ema samples from the EMA copies of G and F
    im = back.translate_file(odd_inputs / "grey.png")
    assert im.size == (37, 23)
    rc = cli(["translate", str(runs["pix2pix"]), str(odd_inputs), "--direction", "BtoA", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error:") and "AtoB" in err and len(err.strip().splitlines()) == 1


def test_test_grid_and_scores(runs, tmp_path, capsys):
    assert cli(["translate", str(runs["cyclegan"]), "--test-grid", "3", "--out", str(tmp_path / "g")]) == 0
    grid = tmp_path / "g" / "test-grid-AtoB.png"
    assert grid.exists() and "input | output | target" in capsys.readouterr().out
    with Image.open(grid) as g:
        assert g.size == ((8 * 16 + 9 * 2) * 4, (3 * 16 + 4 * 2) * 4)  # one group of 3 rows, 8 columns, x4
    tr = TranslatePipeline.from_checkpoint(runs["pix2pix"])
    base = evaluate(None, tr.recipe.cfg.data, extractor=None)
    # identity on the inverse-image pairs of make_aligned: far from the target
    assert base["n"] == 3 and base["ssim"] < 0.2 and base["l1"] > 0.5
    # the identity mapping against itself would be perfect; a real model is scored on its outputs
    got = evaluate(tr, tr.recipe.cfg.data, extractor=None)
    assert got["psnr"] != base["psnr"]
    x = to_float(to_tensor_u8(Image.new("RGB", (16, 16), "white")))
    assert tr.translate_tensor(x).shape == (3, 16, 16)


def test_an_untrained_residual_cyclegan_scores_exactly_as_the_identity_both_ways(runs):
    """With ``g_out=residual`` G and F start as the identity, so before any step their held-out scores are the identity
    baseline's in each direction (BtoA: B inputs against A targets); a trained model's differ."""
    from gankit.models.cyclegan import CycleGAN

    trained = TranslatePipeline.from_checkpoint(runs["cyclegan"])
    cfg = trained.recipe.cfg
    fresh = CycleGAN(cfg, trained.recipe.shape, 0, "cpu")
    for d in ("AtoB", "BtoA"):
        base = evaluate(None, cfg.data, extractor=None, direction=d)
        assert evaluate(TranslatePipeline(fresh, {"G": fresh.G, "F": fresh.F}, d), cfg.data, extractor=None) == base
        assert evaluate(trained.toward(d), cfg.data, extractor=None)["l1"] != base["l1"]
    assert base["n"] == 3 and base["ssim"] < 0.2  # make_aligned's B is A inverted: the identity is far off


def test_translate_eval_table(runs, tmp_path, capsys):
    """`gankit translate-eval`: identity baseline first, one row per run, JSON beside; mismatched runs refused."""
    out = tmp_path / "rows.json"
    assert (
        cli(["translate-eval", str(runs["pix2pix"]), str(runs["cyclegan"]), "--extractor", "none", "--json", str(out)])
        == 0
    )
    text = capsys.readouterr().out
    assert text.splitlines()[0] == "| model | PSNR (dB) | SSIM | L1 | FID |"
    assert "identity (input as output)" in text and "pix2pix (default, step 2)" in text and "3 held-out pairs" in text
    import json

    rows = json.loads(out.read_text())
    assert [r["model"].split()[0] for r in rows] == ["identity", "pix2pix", "cyclegan"] and "fid" not in rows[0]
    rc = cli(["translate-eval", str(runs["pix2pix"]), str(tmp_path / "nope")])
    assert rc == 2 and "not found" in capsys.readouterr().err


def test_inference_fast_path_tracks_fp32(runs):
    """`--precision` (default auto: bf16 + channels-last on CPUs fast at bf16): close to fp32, not the same numbers;
    the fp32 net itself stays untouched (export and scores use it)."""
    for name, direction in (("pix2pix", "AtoB"), ("cyclegan", "BtoA")):
        ref, fast = (
            TranslatePipeline.from_checkpoint(runs[name], direction=direction, precision=p) for p in ("fp32", "bf16")
        )
        x = torch.rand(2, 3, 32, 48) * 2 - 1
        a, b = ref(x), fast(x)
        assert a.dtype == b.dtype == torch.float32 and a.shape == b.shape
        d = (a - b).abs()
        assert 0 < d.max() < 0.1 and d.mean() < 0.01, (name, d.max(), d.mean())
        assert next(fast.net.parameters()).dtype == torch.float32 and fast.run is not None and ref.run is None
    with pytest.raises(GankitError, match="--precision must be"):
        TranslatePipeline.from_checkpoint(runs["pix2pix"], precision="fp8")
