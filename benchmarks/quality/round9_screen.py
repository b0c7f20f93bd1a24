"""Round 9 screen of r3gan (docs/quality.md): train the r3gan default with overrides for the given CPU-minutes
(one thread, Fashion-MNIST or ``--data twemoji``; ``budget_table.run_one``), and score each mark's checkpoint with
the domain ruler (n = 10000): the EMA G and, with ``--raw``, the raw G too; ``--wide`` adds the wide ruler. Appends
one JSON row per mark to ``round9-r3gan.jsonl`` beside this file (``--round 10``: ``round10-r3gan.jsonl``;
``--data twemoji``: ``round10-r3gan-twemoji.jsonl``); the grids go to /tmp/roundN-NAME-DATA-sSEED/.

    PYTHONPATH=src python benchmarks/quality/round9_screen.py NAME 2,5 SEED [--raw] [--wide] [--round N] \
        [--data D] [key=value ...]
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from budget_table import run_one  # noqa: E402


def main():
    name, minutes, seed, *extra = sys.argv[1:]
    raw, wide = "--raw" in extra, "--wide" in extra
    extra = [e for e in extra if e not in ("--raw", "--wide")]
    rnd = "9"
    if "--round" in extra:
        i = extra.index("--round")
        rnd, extra = extra[i + 1], extra[:i] + extra[i + 2:]
    data = "fashion-mnist"
    if "--data" in extra:
        i = extra.index("--data")
        data, extra = extra[i + 1], extra[:i] + extra[i + 2:]
    spec = f"domain:{data}"
    marks = [float(m) for m in minutes.split(",")]
    out = Path("/tmp") / f"round{rnd}-{name}-{data}-s{seed}"
    out.mkdir(parents=True, exist_ok=True)
    for r in run_one("r3gan", data, marks, int(seed), 10000, out, extra, rulers="all" if wide else "domain", raw=raw):
        row = {"name": name, "seed": seed, "minutes": r["minutes"], "steps": r["steps"], "extra": extra}
        for key, s in (("ema", spec), ("raw", f"raw:{spec}"), ("wide", spec.replace("domain:", "wide:"))):
            if s in r["scores"]:
                row[key] = [round(r["scores"][s]["fid"], 2), round(r["scores"][s]["recall"], 3)]
        print(json.dumps(row), flush=True)
        suffix = "" if data == "fashion-mnist" else f"-{data}"
        with open(HERE / f"round{rnd}-r3gan{suffix}.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
