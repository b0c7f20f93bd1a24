"""Round 9 screen of r3gan (docs/quality.md): train the r3gan default with overrides for the given CPU-minutes
(one thread, Fashion-MNIST or ``--data twemoji``; ``budget_table.run_one``), and score each mark's checkpoint with
the domain ruler (n = 10000): the EMA G and, with ``--raw``, the raw G too; ``--wide`` adds the wide ruler. Appends
one JSON row per mark to ``round9-r3gan.jsonl`` beside this file (``--round 10``: ``round10-r3gan.jsonl``;
``--data twemoji``: ``round10-r3gan-twemoji.jsonl``); the grids go to /tmp/roundN-NAME-DATA-sSEED/.

    PYTHONPATH=src python benchmarks/quality/round9_screen.py NAME 2,5 SEED [--raw] [--wide] [--round N] \
        [--data D] [key=value ...]
"""

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from budget_table import run_one  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    for positional in ("name", "minutes", "seed"):
        ap.add_argument(positional)
    ap.add_argument("--raw", action="store_true")
    ap.add_argument("--wide", action="store_true")
    ap.add_argument("--round", default="9")
    ap.add_argument("--data", default="fashion-mnist")
    a, extra = ap.parse_known_args()  # extra: the key=value overrides
    spec = f"domain:{a.data}"
    marks = [float(m) for m in a.minutes.split(",")]
    out = Path("/tmp") / f"round{a.round}-{a.name}-{a.data}-s{a.seed}"
    out.mkdir(parents=True, exist_ok=True)
    rulers = "all" if a.wide else "domain"
    for r in run_one("r3gan", a.data, marks, int(a.seed), 10000, out, extra, rulers=rulers, raw=a.raw):
        row = {"name": a.name, "seed": a.seed, "minutes": r["minutes"], "steps": r["steps"], "extra": extra}
        for key, s in (("ema", spec), ("raw", f"raw:{spec}"), ("wide", spec.replace("domain:", "wide:"))):
            if s in r["scores"]:
                row[key] = [round(r["scores"][s]["fid"], 2), round(r["scores"][s]["recall"], 3)]
        print(json.dumps(row), flush=True)
        suffix = "" if a.data == "fashion-mnist" else f"-{a.data}"
        with open(HERE / f"round{a.round}-r3gan{suffix}.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
