"""The second ruler: `wide:<dataset>`, another architecture trained with another recipe, stored beside
the domain extractor and reported next to it by `gankit eval`."""

import json
from pathlib import Path

import torch
from test_eval import TINY_MLP

from gankit import api
from gankit.cli import main
from gankit.metrics import extractors


def test_shift_flip_moves_and_mirrors_each_image_by_its_own_draw():
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float).view(2, 1, 6, 6)
    y = extractors.shift_flip(x, torch.Generator().manual_seed(0), pad=2)
    assert y.shape == x.shape and not torch.equal(y, x)
    for i in range(2):  # every output row is a (possibly mirrored) shifted window of the edge-padded input
        padded = torch.nn.functional.pad(x[i : i + 1], (2, 2, 2, 2), mode="replicate")[0, 0]
        windows = [padded[a : a + 6, b : b + 6] for a in range(5) for b in range(5)]
        assert any(torch.equal(y[i, 0], w) or torch.equal(y[i, 0], w.flip(-1)) for w in windows)
    z = extractors.shift_flip(x, torch.Generator().manual_seed(0), pad=2)
    assert torch.equal(y, z)  # seeded


def test_wide_extractor_trains_loads_and_is_reported_beside_the_domain_one(capsys, tiny_idx, tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))  # its own: test_eval expects no wide:mnist
    dom = extractors.train_extractor(f"mnist:{tiny_idx}", epochs=2, batch_size=16, log=lambda m: None)
    wide = extractors.train_extractor(f"mnist:{tiny_idx}", epochs=2, batch_size=16, log=lambda m: None, arch="wide")
    assert wide == extractors.wide_path("mnist") and wide != dom
    meta = json.loads(wide.with_suffix(".json").read_text())
    assert meta["arch"] == "WideNet/1" and meta["training"]["augment"] and meta["training"]["seed"] == 1
    ex = extractors.load_extractor("wide:mnist")
    f, logits = ex(torch.zeros(3, 1, 28, 28, dtype=torch.uint8))
    assert ex.name == "wide:mnist" and f.shape == (3, 256) and logits.shape == (3, 10)
    names = [r["name"] for r in extractors.available()]
    assert "domain:mnist" in names and "wide:mnist" in names

    run = api.train(
        "mlp-gan", overrides=[f"data.name=mnist:{tiny_idx}", "train.steps=6", *TINY_MLP], out=tmp_path / "r"
    )
    assert main(["eval", str(run), "--n", "30", "--metrics", "fid,kid"]) == 0
    out = capsys.readouterr().out
    assert "[domain:mnist] fid=" in out and "[wide:mnist] fid=" in out
    paths = [Path(line.split("result: ")[1].split()[0]) for line in out.splitlines() if line.startswith("result: ")]
    a, b = (json.loads(p.read_text()) for p in paths)
    assert a["card"]["extractor"]["name"] == "domain:mnist" and b["card"]["extractor"]["name"] == "wide:mnist"
    assert a["card"]["extractor"]["sha256"] != b["card"]["extractor"]["sha256"]
    assert a["card"]["reference"] == b["card"]["reference"] and a["card"]["n_fake"] == b["card"]["n_fake"]
    assert a["scores"]["fid"] != b["scores"]["fid"]
    assert main(["eval", str(run), "--n", "30", "--metrics", "fid", "--no-second"]) == 0
    assert "[wide:mnist]" not in capsys.readouterr().out
