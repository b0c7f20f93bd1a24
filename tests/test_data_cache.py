"""The decoded on-disk cache: same pixels as in memory, built once, rebuilt when the folder changes, read-only;
training from a folder larger than the memory a process may allocate; bitwise resume from the cache."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, crash_and_resume
from PIL import Image
from safetensors.torch import load_file

from gankit.config import DataConfig
from gankit.data import cache, load
from gankit.errors import DataError


def write_folder(d, n, side, classes=("a", "b"), distinct=16):
    """``n`` PNGs of ``side`` px in class folders, made from ``distinct`` encoded images (fast to write)."""
    rng = np.random.default_rng(0)
    blobs = []
    for _ in range(distinct):
        im = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).resize((side, side))
        b = io.BytesIO()
        im.save(b, format="PNG")
        blobs.append(b.getvalue())
    for c in classes:
        (d / c).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (d / classes[i % len(classes)] / f"{i:05d}.png").write_bytes(blobs[(i * 7) % distinct])
    return d


@pytest.fixture
def folder(tmp_path):
    d = write_folder(tmp_path / "pics", 40, 12)
    rng = np.random.default_rng(3)
    for i in range(8):  # a few distinct images too
        Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(d / "b" / f"x{i}.png")
    return d


def test_mmap_equals_memory(folder):
    mem = load(DataConfig(name=f"folder:{folder}", cache="memory"))
    mm = load(DataConfig(name=f"folder:{folder}", cache="mmap"))
    assert mm.cache.startswith("mmap ") and mem.cache == "memory"
    assert mm.images.shape == mem.images.shape == (48, 3, 12, 12)
    assert torch.equal(mm.images, mem.images) and torch.equal(mm.labels, mem.labels)
    assert mm.classes == mem.classes == ["a", "b"] and mm.files == mem.files
    assert (
        mm.fingerprint() == mem.fingerprint() == load(DataConfig(name=f"folder:{folder}", cache="mmap")).fingerprint()
    )
    idx = torch.tensor([3, 0, 47, 3])
    for k in ("image", "label"):
        assert torch.equal(mm.batch(idx)[k], mem.batch(idx)[k])
    f = mm.cache.split(" ", 1)[1]
    maps = [line.split() for line in open("/proc/self/maps") if line.rstrip().endswith(f)]
    assert maps and all(m[1] == "r--s" for m in maps)  # a read-only shared map: pages live in the page cache
    lim = load(DataConfig(name=f"folder:{folder}", cache="mmap", limit=5))
    assert len(lim) == 5 and torch.equal(lim.images, mem.images[:5]) and lim.fingerprint() != mem.fingerprint()


def test_built_once_rebuilt_when_the_folder_changes(folder):
    first = load(DataConfig(name=f"folder:{folder}", cache="mmap"))
    f1 = first.cache.split(" ", 1)[1]
    t1 = os.stat(f1).st_mtime_ns
    again = load(DataConfig(name=f"folder:{folder}", cache="mmap"))
    assert again.cache.split(" ", 1)[1] == f1 and os.stat(f1).st_mtime_ns == t1  # reused, not rewritten
    Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(folder / "a" / "00000.png")  # a file changes
    changed = load(DataConfig(name=f"folder:{folder}", cache="mmap"))
    f2 = changed.cache.split(" ", 1)[1]
    assert f2 != f1 and not os.path.exists(f1)  # a new key; the stale file is gone
    assert (changed.images[0] == 0).all() and changed.fingerprint() != first.fingerprint()
    other = load(DataConfig(name=f"folder:{folder}", cache="mmap", size=8, channels=1))  # size/channels: own file
    assert other.shape == (1, 8, 8) and other.cache.split(" ", 1)[1] != f2 and os.path.exists(f2)


def test_a_cached_folder_opens_without_reading_headers(folder, monkeypatch):
    """Once built, a run finds its cache from the file list, sizes and times alone (200k headers take a while)."""
    from gankit.data import folder as F

    built = load(DataConfig(name=f"folder:{folder}", cache="mmap", size=8))

    def no_headers(*a):
        raise AssertionError("read a header")

    monkeypatch.setattr(F, "read_headers", no_headers)
    again = load(DataConfig(name=f"folder:{folder}", cache="mmap", size=8))
    assert again.cache == built.cache and torch.equal(again.images, built.images)
    assert again.channel_policy == built.channel_policy and again.fingerprint() == built.fingerprint()
    auto = load(DataConfig(name=f"folder:{folder}", size=8))  # auto finds it too
    assert auto.cache == built.cache
    with pytest.raises(AssertionError, match="read a header"):  # another request: decode (headers first)
        load(DataConfig(name=f"folder:{folder}", cache="mmap", size=8, background="black"))
    with pytest.raises(AssertionError, match="read a header"):  # memory never looks at the cache
        load(DataConfig(name=f"folder:{folder}", cache="memory", size=8))


def test_truncated_cache_is_rebuilt_and_no_temp_left(folder):
    s = load(DataConfig(name=f"folder:{folder}", cache="mmap"))
    f = s.cache.split(" ", 1)[1]
    ref = s.images.clone()
    del s
    with open(f, "r+b") as fh:
        fh.truncate(5000)
    assert cache.read(__import__("pathlib").Path(f)) is None
    s2 = load(DataConfig(name=f"folder:{folder}", cache="mmap"))
    assert torch.equal(s2.images, ref)
    leftovers = [p.name for p in __import__("pathlib").Path(f).parent.iterdir() if ".tmp" in p.name]
    assert leftovers == []


def test_auto_maps_above_the_threshold_and_skip_bad(folder, monkeypatch):
    assert load(DataConfig(name=f"folder:{folder}")).cache == "memory"
    monkeypatch.setattr(cache, "AUTO_MMAP_BYTES", 48 * 3 * 12 * 12 - 1)
    assert load(DataConfig(name=f"folder:{folder}")).cache.startswith("mmap ")
    (folder / "a" / "zz-broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(DataError, match="zz-broken.png"):
        load(DataConfig(name=f"folder:{folder}", cache="mmap"))
    s = load(DataConfig(name=f"folder:{folder}", cache="mmap", skip_bad=True))
    assert len(s) == 48 and s.skipped == 1
    with pytest.raises(DataError, match="zz-broken.png"):  # a cache built with skip_bad does not hide the file
        load(DataConfig(name=f"folder:{folder}", cache="mmap"))
    with pytest.raises(DataError, match="data.cache=mmap applies to image folders"):
        load(DataConfig(name="twemoji", cache="mmap"))


N = 8


@pytest.mark.slow
def test_resume_is_bitwise_identical_from_the_cache(folder, tmp_path):
    """tests/test_resume.py's check, with the pixels read from the memory-mapped cache."""
    args = [
        "train",
        "dcgan",
        "--data",
        f"folder:{folder}",
        "data.cache=mmap",
        "data.size=8",
        "--steps",
        N,
        "--no-progress",
        "train.ckpt_every=4",
        "train.log_every=2",
        "train.sample_every=100",
        "train.batch_size=8",
        "train.threads=1",
        "train.grid=2",
        "model.g_channels=[8,8,8]",
        "model.d_channels=[8,8,8]",
        "model.g_base=8",
        "model.d_stem=0",
        "model.d_split_steps=true",
    ]
    a, b, full, run = crash_and_resume(args, tmp_path, N)
    assert json.loads((full / "run.json").read_text())["data"]["cache"].startswith("mmap ")
    assert [k for k in a if k.startswith("net.")] and set(a) == set(b)
    assert [k for k in a if not torch.equal(a[k], b[k])] == []


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA counts anonymous maps on Linux >= 4.7")
def test_trains_from_a_folder_larger_than_allowed_memory(tmp_path):
    """1,600 images at 384 px decode to 675 MiB; the training process may allocate only 512 MiB more than torch's
    import took. From the memory-mapped cache it trains; in memory the same load fails, with a clear error."""
    src = write_folder(tmp_path / "big", 1600, 384, classes=("x",))
    decoded = 1600 * 3 * 384 * 384
    headroom = 512
    assert decoded > headroom * 2**20 * 1.25
    env = {**os.environ, "GANKIT_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    common = [
        "train",
        "dcgan",
        "--data",
        f"folder:{src}",
        "data.size=384",
        "--steps",
        "2",
        "--no-progress",
        "train.batch_size=4",
        "train.threads=1",
        "train.sample_every=1000",
        "train.ckpt_every=1000",
        "train.grid=2",
        "model.g_base=8",
        "model.g_channels=[8,8,8]",
        "model.d_stem=0",
        "model.d_channels=[8,8,8]",
    ]

    def child(*extra):
        return subprocess.run(
            [sys.executable, str(ROOT / "tests" / "rlimit_child.py"), str(headroom), *common, *extra],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )

    mapped = child("data.cache=mmap", "--out", str(tmp_path / "runs"))
    assert mapped.returncode == 0, mapped.stderr[-3000:]
    (run,) = (tmp_path / "runs").iterdir()
    card = json.loads((run / "run.json").read_text())["data"]
    assert card["n"] == 1600 and card["cache"].startswith("mmap ")
    assert os.path.getsize(card["cache"].split(" ", 1)[1]) > decoded
    memory = child("data.cache=memory", "--out", str(tmp_path / "runs-mem"))
    assert memory.returncode == 2 and "use data.cache=mmap" in memory.stderr, memory.stderr[-3000:]


@pytest.mark.slow
def test_two_ddp_ranks_share_one_cache_file(folder, tmp_path):
    """Both ranks start together on an unbuilt cache: one builds (the other waits on the lock), both map the same
    file, and DDP keeps the replicas identical (tests/ddp_worker.py)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GANKIT_CACHE": str(tmp_path / "cache")}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(ROOT / "tests" / "ddp_worker.py"),
        "fit",
        "dcgan",
        str(tmp_path),
        "4",
        f"data.name=folder:{folder}",
        "data.cache=mmap",
        "data.size=8",
        "train.batch_size=8",
        "model.g_channels=[8,8,8]",
        "model.d_channels=[8,8,8]",
        "model.g_base=8",
        "model.d_stem=0",
        "train.grid=2",
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-4000:]
    assert len(list((tmp_path / "cache" / "decoded").glob("*.u8"))) == 1
    a, b = (load_file(str(tmp_path / f"rank{r}.safetensors")) for r in (0, 1))
    final = [k for k in a if k.startswith("final.")]  # weights and (synced) buffers at the end of the run
    assert a["step"].item() == 4 and final and [k for k in final if not torch.equal(a[k], b[k])] == []
    (run,) = [d for d in (tmp_path / "runs-w2").iterdir() if d.is_dir() and d.name[:5].isdigit()]
    assert json.loads((run / "run.json").read_text())["data"]["cache"].startswith("mmap ")
