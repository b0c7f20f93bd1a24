import pickle

import numpy as np
import pytest
import torch
from conftest import needs_fmnist, write_idx

from gankit.config import DataConfig
from gankit.data import load
from gankit.data.idx import read_idx
from gankit.errors import DataError


def test_idx_gz_and_raw(tiny_idx):
    train = load(DataConfig(name=f"mnist:{tiny_idx}"))
    test = load(DataConfig(name=f"mnist:{tiny_idx}", split="test"))  # raw (not gzipped) files
    assert train.images.shape == (64, 1, 28, 28) and train.images.dtype == torch.uint8
    assert test.images.shape == (16, 1, 28, 28)
    assert train.labels.tolist()[:12] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    b = train.batch(torch.tensor([0, 3]))
    assert b["image"].min() >= -1 and b["image"].max() <= 1 and b["image"].max() == 1.0
    assert b["label"].tolist() == [0, 3]
    # the class pattern survives: rows 6..9 of image 3 are white
    assert (train.images[3, 0, 6:10] == 255).all()


def test_idx_found_via_env(tiny_idx, monkeypatch):
    monkeypatch.setenv("GANKIT_DATA", str(tiny_idx.parent))
    s = load(DataConfig(name="mnist", limit=10, size=32, channels=3))
    assert s.images.shape == (10, 3, 32, 32) and s.tag() == "mnist32"


def test_idx_corrupt(tmp_path):
    bad = tmp_path / "train-images-idx3-ubyte"
    bad.write_bytes(b"\x00\x00\x08\x03" + (5).to_bytes(4, "big") * 3 + b"short")
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        read_idx(bad)
    write_idx(tmp_path / "x", np.zeros((2, 2), np.uint8))
    (tmp_path / "y.gz").write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(DataError, match="y.gz"):
        read_idx(tmp_path / "y.gz")


def test_cifar_pickles(tiny_cifar):
    s = load(DataConfig(name=f"cifar10:{tiny_cifar}"))
    assert s.images.shape == (100, 3, 32, 32) and s.labels.shape == (100,)
    assert s.classes[0] == "airplane"
    t = load(DataConfig(name=str(tiny_cifar / "cifar-10-batches-py"), split="test"))  # detected from a plain path
    assert len(t) == 20


def test_cifar_refuses_code_and_missing(tiny_cifar):
    (tiny_cifar / "cifar-10-batches-py" / "data_batch_3").write_bytes(pickle.dumps(print))
    with pytest.raises(DataError, match="data_batch_3"):
        load(DataConfig(name=f"cifar10:{tiny_cifar}"))
    (tiny_cifar / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DataError, match="missing CIFAR-10 batch"):
        load(DataConfig(name=f"cifar10:{tiny_cifar}"))


class _MakesADir:
    """A pickle that calls os.mkdir while it loads (what a hostile data file would do)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        import os

        return os.mkdir, (self.path,)


def test_one_restricted_unpickler_reads_every_data_pickle(tmp_path):
    """data/pickles.py is the package's only Unpickler (CIFAR batches and CUB's pickles both load through it): plain
    data and numpy arrays come back, a pickle naming any other callable is refused before the call runs."""
    import ast
    from pathlib import Path

    import gankit
    from gankit.data.pickles import load_plain

    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    (tmp_path / "ok.pickle").write_bytes(pickle.dumps({b"data": [arr, "caption", b"raw", 3]}))
    got = load_plain(tmp_path / "ok.pickle", "bytes")
    assert np.array_equal(got[b"data"][0], arr) and got[b"data"][1:] == ["caption", b"raw", 3]
    (tmp_path / "bad.pickle").write_bytes(pickle.dumps(_MakesADir(str(tmp_path / "made"))))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load"):
        load_plain(tmp_path / "bad.pickle")
    assert not (tmp_path / "made").exists()
    src = Path(gankit.__file__).parent
    unpicklers = [
        str(f.relative_to(src))
        for f in src.rglob("*.py")
        for node in ast.walk(ast.parse(f.read_text()))
        if isinstance(node, ast.ClassDef) and any("Unpickler" in ast.unparse(b) for b in node.bases)
    ]
    assert unpicklers == ["data/pickles.py"]


def test_image_folder_modes_and_classes(png_folder):
    s = load(DataConfig(name=f"folder:{png_folder}", size=16))
    assert s.images.shape == (6, 3, 16, 16) and s.classes == ["cats", "dogs"]
    assert sorted(s.labels.tolist()) == [0, 0, 0, 1, 1, 1]
    with pytest.raises(DataError, match="set data.size"):  # non-square images need a size
        load(DataConfig(name=f"folder:{png_folder}"))


def test_corrupt_png_named_or_skipped(png_folder):
    bad = png_folder / "cats" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(DataError, match="broken.png"):
        load(DataConfig(name=f"folder:{png_folder}", size=16))
    s = load(DataConfig(name=f"folder:{png_folder}", size=16, skip_bad=True))
    assert len(s) == 6 and s.skipped == 1


def test_rgba_composited_on_background(tmp_path):
    from PIL import Image

    d = tmp_path / "a"
    d.mkdir()
    Image.new("RGBA", (8, 8), (255, 0, 0, 0)).save(d / "clear.png")
    white = load(DataConfig(name=f"folder:{d}"))
    black = load(DataConfig(name=f"folder:{d}", background="black"))
    assert (white.images == 255).all() and (black.images == 0).all()


def test_missing_data_messages(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path))
    with pytest.raises(DataError, match="not found"):
        load(DataConfig(name="cifar10"))
    with pytest.raises(DataError, match="unknown dataset"):
        load(DataConfig(name="imagenet"))


def test_twemoji_embedded():
    s = load(DataConfig(name="twemoji", size=32, limit=50))
    assert s.images.shape == (50, 3, 32, 32) and s.tag() == "twemoji32"
    # composited on white: the corners of most emoji are white
    assert (s.images[:, :, 0, 0] == 255).float().mean() > 0.9


@needs_fmnist
def test_fashion_mnist_installed():
    s = load(DataConfig(name="fashion-mnist"))
    assert s.images.shape == (60000, 1, 28, 28) and s.classes[0] == "T-shirt/top"
    assert len(load(DataConfig(name="fashion-mnist", split="test"))) == 10000


def _one_of_each_data_set():
    """The six data-set classes a recipe's load_data returns, each built small from tensors."""
    from gankit.data import ImageSet
    from gankit.data.ages import AgeSet
    from gankit.data.captions import CaptionSet
    from gankit.data.pairs import PairSet
    from gankit.data.sr import SRData
    from gankit.data.voxels import VoxelSet, pack

    g = torch.Generator().manual_seed(0)
    img = lambda n, s=8: torch.randint(0, 256, (n, 3, s, s), dtype=torch.uint8, generator=g)  # noqa: E731
    two = torch.tensor([0, 1, 0, 1])
    caps = CaptionSet(img(4), [f"caption {i}" for i in range(8)], [[0, 1], [2, 3], [4, 5], [6, 7]], two, "c", "src")
    caps.embeddings = torch.randn(8, 5, generator=g)
    vols = (torch.rand(4, 8, 8, 8, generator=g) > 0.5).numpy()
    return [
        ImageSet(img(4), two, ["a", "b"], "images", "src"),
        PairSet(img(4), img(4), True, 8, "paired", "src"),
        PairSet(img(4), img(3), False, 8, "unpaired", "src"),
        SRData(list(img(4, 16)), list(img(2, 16)), "sr", "src", crop=8, scale=2),
        VoxelSet(pack(vols), 8, two, ["a", "b"], "voxels", "src"),
        AgeSet(img(4), two, torch.tensor([0, 0, 1, 1]), ["young", "old"], "ages", "src"),
        caps,
    ]


def test_every_data_set_states_the_trainers_protocol():
    """Each data-set class has the surface the Trainer uses (data.Dataset), with batch's signature, and each member
    answers with the type the protocol names: a batch is a dict of float tensors on the device asked for."""
    import inspect

    from gankit.data import Dataset

    want = inspect.signature(Dataset.batch)
    for d in _one_of_each_data_set():
        kind = type(d).__name__
        assert isinstance(d, Dataset), kind
        assert list(inspect.signature(type(d).batch).parameters) == list(want.parameters), kind
        assert isinstance(len(d), int) and len(d) >= 3, kind
        assert isinstance(d.shape, tuple) and all(isinstance(s, int) for s in d.shape), kind
        assert isinstance(d.num_classes, int) and d.num_classes == len(d.classes), kind
        assert all(isinstance(getattr(d, k), str) for k in ("name", "source")) and d.skipped == 0, kind
        assert isinstance(d.tag(), str) and isinstance(d.fingerprint(), str) and len(d.fingerprint()) >= 16, kind
        b = d.batch(torch.tensor([0, 2]), torch.device("cpu"), torch.Generator().manual_seed(1))
        assert isinstance(b, dict) and b, kind
        floats = [v for v in b.values() if torch.is_tensor(v) and v.is_floating_point()]
        assert floats and all(v.shape[0] == 2 for v in floats), kind
        assert any(tuple(v.shape[1:]) == d.shape for v in floats), kind  # the items the nets see
    assert not isinstance(object(), Dataset)
