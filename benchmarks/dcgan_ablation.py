"""How the dcgan default was chosen: one change at a time from the previous default, at the same CPU budget.

Each variant is a list of overrides on the `default` preset; variants train two at a time side by side (one thread
each, the same seed and wall minutes), then `gankit eval RUN --metrics fid,kid --n N` scores them with the domain
extractor. Writes benchmarks/DCGAN_ABLATION.md (and .json) and prints the table.

Usage: python benchmarks/dcgan_ablation.py [--minutes 3] [--n 2000] [--seed 0] [--data fmnist32,twemoji32]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import os  # noqa: E402
import subprocess  # noqa: E402

from default_vs_tutorial import GANKIT, QUIET, score  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = {"fmnist32": ["data.name=fashion-mnist", "data.size=32"], "twemoji32": ["data.name=twemoji", "data.size=32"]}
PREVIOUS = [
    "model.d_norm=none",
    "model.d_dropout=0.4",
    "train.batch_size=64",
    "train.lr=2e-4",
    "model.reuse_fakes=false",
    "model.init=keras",
]  # the default before the ablation
VARIANTS = {  # name: overrides on top of the current default preset
    "previous default": PREVIOUS,
    "+ D dropout 0": [*PREVIOUS, "model.d_dropout=0"],
    "+ D batch norm (dropout 0.4 kept)": [*PREVIOUS, "model.d_norm=batch"],
    "D batch norm, dropout 0": [*PREVIOUS, "model.d_norm=batch", "model.d_dropout=0"],
    "D batch norm, lr 4e-4": [*PREVIOUS, "model.d_norm=batch", "train.lr=4e-4"],
    "D batch norm, dropout 0, batch 32": [*PREVIOUS, "model.d_norm=batch", "model.d_dropout=0", "train.batch_size=32"],
    "same, batch 16": [*PREVIOUS, "model.d_norm=batch", "model.d_dropout=0", "train.batch_size=16"],
    "batch 32, lr 3e-4": [*PREVIOUS, "model.d_norm=batch", "model.d_dropout=0", "train.batch_size=32", "train.lr=3e-4"],
    "batch 32, lr 5e-4": [*PREVIOUS, "model.d_norm=batch", "model.d_dropout=0", "train.batch_size=32", "train.lr=5e-4"],
    "the current default (batch 32, lr 1e-3)": [],
}


def train(name: str, extra: list[str], minutes: float, seed: int, out: Path):
    d = out / name.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "").replace("+", "plus")
    cmd = GANKIT + [
        "train",
        "dcgan",
        "--minutes",
        str(minutes),
        "--seed",
        str(seed),
        "--out",
        str(d),
        "--no-progress",
        *QUIET,
        *extra,
    ]
    return subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}
    ), d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=",".join(DATA))
    ap.add_argument("--out", type=Path, default=Path("runs/dcgan-ablation"))
    a = ap.parse_args()
    results: dict[str, dict] = {}
    for data in a.data.split(","):
        names = list(VARIANTS)
        for i in range(0, len(names), 2):  # two side by side: one per core
            procs = {
                n: train(n, [*DATA[data], *VARIANTS[n]], a.minutes, a.seed, a.out / data) for n in names[i : i + 2]
            }
            for n, (p, d) in procs.items():
                _, err = p.communicate()
                if p.returncode:
                    raise SystemExit(f"{data} {n} failed:\n{err[-2000:]}")
                run = next(x for x in d.iterdir() if x.is_dir())
                results.setdefault(data, {})[n] = score(run, a.n) | {"run": str(run)}
                print(f"{data} {n}: {results[data][n]['steps']} steps, FID {results[data][n]['fid']:.1f}", flush=True)
    rows = []
    for data, r in results.items():
        rows += [f"| {data} | steps | FID |", "|---|---:|---:|"]
        rows += [f"| {n} | {x['steps']} | {x['fid']:.1f} |" for n, x in r.items()] + [""]
    text = "\n".join(rows)
    print(text)
    (HERE / "DCGAN_ABLATION.md").write_text(
        f"# dcgan ablation\n\nReproduce: `python benchmarks/dcgan_ablation.py --minutes {a.minutes:g} --n {a.n} "
        f"--seed {a.seed}` ({a.minutes:g} min per variant, two side by side, one thread each).\n\n{text}\n"
    )
    (HERE / "DCGAN_ABLATION.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
