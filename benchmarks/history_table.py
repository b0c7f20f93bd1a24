"""Write the "how each default was chosen" table of ``docs/quality.md``: each default's steps to where it is now, at
5 CPU-minutes on the domain ruler. Earlier rows come from ``benchmarks/history.jsonl`` (one summary row per run of
an earlier default or candidate; ``source`` names its JSON in git history), the defaults' rows from the current
budget folders. A test checks the table is exactly what this makes.  ``python benchmarks/history_table.py``"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
DOC = ROOT / "docs" / "quality.md"
CURRENT = {"fashion-mnist": "budget", "twemoji": "budget-twemoji"}  # the defaults' runs
ROWS = [  # (what the run was, data, recipe, round in history.jsonl; None = the current default's runs)
    ("cgan: conditional BN in G, projection D, hinge loss", "fashion-mnist", "cgan", "budget-cgan-before"),
    ("cgan: the same + mode seeking 0.3 (**default**)", "fashion-mnist", "cgan", None),
    ("mlp-gan: EMA 0.99", "fashion-mnist", "mlp-gan", "budget-mlp-gan-before"),
    ("mlp-gan: EMA 0.999", "fashion-mnist", "mlp-gan", "budget-mlp-gan-ema"),
    ("mlp-gan: EMA 0.999 + mode seeking 1.0 (**default**)", "fashion-mnist", "mlp-gan", None),
    ("mlp-gan: EMA 0.99", "twemoji", "mlp-gan", "budget-twemoji-before"),
    ("mlp-gan: EMA 0.999 + mode seeking 1.0 (**default**)", "twemoji", "mlp-gan", None),
    ("r3gan: the paper's CIFAR-10 settings (lr 2e-4, γ 0.05)", "fashion-mnist", "r3gan", "budget-r3gan-before"),
    ("r3gan: z mapped densely, lr 2e-3, γ 2", "fashion-mnist", "r3gan", "budget-r3gan-round6"),
    ("r3gan: + Adam β₂ from 0.9 to 0.99", "fashion-mnist", "r3gan", "budget-r3gan-round9"),
    ("r3gan: + batch 8", "fashion-mnist", "r3gan", "budget-r3gan-round10"),
    ("r3gan: + mode seeking 0.2", "fashion-mnist", "r3gan", "budget-r3gan-round11"),
    ("r3gan: + tanh on G's output (**default**)", "fashion-mnist", "r3gan", None),
    ("r3gan -p conditional: G's output linear", "fashion-mnist", "r3gan.conditional", "budget-r3gan-round11"),
    ("r3gan -p conditional: + tanh (**preset**)", "fashion-mnist", "r3gan.conditional", None),
    ("r3gan: G's output linear", "twemoji", "r3gan", "budget-twemoji-r3gan-round11"),
    ("r3gan: + tanh on G's output (**default**)", "twemoji", "r3gan", None),
    ("r3gan -p color32: + a fourth stage, γ 8 (**preset**)", "twemoji", "r3gan.color32", None),
]


def stats(xs: list[float]) -> str:
    sys.path.insert(0, str(BENCH))
    from budget_table import stats as s

    return s(xs)


def runs(data: str, recipe: str, source: str | None, minutes: float = 5.0) -> list[dict]:
    """(steps, domain FID, domain recall) of each run, whichever file it lives in."""
    if source is None:
        paths = sorted((BENCH / CURRENT[data]).glob(f"{data}-{recipe}-{minutes:g}m-s*.json"))
        out = []
        for p in paths:
            r = json.loads(p.read_text())
            s = r["scores"][f"domain:{data}"]
            out.append({"steps": r["steps"], "fid": s["fid"], "recall": s["recall"]})
        return out
    rows = [json.loads(line) for line in (BENCH / "history.jsonl").read_text().splitlines()]
    return [
        {"steps": r["steps"], "fid": r["fid_domain"], "recall": r["recall_domain"]}
        for r in rows
        if (r["round"], r["data"], r["recipe"], r["minutes"], r["clock"]) == (source, data, recipe, minutes, "cpu")
    ]


def table() -> str:
    lines = ["| at 5 CPU-minutes | data | seeds | steps | domain-FID | recall |", "|---|---|---|---|---|---|"]
    for label, data, recipe, source in ROWS:
        rs = runs(data, recipe, source)
        assert rs, (label, data, source)
        steps = stats([r["steps"] for r in rs]).split(".")[0]
        fid, rec = stats([r["fid"] for r in rs]), stats([r["recall"] for r in rs])
        lines.append(f"| {label} | {data} | {len(rs)} | {steps} | {fid} | {rec} |")
    return "\n".join(lines) + "\n"


def main():
    doc = DOC.read_text()
    pat = re.compile(r"<!-- HISTORY -->\n.*?<!-- /HISTORY -->\n", re.S)
    DOC.write_text(pat.sub(lambda m: f"<!-- HISTORY -->\n{table()}<!-- /HISTORY -->\n", doc, count=1))


if __name__ == "__main__":
    main()
