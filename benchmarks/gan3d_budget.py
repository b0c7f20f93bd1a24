"""gan3d at a fixed CPU budget: train presets for the same minutes of process CPU time on one thread, for several
seeds, and score each against held-out procedural furniture: MMD / COV / 1-NNA (IoU; Chamfer with ``--points``)
and the fragment share (``gan3d_metrics.py``'s measures), next to the training set used as a generator (the floor);
and the class mix of the samples (the class of each one's nearest training shape; the table shows the rarest class).

    PYTHONPATH=src python benchmarks/gan3d_budget.py --minutes 4 --seeds 0 1 --n 300 --points 0 \\
        --run default --run "default, convT (before)=default:model.g_upsample=convT" --run book \\
        --out runs/gan3d-budget --json benchmarks/gan3d_budget.json --md benchmarks/gan3d_budget.md

``--run LABEL[=PRESET[:key=value,...]]`` (repeatable; a bare LABEL is a preset). Runs go in the order seed 0 of
every ``--run``, then seed 1, ...; each is trained in this process (one at a time) by ``budget_table``'s
``budget_trainer`` (the clock is ``time.process_time`` from the trainer's start, saving excluded), then scored with
its EMA generator where it has one. Each finished run's row is kept in ``OUT/<label>-s<seed>.json`` and reused
(delete it to re-run), so the script can be stopped and rerun; ``--table-only`` rebuilds the JSON and table from
those rows.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from pathlib import Path

import torch
from budget_table import budget_trainer, parse_run
from gan3d_metrics import evaluate, reference, sample_ckpt, training_floor

from gankit.config import DataConfig
from gankit.data.voxels import load_voxels
from gankit.models import resolve_config

KEYS = ("mmd_iou", "cov_iou", "1nna_iou", "mmd_cd", "cov_cd", "1nna_cd", "fragments", "fragmented", "occupancy")


def slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def train_and_score(label, preset, over, seed, a, refs) -> dict:
    overrides = [
        f"train.seed={seed}",
        "train.threads=1",
        "train.steps=100000000",
        "train.ckpt_every=100000000",
        "train.sample_every=100000000",
        "train.keep=2",
        *over,
    ]
    cfg = resolve_config("gan3d", preset, overrides=overrides)
    t0 = time.time()
    tr = budget_trainer(cfg, [a.minutes], "cpu", out=Path(a.out) / f"{slug(label)}-s{seed}", progress=False)
    tr.fit()
    _, step, spent, ckpt, health = tr._saved[0]
    wall = time.time() - t0
    vox, res, info = sample_ckpt(str(ckpt), a.n)
    if res not in refs:
        refs[res] = reference(res, a.n, a.points)
    train = load_voxels(DataConfig(name="voxel-furniture", size=res, split="train", limit=a.n))
    return {
        "row": label,
        "preset": preset,
        "overrides": over,
        "seed": seed,
        "res": res,
        "cpu_minutes": a.minutes,
        "steps": step,
        "cpu_s": spent,
        "wall_s": round(wall),
        "batch": info["batch"],
        "checkpoint": str(ckpt),
        "health": {k: {"flag": f, "evidence": ev} for k, (f, ev) in health.items()},
        **evaluate(vox, *refs[res], a.points, train=train),
        "classes": train.classes,
    }


def mean_sd(xs: list[float], fmt: str) -> str:
    if not xs:
        return "–"
    m = sum(xs) / len(xs)
    if len(xs) == 1:
        return f"{m:{fmt}}"
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))
    return f"{m:{fmt}} ± {sd:{fmt}}"


def table(rows: list[dict], floors: list[dict], n: int, minutes: float) -> str:
    cols = [
        ("MMD-IoU ↓", "mmd_iou", 1, ".3f"),
        ("COV-IoU ↑", "cov_iou", 1, ".2f"),
        ("1-NNA-IoU (0.5 ideal)", "1nna_iou", 1, ".2f"),
        ("fragments % ↓", "fragments", 100, ".2f"),
        ("shapes with fragments %", "fragmented", 100, ".0f"),
        ("occupancy", "occupancy", 1, ".3f"),
        ("rarest class % (1-NN)", "rarest", 100, ".0f"),
    ]
    out = [
        f"n = {n} generated vs the first {n} held-out shapes; {minutes:g} CPU-minutes of one thread per run; mean ± sd "
        "over seeds\n",
        "| generator | res | seeds | steps | " + " | ".join(c[0] for c in cols) + " | MMD / floor |",
        "|" + "---|" * (len(cols) + 5),
    ]
    floor = {f["res"]: f for f in floors}
    rows = [{**r, "rarest": min(r["class_mix"])} for r in rows]
    floors = [{**f, "rarest": float("nan")} for f in floors]
    for label in dict.fromkeys(r["row"] for r in rows):
        rs = [r for r in rows if r["row"] == label]
        res = rs[0]["res"]
        cells = [label, f"{res}³", ",".join(str(r["seed"]) for r in rs), mean_sd([r["steps"] for r in rs], ".0f")]
        cells += [mean_sd([s * r[k] for r in rs], f) for _, k, s, f in cols]
        cells.append(mean_sd([r["mmd_iou"] / floor[res]["mmd_iou"] for r in rs], ".2f") if res in floor else "–")
        out.append("| " + " | ".join(cells) + " |")
    for f in floors:
        vals = [f"{s * f[k]:{fmt}}" if math.isfinite(f[k]) else "–" for _, k, s, fmt in cols]
        cells = [f["row"], f"{f['res']}³", "–", "–", *vals, "1.00"]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", action="append", default=[], help="LABEL[=PRESET[:key=value,...]] (repeatable)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--minutes", type=float, default=4.0, help="CPU-minutes of one thread per run")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--points", type=int, default=0, help="surface points per shape for Chamfer metrics (0: skip)")
    ap.add_argument("--out", default="runs/gan3d-budget")
    ap.add_argument("--json", default="benchmarks/gan3d_budget.json")
    ap.add_argument("--md", default="benchmarks/gan3d_budget.md")
    ap.add_argument("--table-only", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(1)
    runs = [parse_run(s) for s in a.run or ["default", "book"]]
    out, refs, rows = Path(a.out), {}, []
    out.mkdir(parents=True, exist_ok=True)
    for seed in a.seeds:
        for label, preset, over in runs:
            path = out / f"{slug(label)}-s{seed}.json"
            if not path.exists() and not a.table_only:
                row = train_and_score(label, preset, over, seed, a, refs)
                path.write_text(json.dumps(row, indent=1) + "\n")
                print(json.dumps({k: row[k] for k in ("row", "seed", "steps", "cpu_s", *KEYS) if k in row}), flush=True)
            if path.exists():
                rows.append(json.loads(path.read_text()))
    labels = [label for label, _, _ in runs]
    rows.sort(key=lambda r: labels.index(r["row"]))  # label by label, seeds in order
    floors = []
    for res in sorted({r["res"] for r in rows}):
        path = out / f"floor-{res}-n{a.n}.json"
        if not path.exists():
            if res not in refs:
                refs[res] = reference(res, a.n, a.points)
            path.write_text(json.dumps(training_floor(res, a.n, *refs[res], a.points), indent=1) + "\n")
        floors.append(json.loads(path.read_text()))
    Path(a.json).write_text(
        json.dumps({"n": a.n, "points": a.points, "cpu_minutes": a.minutes, "rows": rows, "floors": floors}, indent=1)
        + "\n"
    )
    Path(a.md).write_text(table(rows, floors, a.n, a.minutes))
    print(Path(a.md).read_text())


if __name__ == "__main__":
    main()
