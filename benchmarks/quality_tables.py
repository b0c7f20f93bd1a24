"""Write the budget tables of ``docs/quality.md`` from the committed JSONs: each table sits between
``<!-- MARKER -->`` and ``<!-- /MARKER -->`` and is exactly what ``budget_table.table`` makes of its folder (a test
checks that). Run after any budget run:  ``python benchmarks/quality_tables.py``."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "quality.md"
TABLES = [  # marker in docs/quality.md, folder under benchmarks/, data set
    ("TABLE", "budget", "fashion-mnist"),
    ("TABLE-BEFORE", "budget-cgan-before", "fashion-mnist"),
    ("TABLE-R3GAN-BEFORE", "budget-r3gan-before", "fashion-mnist"),
    ("TABLE-R3GAN-ROUND6", "budget-r3gan-round6", "fashion-mnist"),
    ("TABLE-R3GAN-ROUND9", "budget-r3gan-round9", "fashion-mnist"),
    ("TABLE-R3GAN-ROUND11", "budget-r3gan-round11", "fashion-mnist"),
    ("TABLE-R3GAN-ROUND10", "budget-r3gan-round10", "fashion-mnist"),
    ("TABLE-MLP-GAN-BEFORE", "budget-mlp-gan-before", "fashion-mnist"),
    ("TABLE-MLP-GAN-EMA", "budget-mlp-gan-ema", "fashion-mnist"),
    ("TABLE-WALL", "budget-wall", "fashion-mnist"),
    ("TABLE-WALL-BEFORE", "budget-wall-before", "fashion-mnist"),
    ("TABLE-WALL-EARLIER", "budget-wall-earlier", "fashion-mnist"),
    ("TABLE-WALL-R3GAN-ROUND11", "budget-wall-r3gan-round11", "fashion-mnist"),
    ("TABLE-WALL-R3GAN-ROUND10", "budget-wall-r3gan-round10", "fashion-mnist"),
    ("TABLE-TWEMOJI", "budget-twemoji", "twemoji"),
    ("TABLE-TWEMOJI-BEFORE", "budget-twemoji-before", "twemoji"),
]


def rows_of(folder: str, data: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((ROOT / "benchmarks" / folder).glob(f"{data}-*.json"))]


def main():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import budget_table as bt

    doc = DOC.read_text()
    for marker, folder, data in TABLES:
        rows = rows_of(folder, data)
        if not rows:
            print(f"skipped {marker}: no {data} JSONs in benchmarks/{folder}")
            continue
        t = bt.table(rows, data)
        (ROOT / "benchmarks" / folder / f"{data}-table.md").write_text(t)
        pat = re.compile(rf"<!-- {marker} -->\n.*?<!-- /{marker} -->\n", re.S)
        if not pat.search(doc):
            print(f"skipped {marker}: no <!-- {marker} --> ... <!-- /{marker} --> in {DOC.name}")
            continue
        doc = pat.sub(lambda m, marker=marker, t=t: f"<!-- {marker} -->\n{t}<!-- /{marker} -->\n", doc, count=1)
    DOC.write_text(doc)


if __name__ == "__main__":
    main()
