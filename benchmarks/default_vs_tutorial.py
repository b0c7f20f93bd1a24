"""Each recipe's `default` preset against its `tutorial` preset (the tutorial's settings) at the same CPU budget.

Both presets of a pair train side by side, one thread each, for the same wall minutes (so the same CPU time on an
otherwise idle 2-core machine), with the same seed; then `gankit eval RUN --metrics fid,kid --n N` scores the
EMA generator where there is one (domain extractor: domain:fashion-mnist or domain:twemoji). With --seeds 0,1 every
pair runs once per seed and the table shows the mean FID.

Usage: python benchmarks/default_vs_tutorial.py [--minutes 3] [--seeds 0] [--n 2000] [--only dcgan-fmnist32,...]
(--only re-runs those pairs and keeps the other pairs' results from the committed JSON). Writes
benchmarks/DEFAULT_VS_TUTORIAL.md (and .json) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GANKIT = [sys.executable, "-m", "gankit.cli"]
PAIRS = {  # name: (recipe, extra overrides shared by both presets)
    "mlp-gan-fmnist": ("mlp-gan", ["data.name=fashion-mnist"]),
    "lsgan-fmnist": ("lsgan", ["data.name=fashion-mnist"]),
    "dcgan-fmnist32": ("dcgan", ["data.name=fashion-mnist", "data.size=32"]),
    "dcgan-twemoji32": ("dcgan", ["data.name=twemoji", "data.size=32"]),
}
QUIET = ["train.threads=1", "train.sample_every=100000", "train.ckpt_every=100000", "train.log_every=100000"]


def train_pair(recipe, extra, minutes, seed, out: Path) -> dict:
    procs = {}
    for preset in ("tutorial", "default"):
        d = out / f"{recipe}-{preset}-s{seed}"
        cmd = GANKIT + [
            "train",
            recipe,
            "-p",
            preset,
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
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        procs[preset] = (
            subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env),
            d,
        )
    runs = {}
    for preset, (p, d) in procs.items():
        _, err = p.communicate()
        if p.returncode:
            raise SystemExit(f"{recipe} {preset} failed:\n{err[-2000:]}")
        runs[preset] = next(x for x in d.iterdir() if x.is_dir())
    return runs


def score(run: Path, n: int) -> dict:
    out = run / "eval" / "cmp.json"
    subprocess.run(
        GANKIT + ["eval", str(run), "--metrics", "fid,kid", "--n", str(n), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    res = json.loads(out.read_text())
    return {"fid": res["scores"]["fid"], "kid": res["scores"]["kid"], "steps": res["card"]["fake"]["step"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--only", default=",".join(PAIRS))
    ap.add_argument("--out", type=Path, default=Path("runs/default-vs-tutorial"))
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    only = a.only.split(",")
    saved = HERE / "DEFAULT_VS_TUTORIAL.json"
    # --only refreshes those pairs and keeps the others' committed results (same --minutes, --seeds and --n assumed)
    results = (
        {k: v for k, v in json.loads(saved.read_text()).items() if k not in only}
        if saved.exists() and set(only) != set(PAIRS)
        else {}
    )
    for name in only:
        recipe, extra = PAIRS[name]
        for seed in seeds:
            t = time.time()
            runs = train_pair(recipe, extra, a.minutes, seed, a.out / name)
            for preset, run in runs.items():
                results.setdefault(name, {}).setdefault(preset, []).append(score(run, a.n) | {"run": str(run)})
            r = results[name]
            print(
                f"{name} seed {seed}: tutorial {r['tutorial'][-1]['fid']:.1f} ({r['tutorial'][-1]['steps']} steps)  "
                f"default {r['default'][-1]['fid']:.1f} ({r['default'][-1]['steps']} steps)  [{time.time() - t:.0f} s]",
                flush=True,
            )
    rows = [
        f"Same wall budget ({a.minutes:g} min, one thread each, side by side), seeds {a.seeds}, FID of {a.n} samples "
        "(domain extractor) against Fashion-MNIST's test split or all of Twemoji; mean over seeds.",
        "",
        "| pair | tutorial: steps, FID | default: steps, FID | change |",
        "|---|---|---|---|",
    ]
    results = {k: results[k] for k in PAIRS if k in results}
    for name, r in results.items():
        ft, fd = (statistics.mean(x["fid"] for x in r[p]) for p in ("tutorial", "default"))
        st, sd = (statistics.mean(x["steps"] or 0 for x in r[p]) for p in ("tutorial", "default"))
        rows.append(f"| {name} | {st:.0f}, {ft:.1f} | {sd:.0f}, {fd:.1f} | {100 * (fd / ft - 1):+.0f} % |")
    text = "\n".join(rows)
    print(text)
    (HERE / "DEFAULT_VS_TUTORIAL.md").write_text(
        f"# default vs tutorial\n\nReproduce: `python benchmarks/default_vs_tutorial.py --minutes {a.minutes:g} "
        f"--seeds {a.seeds} --n {a.n}`\n\n{text}\n"
    )
    (HERE / "DEFAULT_VS_TUTORIAL.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
