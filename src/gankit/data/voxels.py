"""Voxel datasets for 3D-GAN: the procedural ``voxel-furniture`` set and readers for the canonical files.

``load_voxels(cfg.data)`` accepts
- ``voxel-furniture`` (optionally ``voxel-furniture:chair,table`` for a class subset): procedural shapes
  (``data/furniture.py``), ``data.size`` 32 (default) or 64, ``data.split`` train or test (a fixed held-out set);
- ``voxels:PATH`` / ``shapenet:PATH`` / a plain path: the 3D ShapeNets layout
  ``volumetric_data/<class>/30/{train,test}/*.mat`` (key ``instance``, 30^3 padded to 32^3, repeated x2 for 64^3),
  a folder of ``.mat``/``.binvox``/``.npy``/``.npz``/meshes (``.obj``, ``.off``, ``.stl``, ``.ply``, voxelised with
  trimesh; first-level subfolders are classes), or one ``.npy``/``.npz`` stack (N x D x H x W or N x 1 x D x H x W;
  an ``.npz`` may hold ``voxels``, ``labels`` and ``classes``).

Shapes are held bit-packed in memory (64^3 costs 32 KiB a shape); ``batch()`` unpacks the chosen ones into
float {0, 1} tensors N x 1 x D x H x W. Axes: ``v[x, y, z]`` with ``z`` up (ShapeNets' ``.mat`` convention);
``.binvox`` files and meshes are y-up and are turned to z-up on reading.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..config import DataConfig
from ..errors import DataError
from . import furniture

VOXEL_SUFFIXES = (".mat", ".binvox", ".npy", ".npz")
MESH_SUFFIXES = (".obj", ".off", ".stl", ".ply")
DEFAULT_COUNT = {"train": (4800, 1800), "test": (600, 600)}  # shapes at <= 32^3, at larger sizes
NAMED = {
    "voxel-furniture": "procedural furniture voxels (chair, table, sofa, bed, shelf, lamp), 32^3 or 64^3, "
    "train/test split; built in, no files needed"
}


@dataclass
class VoxelSet:
    """Voxel shapes as packed occupancy bits with optional labels: a ``Dataset`` (``data/protocol.py``)."""

    packed: np.ndarray  # uint8 (N, res^3 / 8): occupancy bits, C order over (x, y, z)
    res: int
    labels: torch.Tensor | None
    classes: list[str]
    name: str
    source: str
    skipped: int = 0
    files: list[Path] = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return self.packed.shape[0]

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (1, self.res, self.res, self.res)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def voxels(self, index=None) -> torch.Tensor:
        """uint8 {0, 1} N x 1 x D x H x W for ``index`` (all shapes when None)."""
        rows = self.packed if index is None else self.packed[np.asarray(index, dtype=np.int64).reshape(-1)]
        bits = np.unpackbits(rows, axis=1, count=self.res**3)
        return torch.from_numpy(bits).view(-1, 1, self.res, self.res, self.res)

    def batch(self, index: torch.Tensor, device=None, generator: torch.Generator | None = None) -> dict:
        """Float voxels in {0, 1} (and labels); voxel GANs take no random augmentation."""
        x = self.voxels(index.cpu().numpy()).float()
        if device is not None:
            x = x.to(device, non_blocking=True)
        out = {"voxels": x}
        if self.labels is not None:
            out["label"] = self.labels[index.cpu()].to(x.device)
        return out

    def occupancy(self) -> np.ndarray:
        """Fraction of occupied voxels per shape."""
        ones = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(1)
        return ones[self.packed].sum(1) / self.res**3

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(str((len(self), self.res)).encode())
        h.update(self.packed.tobytes())
        if self.labels is not None:
            h.update(self.labels.numpy().tobytes())
        return h.hexdigest()[:16]

    def tag(self) -> str:
        base = self.name.split(":")[0]
        if base in ("voxels", "shapenet") or "/" in base or base.startswith("."):
            base = Path(self.source).name or "voxels"
        return f"{base}{self.res}"


def pack(vols: np.ndarray) -> np.ndarray:
    return np.packbits(vols.reshape(vols.shape[0], -1).astype(bool), axis=1)


# --------------------------------------------------------------------------- spec parsing and detection


def is_voxel_spec(spec: str) -> bool:
    """Whether a data spec names voxels (so `data check` and the 3D recipes route it here)."""
    name, _, where = spec.strip().partition(":")
    if name in ("voxel-furniture", "voxels", "shapenet"):
        return True
    p = Path(spec).expanduser()
    if p.is_file():
        return p.suffix.lower() in VOXEL_SUFFIXES + MESH_SUFFIXES
    if p.is_dir():
        if _shapenet_root(p) is not None:
            return True
        from .images import IMAGE_SUFFIXES

        files = [f for f in p.rglob("*") if f.is_file()]
        return any(f.suffix.lower() in VOXEL_SUFFIXES + MESH_SUFFIXES for f in files) and not any(
            f.suffix.lower() in IMAGE_SUFFIXES for f in files
        )
    return False


def _voxel_files(root: Path):
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix.lower() in VOXEL_SUFFIXES + MESH_SUFFIXES:
            yield p


def _shapenet_root(p: Path) -> Path | None:
    """The folder whose subfolders are classes with a ``30/`` level (ShapeNets' volumetric_data), if ``p`` is one."""
    for cand in (p, p / "volumetric_data", p / "3DShapeNets" / "volumetric_data"):
        if cand.is_dir() and any((c / "30").is_dir() for c in cand.iterdir() if c.is_dir()):
            return cand
    if (p / "30").is_dir():  # one class folder
        return p.parent
    return None


# --------------------------------------------------------------------------- readers (one file -> bool array)


def read_mat(path: Path) -> np.ndarray:
    """A 3D ShapeNets ``.mat``: the ``instance`` array (30^3 in the dataset)."""
    import scipy.io

    try:
        m = scipy.io.loadmat(str(path))
    except Exception as e:  # scipy raises ValueError, TypeError, OSError ... on truncated files
        raise DataError(f"{path}: not a readable .mat file ({_first_line(e)})") from None
    if "instance" not in m:
        raise DataError(
            f"{path}: .mat file has no 'instance' array (keys: {', '.join(k for k in m if not k.startswith('__'))})"
        )
    return _check3d(np.asarray(m["instance"]), path)


def read_binvox(path: Path) -> np.ndarray:
    """A ``.binvox`` file (run-length encoded; y up, y fastest, then z, then x), turned to gankit's z-up axes."""
    with open(path, "rb") as f:
        if not f.readline().startswith(b"#binvox"):
            raise DataError(f"{path}: not a .binvox file (no '#binvox' header)")
        dims = None
        while True:
            line = f.readline()
            if not line:
                raise DataError(f"{path}: truncated .binvox header (no 'data' line)")
            line = line.strip()
            if line.startswith(b"dim"):
                try:
                    dims = [int(v) for v in line.split()[1:]]
                except ValueError:
                    raise DataError(f"{path}: bad .binvox 'dim' line {line[:40]!r}") from None
            elif line == b"data":
                break
        raw = np.frombuffer(f.read(), dtype=np.uint8)
    if dims is None or len(dims) != 3 or min(dims) < 1:
        raise DataError(f"{path}: .binvox header has no valid 'dim D H W' line")
    total = int(np.prod(dims))
    counts = raw[1::2].astype(np.int64)
    if raw.size % 2 or counts.sum() != total:
        raise DataError(f"{path}: truncated or corrupt .binvox data ({int(counts.sum())} of {total} voxels)")
    data = np.repeat(raw[::2].astype(bool), counts).reshape(dims)  # [x, z, y]: y (up) is already last
    return np.ascontiguousarray(data[:, ::-1, :])  # binvox z points to the front; gankit y points to the back


def write_binvox(path: Path, vox: np.ndarray) -> None:
    """Write a (x, y, z)-ordered z-up grid as ``.binvox`` (the inverse of ``read_binvox``); tests and exports."""
    from ..fileio import write_bytes_atomic

    data = np.ascontiguousarray(np.asarray(vox, dtype=bool)[:, ::-1, :]).reshape(-1).astype(np.uint8)
    change = np.flatnonzero(np.diff(data)) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [data.size]]))
    pairs = []
    for s, n in zip(starts, lengths):
        while n > 0:
            k = min(n, 255)
            pairs += [data[s], k]
            n -= k
    d = vox.shape
    head = f"#binvox 1\ndim {d[0]} {d[1]} {d[2]}\ntranslate 0 0 0\nscale 1\ndata\n".encode()
    write_bytes_atomic(path, head + bytes(np.asarray(pairs, dtype=np.uint8)))


def read_array(path: Path) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """A ``.npy``/``.npz`` with one grid (D x H x W) or a stack (N x [1 x] D x H x W); ``.npz``: ``voxels``
    (else the first array), optional ``labels`` and ``classes``. Returns (N, D, H, W) bool, labels, classes."""
    labels = classes = None
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as z:
                if not z.files:
                    raise DataError(f"{path}: empty .npz archive")
                arr = z["voxels"] if "voxels" in z.files else z[z.files[0]]
                labels = z["labels"] if "labels" in z.files else None
                classes = [str(c) for c in z["classes"]] if "classes" in z.files else None
        else:
            arr = np.load(path, allow_pickle=False)
    except DataError:
        raise
    except Exception as e:
        raise DataError(f"{path}: not a readable {path.suffix} array ({_first_line(e)})") from None
    arr = np.asarray(arr)
    if arr.ndim == 5 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or min(arr.shape) < 1:
        raise DataError(f"{path}: expected voxels D x H x W or a stack N x [1 x] D x H x W, got shape {arr.shape}")
    if labels is not None and labels.shape != (arr.shape[0],):
        raise DataError(f"{path}: 'labels' has shape {labels.shape}, expected ({arr.shape[0]},)")
    return arr > 0.5, labels, classes


def read_mesh(path: Path, res: int) -> np.ndarray:
    """A mesh voxelised with trimesh (solid: the inside is filled), y-up turned to z-up, scaled to fit ``res``
    with a one-voxel margin, centred in x and y and standing on z = 0."""
    try:
        import trimesh
    except ImportError:
        raise DataError(f"{path}: reading meshes needs trimesh (pip install 'gankit[shapes]')") from None
    try:
        m = trimesh.load(str(path), force="mesh")
    except Exception as e:
        raise DataError(f"{path}: not a readable mesh ({_first_line(e)})") from None
    if not isinstance(m, trimesh.Trimesh) or m.is_empty or len(m.faces) == 0:
        raise DataError(f"{path}: mesh has no faces")
    m = m.copy()
    m.apply_transform(np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=float))  # y up -> z up
    ext = float(m.extents.max())
    if not np.isfinite(ext) or ext <= 0:
        raise DataError(f"{path}: mesh has no extent")
    pitch = ext / (res - 2)
    vg = m.voxelized(pitch).fill()
    mat = vg.matrix.astype(bool)
    out = np.zeros((res, res, res), dtype=bool)
    mat = mat[:res, :res, :res]
    ox, oy = (res - mat.shape[0]) // 2, (res - mat.shape[1]) // 2
    out[ox : ox + mat.shape[0], oy : oy + mat.shape[1], : mat.shape[2]] = mat
    return out


def _check3d(arr: np.ndarray, path: Path) -> np.ndarray:
    if arr.ndim != 3 or min(arr.shape) < 1:
        raise DataError(f"{path}: expected a 3-D voxel grid, got shape {arr.shape}")
    return arr > 0.5 if arr.dtype.kind == "f" else arr != 0


def _first_line(e: Exception) -> str:
    s = str(e).strip().splitlines()
    return (s[0] if s else type(e).__name__)[:160]


def fit(vol: np.ndarray, res: int) -> np.ndarray:
    """One grid to ``res^3``: 30^3 (ShapeNets) is padded by one voxel per side to 32^3 first; a non-cubic grid is
    padded to a cube; then nearest-neighbour resampling (exact repeat for x2, x4; any-occupied pooling down)."""
    v = np.asarray(vol, dtype=bool)
    if v.shape == (30, 30, 30):
        v = np.pad(v, 1)
    s = max(v.shape)
    if v.shape != (s, s, s):
        p = [((s - d) // 2, s - d - (s - d) // 2) for d in v.shape]
        v = np.pad(v, p)
    if s == res:
        return v
    if res % s == 0:
        k = res // s
        return v.repeat(k, 0).repeat(k, 1).repeat(k, 2)
    t = torch.from_numpy(v).float()[None, None]
    if s % res == 0:
        return (F.max_pool3d(t, s // res)[0, 0] > 0).numpy()
    return (F.interpolate(t, size=(res,) * 3, mode="nearest")[0, 0] > 0).numpy()


def read_file(path: Path, res: int) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """Any supported file -> (N, res, res, res) bool, labels (stacks only), classes (stacks only)."""
    suf = path.suffix.lower()
    if suf in (".npy", ".npz"):
        arr, labels, classes = read_array(path)
        return np.stack([fit(a, res) for a in arr]), labels, classes
    if suf == ".mat":
        return fit(read_mat(path), res)[None], None, None
    if suf == ".binvox":
        return fit(read_binvox(path), res)[None], None, None
    if suf in MESH_SUFFIXES:
        return read_mesh(path, res)[None], None, None
    raise DataError(f"{path}: not a voxel file ({', '.join(VOXEL_SUFFIXES + MESH_SUFFIXES)})")


# --------------------------------------------------------------------------- datasets


def load_voxels(cfg: DataConfig) -> VoxelSet:
    spec = cfg.name.strip()
    name, _, where = spec.partition(":")
    res = cfg.size or 32
    if res < 4 or res > 256:
        raise DataError(f"data.size must be between 4 and 256 for voxels, got {res}")
    if cfg.split not in ("train", "test"):
        raise DataError(f"data.split must be train or test for voxels, got '{cfg.split}'")
    if cfg.limit is not None and cfg.limit < 1:
        raise DataError(f"data.limit must be >= 1, got {cfg.limit}")
    if name == "voxel-furniture":
        return furniture_set(spec, where, res, cfg.split, cfg.limit)
    path = Path(where if name in ("voxels", "shapenet") else spec).expanduser()
    if not path.exists():
        raise DataError(f"voxel data not found: {path}")
    if path.is_file():
        vols, labels, classes = read_file(path, res)
        if cfg.limit is not None:
            vols, labels = vols[: cfg.limit], None if labels is None else labels[: cfg.limit]
        classes = classes or ([str(c) for c in sorted(set(labels.tolist()))] if labels is not None else [])
        lab = torch.from_numpy(np.asarray(labels, dtype=np.int64)) if labels is not None else None
        if lab is not None and len(classes) and (lab.min() < 0 or lab.max() >= len(classes)):
            raise DataError(f"{path}: labels must be in 0..{len(classes) - 1}")
        return VoxelSet(pack(vols), res, lab, classes, spec, str(path))
    root = _shapenet_root(path)
    if root is not None:
        files = [
            (c.name, f)
            for c in sorted(root.iterdir())
            if (c / "30" / cfg.split).is_dir()
            for f in sorted((c / "30" / cfg.split).glob("*.mat"))
        ]
        if (path / "30").is_dir():  # one class folder given
            files = [(c, f) for c, f in files if c == path.name]
    else:
        files = [
            (p.relative_to(path).parts[0] if len(p.relative_to(path).parts) > 1 else "", p) for p in _voxel_files(path)
        ]
    if not files:
        raise DataError(
            f"{path}: no voxel files ({', '.join(VOXEL_SUFFIXES + MESH_SUFFIXES)}) found"
            + (f" under */30/{cfg.split}/" if root is not None else "")
        )
    classes = sorted({c for c, _ in files if c})
    vols, labels, skipped, used = [], [], 0, []
    for cls, f in files:
        if cfg.limit is not None and sum(len(v) for v in vols) >= cfg.limit:
            break
        try:
            v, _, _ = read_file(f, res)
        except DataError:
            if not cfg.skip_bad:
                raise
            skipped += 1
            continue
        vols.append(pack(v))
        labels += [classes.index(cls) if cls else 0] * len(v)
        used.append(f)
    if not vols:
        raise DataError(f"{path}: none of {len(files)} voxel files could be read")
    packed = np.concatenate(vols)[: cfg.limit]
    lab = torch.tensor(labels[: len(packed)], dtype=torch.long) if classes else None
    return VoxelSet(packed, res, lab, classes, spec, str(path), skipped, used)


def furniture_set(spec: str, which: str, res: int, split: str, limit: int | None, seed: int = 0) -> VoxelSet:
    classes = tuple(c.strip() for c in which.split(",") if c.strip()) or furniture.CLASSES
    bad = [c for c in classes if c not in furniture.CLASSES]
    if bad:
        raise DataError(f"voxel-furniture has no class {bad[0]!r} (have: {', '.join(furniture.CLASSES)})")
    n = limit or DEFAULT_COUNT[split][0 if res <= 32 else 1]
    k = len(classes)
    per = -(-n // k)
    packed = [pack(furniture.generate_class(c, per, res, seed, split)) for c in classes]  # one class at a time
    labels = np.arange(n) % k
    rows = np.empty((n, packed[0].shape[1]), dtype=np.uint8)
    for c in range(k):
        sel = labels == c
        rows[sel] = packed[c][: sel.sum()]
    return VoxelSet(
        rows,
        res,
        torch.from_numpy(labels.astype(np.int64)),
        list(classes),
        spec,
        "gankit.data.furniture (procedural, seed 0)",
    )


@dataclass
class StackInfo:
    n: int
    classes: list[str]
    skipped: int


def save_stack(src: Path, out: Path, res: int, skip_bad: bool = True) -> StackInfo:
    """Read (and voxelise) every shape under ``src`` once and write ``out`` (.npz: ``voxels`` uint8 N x res^3,
    ``labels``, ``classes``) atomically; ``load_voxels`` reads it back without trimesh."""
    import io

    from ..fileio import write_bytes_atomic

    out = Path(out)
    if out.suffix.lower() != ".npz":
        raise DataError(f"--out {out}: the voxel stack is written as .npz")
    s = load_voxels(DataConfig(name=f"voxels:{src}", size=res, skip_bad=skip_bad))
    buf = io.BytesIO()
    labels = s.labels.numpy() if s.labels is not None else np.zeros(len(s), dtype=np.int64)
    np.savez_compressed(buf, voxels=s.voxels()[:, 0].numpy(), labels=labels, classes=np.array(s.classes or ["shape"]))
    write_bytes_atomic(out, buf.getvalue())
    return StackInfo(len(s), s.classes, s.skipped)


def describe(s: VoxelSet, bins: int = 10) -> dict:
    """The `gankit data check` card of a voxel set: count, classes, occupancy histogram."""
    occ = s.occupancy()
    hi = max(float(occ.max()), 1e-6) if len(occ) else 1.0
    counts, edges = np.histogram(occ, bins=bins, range=(0, hi))
    per_class = {c: int((s.labels == i).sum()) for i, c in enumerate(s.classes)} if s.labels is not None else {}
    return {
        "name": s.name,
        "source": s.source,
        "n": len(s),
        "shape": list(s.shape),
        "classes": per_class,
        "occupancy": {
            "mean": round(float(occ.mean()), 4),
            "min": round(float(occ.min()), 4),
            "max": round(float(occ.max()), 4),
            "histogram": [
                {"from": round(float(a), 4), "to": round(float(b), 4), "count": int(c)}
                for a, b, c in zip(edges[:-1], edges[1:], counts)
            ],
        },
        "empty_shapes": int((occ == 0).sum()),
        "skipped": s.skipped,
        "fingerprint": s.fingerprint(),
    }
