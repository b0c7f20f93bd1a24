"""Write the current budget tables of ``docs/quality.md`` from the committed JSONs of today's defaults: each table
sits between ``<!-- MARKER -->`` and ``<!-- /MARKER -->`` and is exactly what ``budget_table.table`` makes of its
folder (a test checks that). Earlier runs are not read: their summaries are in ``benchmarks/history.jsonl``.
Run after any budget run:  ``python benchmarks/quality_tables.py``."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "quality.md"
TABLES = [  # marker in docs/quality.md, folder under benchmarks/ (the current defaults' runs only), data set
    ("TABLE", "budget", "fashion-mnist"),
    ("TABLE-WALL", "budget-wall", "fashion-mnist"),
    ("TABLE-TWEMOJI", "budget-twemoji", "twemoji"),
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
