"""`gankit upscale`: tiled equals untiled; RGBA, greyscale, 16-bit and odd sizes; bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli import main
from gankit.models import resolve_config
from gankit.nn.srresnet import SRResNet
from gankit.pipelines.upscale import UpscalePipeline, upscale_tensor
from gankit.train.trainer import Trainer

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        over = [
            "data.limit=20",
            "data.size=64",
            "model.crop=32",
            "model.g_features=8",
            "model.g_blocks=1",
            "train.batch_size=4",
            "train.steps=2",
            "train.threads=1",
            "train.device=cpu",
            "train.report_every_epochs=null",
        ]
        return Trainer(
            resolve_config("srgan", "srresnet", overrides=over), out=tmp_path_factory.mktemp("runs"), progress=False
        ).fit()


def test_tiled_equals_untiled_within_tolerance():
    torch.manual_seed(0)
    g = SRResNet(features=8, blocks=2).eval()
    with torch.no_grad():
        for p in g.parameters():
            p.mul_(0.5)  # keep tanh away from saturation so differences show
    lr = torch.rand(1, 3, 45, 70) * 2 - 1
    whole = upscale_tensor(g, lr, 4, tile=None)
    tiled = upscale_tensor(g, lr, 4, tile=24, overlap=8)
    assert tiled.shape == whole.shape == (1, 3, 180, 280)
    d = (tiled - whole).abs()
    assert d.max() < 0.02 and d.mean() < 1e-3, (d.max(), d.mean())
    naive = upscale_tensor(g, lr, 4, tile=24, overlap=0)  # abutting tiles: visible seams
    assert (naive - whole).abs().max() > 5 * d.max()


def _img(mode, size, seed=0):
    rs = np.random.RandomState(seed)
    w, h = size
    base = np.kron(rs.randint(0, 256, (h // 4 + 1, w // 4 + 1, 4)), np.ones((4, 4, 1)))[:h, :w].astype(np.uint8)
    if mode == "RGBA":
        base[..., 3] = 0
        base[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4, 3] = 255  # an opaque window in a transparent frame
        return Image.fromarray(base, "RGBA")
    if mode == "L":
        return Image.fromarray(base[..., 0], "L")
    if mode == "I;16":
        return Image.fromarray(base[..., 0].astype(np.uint16) * 257)
    return Image.fromarray(base[..., :3], "RGB")


def test_upscale_rgba_grey_16bit_and_odd_sizes(run_dir, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    cases = {
        "rgba.png": ("RGBA", (37, 23)),
        "grey.png": ("L", (19, 31)),
        "deep.png": ("I;16", (9, 7)),
        "rgb.jpg": ("RGB", (41, 29)),
    }
    for name, (mode, size) in cases.items():
        _img(mode, size).save(src / name)
    out = tmp_path / "out"
    assert main(["upscale", str(run_dir), str(src), "--out", str(out), "--tile", "16", "--overlap", "4"]) == 0
    for name, (mode, (w, h)) in cases.items():
        res = Image.open(out / f"{name.rsplit('.', 1)[0]}_x4.png")
        assert res.size == (4 * w, 4 * h), name
        assert res.mode == {"RGBA": "RGBA", "L": "L", "I;16": "L", "RGB": "RGB"}[mode], name
    a = np.asarray(Image.open(out / "rgba_x4.png"))[..., 3]
    ref = np.asarray(_img("RGBA", (37, 23)).getchannel("A").resize((148, 92), Image.Resampling.BICUBIC))
    assert np.array_equal(a, ref)  # alpha enlarged separately (bicubic), not through G
    assert a[:8].max() == 0 and a[46, 74] == 255
    assert "grey.png" in capsys.readouterr().out


def test_upscale_bad_input(run_dir, tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    assert main(["upscale", str(run_dir), str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "bad.png: unreadable image" in capsys.readouterr().err
    assert main(["upscale", str(run_dir), str(tmp_path / "missing.png"), "--out", str(tmp_path / "o")]) == 2


def test_upscale_fast_path_tracks_fp32(run_dir, tmp_path, capsys):
    from gankit.errors import GankitError

    lr = torch.rand(1, 3, 40, 56) * 2 - 1
    ref, fast = (UpscalePipeline.from_checkpoint(run_dir, precision=p) for p in ("fp32", "bf16"))
    a, b = upscale_tensor(ref, lr, 4, tile=24, overlap=8), upscale_tensor(fast, lr, 4, tile=24, overlap=8)
    d = (a - b).abs()
    assert a.shape == b.shape == (1, 3, 160, 224) and 0 < d.max() < 0.1 and d.mean() < 0.01, (d.max(), d.mean())
    with pytest.raises(GankitError, match="--precision must be"):
        UpscalePipeline.from_checkpoint(run_dir, precision="int8")
    assert main(["upscale", str(run_dir), str(tmp_path), "--out", str(tmp_path / "o"), "--precision", "x"]) == 2
    assert "--precision must be auto, fp32, bf16 or fp16" in capsys.readouterr().err
