"""Every bad input a clear error: exit 2, one line starting `error:`, and no new or changed run directory.

Range checks of every numeric option (before a run directory exists), property-based overrides for every preset,
fuzzed images through train / translate / upscale, and damaged checkpoints through every command that takes one.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from gankit import config as C
from gankit.cli import main
from gankit.models import resolve_config


def cli(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def tree(d: Path) -> str:
    h = hashlib.sha256()
    if d.exists():
        for p in sorted(d.rglob("*")):
            h.update(str(p.relative_to(d)).encode() + (p.read_bytes() if p.is_file() else b"/"))
    return h.hexdigest()


def assert_clean_error(code: int, err: str, *must: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for m in must:
        assert m in lines[0], (m, err)


def assert_ok_or_clean_error(code: int, err: str) -> None:
    if code != 0:
        assert_clean_error(code, err)


# --------------------------------------------------------------------------- numeric ranges


@pytest.mark.parametrize(
    "override, key",
    [
        ("train.batch_size=0", "train.batch_size"),
        ("train.batch_size=-4", "train.batch_size"),
        ("train.steps=-3", "train.steps"),
        ("train.steps=0", "train.steps"),
        ("train.epochs=0", "train.epochs"),
        ("train.minutes=-1", "train.minutes"),
        ("train.lr=-1e-4", "train.lr"),
        ("train.lr=nan", "train.lr"),
        ("train.lr_d=-1e-4", "train.lr_d"),
        ("train.beta1=1", "train.beta1"),
        ("train.beta2=-0.1", "train.beta2"),
        ("train.eps=0", "train.eps"),
        ("train.ema=1", "train.ema"),
        ("train.ema=-0.5", "train.ema"),
        ("train.log_every=0", "train.log_every"),
        ("train.sample_every=0", "train.sample_every"),
        ("train.ckpt_every=-1", "train.ckpt_every"),
        ("train.keep=0", "train.keep"),
        ("train.grid=0", "train.grid"),
        ("train.threads=0", "train.threads"),
        ("train.seed=-1", "train.seed"),
        ("train.eval_n=1", "train.eval_n"),
        ("train.rollback_lr_factor=0", "train.rollback_lr_factor"),
        ("train.report_every_epochs=0", "train.report_every_epochs"),
        ("data.size=0", "data.size"),
        ("data.limit=0", "data.limit"),
        ("data.channels=2", "data.channels"),
        ("model.latent_dim=0", "model.latent_dim"),
        ("model.d_dropout=1", "model.d_dropout"),
        ("model.g_channels=[16,0]", "model.g_channels[1]"),
        ("model.slope=-0.2", "model.slope"),
        ("model.bn_eps=0", "model.bn_eps"),
        ("model.real_label=1.5", "model.real_label"),
        ("model.slope=inf", "model.slope"),
    ],
)
def test_out_of_range_values_name_their_key(override, key, tmp_path):
    code, _, err = cli("train", "dcgan", "--dry-run", "--out", tmp_path, override)
    assert_clean_error(code, err, key)
    assert not any(tmp_path.iterdir())


def test_steps_flag_and_missing_budget_and_batch_norm_batch_of_one_leave_no_run_dir(tmp_path):
    code, _, err = cli("train", "mlp-gan", "--steps", "-3", "--out", tmp_path)
    assert_clean_error(code, err, "train.steps")
    small = [
        "--data",
        "twemoji",
        "data.size=16",
        "data.limit=16",
        "model.g_channels=[8,8]",
        "model.d_channels=[8,8]",
        "model.d_stem=4",
        "model.g_base=8",
        "--out",
        tmp_path,
        "--no-progress",
    ]
    code, _, err = cli("train", "dcgan", "train.batch_size=4", *small)  # the preset sets no budget
    assert_clean_error(code, err, "no budget")
    code, _, err = cli("train", "dcgan", "--steps", 2, "train.batch_size=1", *small)  # BN after G's dense layer
    assert_clean_error(code, err, "train.batch_size=1", "batch norm")
    code, _, err = cli("train", "dcgan", "--steps", 2, "train.batch_size=64", *small)  # more than the 16 images
    assert_clean_error(code, err)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())
    code, _, err = cli(
        "train", "dcgan", "--steps", 1, "train.batch_size=1", "model.g_norm=none", "model.d_norm=none", *small
    )  # no batch norm: a batch of one is fine
    assert code == 0, err


def test_eval_of_a_missing_checkpoint(tmp_path):
    code, _, err = cli("eval", tmp_path / "nonexistent")
    assert_clean_error(code, err, "checkpoint not found", "nonexistent")


# --------------------------------------------------------------------------- property-based overrides

PRESETS = [(r, p) for r, p, _ in C.list_presets()]
KEYS = [
    "train.batch_size",
    "train.steps",
    "train.epochs",
    "train.minutes",
    "train.lr",
    "train.lr_d",
    "train.beta1",
    "train.ema",
    "train.log_every",
    "train.sample_every",
    "train.ckpt_every",
    "train.keep",
    "train.grid",
    "train.seed",
    "train.eval_every",
    "data.size",
    "data.limit",
    "data.channels",
    "data.load_size",
    "model.latent_dim",
    "model.g_base",
    "model.g_channels",
    "model.d_channels",
    "model.dropout",
    "model.d_dropout",
    "model.n_critic",
    "model.g_batch_mult",
    "model.slope",
    "model.real_label",
    "model.label_noise",
    "model.g_ngf",
    "model.d_ndf",
    "model.g_downs",
    "model.g_blocks",
    "model.crop",
    "model.scale",
    "model.minibatch_disc",
    "model.nonexistent",
    "train.nonexistent",
    "train.optimizer",
    "train.precision",
    "train.nesterov",
]
VALUES = st.one_of(
    st.integers(-3, 3).map(str),
    st.sampled_from(
        ["7", "15", "16", "17", "28", "31", "32", "33", "64", "100", "1e9", "4096", "99999999999999999999"]
    ),
    st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr),
    st.sampled_from(
        [
            "",
            "abc",
            "true",
            "none",
            "[]",
            "[0]",
            "[16,16]",
            "[-1,8]",
            "[8,8,8,8,8]",
            "1.5",
            "0.999",
            "nan",
            "-inf",
            "adam",
            "sgd",
            "fp16",
            "{a: 1}",
            "[",
            "1_000",
        ]
    ),
)
OVERRIDES = st.lists(st.tuples(st.sampled_from(KEYS), VALUES), min_size=1, max_size=4)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(preset=st.sampled_from(PRESETS), overrides=OVERRIDES)
def test_drawn_overrides_on_every_preset_resolve_or_fail_in_one_line(preset, overrides):
    """--dry-run resolves and validates the whole config (types, ranges, the recipe's own checks)."""
    recipe, name = preset
    with tempfile.TemporaryDirectory() as d:
        code, out, err = cli("train", recipe, "-p", name, "--dry-run", "--out", d, *[f"{k}={v}" for k, v in overrides])
        assert not any(Path(d).iterdir())
    assert_ok_or_clean_error(code, err)
    if code == 0:
        assert f"recipe: {recipe}" in out


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (20 + i, 24, 3), dtype=np.uint8)).save(d / f"{i:02d}.png")
    return d


TINY = {
    "mlp-gan": ["model.g_hidden=[8]", "model.d_hidden=[8]"],
    "dcgan": ["model.g_channels=[4,4]", "model.d_channels=[4,4]", "model.d_stem=4", "model.g_base=4"],
    "lsgan": ["model.g_channels=[4,4]", "model.d_channels=[4,4]", "model.g_base=4"],
}
TRAIN_KEYS = {
    "train.batch_size": ["-1", "0", "1", "2", "3", "12", "13"],
    "data.size": ["1", "2", "3", "4", "6", "8", "9"],
    "data.limit": ["0", "1", "2", "5"],
    "train.steps": ["-1", "0", "1", "2"],
    "train.grid": ["0", "1", "3"],
    "model.latent_dim": ["0", "1", "3"],
    "model.g_batch_mult": ["0", "1", "3"],
    "data.channels": ["1", "2", "3"],
    "train.log_every": ["0", "1"],
    "train.ema": ["0", "0.5", "1"],
    "model.n_critic": ["0", "2"],
}


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    recipe=st.sampled_from(sorted(TINY)),
    preset=st.sampled_from(["tutorial", "default"]),
    overrides=st.dictionaries(st.sampled_from(sorted(TRAIN_KEYS)), st.just(None), min_size=1, max_size=3).flatmap(
        lambda keys: st.tuples(*[st.tuples(st.just(k), st.sampled_from(TRAIN_KEYS[k])) for k in keys])
    ),
)
def test_drawn_overrides_train_or_fail_before_a_run_dir(folder, recipe, preset, overrides):
    """Real (tiny) training runs: exit 0 with a run directory, or exit 2 with one line and none."""
    base = [
        "--data",
        f"folder:{folder}",
        "data.size=8",
        "data.limit=12",
        "train.batch_size=4",
        "--steps",
        "1",
        "train.sample_every=100",
        "train.ckpt_every=100",
        "train.log_every=1",
        "train.grid=2",
        "train.precision=fp32",
        "train.channels_last=false",
        "train.fused=false",
        "--no-progress",
    ]
    with tempfile.TemporaryDirectory() as d:
        code, _, err = cli(
            "train", recipe, "-p", preset, "--out", d, *base, *TINY[recipe], *[f"{k}={v}" for k, v in overrides]
        )
        runs = list(Path(d).iterdir())
        assert_ok_or_clean_error(code, err)
        assert len(runs) == (1 if code == 0 else 0), (code, err)


# --------------------------------------------------------------------------- fuzzed images


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def fuzz_images(d: Path) -> dict[str, bool]:
    """name -> whether it is a readable image (odd but valid) or not."""
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    rgb = Image.fromarray(rng.integers(0, 256, (21, 19, 3), dtype=np.uint8))
    buf = io.BytesIO()
    rgb.save(buf, "PNG")
    png = buf.getvalue()
    (d / "truncated.png").write_bytes(png[: len(png) // 2])
    ihdr = struct.pack(">IIBBBBB", 200_000, 200_000, 8, 2, 0, 0, 0)  # claims 4e10 pixels
    (d / "huge_header.png").write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _png_chunk(b"IEND", b"")
    )
    (d / "zero.png").write_bytes(b"")
    (d / "text_named.jpg").write_bytes(b"this is not an image at all\n" * 3)
    rgb.save(d / "png_named.jpg", "PNG")  # wrong extension, valid content
    rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(d / "palette.png")
    Image.fromarray((rng.integers(0, 65536, (17, 23))).astype(np.uint16)).save(d / "sixteen_bit.png")
    rgb.convert("CMYK").save(d / "cmyk.jpg")
    return {
        "truncated.png": False,
        "huge_header.png": False,
        "zero.png": False,
        "text_named.jpg": False,
        "png_named.jpg": True,
        "palette.png": True,
        "sixteen_bit.png": True,
        "cmyk.jpg": True,
    }


def test_fuzzed_images_through_train(tmp_path, folder):
    kinds = fuzz_images(tmp_path / "fuzz")
    for name, readable in kinds.items():
        data = tmp_path / f"data-{name}"
        data.mkdir()
        for p in sorted(folder.iterdir())[:6]:
            (data / p.name).write_bytes(p.read_bytes())
        (data / name).write_bytes((tmp_path / "fuzz" / name).read_bytes())
        out = tmp_path / f"runs-{name}"
        code, _, err = cli(
            "train",
            "mlp-gan",
            "--data",
            f"folder:{data}",
            "data.size=8",
            "train.batch_size=2",
            "--steps",
            1,
            "--out",
            out,
            "--no-progress",
            *TINY["mlp-gan"],
        )
        if readable:
            assert code == 0, (name, err)
        else:
            assert_clean_error(code, err, name)
            assert not out.exists() or not any(out.iterdir())
            code, _, err = cli(
                "train",
                "mlp-gan",
                "--data",
                f"folder:{data}",
                "data.size=8",
                "train.batch_size=2",
                "--steps",
                1,
                "--out",
                out,
                "--no-progress",
                "--skip-bad",
                *TINY["mlp-gan"],
            )
            assert code == 0 and "skipped 1" in err, (name, err)


@pytest.fixture(scope="module")
def translator(tmp_path_factory):
    from test_pairs import make_aligned

    from gankit import api

    base = tmp_path_factory.mktemp("p2p")
    data = make_aligned(base / "ab", n_train=4, n_test=2)
    return api.train(
        "pix2pix",
        overrides=[
            "train.steps=1",
            "train.batch_size=2",
            "train.threads=1",
            "data.size=16",
            "train.sample_every=100",
            f"data.name={data}",
            "model.g_ngf=4",
            "model.g_downs=4",
            "model.g_dropout_blocks=1",
            "model.d_ndf=4",
        ],
        out=base / "runs",
    )


@pytest.fixture(scope="module")
def upscaler(tmp_path_factory):
    from gankit.train.trainer import Trainer

    over = [
        "data.limit=8",
        "data.size=32",
        "model.crop=16",
        "model.g_features=4",
        "model.g_blocks=1",
        "train.batch_size=2",
        "train.steps=1",
        "train.threads=1",
        "train.device=cpu",
        "train.sample_every=100",
        "train.report_every_epochs=null",
    ]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        return Trainer(
            resolve_config("srgan", "srresnet", overrides=over), out=tmp_path_factory.mktemp("runs"), progress=False
        ).fit()


@pytest.mark.parametrize("command", ["translate", "upscale"])
def test_fuzzed_images_through_translate_and_upscale(command, translator, upscaler, tmp_path):
    run = translator if command == "translate" else upscaler
    kinds = fuzz_images(tmp_path / "fuzz")
    for name, readable in kinds.items():
        out = tmp_path / f"out-{name}"
        code, _, err = cli(command, run, tmp_path / "fuzz" / name, "--out", out)
        if readable:
            assert code == 0, (name, err)
            made = list(out.rglob("*.png"))
            assert len(made) == 1 and Image.open(made[0]).size[0] > 0
        else:
            assert_clean_error(code, err, name)
            assert not list(out.rglob("*.png")) if out.exists() else True


# --------------------------------------------------------------------------- damaged checkpoints


@pytest.fixture(scope="module")
def sampler_run(tmp_path_factory, folder):
    out = tmp_path_factory.mktemp("runs")
    code, _, err = cli(
        "train",
        "dcgan",
        "--data",
        f"folder:{folder}",
        "data.size=8",
        "train.batch_size=4",
        "--steps",
        2,
        "train.ckpt_every=2",
        "--out",
        out,
        "--no-progress",
        *TINY["dcgan"],
    )
    assert code == 0, err
    (run,) = out.iterdir()
    return run


def damaged_copies(run: Path, base: Path) -> dict[str, Path]:
    """A run whose tensors file is cut short, and one whose state.json names tensors that are not in it."""
    import shutil

    from safetensors.torch import load_file, save_file

    out = {}
    for kind in ("truncated", "missing"):
        dst = base / f"{kind}-{run.name}"
        shutil.copytree(run, dst)
        (step,) = [p for p in (dst / "checkpoints").iterdir() if p.is_dir()]
        f = step / "tensors.safetensors"
        if kind == "truncated":
            f.write_bytes(f.read_bytes()[: f.stat().st_size * 2 // 3])
        else:
            t = load_file(str(f))
            for k in [k for k in t if k.startswith("net.G.")][:2]:
                del t[k]
            save_file(t, str(f))
        out[kind] = dst
    return out


CKPT_COMMANDS = {
    "sample": lambda run, tmp: ["sample", run, "-n", 4, "--out", tmp / "s.png"],
    "interpolate": lambda run, tmp: ["interpolate", run, "--steps", 3, "--rows", 1, "--out", tmp / "i.png"],
    "info": lambda run, tmp: ["info", run],
    "eval": lambda run, tmp: ["eval", run, "--n", 8, "--extractor", "random", "--out", tmp / "e.json"],
    "train --resume": lambda run, tmp: ["train", "--resume", run, "--steps", 4, "--no-progress"],
}


@pytest.mark.parametrize("kind", ["truncated", "missing"])
def test_damaged_checkpoint_is_one_line_naming_the_file_for_every_command(
    kind, sampler_run, translator, upscaler, tmp_path, folder
):
    runs = {
        "sampler": damaged_copies(sampler_run, tmp_path / "a")[kind],
        "translate": damaged_copies(Path(translator), tmp_path / "b")[kind],
        "upscale": damaged_copies(Path(upscaler), tmp_path / "c")[kind],
    }
    img = next(folder.iterdir())
    commands = {name: f(runs["sampler"], tmp_path) for name, f in CKPT_COMMANDS.items()}
    commands["translate"] = ["translate", runs["translate"], img, "--out", tmp_path / "t"]
    commands["upscale"] = ["upscale", runs["upscale"], img, "--out", tmp_path / "u"]
    for name, args in commands.items():
        before = tree(args[1] if name != "train --resume" else args[2])
        code, _, err = cli(*args)
        assert_clean_error(code, err, "tensors.safetensors")
        assert before == tree(args[1] if name != "train --resume" else args[2]), name
    assert not any((tmp_path / p).exists() for p in ("s.png", "i.png", "e.json", "t", "u"))


def test_a_new_run_that_fails_in_its_first_step_leaves_no_run_dir(tmp_path, monkeypatch, folder):
    from gankit.models.mlp_gan import MLPGAN

    def boom(self, batch):
        raise RuntimeError("a bug in the first step")

    monkeypatch.setattr(MLPGAN, "train_step", boom)
    args = [
        "train",
        "mlp-gan",
        "--data",
        f"folder:{folder}",
        "data.size=8",
        "train.batch_size=2",
        "--steps",
        1,
        "--out",
        tmp_path / "runs",
        "--no-progress",
        *TINY["mlp-gan"],
    ]
    with pytest.raises(RuntimeError, match="first step"):  # a bug still shows its traceback ...
        cli(*args)
    assert not any((tmp_path / "runs").iterdir())  # ... but leaves no half-made run behind
    monkeypatch.undo()
    assert cli(*args)[0] == 0 and len(list((tmp_path / "runs").iterdir())) == 1
