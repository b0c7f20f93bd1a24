"""Round 9 screen of r3gan (docs/quality.md): train the r3gan default with overrides for the given CPU-minutes
(one thread, Fashion-MNIST; ``budget_table.run_one``), and score each mark's checkpoint with the domain ruler
(n = 10000): the EMA G and, with ``--raw``, the raw G too. Appends one JSON row per mark to ``round9-r3gan.jsonl``
beside this file (``--round 10``: ``round10-r3gan.jsonl``); the grids go to /tmp/round9-NAME-sSEED/.

    PYTHONPATH=src python benchmarks/quality/round9_screen.py NAME 2,5 SEED [--raw] [--round N] [key=value ...]
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from budget_table import run_one  # noqa: E402

SPEC = "domain:fashion-mnist"


def main():
    name, minutes, seed, *extra = sys.argv[1:]
    raw = "--raw" in extra
    extra = [e for e in extra if e != "--raw"]
    rnd = "9"
    if "--round" in extra:
        i = extra.index("--round")
        rnd, extra = extra[i + 1], extra[:i] + extra[i + 2:]
    marks = [float(m) for m in minutes.split(",")]
    out = Path("/tmp") / f"round{rnd}-{name}-s{seed}"
    out.mkdir(parents=True, exist_ok=True)
    for r in run_one("r3gan", "fashion-mnist", marks, int(seed), 10000, out, extra, rulers="domain", raw=raw):
        row = {"name": name, "seed": seed, "minutes": r["minutes"], "steps": r["steps"], "extra": extra}
        for key, spec in (("ema", SPEC), ("raw", f"raw:{SPEC}")):
            if spec in r["scores"]:
                row[key] = [round(r["scores"][spec]["fid"], 2), round(r["scores"][spec]["recall"], 3)]
        print(json.dumps(row), flush=True)
        with open(HERE / f"round{rnd}-r3gan.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
