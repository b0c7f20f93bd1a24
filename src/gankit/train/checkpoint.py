"""Full-state checkpoints: tensors in safetensors (no pickle), everything else in JSON.

Layout of ``checkpoints/step-000500/``: ``tensors.safetensors`` (networks, EMA copies, optimizer tensors,
RNG states, the fixed latent bank) and ``state.json`` (config, step, data position, optimizer hyper-parameters,
numpy/python RNG states, versions, metrics). A checkpoint is written into a temporary folder and renamed into
place; ``checkpoints/latest`` and ``checkpoints/best`` are one-line pointer files replaced atomically, so a
crash at any moment leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import CheckpointError
from ..fileio import gankit_version, write_text_atomic  # noqa: F401  (re-exported for the Trainer)

FORMAT = "gankit-checkpoint"
SCHEMA = 1
TENSORS, STATE = "tensors.safetensors", "state.json"


# --------------------------------------------------------------------------- packing


def pack_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: dict) -> dict:
    sd = opt.state_dict()
    meta = {"param_groups": sd["param_groups"], "state": {}}
    for idx, st in sd["state"].items():
        m = {}
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{prefix}.{idx}.{k}"] = v.detach().cpu().contiguous().clone()
                m[k] = {"tensor": True}
            else:
                m[k] = {"value": v}
        meta["state"][str(idx)] = m
    return meta


def unpack_optimizer(prefix: str, meta: dict, tensors: dict) -> dict:
    state = {}
    for idx, m in meta["state"].items():
        state[int(idx)] = {k: (tensors[f"{prefix}.{idx}.{k}"] if d.get("tensor") else d["value"]) for k, d in m.items()}
    return {"state": state, "param_groups": meta["param_groups"]}


def rng_state(gen: torch.Generator | None, tensors: dict) -> dict:
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    if gen is not None:
        tensors["rng.gen"] = gen.get_state()
    np_state = np.random.get_state()
    py_state = random.getstate()
    return {
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }


def restore_rng(meta: dict, tensors: dict, gen: torch.Generator | None) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
    if gen is not None and "rng.gen" in tensors:
        gen.set_state(tensors["rng.gen"])
    n = meta["numpy"]
    np.random.set_state((n[0], np.array(n[1], dtype=np.uint32), *n[2:]))
    p = meta["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))


# --------------------------------------------------------------------------- writing


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def write(ckpt_dir: Path, name: str, tensors: dict[str, torch.Tensor], state: dict) -> Path:
    """Write checkpoint ``name`` under ``ckpt_dir`` atomically and point ``latest`` at it."""
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    final = ckpt_dir / name
    tmp = ckpt_dir / f".tmp-{name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    state = {
        "format": FORMAT,
        "schema": SCHEMA,
        "gankit": gankit_version(),
        "torch": torch.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **state,
        "tensor_index": {k: list(v.shape) for k, v in tensors.items()},
    }  # load() checks the file against it
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp / TENSORS))
    with open(tmp / STATE, "w") as f:
        json.dump(state, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    _fsync_dir(tmp)
    old = None
    if final.exists():  # the same step written again (e.g. after resume): swap, then drop the old one
        old = ckpt_dir / f".old-{name}-{os.getpid()}"
        os.rename(final, old)
    os.rename(tmp, final)
    _fsync_dir(ckpt_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    write_text_atomic(ckpt_dir / "latest", name + "\n")
    return final


def set_best(ckpt_dir: Path, name: str) -> None:
    write_text_atomic(Path(ckpt_dir) / "best", name + "\n")


def prune(ckpt_dir: Path, keep: int) -> None:
    """Keep the newest ``keep`` step checkpoints plus whatever ``best`` and ``latest`` point at."""
    ckpt_dir = Path(ckpt_dir)
    for p in [*ckpt_dir.glob(".tmp-*"), *ckpt_dir.glob(".old-*")]:  # left by a process killed while writing
        if not p.name.endswith(f"-{os.getpid()}"):
            shutil.rmtree(p, ignore_errors=True)
    pinned = {read_pointer(ckpt_dir, p) for p in ("best", "latest")}
    steps = sorted(p for p in ckpt_dir.glob("step-*") if p.is_dir())
    for p in steps[: max(0, len(steps) - keep)]:
        if p.name not in pinned:
            shutil.rmtree(p, ignore_errors=True)


def read_pointer(ckpt_dir: Path, which: str) -> str | None:
    f = Path(ckpt_dir) / which
    return f.read_text().strip() if f.exists() else None


# --------------------------------------------------------------------------- reading


@dataclass
class Checkpoint:
    path: Path
    state: dict
    tensors: dict[str, torch.Tensor]

    @property
    def config(self) -> dict:
        return self.state["config"]

    @property
    def step(self) -> int:
        return int(self.state["step"])

    def net(self, prefix: str) -> dict[str, torch.Tensor]:
        p = prefix + "."
        return {k[len(p) :]: v for k, v in self.tensors.items() if k.startswith(p)}

    def load_into(self, module: torch.nn.Module, prefix: str) -> None:
        """``module.load_state_dict`` from the tensors under ``prefix``, with a one-line error naming the file."""
        try:
            module.load_state_dict(self.net(prefix))
        except RuntimeError as e:
            first = next((ln.strip() for ln in str(e).splitlines()[1:] if ln.strip()), str(e).splitlines()[0])
            raise CheckpointError(f"{self.path / TENSORS}: {prefix} does not fit the network ({first})") from None

    @property
    def run_dir(self) -> Path:
        return self.path.parent.parent


def resolve(path: str | Path) -> Path:
    """A run dir, its ``checkpoints`` folder, a pointer name inside it, or a step folder -> the step folder."""
    p = Path(path).expanduser()
    if not p.exists():
        raise CheckpointError(f"checkpoint not found: {p}")
    if p.is_file() and p.name in ("latest", "best"):
        return resolve(p.parent / p.read_text().strip())
    if p.is_file() and p.name in (STATE, TENSORS):
        p = p.parent
    if (p / STATE).exists():
        return p
    for ckdir in (p / "checkpoints", p):
        for ptr in ("latest", "best"):
            name = read_pointer(ckdir, ptr) if ckdir.is_dir() else None
            if name and (ckdir / name / STATE).exists():
                return ckdir / name
        steps = sorted(q for q in ckdir.glob("step-*") if (q / STATE).exists()) if ckdir.is_dir() else []
        if steps:
            return steps[-1]
    raise CheckpointError(f"{p}: no checkpoint here (expected a run directory or a checkpoints/step-N folder)")


def load(path: str | Path) -> Checkpoint:
    d = resolve(path)
    try:
        state = json.loads((d / STATE).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{d / STATE}: unreadable checkpoint state ({e})") from None
    if state.get("format") != FORMAT:
        raise CheckpointError(f"{d}: not a gankit checkpoint")
    if state.get("schema", 0) > SCHEMA:
        raise CheckpointError(f"{d}: written by a newer gankit (schema {state['schema']}); upgrade gankit")
    try:
        tensors = load_file(str(d / TENSORS))
    except (OSError, SafetensorError) as e:
        raise CheckpointError(
            f"{d / TENSORS}: unreadable tensors ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
        ) from None
    check_complete(d, state, tensors)
    return Checkpoint(d, state, tensors)


def check_complete(d: Path, state: dict, tensors: dict[str, torch.Tensor]) -> None:
    """Every tensor that ``state.json`` names must be in the tensors file, with its recorded shape."""
    named = dict(state.get("tensor_index") or {})
    for n, meta in (state.get("optim") or {}).items():
        for idx, m in (meta.get("state") or {}).items():
            named.update(
                {f"optim.{n}.{idx}.{k}": None for k, v in m.items() if isinstance(v, dict) and v.get("tensor")}
            )
    if "rng" in state:
        named.setdefault("rng.torch", None)
    missing = sorted(k for k in named if k not in tensors)
    missing += sorted(
        f"{p}.{n}.*"
        for p, names in (("net", state.get("param_counts") or {}), ("ema", state.get("ema_nets") or []))
        for n in names
        if not any(k.startswith(f"{p}.{n}.") for k in tensors)
    )
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise CheckpointError(
            f"{d / TENSORS}: missing tensor {missing[0]}{more} that {STATE} names "
            f"(a damaged or partly copied checkpoint)"
        )
    for k, shape in named.items():
        if shape is not None and list(tensors[k].shape) != list(shape):
            raise CheckpointError(f"{d / TENSORS}: tensor {k} has shape {list(tensors[k].shape)}, {STATE} says {shape}")
