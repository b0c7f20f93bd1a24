"""Your own images: `data check` reports everything, greyscale folders train 1 channel, `data prepare` policies."""

import json

import numpy as np
import pytest
from PIL import Image

from gankit.cli import main
from gankit.config import DataConfig
from gankit.data import load
from gankit.data.check import check, check_folder, format_text
from gankit.data.prepare import held_out, prepare_images, prepare_pairs
from gankit.errors import DataError


def run(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def messy(tmp_path):
    """What users have: two unbalanced classes, mixed sizes and modes (RGB, RGBA with transparency, L, P, 16-bit,
    LA), a corrupt file, an exact duplicate under another name and format, a file beside the class folders."""
    d = tmp_path / "messy"
    rng = np.random.default_rng(0)
    (d / "cats").mkdir(parents=True)
    (d / "dogs").mkdir()
    for i in range(9):
        Image.fromarray(rng.integers(0, 256, (40 + 4 * i, 48, 3), dtype=np.uint8)).save(d / "cats" / f"c{i}.png")
    rgba = rng.integers(0, 256, (64, 64, 4), dtype=np.uint8)
    rgba[:8, :, 3] = 0  # a transparent band
    rgba[8:, :, 3] = 255
    Image.fromarray(rgba, "RGBA").save(d / "dogs" / "rgba.png")
    Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8), "L").save(d / "dogs" / "grey.png")
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).convert("P").save(d / "dogs" / "pal.png")
    Image.fromarray(rng.integers(0, 65535, (64, 64), dtype=np.uint16)).save(d / "dogs" / "deep.png")
    Image.open(d / "cats" / "c0.png").save(d / "dogs" / "same_as_c0.bmp")  # same pixels, another format
    (d / "dogs" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(d / "loose.png")
    return d


@pytest.fixture
def grey_folder(tmp_path):
    """1,797 digits in the issue; 40 greyscale 8x8 PNGs (mode L) here, plus one 16-bit and one palette of greys."""
    d = tmp_path / "digits"
    d.mkdir()
    rng = np.random.default_rng(1)
    for i in range(40):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8), "L").save(d / f"{i:03d}.png")
    Image.fromarray(rng.integers(0, 65535, (8, 8), dtype=np.uint16)).save(d / "deep.png")
    Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8), "L").convert("P").save(d / "pal.png")
    return d


# --------------------------------------------------------------------------- data check


def test_check_reports_everything_instead_of_stopping(messy):
    rep = check_folder(messy)
    assert rep.files == 16 and rep.readable == 15 and rep.usable
    assert [u["file"] for u in rep.unreadable] == ["dogs/broken.jpg"]
    assert rep.modes == {"RGB": 11, "RGBA": 1, "L": 1, "P": 1, "16-bit": 1}
    assert rep.transparent == 1 and rep.transparent_examples == ["dogs/rgba.png"]
    assert rep.duplicates == [["cats/c0.png", "dogs/same_as_c0.bmp"]]
    assert rep.classes == {"cats": 9, "dogs": 5} and rep.top_level_files == 1
    assert rep.non_square == 9 and rep.sizes["64x64"] == 5 and rep.sizes["48x48"] == 1
    assert sum(rep.short_side.values()) == 15
    s = rep.suggested
    assert s["data.channels"] == 3 and s["data.skip_bad"] is True and s["data.fit"] == "crop"
    assert s["data.size"] == 32  # 90 % of the short sides (40..64 px) reach 32 without upscaling
    assert s["data.background"] in ("white", "black", "gray")
    text = format_text(rep)
    for needle in (
        "unreadable: dogs/broken.jpg",
        "duplicates: cats/c0.png = dogs/same_as_c0.bmp",
        "beside the class folders",
        "16-bit",
        "data.skip_bad=true",
        "usable: yes",
    ):
        assert needle in text, needle


def test_check_cli_json_and_exit_codes(messy, tmp_path, capsys):
    code, out, _ = run(capsys, "data", "check", f"folder:{messy}", "--json")
    assert code == 0
    rep = json.loads(out)
    assert rep["readable"] == 15 and rep["unreadable"][0]["file"] == "dogs/broken.jpg"
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    code, out, err = run(capsys, "data", "check", bad)
    assert code == 2 and "a.png" in out and "no usable images" in err
    code, _, err = run(capsys, "data", "check", f"folder:{tmp_path / 'nowhere'}")
    assert code == 2 and "not found" in err


def test_check_suggestion_trains(messy, tmp_path, capsys):
    """The settings `data check` suggests make a folder that stops a plain load train as it is."""
    with pytest.raises(DataError, match="broken.jpg"):
        load(DataConfig(name=f"folder:{messy}", size=32))
    s = check_folder(messy).suggested
    flags = [f"{k}={v}" for k, v in s.items()]
    code, out, err = run(
        capsys,
        "train",
        "dcgan",
        "--data",
        f"folder:{messy}",
        *flags,
        "--steps",
        1,
        "--out",
        tmp_path / "runs",
        "--no-progress",
        "train.threads=1",
        "model.g_channels=[8,8,8]",
        "model.d_channels=[8,8,8]",
        "model.g_base=8",
        "model.d_stem=0",
        "train.grid=2",
    )
    assert code == 0, err
    (run_dir,) = (tmp_path / "runs").iterdir()
    card = json.loads((run_dir / "run.json").read_text())["data"]
    assert card["n"] == 15 and card["skipped"] == 1 and card["shape"] == [3, 32, 32]


def test_check_named_dataset(tiny_idx):
    rep = check(f"mnist:{tiny_idx}")
    assert rep.readable == 64 and rep.modes == {"L": 64} and rep.suggested["data.channels"] == 1
    assert rep.suggested["data.size"] == 32  # 28 is no multiple of 8: the conv generators double three times
    assert rep.classes["0"] == 7 and sum(rep.classes.values()) == 64


# --------------------------------------------------------------------------- channels


def test_greyscale_folder_loads_one_channel(grey_folder):
    s = load(DataConfig(name=f"folder:{grey_folder}"))
    assert s.shape == (1, 8, 8) and len(s) == 42 and s.channel_policy.startswith("auto: 1 channel")
    direct = np.asarray(Image.open(grey_folder / "000.png"))
    assert (s.images[0, 0].numpy() == direct).all()  # exact: no colour round trip
    s3 = load(DataConfig(name=f"folder:{grey_folder}", channels=3))
    assert s3.shape == (3, 8, 8) and "data.channels=3" in s3.channel_policy
    assert (s3.images[:, 0] == s.images[:, 0]).all() and (s3.images[:, 1] == s.images[:, 0]).all()
    rep = check_folder(grey_folder)
    assert rep.suggested["data.channels"] == 1 and rep.greyscale == 42 and rep.modes["16-bit"] == 1


@pytest.mark.parametrize("colour", ["rgb", "palette+transparency"])
def test_one_colour_image_makes_three_channels(grey_folder, colour):
    red = np.full((8, 8, 4), [255, 0, 0, 255], np.uint8)
    if colour == "rgb":
        Image.fromarray(red[..., :3], "RGB").save(grey_folder / "red.png")
    else:  # how Twemoji ships: a colour palette with a transparent index
        red[:2, :, 3] = 0
        Image.fromarray(red, "RGBA").quantize(4).save(grey_folder / "red.png", transparency=0)
        assert Image.open(grey_folder / "red.png").mode == "P"
    s = load(DataConfig(name=f"folder:{grey_folder}"))
    assert s.shape == (3, 8, 8) and s.channel_policy.startswith("auto: 3 channels")
    assert prepare_images(grey_folder, grey_folder.parent / "prep").train == 43
    assert Image.open(grey_folder.parent / "prep" / "red.png").mode in ("RGB", "RGBA")
    s1 = load(DataConfig(name=f"folder:{grey_folder}", channels=1))
    assert s1.shape == (1, 8, 8)


def test_run_card_says_which_channels(grey_folder, tmp_path, capsys):
    code, _, err = run(
        capsys,
        "train",
        "dcgan",
        "--data",
        f"folder:{grey_folder}",
        "data.size=8",
        "--steps",
        2,
        "--out",
        tmp_path / "runs",
        "--no-progress",
        "train.batch_size=8",
        "train.threads=1",
        "train.grid=2",
        "model.g_channels=[8,8,8]",
        "model.d_channels=[8,8,8]",
        "model.g_base=8",
        "model.d_stem=0",
    )
    assert code == 0, err
    (run_dir,) = (tmp_path / "runs").iterdir()
    card = json.loads((run_dir / "run.json").read_text())["data"]
    assert card["shape"] == [1, 8, 8] and card["channels"].startswith("auto: 1 channel") and card["cache"] == "memory"
    code, out, _ = run(capsys, "info", run_dir, "--json")
    assert code == 0 and json.loads(out)["data"]["channels"].startswith("auto: 1 channel")


# --------------------------------------------------------------------------- prepare


def test_prepare_fit_policies(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, :10] = [255, 0, 0]  # red left quarter, green middle, blue right quarter
    wide[:, 10:30] = [0, 255, 0]
    wide[:, 30:] = [0, 0, 255]
    Image.fromarray(wide).save(src / "wide.png")
    Image.fromarray(np.full((16, 16), 77, np.uint8), "L").save(src / "grey.png")
    (src / "bad.png").write_bytes(b"nope")
    out = {}
    for fit in ("crop", "pad", "stretch"):
        rep = prepare_images(src, tmp_path / fit, size=20, fit=fit, background="white")
        assert rep.train == 2 and rep.test == 0 and [f for f, _ in rep.skipped] == ["bad.png"]
        out[fit] = np.asarray(Image.open(tmp_path / fit / "wide.png").convert("RGB")).astype(int)
        assert out[fit].shape == (20, 20, 3)
        g = Image.open(tmp_path / fit / "grey.png")
        assert g.mode == "L" and g.size == (20, 20)  # greyscale stays one channel
    assert (out["crop"][:, [0, -1]] == [0, 255, 0]).all()  # the centre: green only
    assert (out["pad"][0] == 255).all() and (out["pad"][10, 0] == [255, 0, 0]).all()  # white bands, red kept
    assert abs(out["stretch"][10, 0] - [255, 0, 0]).max() < 40 and abs(out["stretch"][10, -1] - [0, 0, 255]).max() < 40
    assert "skipped 1: bad.png" in rep.summary()


def test_prepare_split_is_stable_and_per_class(tmp_path, capsys):
    src = tmp_path / "src"
    for cls, n in (("a", 20), ("b", 10)):
        (src / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(np.full((6, 6, 3), i * 10, np.uint8)).save(src / cls / f"{i}.png")
    code, out, err = run(capsys, "data", "prepare", src, "--out", tmp_path / "out", "--split", 0.1)
    assert code == 0, err
    assert "train/ 27, test/ 3" in out
    assert len(list((tmp_path / "out" / "test" / "a").iterdir())) == 2
    assert len(list((tmp_path / "out" / "test" / "b").iterdir())) == 1
    assert held_out([f"a/{i}.png" for i in range(20)], 0.1) == held_out([f"a/{i}.png" for i in range(20)][::-1], 0.1)
    s = load(DataConfig(name=f"folder:{tmp_path / 'out' / 'train'}"))
    assert len(s) == 27 and s.classes == ["a", "b"]
    assert run(capsys, "data", "prepare", src, "--out", tmp_path / "x", "--split", 1.5)[0] == 2
    assert run(capsys, "data", "prepare", tmp_path / "missing", "--out", tmp_path / "y", "--size", 8)[0] == 2


def test_prepare_pairs_pix2pix_layout(tmp_path, capsys):
    a, b = tmp_path / "photos", tmp_path / "sketches"
    a.mkdir()
    b.mkdir()
    for i in range(6):
        Image.fromarray(np.full((30, 40, 3), 20 * i, np.uint8)).save(a / f"img{i}.jpg")
        Image.fromarray(np.full((10, 10), 200 - 20 * i, np.uint8), "L").save(b / f"img{i}.png")
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(a / "lonely.png")
    code, out, err = run(
        capsys, "data", "prepare", "--pairs", a, b, "--out", tmp_path / "pairs", "--size", 16, "--split", 0.2
    )
    assert code == 0, err
    assert "train/ 5, test/ 1" in out and "no partner" in out and "lonely" in out
    im = np.asarray(Image.open(tmp_path / "pairs" / "train" / "img2.png"))
    assert im.shape == (16, 32, 3)
    assert abs(int(im[8, 4, 0]) - 40) <= 1 and abs(int(im[8, 20, 0]) - 160) <= 1  # A on the left, B on the right
    from gankit.data.pairs import load_pairs

    p = load_pairs(DataConfig(name=f"folder:{tmp_path / 'pairs'}", size=16), paired=True)
    assert len(p) == 5 and p.test is not None and len(p.test) == 1
    rep = prepare_pairs(a, b, tmp_path / "nosize")  # different sizes and no --size: skipped, said why
    assert rep.train + rep.test == 0 and len(rep.skipped) == 6 and "give --size" in rep.skipped[0][1]


def test_check_sees_grey_content_in_colour_files(grey_folder):
    """A scanner's RGB file with R = G = B: the header says colour (3 channels load), the check says greyscale."""
    g = np.random.default_rng(5).integers(0, 256, (8, 8), dtype=np.uint8)
    Image.fromarray(np.stack([g, g, g], -1), "RGB").save(grey_folder / "scan.png")
    assert load(DataConfig(name=f"folder:{grey_folder}")).shape == (3, 8, 8)
    rep = check_folder(grey_folder)
    assert rep.greyscale == 43 and rep.grey_in_colour_mode == 1 and rep.suggested["data.channels"] == 1
    assert "stored in a colour mode" in rep.reasons["data.channels"]
    assert load(DataConfig(name=f"folder:{grey_folder}", channels=1)).images[-1, 0].tolist() == g.tolist()
