import hashlib
import json

import pytest
from PIL import Image

from gankit.cli import main


def run(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def tree_hash(d):
    h = hashlib.sha256()
    for p in sorted(d.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(d)).encode() + p.read_bytes())
    return h.hexdigest()


SMALL = {
    "mlp-gan": ["--data", "twemoji", "data.size=16", "model.g_hidden=[32,32]", "model.d_hidden=[32,32]"],
    "dcgan": [
        "--data",
        "twemoji",
        "data.size=16",
        "model.g_channels=[16,16]",
        "model.d_channels=[16,16]",
        "model.d_stem=8",
        "model.g_base=16",
    ],
    "lsgan": [
        "--data",
        "twemoji",
        "data.size=16",
        "model.g_channels=[16,16]",
        "model.d_channels=[16,16]",
        "model.g_base=16",
    ],
}


@pytest.mark.parametrize("recipe", list(SMALL))
@pytest.mark.parametrize("preset", ["tutorial", "default"])
def test_train_sample_interpolate_info(recipe, preset, tmp_path, capsys):
    code, out, err = run(
        capsys,
        "train",
        recipe,
        "--preset",
        preset,
        "--steps",
        6,
        "--out",
        tmp_path,
        "--no-progress",
        *SMALL[recipe],
        "data.limit=64",
        "train.batch_size=8",
        "train.log_every=3",
        "train.ckpt_every=3",
        "train.sample_every=3",
        "train.grid=4",
    )
    assert code == 0, err
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name == f"00000-{recipe}-twemoji16"
    for f in (
        "config.yaml",
        "run.json",
        "metrics.jsonl",
        "loss.png",
        "samples/step-0000000.png",
        "samples/step-0000006.png",
        "checkpoints/latest",
    ):
        assert (run_dir / f).exists(), f
    rows = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "perf/img_per_s" in r] == [3, 6]
    assert any(k.startswith("loss/") for k in next(r for r in rows if "perf/img_per_s" in r))
    assert list((run_dir / "tb").iterdir())  # TensorBoard events

    code, out, err = run(capsys, "sample", run_dir, "-n", 9, "--seed", 1, "--singles", tmp_path / "single")
    assert code == 0, err
    grid = Image.open(out.split("grid: ")[1].split()[0])
    assert grid.size[0] == grid.size[1] and len(list((tmp_path / "single").glob("*.png"))) == 9
    code, out, err = run(capsys, "sample", run_dir, "--latent", "0.75", "-n", 4, "--out", tmp_path / "c.png")
    assert code == 0 and (tmp_path / "c.png").exists()
    code, out, err = run(
        capsys, "interpolate", run_dir, "--steps", 5, "--rows", 2, "--mode", "lerp", "--out", tmp_path / "walk.png"
    )
    assert code == 0, err
    w, h = Image.open(tmp_path / "walk.png").size
    assert w > 2 * h  # 5 frames per row, 2 rows
    code, out, err = run(capsys, "info", run_dir)
    assert code == 0 and "step: 6" in out and f"recipe: {recipe}" in out and "net.D" in out


def test_same_seed_same_samples(tmp_path, capsys):
    args = [
        "train",
        "mlp-gan",
        "--steps",
        3,
        "--no-progress",
        *SMALL["mlp-gan"],
        "data.limit=32",
        "train.batch_size=8",
        "train.log_every=3",
    ]
    assert run(capsys, *args, "--out", tmp_path / "a")[0] == 0
    assert run(capsys, *args, "--out", tmp_path / "b")[0] == 0
    ra, rb = (next((tmp_path / x).iterdir()) for x in "ab")
    for r in (ra, rb):
        assert run(capsys, "sample", r, "-n", 4, "--seed", 5, "--out", r / "s.png")[0] == 0
    assert (ra / "s.png").read_bytes() == (rb / "s.png").read_bytes()


def one_line_error(err):
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_user_errors_exit_2_with_one_line(tmp_path, capsys, png_folder):
    code, _, err = run(capsys, "train", "nope", "--steps", 1)
    assert code == 2 and "unknown recipe 'nope'" in one_line_error(err)
    code, _, err = run(capsys, "train", "dcgan", "train.lr=fast", "--steps", 1)
    assert code == 2 and "train.lr" in one_line_error(err)
    code, _, err = run(capsys, "train", "dcgan", "--data", tmp_path / "missing", "--steps", 1, "--out", tmp_path / "o")
    assert code == 2 and "missing" in one_line_error(err)
    (png_folder / "cats" / "bad.png").write_bytes(b"not a png at all")
    code, _, err = run(
        capsys,
        "train",
        "dcgan",
        "--data",
        f"folder:{png_folder}",
        "data.size=16",
        "model.g_channels=[8,8]",
        "--steps",
        1,
        "--out",
        tmp_path / "o",
    )
    assert code == 2 and "bad.png" in one_line_error(err)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())  # no half-made run dir
    code, _, err = run(capsys, "train", "mlp-gan", "--out", tmp_path / "o", "--data", "twemoji", "data.size=16")
    assert code == 2 and "budget" in one_line_error(err)
    code, _, err = run(capsys, "sample", tmp_path / "nothing")
    assert code == 2 and "not found" in one_line_error(err)


def test_existing_runs_are_never_overwritten(tmp_path, capsys):
    args = [
        "train",
        "mlp-gan",
        "--steps",
        2,
        "--no-progress",
        "--out",
        tmp_path,
        *SMALL["mlp-gan"],
        "data.limit=32",
        "train.batch_size=8",
        "train.log_every=1",
    ]
    assert run(capsys, *args)[0] == 0
    (first,) = tmp_path.iterdir()
    before = tree_hash(first)
    assert run(capsys, *args)[0] == 0  # a second run gets its own directory
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00000-mlp-gan-twemoji16", "00001-mlp-gan-twemoji16"]
    code, _, err = run(capsys, "train", "--resume", first, "model.latent_dim=3", "--steps", 4)
    assert code == 2 and "model.latent_dim" in one_line_error(err)
    assert tree_hash(first) == before


def test_dry_run_and_presets(capsys):
    code, out, _ = run(capsys, "train", "dcgan", "--preset", "tutorial", "--dry-run", "train.lr=1e-3")
    assert code == 0 and "lr: 0.001" in out and "preset: tutorial" in out
    code, out, _ = run(capsys, "presets")
    assert code == 0 and "dcgan" in out and "tutorial" in out


@pytest.mark.parametrize(
    "recipe, preset, command",
    [
        ("pix2pix", "default", "gankit translate"),
        ("cyclegan", "default", "gankit translate"),
        ("srgan", "srresnet", "gankit upscale"),
    ],
)
def test_sample_points_image_to_image_checkpoints_elsewhere(recipe, preset, command, tmp_path, capsys):
    import torch

    from gankit import config as C
    from gankit.models import resolve_config
    from gankit.train import checkpoint as ckpt

    cfg = resolve_config(recipe, preset)
    ckpt.write(
        tmp_path / "checkpoints",
        "step-0000001",
        {"x": torch.zeros(1)},
        {"step": 1, "config": C.to_plain(cfg), "data_info": {"shape": [3, 64, 64], "classes": []}},
    )
    code, _, err = run(capsys, "sample", tmp_path)
    assert code == 2 and command in one_line_error(err)
