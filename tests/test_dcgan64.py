"""The 64 px DCGANs of book ch.4 (`book`) and of the DCGAN paper (`paper`), and the face-crop data step."""

import numpy as np
import pytest
import torch
from conftest import gankit
from PIL import Image

from gankit.models import recipe_class, resolve_config


def make(preset, *overrides):
    cfg = resolve_config("dcgan", preset, overrides=list(overrides))
    r = recipe_class("dcgan")(cfg, (3, 64, 64), 0)
    r.gen = torch.Generator().manual_seed(0)
    return r, cfg


def count(m):
    return sum(p.numel() for p in m.parameters() if p.requires_grad)


def test_book_preset_nets_optimiser_and_labels():
    r, cfg = make("book")
    assert count(r.G) == 34_839_427 and count(r.D) == 20_361_473  # spec A8
    assert isinstance(r.optim["G"], torch.optim.SGD) and isinstance(r.optim["D"], torch.optim.SGD)
    for opt in r.optim.values():
        g = opt.param_groups[0]
        assert g["lr"] == 5e-4 and g["momentum"] == 0.9 and g["nesterov"] is True
    assert sum(isinstance(m, torch.nn.Upsample) for m in r.G.modules()) == 3
    assert [m.kernel_size for m in r.G.modules() if isinstance(m, torch.nn.Conv2d)] == [(5, 5)] * 3
    shapes, x = [], torch.zeros(2, 3, 64, 64)
    for m in r.D.body:
        x = m(x)
        if isinstance(m, torch.nn.MaxPool2d) or isinstance(m, torch.nn.Conv2d):
            shapes.append(x.shape[-1])
    assert shapes == [64, 32, 30, 15, 13, 6]  # spec: 64 -> 32 -> 30 -> 15 -> 13 -> 6
    out = r.G(torch.randn(2, 100))
    assert out.shape == (2, 3, 64, 64) and out.abs().max() <= 1
    o = cfg.model  # real targets in (0.8, 1], fake in [0, 0.2): the book's noisy labels
    assert (o.real_label, o.fake_label, o.label_noise, o.d_split_steps) == (1.0, 0.0, 0.2, True)
    seen = []
    orig = r._targets
    r._targets = lambda n, v: seen.append(orig(n, v)) or seen[-1]
    r.train_step({"image": torch.rand(4, 3, 64, 64) * 2 - 1})
    assert 0.8 < seen[0].min() and seen[0].max() <= 1 and 0 <= seen[1].min() and seen[1].max() < 0.2


def test_book_repo_preset_trains_g_on_the_smoothed_label(monkeypatch):
    """The companion repo's variant: lr 5e-3, momentum 0.5, constant 0.9 real targets, and G's target 0.9 too."""
    from gankit.errors import ConfigError
    from gankit.models import toolbox

    r, cfg = make("book-repo")
    assert count(r.G) == 34_839_427
    g = r.optim["G"].param_groups[0]
    assert (g["lr"], g["momentum"], g["nesterov"]) == (5e-3, 0.5, True)
    o = cfg.model
    assert (o.real_label, o.fake_label, o.label_noise, o.g_label) == (0.9, 0.0, 0.0, 0.9)
    seen = []
    real_g_loss = toolbox.losses.g_loss
    monkeypatch.setattr(
        toolbox.losses, "g_loss", lambda kind, out, target=1.0: seen.append(target) or real_g_loss(kind, out, target)
    )
    r.train_step({"image": torch.rand(4, 3, 64, 64) * 2 - 1})
    assert seen == [0.9]
    with pytest.raises(ConfigError, match="g_label"):
        resolve_config("dcgan", "book", overrides=["model.g_label=0.3"])


def test_paper_preset_all_convolutional():
    r, cfg = make("paper")
    assert not any(isinstance(m, (torch.nn.MaxPool2d, torch.nn.Upsample)) for m in r.D.modules() if m is not None)
    convT = [m for m in r.G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [m.out_channels for m in convT] == [256, 128, 64, 3] and all(m.stride == (2, 2) for m in convT)
    convs = [m for m in r.D.body if isinstance(m, torch.nn.Conv2d)]
    assert [m.out_channels for m in convs] == [64, 128, 256, 512] and all(m.stride == (2, 2) for m in convs)
    bn_d = [m for m in r.D.body if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bn_d) == 3  # BN after every D conv but the first
    g = r.optim["G"].param_groups[0]
    assert isinstance(r.optim["G"], torch.optim.Adam) and g["lr"] == 2e-4 and g["betas"][0] == 0.5
    assert r.G(torch.randn(2, 100)).shape == (2, 3, 64, 64)
    w = [m.weight for m in r.G.modules() if isinstance(m, torch.nn.ConvTranspose2d)][1]
    assert abs(w.std().item() - 0.02) < 0.003  # N(0, 0.02) init
    r.train_step({"image": torch.rand(4, 3, 64, 64) * 2 - 1})


def test_64px_presets_need_64px_multiples():
    from gankit.errors import ConfigError

    with pytest.raises(ConfigError):
        resolve_config("dcgan", "paper", overrides=["data.size=40"])


# --------------------------------------------------------------------------- face crops


def drawings(tmp_path):
    d = tmp_path / "drawings"
    (d / "sub").mkdir(parents=True)
    Image.fromarray(np.full((100, 160, 3), 200, np.uint8)).save(d / "a.png")
    Image.fromarray(np.full((80, 80, 4), 90, np.uint8), "RGBA").save(d / "sub" / "b.png")
    Image.fromarray(np.zeros((50, 50, 3), np.uint8)).save(d / "empty.jpg")
    (d / "broken.png").write_bytes(b"not an image")
    return d


def test_crop_faces_squares_margins_unique_names(tmp_path):
    from gankit.data.prepare import crop_faces, square_box

    assert square_box(10, 20, 30, 20, 160, 100, 0.0) == (10, 15, 40, 45)  # square around the box centre
    assert square_box(0, 0, 40, 40, 100, 100, 0.25) == (0, 0, 60, 60)  # moved inside, not cut
    boxes = {"a": [(20, 10, 40, 40), (100, 30, 30, 30)], "b": [(5, 5, 60, 70)], "empty": []}

    def fake_detector(im):  # stands in for the cascade: keyed by the image's size
        return boxes[{(160, 100): "a", (80, 80): "b"}.get(im.size, "empty")]

    out = tmp_path / "faces"
    rep = crop_faces(drawings(tmp_path), out, None, size=32, detector=fake_detector)
    assert (rep.images, rep.faces, rep.no_face, rep.unreadable) == (3, 3, 1, 1)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["a-face0.png", "a-face1.png", "sub-b-face0.png"]
    assert all(Image.open(out / n).size == (32, 32) and Image.open(out / n).mode == "RGB" for n in names)


def test_crop_faces_cli_errors(tmp_path):
    d = drawings(tmp_path)
    p = gankit("data", "prepare", d, "--out", tmp_path / "o", check=False)
    assert p.returncode == 2 and "--crop-faces" in p.stderr
    bad = tmp_path / "bad.xml"
    bad.write_text("<opencv_storage></opencv_storage>")
    p = gankit("data", "prepare", d, "--out", tmp_path / "o", "--crop-faces", bad, check=False)
    assert p.returncode == 2 and ("not an OpenCV cascade" in p.stderr or "needs OpenCV" in p.stderr)
    p = gankit("data", "prepare", d, "--out", tmp_path / "o", "--crop-faces", tmp_path / "none.xml", check=False)
    assert p.returncode == 2 and ("not found" in p.stderr or "needs OpenCV" in p.stderr)


def test_crop_faces_with_a_real_cascade(tmp_path):
    """With a real cascade file (GANKIT_TEST_CASCADE, or OpenCV's bundled Haar face cascade when the wheel has it)
    the whole OpenCV path runs: a blank drawing gives no face and no output file."""
    import os

    cv2 = pytest.importorskip("cv2")
    path = os.environ.get("GANKIT_TEST_CASCADE") or os.path.join(
        getattr(getattr(cv2, "data", None), "haarcascades", ""), "haarcascade_frontalface_default.xml"
    )
    if not os.path.isfile(path):
        pytest.skip("no cascade file (set GANKIT_TEST_CASCADE=/path/to/cascade.xml)")
    from gankit.data.prepare import crop_faces

    d = tmp_path / "blank"
    d.mkdir()
    Image.fromarray(np.full((64, 64, 3), 255, np.uint8)).save(d / "white.png")
    rep = crop_faces(d, tmp_path / "o", path)
    assert rep.images == 1 and rep.faces == 0 and rep.no_face == 1
