"""Short CPU runs of the book presets at their book batch sizes: do their losses move as the book shows?

Trains each run below one after another (train.threads=1, one process at a time) and writes
  OUT/summary.json   per run: the command, seconds per step, and each loss's mean over the first and the last fifth
                     of its logged rows
  OUT/losses.png     one panel per run, every loss/* curve (docs/img/book_short_runs.png)
and prints the table of docs/fidelity.md.
The runs keep each preset's book settings (batch, optimizer, step order, fakes, init) and change only what the CPU
or the installed data forces; the overrides are listed per run and repeated in docs/fidelity.md.
Usage: python benchmarks/book_short_runs.py OUT [--only pix2pix,gan3d,...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

# (name, recipe, preset, steps, overrides): data on disk here, CPU-sized widths where the book's nets take minutes
RUNS = [
    (
        "pix2pix",
        "pix2pix",
        "book",
        300,
        [
            "data.name=emoji-pairs",
            "data.size=64",
            "model.g_downs=6",
            "model.g_ngf=16",
            "model.g_up_channels=[128,256,256,128,64]",
            "model.d_ndf=16",
        ],
    ),
    ("gan3d", "gan3d", "book", 60, ["data.size=32", "model.g_channels=[128,64,32]", "model.d_channels=[32,64,128]"]),
    (
        "agecgan",
        "agecgan",
        "book",
        100,
        ["data.size=32", "model.g_dense=256", "model.g_channels=[128,64,32]", "model.d_channels=[32,64,128]"],
    ),
    (
        "srgan",
        "srgan",
        "book",
        100,
        [
            "data.name=openmoji",
            "data.size=64",
            "model.crop=64",
            "model.g_features=32",
            "model.g_blocks=4",
            "model.up_features=64",
        ],
    ),
    ("cyclegan", "cyclegan", "book", 80, ["data.name=emoji-pairs", "data.size=64", "data.disjoint=true"]),
    (
        "stackgan",
        "stackgan",
        "book-stage1",
        60,
        ["data.name=emoji-captions", "model.text_encoder=ngrams", "model.g_features=16", "model.d_features=16"],
    ),
]


def train(name: str, recipe: str, preset: str, steps: int, overrides: list[str], out: Path) -> Path:
    runs = out / name
    cmd = [sys.executable, "-m", "gankit.cli", "train", recipe, "-p", preset, "--steps", str(steps)]
    cmd += ["--out", str(runs), "--no-progress", "train.threads=1", "train.log_every=5", f"train.ckpt_every={steps}"]
    cmd += [f"train.sample_every={steps}", "train.report_every_epochs=null", *overrides]
    if not (runs.exists() and any(runs.iterdir())):
        print(" ".join(cmd[2:]), flush=True)
        subprocess.run(cmd, check=True)
    (run,) = runs.iterdir()
    return run


def summarise(run: Path) -> dict:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if any(k.startswith("loss/") for k in r)]
    k = max(1, len(rows) // 5)
    sec = round(rows[-1]["time"] / rows[-1]["step"], 2)  # the trainer's wall clock at the last logged step
    keys = sorted({key for r in rows for key in r if key.startswith("loss/")})

    def mean(part, key):
        vals = [r[key] for r in part if key in r]
        return round(sum(vals) / len(vals), 4) if vals else None

    return {
        "seconds_per_step": sec,
        "losses": {key: {"first": mean(rows[:k], key), "last": mean(rows[-k:], key)} for key in keys},
    }


def plot(runs: dict[str, Path], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, (len(runs) + 1) // 2, figsize=(4.2 * ((len(runs) + 1) // 2), 6.4), squeeze=False)
    for ax, (name, run) in zip(axes.flat, runs.items()):
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        for key in sorted({k for r in rows for k in r if k.startswith("loss/")}):
            pts = [(r["step"], r[key]) for r in rows if key in r]
            ax.plot(*zip(*pts), label=key[5:], lw=1)
        ax.set_title(name, fontsize=10)
        ax.set_yscale("symlog", linthresh=0.1)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(runs) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def table(summary: dict) -> str:
    """The markdown table docs/fidelity.md quotes: each loss's mean over the first -> the last fifth of the run."""
    out = ["| run | command | s/step | losses, first fifth → last fifth |", "|---|---|---|---|"]
    for name, r in summary.items():
        losses = ", ".join(f"{k[5:]} {v['first']:.3g} → {v['last']:.3g}" for k, v in r["losses"].items())
        out.append(f"| {name} | `{r['command']}` | {r['seconds_per_step']} | {losses} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    only = set(filter(None, a.only.split(",")))
    summary_path = a.out / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    runs = {}
    for name, recipe, preset, steps, overrides in RUNS:
        if only and name not in only:
            if (a.out / name).exists():
                runs[name] = next((a.out / name).iterdir())
            continue
        run = train(name, recipe, preset, steps, overrides, a.out)
        runs[name] = run
        summary[name] = {
            "command": f"gankit train {recipe} -p {preset} --steps {steps} train.threads=1 " + " ".join(overrides),
            **summarise(run),
        }
        summary_path.write_text(json.dumps(summary, indent=1))
    plot(runs, a.out / "losses.png")
    print(table(summary))


if __name__ == "__main__":
    main()
