"""Age-cGAN presets at one CPU budget: stage 1 for ``--minutes`` and stage 2 (the preset's encoder) for
``--encoder-minutes``, one torch thread each, then ``agecgan_eval.py`` on the pair (target-age accuracy, identity
cosine, FID, speckle). Rows: ``default``, ``regularised`` (the default with DiffAugment translation, R1 1 and mode
seeking 0.1), ``regularised-colour-aug`` (a first try: every DiffAugment policy, R1 2, mode seeking 0.2) and
``book`` (64 px, the book's nets; its encoder ``book-encoder``).

    PYTHONPATH=src python benchmarks/agecgan_budget.py --minutes 8 --encoder-minutes 2 --seeds 0 \\
        --rows default regularised regularised-colour-aug book --json benchmarks/agecgan_budget.json

Each row's strip and eval JSON go to ``<runs>/<row>-s<seed>/eval``; the table to ``--json`` (rewritten after every
row, so a cut-short run keeps what finished).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

ROWS = {  # row -> (stage-1 preset, stage-2 preset, overrides of both)
    "default": ("default", "encoder", []),
    "regularised": ("default", "encoder", ["model.diffaug=translation", "model.r1=1", "model.mode_seeking=0.1"]),
    "regularised-colour-aug": (  # the first try: every DiffAugment policy, R1 2, mode seeking 0.2
        "default",
        "encoder",
        ["model.diffaug=color,translation,cutout", "model.r1=2", "model.mode_seeking=0.2"],
    ),
    "book": ("book", "book-encoder", []),
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=8.0)
    ap.add_argument("--encoder-minutes", type=float, default=2.0)
    ap.add_argument("--judge-steps", type=int, default=400)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    ap.add_argument("--runs", default="runs/agecgan-budget")
    ap.add_argument("--json", default="benchmarks/agecgan_budget.json")
    ap.add_argument("--append", action="store_true", help="keep the rows already in --json")
    a = ap.parse_args(argv)

    import torch

    from gankit import api

    torch.set_num_threads(1)
    import agecgan_eval

    out = {"budget": {"stage1_minutes": a.minutes, "stage2_minutes": a.encoder_minutes, "threads": 1}, "rows": {}}
    if a.append and Path(a.json).is_file():
        out["rows"] = json.loads(Path(a.json).read_text())["rows"]
    for seed in a.seeds:
        for row in a.rows:
            p1, p2, over = ROWS[row]
            base = Path(a.runs) / f"{row}-s{seed}"
            common = [*over, "train.threads=1", f"train.seed={seed}", "train.steps=1000000"]
            s1 = api.train("agecgan", p1, [*common, f"train.minutes={a.minutes}"], out=base / "stage1")
            s2 = api.train(
                "agecgan",
                p2,
                [*common, f"train.minutes={a.encoder_minutes}", f"model.init_from={s1}"],
                out=base / "stage2",
            )
            ev = base / "eval"
            agecgan_eval.main(
                ["--stage1", str(s1), "--stage2", str(s2), "--judge-steps", str(a.judge_steps), "--out", str(ev)]
            )
            res = json.loads((ev / "agecgan_eval.json").read_text())
            steps = [json.loads(line)["step"] for line in (Path(s1) / "metrics.jsonl").read_text().splitlines()]
            out["rows"][f"{row} seed {seed}"] = {
                "stage1": str(s1),
                "stage2": str(s2),
                "stage1_steps": max(steps) if steps else None,
                **{k: res[k] for k in ("rows", "age_classifier", "identity_embedder", "speckle_real_heldout")},
            }
            Path(a.json).write_text(json.dumps(out, indent=1))
            print(json.dumps({row: res["rows"]}, indent=1), flush=True)


if __name__ == "__main__":
    main()
