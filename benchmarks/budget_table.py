"""Sample quality per CPU-minute: train image-generation defaults for fixed CPU budgets and several
seeds, score each with `gankit eval`'s engine, and write the table (mean and spread over seeds).

The budget is *process CPU time* (``time.process_time``) with one training thread (``train.threads=1``), not wall
time: on a shared machine wall minutes buy very different amounts of work, CPU seconds much less so. Each
(recipe, seed) is trained in its own subprocess, once, up to the largest budget, with a checkpoint saved as each
smaller budget is crossed (see ``run_one``), and every mark is scored; ``--jobs`` of them run at once.

    PYTHONPATH=src python benchmarks/budget_table.py --data fashion-mnist --minutes 2 5 20 --seeds 0 1 2 \\
        --recipes mlp-gan lsgan dcgan cgan r3gan --n 10000 --out benchmarks/budget --jobs 2

A recipe may name a preset: ``r3gan.conditional`` trains ``resolve_config("r3gan", "conditional")``.

Writes ``OUT/<data>-<recipe>-<minutes>m-s<seed>.json`` per run (steps, CPU seconds, scores with both extractors
where trained) and ``OUT/<data>-table.md``. A finished run's JSON is reused (delete it to re-run).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gankit.models import resolve_config

ROOT = Path(__file__).resolve().parents[1]


def parse_run(spec: str) -> tuple[str, str, list[str]]:
    """``LABEL=PRESET:key=value,...`` (or just ``PRESET``): a row label, the preset, its overrides."""
    label, _, rest = spec.partition("=")
    preset, _, over = (rest or label).partition(":")
    return label, preset, [o for o in over.split(",") if o]


def run_one(
    recipe: str,
    data: str,
    marks: list[float],
    seed: int,
    n: int,
    out: Path,
    extra: list[str],
    threads: int = 1,
    clock: str = "cpu",
    rulers: str = "all",
    raw: bool = False,
) -> list[dict]:
    """Train (in this process) until the last of ``marks`` (minutes of ``clock``: CPU or wall), saving a checkpoint as
    each mark is crossed; then score every mark's checkpoint with every trained extractor (its EMA G; with ``raw``,
    the raw G too, under ``scores["raw:<extractor>"]``). One row per mark.

    One run per seed serves all its budgets: the defaults' schedules do not depend on the budget (``train.steps`` is
    effectively unbounded here, so a ``lr_lambda(total_steps)`` is the same for a 2- and a 20-minute run), and saving
    draws no random numbers, so the run crossing its 2-minute mark is the 2-minute run. The CPU time a save spends is
    not charged to the budget."""
    import torch

    torch.set_num_threads(threads)
    from gankit.evaluation import evaluate

    marks = sorted(marks)
    overrides = [
        f"train.seed={seed}",
        f"train.threads={threads}",
        "train.steps=100000000",
        f"data.name={data}",
        "train.ckpt_every=100000000",
        "train.sample_every=100000000",
        f"train.keep={len(marks) + 1}",
        *extra,
    ]
    if data == "twemoji" and recipe != "dcgan":
        overrides.append("data.size=32")
    name, _, preset = recipe.partition(".")
    cfg = resolve_config(name, preset or "default", overrides=overrides)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tr = budget_trainer(cfg, marks, clock, out=d, progress=False)
        tr.fit()
        from gankit import api
        from gankit.config import DataConfig
        from gankit.data import load
        from gankit.train.health import class_diversity
        from gankit.viz.grid import save_grid

        test = None  # the labelled test split, read once for every mark

        for minutes, step, spent, ckpt, health in tr._saved:
            row = {
                "recipe": recipe,
                "data": data,
                "minutes": minutes,
                "seed": seed,
                "steps": step,
                ("cpu_s" if clock == "cpu" else "wall_s"): spent,
                "threads": threads,
                "n": n,
                "extra": extra,
                "image_size": cfg.data.size,
                "scores": {},
                "health": {k: {"flag": f, "evidence": ev} for k, (f, ev) in health.items()},
            }
            gen = api.load(ckpt)  # the grid beside the JSON, to look at; conditional: one row per class
            k = gen.recipe.num_classes if getattr(gen.recipe, "conditional", recipe == "cgan") else 0
            imgs = torch.cat([gen.sample(8, seed=0, cls=c) for c in range(k)]) if k > 1 else gen.sample(64, seed=0)
            save_grid(imgs, out_path(out, data, recipe, minutes, seed).with_suffix(".png"), 8)
            if k > 1:  # per class: 16 samples' variety over 16 real test images' (health.md's measure)
                test = test if test is not None else load(DataConfig(name=data, split="test"))
                row["class_diversity"] = [
                    round(r, 3)
                    for r in class_diversity(lambda c, m, gen=gen: gen.sample(m, seed=100 + c, cls=c), test, k)
                ]
            for spec in [s for s in extractors_for(data) if rulers == "all" or s.startswith("domain:")]:
                r = evaluate(ckpt, metrics="fid,kid,pr", n=n, extractor=spec)
                row["scores"][spec] = {k: r[k] for k in ("fid", "kid", "precision", "recall")}
                row["scores"][spec]["extractor_sha256"] = r["card"]["extractor"]["sha256"][:12]
                if raw:
                    r = evaluate(ckpt, metrics="fid,kid,pr", n=n, extractor=spec, ema=False)
                    row["scores"][f"raw:{spec}"] = {k: r[k] for k in ("fid", "kid", "precision", "recall")}
            rows.append(row)
    return rows


def budget_trainer(cfg, marks: list[float], clock: str = "cpu", **kwargs):
    """A Trainer that saves a checkpoint as each of ``marks`` (minutes of process CPU time, or of wall time) is
    crossed and stops after the last; ``trainer._saved`` lists ``(minutes, step, seconds spent, checkpoint path,
    health findings)``. The clock starts once the trainer is built (data loaded) and excludes the saving."""
    from gankit.train.trainer import Trainer

    now = time.process_time if clock == "cpu" else time.perf_counter

    class BudgetTrainer(Trainer):
        def spent(self):  # the budget spent: CPU or wall seconds (--clock), saving excluded
            return now() - self._t0 - self._saving

        def _should_stop(self, total, deadline, interrupted):
            while self._todo and self.spent() >= self._todo[0] * 60:
                t = now()
                health = {k: v for k, v in self.health.findings().items() if k in ("D dominating", "divergence")}
                self._saved.append(
                    (self._todo.pop(0), self.step, round(self.spent(), 1), self.save_checkpoint(), health)
                )
                self._saving += now() - t
            return not self._todo or super()._should_stop(total, deadline, interrupted)

    tr = BudgetTrainer(cfg, **kwargs)
    tr._todo, tr._saved, tr._saving = sorted(marks), [], 0.0
    tr._t0 = now()
    return tr


def out_path(out: Path, data: str, recipe: str, minutes: float, seed: int) -> Path:
    return out / f"{data}-{recipe}-{minutes:g}m-s{seed}.json"


def extractors_for(data: str) -> list[str]:
    from gankit.metrics import extractors as E

    out = [f"domain:{data}"] if E.domain_path(data).exists() else []
    if hasattr(E, "wide_path") and E.wide_path(data).exists():
        out.append(f"wide:{data}")
    return out


def stats(xs: list[float]) -> str:
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    if not xs:
        return "–"
    m = sum(xs) / len(xs)
    if len(xs) == 1:
        return f"{m:.2f}"
    sd = (sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5
    return f"{m:.2f} ± {sd:.2f}"


def table(rows: list[dict], data: str) -> str:
    specs = sorted({s for r in rows for s in r["scores"]})
    clock = "wall-min" if any("wall_s" in r for r in rows) else "CPU-min"
    head = (
        f"| recipe | {clock} | seeds | steps | "
        + " | ".join(f"FID ({s}) | precision ({s}) | recall ({s})" for s in specs)
        + " | within-class diversity | D dominating |"
    )
    lines = [head, "|" + "---|" * (6 + 3 * len(specs))]
    keys = sorted({(r["recipe"], r["minutes"]) for r in rows}, key=lambda k: (k[0], k[1]))
    for rec, m in keys:
        rs = [r for r in rows if r["recipe"] == rec and r["minutes"] == m]
        cells = [rec, f"{m:g}", str(len(rs)), stats([r["steps"] for r in rs]).split(".")[0]]
        for s in specs:
            for k in ("fid", "precision", "recall"):
                cells.append(stats([r["scores"].get(s, {}).get(k) for r in rs]))
        div = [min(r["class_diversity"]) for r in rs if r.get("class_diversity")]
        cells.append(f"min {stats(div)}" if div else "–")
        h = [r["health"]["D dominating"]["flag"] for r in rs if "D dominating" in r.get("health", {})]
        cells.append(f"{sum(h)} of {len(h)} runs" if h else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--recipes", nargs="+", default=["mlp-gan", "lsgan", "dcgan", "cgan", "r3gan"])
    ap.add_argument("--minutes", nargs="+", type=float, default=[2, 5, 20])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--n", type=int, default=10000, help="generated images per evaluation")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "budget")
    ap.add_argument("--set", nargs="*", default=[], help="extra overrides as RECIPE:key=value")
    ap.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="budget in process CPU time (default) or wall time ('N minutes on the machine')",
    )
    ap.add_argument("--threads", type=int, default=1, help="training threads per run (wall clock: use --jobs 1)")
    ap.add_argument(
        "--rulers",
        choices=["all", "domain"],
        default="all",
        help="score with every trained extractor, or only the domain one (screening: half the scoring time)",
    )
    ap.add_argument("--table-only", action="store_true", help="only (re)write the table from the JSONs in OUT")
    ap.add_argument("--one", nargs=2, metavar=("RECIPE", "SEED"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        rec, seed = a.one
        extra = [x.split(":", 1)[1] for x in a.set if x.split(":", 1)[0] == rec]
        for row in run_one(rec, a.data, a.minutes, int(seed), a.n, a.out, extra, a.threads, a.clock, a.rulers):
            path = out_path(a.out, a.data, rec, row["minutes"], row["seed"])
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(row, indent=1))
            os.replace(tmp, path)
        return
    a.out.mkdir(parents=True, exist_ok=True)
    todo = [] if a.table_only else [(r, s) for s in a.seeds for r in a.recipes]
    procs: list[tuple[subprocess.Popen, str]] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": str(a.threads)}
    for rec, s in todo:
        if all(out_path(a.out, a.data, rec, m, s).exists() for m in a.minutes):
            continue
        while len([p for p, _ in procs if p.poll() is None]) >= a.jobs:
            time.sleep(2)
        cmd = [
            sys.executable,
            __file__,
            "--data",
            a.data,
            "--n",
            str(a.n),
            "--out",
            str(a.out),
            "--clock",
            a.clock,
            "--threads",
            str(a.threads),
            "--rulers",
            a.rulers,
            "--minutes",
            *map(str, a.minutes),
            "--set",
            *a.set,
            "--one",
            rec,
            str(s),
        ]
        print("start", rec, s, flush=True)
        procs.append((subprocess.Popen(cmd, env=env), f"{rec} seed {s}"))
    for p, what in procs:
        if p.wait() != 0:
            print(f"failed: {what} (exit {p.returncode})", flush=True)
    rows = [json.loads(p.read_text()) for p in sorted(a.out.glob(f"{a.data}-*.json"))]
    md = table(rows, a.data)
    (a.out / f"{a.data}-table.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
