"""Super-resolution data: LR is exactly the antialiased bicubic of the HR crop; crops, flips, split, layouts."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gankit.config import DataConfig
from gankit.data.sr import downscale, load_sr
from gankit.errors import DataError

torch.set_num_threads(1)


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def emoji():
    return load_sr(DataConfig(name="openmoji", size=96, limit=60), crop=48, scale=4)


def test_lr_is_exactly_the_antialiased_bicubic_of_the_hr_crop(emoji):
    b = emoji.batch(torch.arange(8), None, torch.Generator().manual_seed(3))
    hr, lr = b["hr"], b["lr"]
    assert hr.shape == (8, 3, 48, 48) and lr.shape == (8, 3, 12, 12)
    # independent recomputation from the uint8 crop: bicubic + antialias on float, rounded to 8 bits
    u8 = ((hr + 1) * 127.5).round()
    ref = F.interpolate(u8 / 127.5 - 1, size=(12, 12), mode="bicubic", antialias=True, align_corners=False)
    ref = ((ref.clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1
    assert torch.equal(lr, ref)
    # and that function is PIL's BICUBIC reduction, but for PIL clipping to 0..255 between its two passes
    for i in range(3):
        im = Image.fromarray(u8[i].permute(1, 2, 0).numpy().astype(np.uint8)).resize((12, 12), Image.Resampling.BICUBIC)
        pil = torch.from_numpy(np.asarray(im).astype(np.float32)).permute(2, 0, 1)
        diff = (pil - ((lr[i] + 1) * 127.5).round()).abs()
        assert (diff <= 1).float().mean() > 0.9 and diff.mean() < 0.6, (diff <= 1).float().mean()


def test_crops_come_from_the_image_with_flips_and_follow_the_generator(emoji):
    idx = torch.tensor([5] * 24)
    a = emoji.crops(idx, torch.Generator().manual_seed(0))
    assert torch.equal(a, emoji.crops(idx, torch.Generator().manual_seed(0)))  # reproducible
    assert not torch.equal(a, emoji.crops(idx, torch.Generator().manual_seed(1)))  # and really random
    src = emoji.train[5]
    windows = src.unfold(1, 48, 1).unfold(2, 48, 1)  # C x nY x nX x 48 x 48
    flips = set()
    for c in a:
        for name, v in (("none", c), ("h", c.flip(-1)), ("v", c.flip(-2)), ("hv", c.flip(-1).flip(-2))):
            if (windows == v[:, None, None]).all(0).all(-1).all(-1).any():
                flips.add(name)
                break
        else:
            pytest.fail("a crop is not a (flipped) window of its source image")
    assert len(flips) >= 3  # flips of both kinds happen


def test_heldout_split_is_fixed_and_keeps_skin_tones_together():
    a = load_sr(DataConfig(name="openmoji", size=32, limit=400), crop=16, scale=4)
    b = load_sr(DataConfig(name="openmoji", size=32, limit=400), crop=16, scale=4)
    assert a.heldout_names == b.heldout_names and 0 < len(a.heldout) < len(a) / 5
    assert not set(a.heldout_names) & set(a.train_names)
    from gankit.data.sr import _emoji_key

    assert _emoji_key("1F575-1F3FE-200D-2640-FE0F") == _emoji_key("1F575-200D-2640-FE0F")
    assert not {_emoji_key(n) for n in a.heldout_names} & {_emoji_key(n) for n in a.train_names}


def test_openmoji_is_rendered_at_true_high_resolution_and_cached():
    from gankit.data.openmoji import render_openmoji, svg_files

    hi, names = render_openmoji(256, limit=3)
    lo, _ = render_openmoji(64, limit=3)
    assert hi.shape == (3, 3, 256, 256) and hi.dtype == torch.uint8 and names == [f.stem for f in svg_files(3)]
    up = F.interpolate(lo.float(), size=256, mode="bicubic", align_corners=False).clamp(0, 255)
    assert (up - hi.float()).abs().mean() > 2  # the 256 px render is not an enlarged small one
    files = list((__import__("pathlib").Path(os.environ["GANKIT_CACHE"]) / "decoded").glob("openmoji-256-*.pt"))
    assert len(files) == 1
    again, _ = render_openmoji(256, limit=3)
    assert torch.equal(again, hi)
    rgba, _ = render_openmoji(64, background=None, limit=3)
    assert rgba.shape[1] == 4 and rgba[:, 3].min() == 0 and rgba[:, 3].max() == 255


def _write(path, size, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.RandomState(seed).randint(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)


def test_div2k_layout_reads_hr_folders_only_and_holds_out_valid(tmp_path):
    for i in range(3):
        _write(tmp_path / "DIV2K_train_HR" / f"{i:04d}.png", (40 + i, 36), i)
    _write(tmp_path / "DIV2K_valid_HR" / "0801.png", (33, 50), 9)
    _write(tmp_path / "DIV2K_train_LR_bicubic" / "X4" / "0000x4.png", (10, 9), 7)  # LR: ignored
    d = load_sr(DataConfig(name=f"folder:{tmp_path}"), crop=32, scale=4)
    assert len(d) == 3 and d.heldout_names == ["DIV2K_valid_HR/0801.png"]
    assert [tuple(t.shape) for t in d.train] == [(3, 36, 40), (3, 36, 41), (3, 36, 42)]  # native sizes kept
    hr, lr = d.heldout_pair(0)
    assert hr.shape == (1, 3, 48, 32) and lr.shape == (1, 3, 12, 8)  # modcropped to the scale
    b = d.batch(torch.tensor([0, 2]), None, torch.Generator().manual_seed(0))
    assert b["hr"].shape == (2, 3, 32, 32) and torch.equal(b["lr"], downscale(b["hr"], 4))


def test_celeba_partition_file_and_too_small_images(tmp_path):
    root = tmp_path / "celeba"
    for i in range(1, 5):
        _write(root / "img_align_celeba" / f"{i:06d}.jpg", (36, 44), i)
    (root / "img_align_celeba" / "list_eval_partition.txt").write_text(
        "000001.jpg 0\n000002.jpg 0\n000003.jpg 1\n000004.jpg 2\n"
    )
    d = load_sr(DataConfig(name=str(root / "img_align_celeba")), crop=32, scale=4)
    assert d.heldout_names == ["000004.jpg"] and len(d) == 3
    with pytest.raises(DataError, match="smaller than the HR crop 40"):
        load_sr(DataConfig(name=str(root / "img_align_celeba")), crop=40, scale=4)
    with pytest.raises(DataError, match="not a multiple"):
        load_sr(DataConfig(name="openmoji", size=32, limit=4), crop=30, scale=4)


def test_twemoji_at_native_72px():
    d = load_sr(DataConfig(name="twemoji", limit=40), crop=64, scale=4)
    assert d.train[0].shape == (3, 72, 72) and d.tag() == "twemoji72-x4" and len(d.heldout) >= 1
