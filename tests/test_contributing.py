"""docs/CONTRIBUTING.md's worked example is real code: taken out of the page, registered, trained, and better than
an untrained generator. If the page's code or the protocol it describes breaks, this fails."""
from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
import torch
import yaml

from gankit import api
from gankit import config as C
from gankit.models import RECIPES
from gankit.data import load

DOC = Path(__file__).resolve().parents[1] / "docs" / "CONTRIBUTING.md"
FMNIST = Path("/usr/share/datasets/fashion-mnist")


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), re.S)


def example_module() -> types.ModuleType:
    code = next(b for b in blocks("python") if b.startswith("# src/gankit/models/hinge_mlp.py"))
    assert len(code.strip().splitlines()) < 60, "the worked example must stay under 60 lines"
    mod = types.ModuleType("gankit.models.hinge_mlp")
    mod.__package__ = "gankit.models"  # its relative imports resolve as they would in the package
    sys.modules[mod.__name__] = mod
    try:
        exec(compile(code, str(DOC), "exec"), mod.__dict__)
    finally:
        del sys.modules[mod.__name__]
    return mod


def test_the_example_is_short_and_imports_only_downwards():
    code = next(b for b in blocks("python") if b.startswith("# src/gankit/models/hinge_mlp.py"))
    imports = re.findall(r"^from (\S+) import", code, re.M)
    assert set(imports) <= {"__future__", "math", "dataclasses", "torch", "..", ".base"}, imports
    assert ".backward(" not in code and "zero_grad" not in code and ".step(" not in code


def register_example(tmp_path, monkeypatch) -> types.ModuleType:
    """The page's family in RECIPES and its preset file in a presets folder, as a contributor would add them."""
    mod = example_module()
    monkeypatch.setitem(RECIPES, mod.HingeMLP.name, mod.HingeMLP)
    text = next(b for b in blocks("yaml") if b.startswith("# Hinge-loss GAN"))
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "hinge-mlp.default.yaml").write_text(text)
    monkeypatch.setattr(C, "presets_dir", lambda: tmp_path / "presets")
    return mod


def test_the_example_preset_keeps_the_preset_rules(tmp_path, monkeypatch):
    """Its default preset sets no model key (the Options dataclass is it) and only the data and train keys that
    differ from DataConfig's and TrainConfig's, as tests/test_presets.py asks of every bundled preset."""
    cls = register_example(tmp_path, monkeypatch).HingeMLP
    assert "model" not in yaml.safe_load((tmp_path / "presets" / "hinge-mlp.default.yaml").read_text())
    (layer,) = C.preset_layers(cls, "default")
    assert layer.restated == [] and layer.changes
    assert C.list_presets()[0][2].startswith("Hinge-loss GAN")


@pytest.mark.slow
@pytest.mark.skipif(not FMNIST.is_dir(), reason="Fashion-MNIST IDX files not installed")
def test_the_example_family_trains_and_beats_an_untrained_generator(tmp_path, monkeypatch):
    mod = register_example(tmp_path, monkeypatch)
    cls = mod.HingeMLP
    cfg = C.resolve(cls, "default", overrides={"data": {"limit": 512},
                                               "train": {"steps": 300, "log_every": 50, "sample_every": 300,
                                                         "ckpt_every": 300, "device": "cpu", "threads": 1}})
    assert isinstance(cfg.model, mod.Options) and cfg.model.hidden == 256

    run = api.trainer(cfg, out=tmp_path / "runs", progress=False).fit()
    rows = [line for line in (run / "metrics.jsonl").read_text().splitlines() if '"loss/G"' in line]
    assert len(rows) == 6 and (run / "samples").is_dir()

    real = load(cfg.data).batch(torch.arange(512))["image"]
    gen = api.load(run)  # the registered family loads like any other (EMA G)
    untrained = cls(cfg, gen.recipe.shape, 0, "cpu")

    def score(G) -> float:
        """Distance of the samples' mean image and per-pixel spread to the data's (lower is better)."""
        x = gen.recipe.sample(G, gen.latents(512, seed=1))
        return float((x.mean(0) - real.mean(0)).norm() + (x.std(0) - real.std(0)).norm())

    trained, fresh = score(gen.G), score(untrained.G)
    assert trained < 0.5 * fresh, (trained, fresh)
