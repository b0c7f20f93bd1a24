"""Two-domain data: the emoji pairs and their fixed split, aligned A|B and trainA/trainB folders, jitter, errors."""

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import DataConfig
from gankit.data import pairs
from gankit.errors import DataError


def make_aligned(root, n_train=6, n_test=3, h=20, w=20, modes=("RGB",)):
    """pix2pix's layout: train/ and test/ with A|B side by side; A = a bright square, B = its inverse."""
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        (root / split).mkdir(parents=True)
        for i in range(n):
            a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            im = Image.fromarray(np.concatenate([a, 255 - a], 1))
            im.convert(modes[i % len(modes)]).save(root / split / f"{i}.png")
    return root


def make_unaligned(root, names_a=("x", "y", "z"), names_b=("x", "y", "z"), size=(24, 16)):
    rng = np.random.default_rng(1)
    for side, names in (("A", names_a), ("B", names_b)):
        for split in ("train", "test"):
            (root / f"{split}{side}").mkdir(parents=True, exist_ok=True)
            for nm in names:
                arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
                Image.fromarray(arr).save(root / f"{split}{side}" / f"{nm}.png")
    return root


def test_emoji_split_is_fixed_and_at_least_ten_percent():
    codes = pairs.emoji_codes()
    assert len(codes) == 3964
    train, test = pairs.split_codes(codes)
    assert not set(train) & set(test) and len(train) + len(test) == len(codes)
    assert len(test) / len(codes) >= 0.10
    assert len(test) == 474  # documented in pairs.py and docs/translation.md
    assert pairs.is_test(test[0]) and not pairs.is_test(train[0])


def test_emoji_pairs_match_by_codepoint_and_sides_can_be_disjoint():
    s = pairs.load_pairs(DataConfig(name="emoji-pairs", size=32, limit=8), paired=True)
    assert s.A.shape == s.B.shape == (8, 3, 32, 32) and s.keys_a == s.keys_b
    assert s.test is not None and s.test.paired and not set(s.keys_a) & set(s.test.keys_a)
    # Twemoji and OpenMoji differ (OpenMoji has black outlines) but draw the same thing: strongly related
    assert not torch.equal(s.A, s.B)
    u = pairs.load_pairs(DataConfig(name="emoji-pairs", size=32, limit=8, disjoint=True), paired=False)
    assert not u.paired and not set(u.keys_a) & set(u.keys_b)
    r = pairs.load_pairs(DataConfig(name="emoji-pairs", size=32, limit=8, direction="BtoA"), paired=True)
    assert torch.equal(r.A, s.B) and torch.equal(r.B, s.A)


def test_emoji_cache_is_used(monkeypatch):
    a, b, codes = pairs.load_emoji_pairs("white", pairs.split_codes(pairs.emoji_codes())[1][:3])
    assert a.shape == (3, 3, 72, 72) and b.dtype == torch.uint8 and len(codes) == 3
    # white background: the corners of both renderings are white
    assert (a[:, :, 0, 0] == 255).all() and (b[:, :, 0, 0] == 255).all()


def test_jitter_crops_and_flips_a_pair_identically_through_the_generator(tmp_path):
    root = make_aligned(tmp_path / "ab", n_train=8)
    s = pairs.load_pairs(DataConfig(name=str(root), size=16, load_size=20, flip=True), paired=True)
    assert s.A.shape[-1] == 20 and s.shape == (3, 16, 16)
    idx = torch.arange(8)
    b1 = s.batch(idx, generator=torch.Generator().manual_seed(3))
    b2 = s.batch(idx, generator=torch.Generator().manual_seed(3))
    b3 = s.batch(idx, generator=torch.Generator().manual_seed(4))
    assert b1["A"].shape == (8, 3, 16, 16)
    assert torch.equal(b1["A"], b2["A"]) and not torch.equal(b1["A"], b3["A"])
    # B is the inverse of A pixel for pixel: the crop and the flip were the same for both halves
    assert torch.allclose(b1["A"], -b1["B"], atol=1e-6)
    # the held-out split is never jittered
    assert s.test.A.shape[-1] == 16 and not s.test.flip


def test_aligned_layout_any_size_greyscale_and_rgba(tmp_path):
    root = make_aligned(tmp_path / "f", h=30, w=22, modes=("RGB", "L", "RGBA"))
    for fit in ("crop", "stretch", "pad"):
        s = pairs.load_pairs(DataConfig(name=f"folder:{root}", size=16, fit=fit), paired=True)
        assert s.A.shape == (6, 3, 16, 16) and s.B.shape == (6, 3, 16, 16)
    grey = pairs.load_pairs(DataConfig(name=str(root), size=16, channels=1), paired=True)
    assert grey.shape == (1, 16, 16)
    bad = make_aligned(tmp_path / "sq", h=20, w=10)  # single 20x20 images: not A|B pairs
    with pytest.raises(DataError, match="not an A|B pair"):
        pairs.load_pairs(DataConfig(name=str(bad), size=16), paired=True)


def test_unaligned_layout_pairs_by_name_and_names_a_missing_partner(tmp_path):
    ok = make_unaligned(tmp_path / "ok")
    s = pairs.load_pairs(DataConfig(name=str(ok), size=16), paired=True)
    assert s.paired and s.keys_a == s.keys_b == ["x.png", "y.png", "z.png"] and s.test.paired
    lone = make_unaligned(tmp_path / "lone", names_b=("x", "y", "w"))
    with pytest.raises(DataError, match=r"no partner.*z"):
        pairs.load_pairs(DataConfig(name=str(lone), size=16), paired=True)
    u = pairs.load_pairs(DataConfig(name=str(lone), size=16), paired=False)  # CycleGAN does not need partners
    assert not u.paired and len(u) == 3 and not u.test.paired
    b = u.batch(torch.arange(3), generator=torch.Generator().manual_seed(0))
    assert b["A"].shape == b["B"].shape == (3, 3, 16, 16)


def test_bad_settings_fail_with_one_line(tmp_path):
    with pytest.raises(DataError, match="load_size"):
        pairs.load_pairs(DataConfig(name="emoji-pairs", size=32, load_size=16), paired=True)
    with pytest.raises(DataError, match="split"):
        pairs.load_pairs(DataConfig(name="emoji-pairs", split="test"), paired=True)
    with pytest.raises(DataError, match="unknown translation dataset"):
        pairs.load_pairs(DataConfig(name="no/such/place"), paired=True)
