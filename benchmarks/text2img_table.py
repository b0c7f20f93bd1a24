"""Text to image per CPU-minute: train text -> image models on emoji-captions for CPU-time budgets, score
every budget mark with a retrieval scorer no model trained against and with KID/FID, and write the table.

    # train (one process per run, one thread each, at most --jobs at once; a checkpoint as each mark is crossed)
    PYTHONPATH=src python benchmarks/text2img_table.py train --runs RUNS --minutes 20 60 120 --seeds 0 1 \\
        --entries dfgan
    # score every mark of every run in RUNS, write OUT/<entry>-<minutes>m-s<seed>.json and OUT/table.md
    PYTHONPATH=src python benchmarks/text2img_table.py score --runs RUNS --out docs/img/text2img
    PYTHONPATH=src python benchmarks/text2img_table.py table --out docs/img/text2img

An entry is ``NAME=RECIPE[.PRESET][,key=value ...]`` (or just ``RECIPE[.PRESET]``), e.g.
``book=stackgan.book-stage1`` or ``lr2x=dfgan,train.lr=2e-4,train.lr_d=8e-4``.

The budget is process CPU time with one training thread (``budget_table.budget_trainer``): two runs side by side
on an idle 2-core machine spend 2 CPU-minutes per wall-minute together, one each, so 20 / 60 / 120 CPU-minutes of
one run are 10 / 30 / 60 minutes of both threads. Loading the data is not charged; saving a checkpoint is not.

Scoring (``gankit.metrics.retrieval``): R-precision@1 among 100 captions (the query's own first caption and 99 of
other emoji) for every held-out item (both renderings of the 452 held-out emoji, 3 noise seeds) and for the same
number of training items (every 8th training emoji), the scorer trained on real training pairs only and cached;
KID/FID with the Twemoji domain extractor (``gankit metrics train-extractor twemoji``) against the 904 held-out
real images, every image at the scorer's 32 px; ``seed L1``: the mean |difference| (pixels in [-1, 1]) between
images of one held-out caption drawn with different noise seeds (0: the noise changes nothing); ``seed div``: seed L1
over the mean |difference| between real held-out images of two different emoji (1: two seeds of one caption differ
as much as two emoji do; the table also gives one emoji's two renderings on that scale).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "src"))

SEEDS = (100, 101, 102)  # noise seeds of the generated rows
UNSEEN = [
    "a smiling cat",
    "a red sports car",
    "a blue heart",
    "a yellow sun with sunglasses",
    "the flag of a country",
    "an old man with a beard",
    "a green apple",
    "a purple flower",
    "a brown dog",
    "an orange fish",
    "a pink pig face",
    "a black umbrella",
]


def parse_entry(text: str) -> tuple[str, str, str, list[str]]:
    """``NAME=RECIPE[.PRESET][,k=v...]`` -> (name, recipe, preset, overrides)."""
    name, _, spec = text.partition("=") if "=" in text.split(",")[0] else ("", "", text)
    head, *over = spec.split(",")
    recipe, _, preset = head.partition(".")
    return name or head, recipe, preset or "default", over


# --------------------------------------------------------------------------- training


def train_one(entry: str, seed: int, marks: list[float], runs: Path) -> None:
    from budget_table import budget_trainer

    from gankit.models import resolve_config

    torch.set_num_threads(1)
    name, recipe, preset, over = parse_entry(entry)
    cfg = resolve_config(
        recipe,
        preset,
        overrides=[
            f"train.seed={seed}",
            "train.threads=1",
            "train.device=cpu",
            "train.steps=100000000",
            "train.ckpt_every=100000000",
            "train.sample_every=100000000",
            f"train.keep={len(marks) + 1}",
            "train.report_every_epochs=null",
            *over,
        ],
    )
    where = runs / f"{name}-s{seed}"
    tr = budget_trainer(cfg, marks, "cpu", out=where, progress=False)
    tr.fit()
    rows = [
        {
            "entry": entry,
            "name": name,
            "seed": seed,
            "minutes": m,
            "steps": step,
            "cpu_s": spent,
            "checkpoint": str(ck),
            "health": {k: bool(f) for k, (f, _) in health.items()},
        }
        for m, step, spent, ck, health in tr._saved
    ]
    (where / "marks.json").write_text(json.dumps(rows, indent=1) + "\n")


def train(a) -> None:
    a.runs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    procs = []
    for seed in a.seeds:
        for entry in a.entries:
            if (a.runs / f"{parse_entry(entry)[0]}-s{seed}" / "marks.json").exists():
                continue
            while sum(p.poll() is None for p, _ in procs) >= a.jobs:
                time.sleep(5)
            cmd = [sys.executable, __file__, "_one", entry, str(seed), str(a.runs), *map(str, a.minutes)]
            print("start", entry, seed, flush=True)
            procs.append((subprocess.Popen(cmd, env=env), f"{entry} seed {seed}"))
    for p, what in procs:
        if p.wait() != 0:
            print(f"failed: {what} (exit {p.returncode})", flush=True)


# --------------------------------------------------------------------------- scoring


class Scoring:
    """The data, queries, scorer and extractor every checkpoint is scored with (built once)."""

    def __init__(self, log=print):
        from gankit.data.images import to_uint8
        from gankit.metrics import retrieval as R
        from gankit.metrics.engine import extract
        from gankit.metrics.extractors import load_extractor
        from gankit.models import resolve_config
        from gankit.models.dfgan import DFGAN

        self.R, self.log = R, log
        self.data = DFGAN.load_data(resolve_config("dfgan", "default"))  # 32 px, MiniLM: the scorer's view
        self.spec = R.ScorerSpec()
        self.scorer, self.card = R.scorer(self.data, self.spec, log)
        self.held = R.queries(self.data.test)
        self.train_q = R.queries(self.data, sorted(set(self.data.keys))[::8])
        self.ex = load_extractor("domain:twemoji")
        self.feats = lambda x: extract(self.ex, to_uint8(R.to_size(x, self.spec.size)))[0]  # noqa: E731
        self.ref = self.feats(self.data.test.images.float() / 127.5 - 1)
        self.real_l1 = self.real_pair_l1()

    def real_pair_l1(self) -> dict:
        """Mean |difference| between real held-out images: of two different emoji (each query image against one of
        another group, a seeded draw) and of one emoji's two renderings: the rulers seed L1 is read against."""
        x, groups = self.data.test.images[self.held.items].float() / 127.5 - 1, self.held.groups
        g = torch.Generator().manual_seed(0)
        other = []
        for gi in groups:  # one image of another emoji per query image
            pool = torch.nonzero(groups != gi).flatten()
            other.append(int(pool[torch.randint(len(pool), (1,), generator=g)]))
        keys = [self.data.test.keys[i] for i in self.held.items.tolist()]
        first: dict[str, int] = {}
        a, b = zip(*[(first[k], i) for i, k in enumerate(keys) if first.setdefault(k, i) != i])
        return {
            "different_emoji": round((x - x[other]).abs().mean().item(), 4),
            "two_renderings": round((x[list(a)] - x[list(b)]).abs().mean().item(), 4),
        }

    def rp(self, images: torch.Tensor, q) -> float:
        return self.R.r_precision(self.R.embed_images(self.scorer, images, self.spec.size), q)

    def fid_kid(self, images: torch.Tensor) -> dict:
        from gankit.metrics.core import fid, kid

        f = self.feats(images)
        km, ks = kid(self.ref, f, subsets=50, subset_size=min(500, len(self.ref), len(f)))
        return {"fid": round(fid(self.ref, f), 3), "kid": round(km, 5), "kid_std": round(ks, 5), "n": len(f)}

    def real_rows(self) -> dict:
        d = self.data
        held = d.test.images[self.held.items].float() / 127.5 - 1
        tr = d.images[self.train_q.items].float() / 127.5 - 1
        g = torch.Generator().manual_seed(0)
        chance = self.R.r_precision(torch.randn(len(self.held.items), d.embeddings.shape[1], generator=g), self.held)
        other = d.images[torch.randperm(len(d), generator=g)[: 3 * len(self.held.items)]].float() / 127.5 - 1
        return {
            "chance (random image embeddings)": {"rp_heldout": chance},
            "real held-out images (ceiling)": {
                "rp_heldout": self.rp(held, self.held),
                "rp_train": self.rp(tr, self.train_q),
            },
            "real training images": {**self.fid_kid(other)},
            "real held-out images, pairs": {"pair_l1": self.real_l1},
        }

    def model_row(self, model) -> tuple[dict, list[torch.Tensor]]:
        held = [model.generate(self.held.emb, seed=s) for s in SEEDS]
        tr = [model.generate(self.train_q.emb, seed=s) for s in SEEDS]
        row = {
            "rp_heldout_per_seed": [round(self.rp(x, self.held), 4) for x in held],
            "rp_train_per_seed": [round(self.rp(x, self.train_q), 4) for x in tr],
            **self.fid_kid(torch.cat(held)),
            # how much the noise changes an image: mean |x(seed a) - x(seed b)| over held-out captions and seed pairs
            "seed_l1": round(sum((a - b).abs().mean().item() for a, b in zip(held, held[1:] + held[:1])) / 3, 4),
        }
        row["seed_div"] = round(row["seed_l1"] / self.real_l1["different_emoji"], 3)  # 1: seeds differ as emoji do
        row["rp_heldout"] = sum(row["rp_heldout_per_seed"]) / len(SEEDS)
        row["rp_train"] = sum(row["rp_train_per_seed"]) / len(SEEDS)
        return row, held


def text_model(checkpoint: str):
    """The text pipeline of a dfgan or stackgan checkpoint (``embed``, ``generate``, ``__call__``), EMA G."""
    from gankit import pipelines

    return pipelines.load(checkpoint, "cpu", ema=True)


def score(a) -> None:
    from gankit.fileio import write_text_atomic
    from gankit.viz.grid import save_grid

    torch.set_num_threads(a.threads)
    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    log = lambda m: print(f"[{time.time() - t0:6.0f}s] {m}", flush=True)  # noqa: E731
    s = Scoring(log)
    if not (a.out / "real.json").exists() or a.rescore:
        write_text_atomic(a.out / "real.json", json.dumps({"scorer": s.card, "rows": s.real_rows()}, indent=1) + "\n")
    for marks in sorted(a.runs.glob("*/marks.json")):
        for m in json.loads(marks.read_text()):
            if a.only and m["name"] not in a.only:
                continue
            path = a.out / f"{m['name']}-{m['minutes']:g}m-s{m['seed']}.json"
            if path.exists() and not a.rescore:
                continue
            model = text_model(m["checkpoint"])
            row, held = s.model_row(model)
            row.update({k: m[k] for k in ("entry", "name", "seed", "minutes", "steps", "cpu_s", "health")})
            write_text_atomic(path, json.dumps(row, indent=1) + "\n")
            log(
                f"{path.name}: R@1 held-out {row['rp_heldout']:.3f} train {row['rp_train']:.3f} "
                f"KID {row['kid']:.4f} FID {row['fid']:.2f}"
            )
            if a.grids:  # unseen captions (6 seeds each) and held-out captions (real first, 3 samples)
                with torch.no_grad():
                    x = model(UNSEEN, 6, seed=0)
                save_grid(x, path.with_suffix(".unseen.png"), 6)
                pick = torch.linspace(0, len(s.held.items) - 1, 10).long()
                real = s.data.test.images[s.held.items[pick]].float() / 127.5 - 1
                cols = [real] + [s.R.to_size(h[pick], real.shape[-1]) for h in held]
                save_grid(torch.stack(cols, 1).flatten(0, 1), path.with_suffix(".heldout.png"), len(cols))
    table(a)


# --------------------------------------------------------------------------- the table


def _ms(xs: list[float], scale: float = 1.0, digits: int = 1) -> str:
    xs = [x * scale for x in xs if x is not None and math.isfinite(x)]
    if not xs:
        return "–"
    m = sum(xs) / len(xs)
    if len(xs) == 1:
        return f"{m:.{digits}f}"
    sd = (sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5
    return f"{m:.{digits}f} ± {sd:.{digits}f}"


def table(a) -> str:
    real = json.loads((a.out / "real.json").read_text())["rows"]
    rows = [json.loads(p.read_text()) for p in sorted(a.out.glob("*-s*.json"))]
    lines = [
        "| images scored | CPU-min | seeds | steps | R@1 held-out (%) | R@1 training (%) | KID | FID | seed L1 "
        "| seed div |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    pairs = real.pop("real held-out images, pairs", {}).get("pair_l1", {})
    for k, v in real.items():
        lines.append(
            f"| {k} | | | | {_ms([v.get('rp_heldout')], 100)} | {_ms([v.get('rp_train')], 100)} | "
            f"{_ms([v.get('kid')], 1, 4)} | {_ms([v.get('fid')], 1, 2)} | | |"
        )
    for k, what in (("different_emoji", "two different emoji"), ("two_renderings", "one emoji's two renderings")):
        if k in pairs:  # the rulers for seed L1: real held-out image pairs
            ratio = pairs[k] / pairs["different_emoji"]
            lines.append(f"| real held-out images: {what} (pair L1) | | | | | | | | {pairs[k]:.3f} | {ratio:.2f} |")
    order = list(dict.fromkeys(a.order or [r["name"] for r in rows]))

    def div(r: dict) -> float | None:  # rows scored before seed div existed: their seed L1 on today's ruler
        if r.get("seed_div") is not None or r.get("seed_l1") is None or not pairs:
            return r.get("seed_div")
        return r["seed_l1"] / pairs["different_emoji"]

    for name in order:
        for m in sorted({r["minutes"] for r in rows if r["name"] == name}):
            rs = [r for r in rows if r["name"] == name and r["minutes"] == m]
            lines.append(
                f"| {name} | {m:g} | {len(rs)} | {_ms([r['steps'] for r in rs], 1, 0)} | "
                f"{_ms([r['rp_heldout'] for r in rs], 100)} | {_ms([r['rp_train'] for r in rs], 100)} | "
                f"{_ms([r['kid'] for r in rs], 1, 4)} | {_ms([r['fid'] for r in rs], 1, 2)} | "
                f"{_ms([r.get('seed_l1') for r in rs], 1, 3)} | {_ms([div(r) for r in rs], 1, 2)} |"
            )
    md = "\n".join(lines) + "\n"
    (a.out / "table.md").write_text(md)
    print(md)
    return md


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--runs", type=Path, required=True)
    t.add_argument("--entries", nargs="+", default=["dfgan"])
    t.add_argument("--minutes", nargs="+", type=float, default=[20, 60, 120])
    t.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    t.add_argument("--jobs", type=int, default=2)
    for name in ("score", "table"):
        p = sub.add_parser(name)
        p.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "text2img")
        p.add_argument("--order", nargs="*", help="table rows: entry names in this order")
        if name == "score":
            p.add_argument("--runs", type=Path, required=True)
            p.add_argument("--only", nargs="*", help="score only these entry names")
            p.add_argument("--rescore", action="store_true")
            p.add_argument("--grids", action="store_true", help="also write grids of unseen and held-out captions")
            p.add_argument("--threads", type=int, default=1)
    one = sub.add_parser("_one")
    one.add_argument("entry")
    one.add_argument("seed", type=int)
    one.add_argument("runs", type=Path)
    one.add_argument("minutes", nargs="+", type=float)
    a = ap.parse_args()
    if a.cmd == "_one":
        train_one(a.entry, a.seed, a.minutes, a.runs)
    elif a.cmd == "train":
        train(a)
    elif a.cmd == "score":
        score(a)
    else:
        table(a)


if __name__ == "__main__":
    main()
