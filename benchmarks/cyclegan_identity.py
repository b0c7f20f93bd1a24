"""CycleGAN against doing nothing: train cyclegan presets for fixed CPU budgets on Twemoji <-> OpenMoji (unpaired,
disjoint codepoints per side) and score both directions on the 474 held-out codepoints against their paired targets
(SSIM, L1, PSNR: ``gankit.pipelines.translate.evaluate``), beside the identity mapping (the input returned unchanged).

    PYTHONPATH=src python benchmarks/cyclegan_identity.py --presets default book --seeds 0 1 --minutes 2 5 \\
        --out benchmarks/cyclegan_identity.json --figure docs/img/cyclegan-emoji.png

The budget is process CPU time on one torch thread (``budget_table.budget_trainer``: a checkpoint as each mark is
crossed, the saving and scoring not charged). ``train.steps`` is unbounded, so no preset's LR decay starts. Every
preset trains on the default's data (64 px emoji pairs); the other presets keep their own nets, batch size and
optimizer (``book``: ngf 32, batch 1, identity weight 1, ...). Each mark is scored as it is saved, with the EMA
copies where the preset keeps them (and, at the last mark, without them: ``raw``). Each finished (preset, seed) run
is written to ``--out`` (and its table to the ``.md`` beside it) at once; a rerun skips the runs already there.
``--figure``: rows of input | output | paired target for both directions from the first seed's last mark of the
first preset (``--figure-from CKPT`` draws it from a saved checkpoint and trains nothing). A ``--presets`` entry
may be ``LABEL=PRESET:key=value,...``: a preset with overrides, shown as LABEL.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from budget_table import budget_trainer, parse_run  # noqa: E402

from gankit.data.pairs import load_pairs  # noqa: E402
from gankit.fileio import write_text_atomic  # noqa: E402
from gankit.models import resolve_config  # noqa: E402
from gankit.pipelines import TranslatePipeline  # noqa: E402
from gankit.pipelines.translate import evaluate  # noqa: E402
from gankit.viz.grid import grid_image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DIRECTIONS = ("AtoB", "BtoA")  # Twemoji -> OpenMoji (G), OpenMoji -> Twemoji (F)
DATA = ["data.name=emoji-pairs", "data.size=64", "data.load_size=null", "data.disjoint=true", "data.flip=true"]
KEYS = ("ssim", "l1", "psnr")


class White:
    """A second baseline: a blank white image for every input (both sets draw on white)."""

    def __init__(self, direction: str):
        self.direction = direction

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(x)


def rounded(res: dict) -> dict:
    return {k: round(res[k], 4) for k in KEYS}


def scores(ckpt, ema: bool = True) -> dict:
    tr = TranslatePipeline.from_checkpoint(ckpt, ema=ema)
    return {d: rounded(evaluate(tr.toward(d), tr.recipe.cfg.data, None)) for d in DIRECTIONS}


def run(preset: str, seed: int, marks: list[float], runs: Path) -> list[dict]:
    """Train ``preset`` (``LABEL=PRESET:key=value,...`` or a preset's name) until the last mark (CPU-minutes),
    scoring each mark's checkpoint as it is saved."""
    label, preset, extra = parse_run(preset)
    torch.set_num_threads(1)
    overrides = [
        *DATA,
        f"train.seed={seed}",
        "train.threads=1",
        "train.device=cpu",
        "train.steps=100000000",
        "train.epochs=null",
        "train.ckpt_every=100000000",
        "train.sample_every=100000000",
        "train.log_every=250",
        f"train.keep={len(marks) + 1}",
    ]
    cfg = resolve_config("cyclegan", preset, overrides=overrides + extra)
    tr = budget_trainer(cfg, marks, "cpu", out=runs, progress=False)
    rows, save = [], tr.save_checkpoint

    def save_and_score():  # called by the budget trainer as a mark is crossed (after it took the mark off _todo)
        path = save()
        row = {"preset": label, "seed": seed, "steps": tr.step, "scores": scores(path)}
        if cfg.train.ema > 0 and not tr._todo:  # the last mark, also without EMA
            row["raw"] = scores(path, ema=False)
        print(json.dumps(row), flush=True)
        rows.append({**row, "checkpoint": str(path)})
        if not tr._todo:  # the last mark: the trainer's own final save is not scored
            tr.save_checkpoint = save
        return path

    tr.save_checkpoint = save_and_score
    tr.fit()
    for row, (minutes, _step, spent, _, health) in zip(rows, tr._saved):
        row.update(
            minutes=minutes, cpu_s=spent, health={k: {"flag": f, "evidence": ev} for k, (f, ev) in health.items()}
        )
    return rows


def figure(ckpt, out: Path, n: int = 10) -> None:
    """Rows: Twemoji | G's OpenMoji | real OpenMoji, then OpenMoji | F's Twemoji | real Twemoji; ``n`` held-out
    codepoints spread over the test split."""
    tr = TranslatePipeline.from_checkpoint(ckpt)
    held = load_pairs(tr.recipe.cfg.data, paired=False).test
    b = held.batch(torch.linspace(0, len(held.A) - 1, n).long())
    rows = []
    for d, (x, y) in zip(DIRECTIONS, ((b["A"], b["B"]), (b["B"], b["A"]))):
        rows += [x, tr.toward(d)(x).cpu(), y]
    out.parent.mkdir(parents=True, exist_ok=True)
    grid_image(torch.cat(rows), n, pad=2).resize((2 * (n * 66 + 2), 2 * (6 * 66 + 2))).save(out, optimize=True)
    print(out)


def stats(xs: list[float]) -> str:
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else None
    return f"{m:.3f}" + (f" ± {sd:.3f}" if sd is not None else "")


def table(result: dict) -> str:
    head = "| mapping | CPU-min | seeds | steps | " + " | ".join(
        f"{k.upper() if k != 'psnr' else 'PSNR (dB)'} {d}" for d in DIRECTIONS for k in KEYS
    )
    lines = [head + " |", "|" + "---|" * (4 + len(DIRECTIONS) * len(KEYS))]
    for name, key in (("identity (input as output)", "identity"), ("blank white image", "white")):
        base = " | ".join(f"{result[key][d][k]:.3f}" for d in DIRECTIONS for k in KEYS)
        lines.append(f"| {name} | – | – | – | {base} |")
    rows = result["runs"]
    for which in ("scores", "raw"):
        for p, m in sorted({(r["preset"], r["minutes"]) for r in rows if which in r}):
            rs = [r for r in rows if (r["preset"], r["minutes"]) == (p, m) and which in r]
            name = (f"`{p}`" if p.isidentifier() else p) + (" (raw G, no EMA)" if which == "raw" else "")
            cells = [name, f"{m:g}", str(len(rs)), stats([r["steps"] for r in rs]).split(".")[0]]
            cells += [stats([r[which][d][k] for r in rs]) for d in DIRECTIONS for k in KEYS]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", nargs="+", default=["default", "book"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--minutes", nargs="+", type=float, default=[2, 5], help="CPU-minute marks of each run")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "cyclegan_identity.json")
    ap.add_argument("--runs", type=Path, default=Path("/tmp/cyclegan-identity-runs"), help="run folders")
    ap.add_argument("--figure", type=Path, default=None, help="PNG of input | output | target rows, both ways")
    ap.add_argument("--figure-from", default=None, help="draw --figure from this checkpoint and train nothing")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.figure_from:
        figure(a.figure_from, a.figure or ROOT / "docs" / "img" / "cyclegan-emoji.png")
        return
    result = json.loads(a.out.read_text()) if a.out.exists() else {"runs": []}
    data = resolve_config("cyclegan", "default", overrides=DATA).data
    result["identity"] = {d: rounded(evaluate(None, data, None, direction=d)) for d in DIRECTIONS}
    result["white"] = {d: rounded(evaluate(White(d), data, None)) for d in DIRECTIONS}
    result["setup"] = {
        "data": "emoji-pairs 64 px, unpaired, disjoint codepoints; scored on the held-out paired split",
        "budget": "process CPU time, one torch thread",
        "threads": 1,
        "torch": torch.__version__,
        "cpu": torch.backends.cpu.get_cpu_capability(),
    }
    for seed in a.seeds:
        for preset in a.presets:
            label = parse_run(preset)[0]
            done = [r for r in result["runs"] if (r["preset"], r["seed"]) == (label, seed)]
            if {r["minutes"] for r in done} >= set(a.minutes):
                continue
            result["runs"] = [r for r in result["runs"] if r not in done] + run(preset, seed, a.minutes, a.runs)
            write_text_atomic(a.out, json.dumps(result, indent=1))
            a.out.with_suffix(".md").write_text(table(result))
            print(table(result), flush=True)
            if a.figure and seed == a.seeds[0] and preset == a.presets[0]:
                last = max(
                    (r for r in result["runs"] if (r["preset"], r["seed"]) == (label, seed)),
                    key=lambda r: r["minutes"],
                )
                figure(last["checkpoint"], a.figure)


if __name__ == "__main__":
    main()
