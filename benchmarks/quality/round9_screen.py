"""Round 9 screen of r3gan (docs/quality.md): train the r3gan default with overrides for the given CPU-minutes
(one thread, Fashion-MNIST), save a checkpoint at each mark and score it with the domain ruler (n = 10000), the
EMA G and, with ``--raw``, the raw G too. Appends one JSON row per mark to ``round9-r3gan.jsonl`` beside this file.

    PYTHONPATH=src python benchmarks/quality/round9_screen.py NAME 2,5 SEED [--raw] [key=value ...]
"""
import json
import sys
import time
from pathlib import Path

import torch

from gankit import api
from gankit.evaluation import evaluate
from gankit.models import resolve_config
from gankit.train.trainer import Trainer
from gankit.viz.grid import save_grid

HERE = Path(__file__).parent


class MarkTrainer(Trainer):
    """Saves a checkpoint as each CPU-minute mark is crossed; stops after the last (saving not charged)."""

    def _should_stop(self, total, deadline, interrupted):
        while self.todo and time.process_time() - self.t0 - self.saving >= self.todo[0] * 60:
            t, m = time.process_time(), self.todo.pop(0)
            self.saved.append((m, self.step, self.save_checkpoint()))
            self.saving += time.process_time() - t
        return not self.todo or super()._should_stop(total, deadline, interrupted)


def main():
    name, minutes, seed, *extra = sys.argv[1:]
    raw = "--raw" in extra
    extra = [e for e in extra if e != "--raw"]
    torch.set_num_threads(1)
    out = Path("/tmp") / f"round9-{name}-s{seed}"
    cfg = resolve_config("r3gan", "default", overrides=[
        f"train.seed={seed}", "train.threads=1", "train.steps=100000000", "data.name=fashion-mnist",
        "train.ckpt_every=100000000", "train.sample_every=100000000", "train.keep=10", *extra])
    tr = MarkTrainer(cfg, out=out, progress=False)
    tr.todo, tr.saved, tr.saving = sorted(float(m) for m in minutes.split(",")), [], 0.0
    tr.t0 = time.process_time()
    tr.fit()
    for m, step, ckpt in tr.saved:
        row = {"name": name, "seed": seed, "minutes": m, "steps": step, "extra": extra}
        for ema in (True, False) if raw else (True,):
            r = evaluate(ckpt, metrics="fid,pr", n=10000, extractor="domain:fashion-mnist", ema=ema)
            row["ema" if ema else "raw"] = [round(r["fid"], 2), round(r["recall"], 3)]
        save_grid(api.load(ckpt).sample(64, seed=0), f"{out}-{m:g}m.png", 8)
        print(json.dumps(row), flush=True)
        with open(HERE / "round9-r3gan.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
