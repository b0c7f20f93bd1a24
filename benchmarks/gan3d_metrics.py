"""COV / MMD / 1-NNA of gan3d generators against held-out procedural furniture, with IoU and with Chamfer distance.

    PYTHONPATH=src python benchmarks/gan3d_metrics.py --n 200 --points 256 \
        --ckpt "small, 10 CPU-min=runs/00001-gan3d-voxel-furniture32" [--ckpt NAME=RUN ...] \
        [--untrained small] [--json benchmarks/gan3d_metrics.json] [--md benchmarks/gan3d_metrics.md]

Rows: an untrained G of each ``--untrained`` preset (its initial weights, train.seed 0), each checkpoint, and the
nearest-training-shape baseline (``n`` training shapes used as if generated: the ceiling a generator that
reproduces its training data would reach). The reference set is the first ``n`` shapes of the fixed ``test``
split at the generator's resolution; samples are binarised at 0.5. Chamfer distance is computed on ``--points``
points sampled from each marching-cubes mesh (coordinates in [0, 1]; ``--points 0`` skips it); IoU on the occupancy
grids. ``fragments``: the mean share of a shape's occupied voxels outside its largest face-connected part (floating
specks; ``data.meshes.fragment_share``), ``fragmented``: the share of shapes with more than 1 % of their voxels there.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from gankit import api
from gankit.config import DataConfig
from gankit.data.meshes import fragment_share, sample_points
from gankit.data.voxels import load_voxels
from gankit.metrics.shapes import chamfer_distance, iou_distance, shape_metrics
from gankit.models import recipe_class, resolve_config


def points(vox: torch.Tensor, k: int) -> torch.Tensor:
    return torch.from_numpy(np.stack([sample_points(v, k, seed=i) for i, v in enumerate(vox[:, 0].numpy())]))


def fragments(vox: torch.Tensor) -> dict:
    share = np.array([fragment_share(v) for v in (vox[:, 0] >= 0.5).numpy()])
    return {"fragments": float(share.mean()), "fragmented": float((share > 0.01).mean())}


def class_mix(g: torch.Tensor, train) -> list[float]:
    """Share of the shapes ``g`` whose nearest training shape (IoU) is of each class: a 1-NN classifier that tells
    held-out furniture's six classes apart (tests/test_gan3d.py); a balanced generator gives about 1/6 each."""
    nearest = train.labels[iou_distance(g, train.voxels().float()).argmin(1)]
    return (torch.bincount(nearest, minlength=train.num_classes).float() / len(g)).tolist()


def evaluate(gen: torch.Tensor, ref: torch.Tensor, ref_pts: torch.Tensor | None, k: int, train=None) -> dict:
    """IoU metrics, Chamfer metrics (``k`` > 0 points per shape), occupancy and fragments of ``gen`` against
    ``ref``; with ``train`` (a labelled voxel set) the class mix of the samples' nearest training shapes."""
    g = (gen >= 0.5).float()
    out = {}
    d = (iou_distance(g, g), iou_distance(ref, ref), iou_distance(g, ref))
    out.update({f"{m}_iou": v for m, v in shape_metrics(*d).items()})
    if k > 0:
        gp = points(g, k)
        d = (chamfer_distance(gp, gp), chamfer_distance(ref_pts, ref_pts), chamfer_distance(gp, ref_pts))
        out.update({f"{m}_cd": v for m, v in shape_metrics(*d).items()})
    out["occupancy"] = float(g.mean())
    out.update(fragments(g))
    if train is not None:
        out["class_mix"] = class_mix(g, train)
    return out


def reference(res: int, n: int, k: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The first ``n`` held-out shapes at ``res``^3 and (``k`` > 0) their surface points."""
    ref = load_voxels(DataConfig(name="voxel-furniture", size=res, split="test", limit=n)).voxels().float()
    return ref, points(ref, k) if k > 0 else None


def training_floor(res: int, n: int, ref: torch.Tensor, ref_pts: torch.Tensor | None, k: int) -> dict:
    """``n`` training shapes scored as if generated: what a generator reproducing its training data reaches."""
    train = load_voxels(DataConfig(name="voxel-furniture", size=res, split="train", limit=n)).voxels().float()
    return {"row": f"training set as generator ({res}^3)", "res": res, **evaluate(train, ref, ref_pts, k)}


def sample_ckpt(path: str, n: int) -> tuple[torch.Tensor, int, dict]:
    """``RUN[#raw]``: the EMA generator when the run has one, the raw one with ``#raw``."""
    path, _, how = path.partition("#")
    gen = api.load(path, ema=how != "raw")
    vox = gen.sample(n, seed=12345)
    s = gen.checkpoint.state
    return (
        vox,
        vox.shape[-1],
        {
            "step": s["step"],
            "train_seconds": round(s.get("elapsed", 0)),
            "preset": s["config"].get("preset"),
            "batch": s["config"]["train"]["batch_size"],
        },
    )


def sample_untrained(preset: str, n: int) -> tuple[torch.Tensor, int, dict]:
    torch.manual_seed(0)
    cfg = resolve_config("gan3d", preset)
    res = cfg.data.size
    r = recipe_class("gan3d")(cfg, (1, res, res, res), 6, "cpu")
    vox = r.sample(r.G, r.latent(n, torch.Generator().manual_seed(12345)))
    return vox, res, {"step": 0, "preset": preset}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--points", type=int, default=256)
    ap.add_argument("--ckpt", action="append", default=[], help="NAME=RUN_DIR[#raw] (repeatable; #raw: not the EMA G)")
    ap.add_argument("--untrained", default="default", help="comma-separated presets to score untrained")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None)
    ap.add_argument("--md", default=None)
    ap.add_argument(
        "--append",
        action="store_true",
        help="keep the rows already in --json (same n and points); rows of the same name are replaced",
    )
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows, refs = [], {}
    if a.append and a.json and Path(a.json).exists():
        old = json.loads(Path(a.json).read_text())
        if (old["n"], old["points"]) == (a.n, a.points):
            rows = old["rows"]

    def ref_for(res):
        if res not in refs:
            refs[res] = reference(res, a.n, a.points)
        return refs[res]

    todo = [(f"untrained G ({p})", lambda p=p: sample_untrained(p, a.n)) for p in a.untrained.split(",") if p]
    todo += [(name, lambda path=path: sample_ckpt(path, a.n)) for name, path in (c.split("=", 1) for c in a.ckpt)]
    res_seen = []
    for name, make in todo:
        t0 = time.time()
        vox, res, info = make()
        ref, ref_pts = ref_for(res)
        rows = [r for r in rows if r["row"] != name]
        rows.append(
            {
                "row": name,
                "res": res,
                **info,
                **evaluate(vox, ref, ref_pts, a.points),
                "seconds": round(time.time() - t0, 1),
            }
        )
        res_seen.append(res)
        print(json.dumps(rows[-1]), flush=True)
    for res in sorted(set(res_seen)):
        if any(r["row"] == f"training set as generator ({res}^3)" for r in rows):
            continue
        t0 = time.time()
        rows.append({**training_floor(res, a.n, *ref_for(res), a.points), "seconds": round(time.time() - t0, 1)})
        print(json.dumps(rows[-1]), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps({"n": a.n, "points": a.points, "rows": rows}, indent=1) + "\n")
    rows.sort(key=lambda r: (r["res"], r["row"].startswith("training set"), r.get("step", 0)))
    if a.md:
        head = (
            "| generator | res | steps | COV-IoU % ↑ | MMD-IoU ↓ | 1-NNA-IoU % (50 ideal) | COV-CD % ↑ | "
            "MMD-CD ×10³ ↓ | 1-NNA-CD % | occupancy | fragments % |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
        )

        def cell(r, key, scale, fmt):
            return "–" if key not in r else f"{scale * r[key]:{fmt}}"

        body = "".join(
            f"| {r['row']} | {r['res']}³ | {r.get('step', '–')} | {100 * r['cov_iou']:.1f} | {r['mmd_iou']:.3f} | "
            f"{100 * r['1nna_iou']:.1f} | {cell(r, 'cov_cd', 100, '.1f')} | {cell(r, 'mmd_cd', 1000, '.2f')} | "
            f"{cell(r, '1nna_cd', 100, '.1f')} | {r['occupancy']:.3f} | {cell(r, 'fragments', 100, '.2f')} |\n"
            for r in rows
        )
        Path(a.md).write_text(
            f"n = {a.n} generated vs {a.n} held-out shapes, {a.points} surface points each\n\n" + head + body
        )


if __name__ == "__main__":
    main()
