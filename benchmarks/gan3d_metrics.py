"""COV / MMD / 1-NNA of gan3d generators against held-out procedural furniture, with IoU and with Chamfer distance.

    PYTHONPATH=src python benchmarks/gan3d_metrics.py --n 200 --points 256 \
        --ckpt "small, 10 CPU-min=runs/00001-gan3d-voxel-furniture32" [--ckpt NAME=RUN ...] \
        [--untrained small] [--json benchmarks/gan3d_metrics.json] [--md benchmarks/gan3d_metrics.md]

Rows: an untrained G of each ``--untrained`` preset (its initial weights, train.seed 0), each checkpoint, and the
nearest-training-shape baseline (``n`` training shapes used as if generated: the ceiling a generator that
reproduces its training data would reach). The reference set is the first ``n`` shapes of the fixed ``test``
split at the generator's resolution; samples are binarised at 0.5. Chamfer distance is computed on ``--points``
points sampled from each marching-cubes mesh (coordinates in [0, 1]); IoU on the occupancy grids.
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
from gankit.data.meshes import sample_points
from gankit.data.voxels import load_voxels
from gankit.metrics.shapes import chamfer_distance, iou_distance, shape_metrics
from gankit.models import recipe_class, resolve_config


def points(vox: torch.Tensor, k: int) -> torch.Tensor:
    return torch.from_numpy(np.stack([sample_points(v, k, seed=i) for i, v in enumerate(vox[:, 0].numpy())]))


def evaluate(gen: torch.Tensor, ref: torch.Tensor, ref_pts: torch.Tensor, k: int) -> dict:
    g = (gen >= 0.5).float()
    out = {}
    d = (iou_distance(g, g), iou_distance(ref, ref), iou_distance(g, ref))
    out.update({f"{m}_iou": v for m, v in shape_metrics(*d).items()})
    gp = points(g, k)
    d = (chamfer_distance(gp, gp), chamfer_distance(ref_pts, ref_pts), chamfer_distance(gp, ref_pts))
    out.update({f"{m}_cd": v for m, v in shape_metrics(*d).items()})
    out["occupancy"] = float(g.mean())
    return out


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
            ref = load_voxels(DataConfig(name="voxel-furniture", size=res, split="test", limit=a.n)).voxels().float()
            refs[res] = (ref, points(ref, a.points))
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
        train = load_voxels(DataConfig(name="voxel-furniture", size=res, split="train", limit=a.n)).voxels().float()
        ref, ref_pts = ref_for(res)
        rows.append(
            {
                "row": f"training set as generator ({res}^3)",
                "res": res,
                **evaluate(train, ref, ref_pts, a.points),
                "seconds": round(time.time() - t0, 1),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps({"n": a.n, "points": a.points, "rows": rows}, indent=1) + "\n")
    rows.sort(key=lambda r: (r["res"], r["row"].startswith("training set"), r.get("step", 0)))
    if a.md:
        head = (
            "| generator | res | steps | COV-IoU % ↑ | MMD-IoU ↓ | 1-NNA-IoU % (50 ideal) | COV-CD % ↑ | "
            "MMD-CD ×10³ ↓ | 1-NNA-CD % | occupancy |\n|---|---|---|---|---|---|---|---|---|---|\n"
        )
        body = "".join(
            f"| {r['row']} | {r['res']}³ | {r.get('step', '–')} | {100 * r['cov_iou']:.1f} | {r['mmd_iou']:.3f} | "
            f"{100 * r['1nna_iou']:.1f} | {100 * r['cov_cd']:.1f} | {1000 * r['mmd_cd']:.2f} | "
            f"{100 * r['1nna_cd']:.1f} | {r['occupancy']:.3f} |\n"
            for r in rows
        )
        Path(a.md).write_text(
            f"n = {a.n} generated vs {a.n} held-out shapes, {a.points} surface points each\n\n" + head + body
        )


if __name__ == "__main__":
    main()
