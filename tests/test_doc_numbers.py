"""Numbers in the README, docs and preset comments that name a benchmark file must match that file.

Preset comments carry no scores (FIDs go stale when a preset changes); the parameter counts they quote must be the
built nets'.
"""

import json
import re
from pathlib import Path

import pytest

from gankit import config as C
from gankit.models import recipe_class, resolve_config

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BENCH = ROOT / "benchmarks"


def num(s: str) -> float:
    return float(s.replace("*", "").replace("−", "-").replace(",", "").strip())


def test_readme_results_are_the_quality_tables_cells():
    """The README's results table copies cells of docs/quality.md's budget table (which the test below ties to the
    JSONs): domain- and wide-FID at 5 and 20 CPU-minutes, recipe by recipe."""
    doc = (ROOT / "docs" / "quality.md").read_text()
    table = doc[doc.index("<!-- TABLE -->") : doc.index("<!-- /TABLE -->")].splitlines()
    head = [c.strip() for c in table[1].strip("|").split("|")]
    cell = {}
    for line in table[3:]:
        cells = dict(zip(head, (c.strip() for c in line.strip("|").split("|"))))
        cell[cells["recipe"], cells["CPU-min"]] = cells
    part = README[README.index("<!-- README-RESULTS -->") : README.index("<!-- /README-RESULTS -->")].splitlines()
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in part[3:]]
    assert len(rows) >= 5
    for recipe, d5, d20, w5, w20 in rows:
        assert d5 == cell[recipe, "5"]["FID (domain:fashion-mnist)"], recipe
        assert d20 == cell[recipe, "20"]["FID (domain:fashion-mnist)"], recipe
        assert w5 == cell[recipe, "5"]["FID (wide:fashion-mnist)"], recipe
        assert w20 == cell[recipe, "20"]["FID (wide:fashion-mnist)"], recipe


def test_book_bn_table_matches_its_json():
    res = json.loads((BENCH / "DCGAN64_BOOK_BN.json").read_text())
    doc = (ROOT / "docs" / "toolbox.md").read_text()
    assert "benchmarks/DCGAN64_BOOK_BN.json" in doc and "benchmarks/dcgan64_book_bn.py" in doc
    last = str(res["steps"])
    for preset, r in res["runs"].items():
        row = next(l for l in doc.splitlines() if l.startswith(f"| `{preset}` |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        s = r[last]
        assert num(cells[1]) == round(s["spread_across_latents"], 3) and num(cells[2]) == round(s["saturated"], 3)
        assert cells[3] == " / ".join(f"{v:.2f}" for v in s["D_acc_real_fake"])


@pytest.mark.parametrize("recipe, preset, comment", C.list_presets())
def test_preset_comments_quote_no_scores_and_true_parameter_counts(recipe, preset, comment):
    assert not re.search(r"\b(FID|KID|IS|PSNR|SSIM)\b\s*[\d.]", comment), comment
    counts = re.findall(r"\b([DG]) ([\d,]{7,})", comment)
    if counts:
        cfg = resolve_config(recipe, preset)
        shape = (3, cfg.data.size, cfg.data.size) if cfg.data.size else (1, 28, 28)
        r = recipe_class(recipe)(cfg, shape, 0)
        for net, n in counts:
            assert sum(p.numel() for p in getattr(r, net).parameters()) == int(n.replace(",", "")), (net, n)


def test_unet_docstring_count_is_the_tested_one():
    from gankit.nn import unet

    n = re.search(r"\(([\d,]+) parameters for RGB -> RGB", unet.__doc__).group(1)
    tested = re.search(r"n_params\(r\.G\) == ([\d_]+)", (ROOT / "tests" / "test_pix2pix.py").read_text()).group(1)
    assert int(n.replace(",", "")) == int(tested.replace("_", ""))


def _bench_module(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_quality_budget_tables_are_the_ones_their_jsons_make():
    """docs/quality.md's current tables (CPU budgets, 5 wall-minutes, Twemoji-32) are exactly what
    `benchmarks/budget_table.py --table-only` writes from the committed JSONs of today's defaults."""
    bt, qt = _bench_module("budget_table"), _bench_module("quality_tables")
    doc = (ROOT / "docs" / "quality.md").read_text()
    for marker, folder, data in qt.TABLES:
        rows = qt.rows_of(folder, data)
        assert rows, folder
        assert f"<!-- {marker} -->\n" + bt.table(rows, data) + f"<!-- /{marker} -->" in doc, folder


def test_quality_history_table_is_the_one_its_jsons_make():
    """The "how each default was chosen" table: earlier rows from benchmarks/history.jsonl, the defaults' rows from
    the current budget folders, each cell as `benchmarks/history_table.py` makes it."""
    ht = _bench_module("history_table")
    doc = (ROOT / "docs" / "quality.md").read_text()
    assert "<!-- HISTORY -->\n" + ht.table() + "<!-- /HISTORY -->" in doc
    rounds = {json.loads(line)["round"] for line in (BENCH / "history.jsonl").read_text().splitlines()}
    assert {src for *_, src in ht.ROWS if src} <= rounds


def test_no_earlier_rounds_in_the_tree():
    """History lives in git and benchmarks/history.jsonl: no earlier-round folders or screens under benchmarks/."""
    names = [p.name for p in BENCH.iterdir()]
    assert sorted(n for n in names if n.startswith("budget") and (BENCH / n).is_dir()) == [
        "budget",
        "budget-twemoji",
        "budget-wall",
    ]
    assert not (BENCH / "quality").exists()
    assert not [p for p in (ROOT / "docs" / "img").rglob("*") if p.suffix in (".py", ".sh")]


def test_cyclegan_identity_table_is_the_one_its_json_makes():
    """docs/translation.md's CycleGAN-against-the-identity table is what `benchmarks/cyclegan_identity.py` writes
    from its committed JSON."""
    ci = _bench_module("cyclegan_identity")
    res = json.loads((BENCH / "cyclegan_identity.json").read_text())
    doc = (ROOT / "docs" / "translation.md").read_text()
    assert "<!-- CYCLEGAN-TABLE -->\n" + ci.table(res) + "<!-- /CYCLEGAN-TABLE -->" in doc
    assert {r["preset"] for r in res["runs"]} == {"default", "identity start", "book"}
