import gzip
import json
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
FMNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def _isolate(monkeypatch, tmp_path_factory):
    """Tests never touch the user's cache; one thread per test process (pytest -n 2 fills both cores)."""
    cache = tmp_path_factory.getbasetemp() / "cache"
    monkeypatch.setenv("GANKIT_CACHE", str(cache))
    torch.set_num_threads(1)


def pytest_collection_modifyitems(items):
    """The tests marked slow run first: under ``-n 2`` a long test drawn last would leave the other worker idle."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def write_idx(path: Path, arr: np.ndarray, gz: bool = True) -> Path:
    codes = {np.uint8: 0x08}
    header = bytes([0, 0, codes[arr.dtype.type], arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    raw = header + arr.tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)
    return path


@pytest.fixture
def tiny_idx(tmp_path):
    """A fake MNIST folder: 64 train / 16 test images, 28x28, with a recognisable pattern per class."""
    d = tmp_path / "mnist"
    d.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 64), ("t10k", 16)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 50, (n, 28, 28), dtype=np.uint8)
        for i, y in enumerate(labels):
            images[i, y * 2 : y * 2 + 4, :] = 255
        write_idx(d / f"{split}-images-idx3-ubyte", images, gz=(split == "train"))
        write_idx(d / f"{split}-labels-idx1-ubyte", labels, gz=(split == "train"))
    return d


@pytest.fixture
def tiny_cifar(tmp_path):
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (20, 3072), dtype=np.uint8)
        with open(d / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": list(rng.integers(0, 10, 20))}, f)
    return tmp_path


@pytest.fixture
def png_folder(tmp_path):
    """Two classes of small PNGs of assorted modes and sizes."""
    from PIL import Image

    d = tmp_path / "pics"
    rng = np.random.default_rng(2)
    for cls, modes in (("cats", ["RGB", "RGBA", "L"]), ("dogs", ["P", "LA", "RGB"])):
        (d / cls).mkdir(parents=True)
        for i, mode in enumerate(modes):
            arr = rng.integers(0, 256, (20 + i, 24, 3), dtype=np.uint8)
            im = Image.fromarray(arr, "RGB").convert(mode)
            im.save(d / cls / f"{i}.png")
    return d


class _ForkServer:
    """The client of ``tests/cli_forkserver.py``: one server per pytest worker, started on first use."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "cli_forkserver.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            cwd=ROOT,
        )
        self.buf = b""

    def line(self, timeout: float | None) -> str:
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([self.proc.stdout], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"the CLI fork server died (exit {self.proc.wait()})")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def run(self, argv: list[str], env: dict, kill: list[str] | None, timeout: float):
        with tempfile.TemporaryDirectory() as d:
            out, err = Path(d) / "stdout", Path(d) / "stderr"
            req = {"argv": argv, "env": env, "cwd": os.getcwd(), "stdout": str(out), "stderr": str(err), "kill": kill}
            self.proc.stdin.write((json.dumps(req) + "\n").encode())
            self.proc.stdin.flush()
            pid = int(self.line(timeout).split()[1])  # the first request also waits for the server's imports
            try:
                code = int(self.line(timeout).split()[1])
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                self.line(None)
                raise subprocess.TimeoutExpired(["gankit", *argv], timeout) from None
            return subprocess.CompletedProcess(["gankit", *argv], code, out.read_text(), err.read_text())


_server: _ForkServer | None = None


def _run_cli(args, env: dict | None, kill: list[str] | None, timeout: float) -> subprocess.CompletedProcess:
    """``python -m gankit.cli *args`` (through tests/killed_run.py when ``kill``) in a process of its own, one thread,
    this process's environment plus ``env``: forked from the worker's fork server (imports already paid), or started
    fresh when GANKIT_TEST_FRESH=1."""
    global _server
    argv, env = [str(a) for a in args], {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    if os.environ.get("GANKIT_TEST_FRESH") == "1":
        head = [str(ROOT / "tests" / "killed_run.py"), *kill] if kill else ["-m", "gankit.cli"]
        return subprocess.run([sys.executable, *head, *argv], capture_output=True, text=True, env=env, timeout=timeout)
    if _server is None or _server.proc.poll() is not None:
        _server = _ForkServer()
    return _server.run(argv, env, kill, timeout)


def gankit(*args, env=None, check=True, timeout=600):
    """Run the gankit CLI in a process of its own (as a user would; see ``_run_cli``)."""
    p = _run_cli(args, env, None, timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"gankit {' '.join(map(str, args))} -> {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def gankit_killed(*args, at_step: int | None = None, in_write: str | None = None, timeout=600):
    """Run ``gankit *args`` in a process of its own that is SIGKILLed at the end of step ``at_step``, or inside the
    write of checkpoint ``in_write`` (tests/killed_run.py); asserts that it died so and returns the process."""
    how = ["--at-step", str(at_step)] if at_step is not None else ["--in-write", in_write]
    p = _run_cli(args, None, how, timeout)
    assert p.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL), f"{p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


needs_fmnist = pytest.mark.skipif(
    not (FMNIST / "train-images-idx3-ubyte.gz").exists(),
    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)",
)


def crash_and_resume(args, tmp_path, steps: int, crash_at: int | None = None):
    """Run ``gankit *args`` uninterrupted into ``tmp_path/full`` and again into ``tmp_path/part`` killed (SIGKILL)
    after step ``crash_at`` (default: half way), then resume the killed run. Returns the final checkpoint tensors of
    both runs and both run directories: ``(full_tensors, resumed_tensors, full_dir, resumed_dir)``."""
    from safetensors.torch import load_file

    gankit(*args, "--out", tmp_path / "full")
    gankit_killed(*args, "--out", tmp_path / "part", at_step=crash_at or steps // 2)
    (run,) = (tmp_path / "part").iterdir()
    gankit("train", "--resume", run, "--no-progress")
    (full,) = (tmp_path / "full").iterdir()
    a, b = (load_file(str(d / "checkpoints" / f"step-{steps:07d}" / "tensors.safetensors")) for d in (full, run))
    return a, b, full, run
