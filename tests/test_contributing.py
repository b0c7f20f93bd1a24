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

from gankit import api, pipelines
from gankit import config as C
from gankit.data import load
from gankit.models import RECIPES
from gankit.pipelines import PIPELINES

DOC = Path(__file__).resolve().parents[1] / "docs" / "CONTRIBUTING.md"
FMNIST = Path("/usr/share/datasets/fashion-mnist")


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), re.S)


def code_of(path: str) -> str:
    return next(b for b in blocks("python") if b.startswith(f"# src/gankit/{path}"))


def example_module(path: str = "models/hinge_mlp.py") -> types.ModuleType:
    """The page's code for ``src/gankit/<path>`` run as that module of the package (its classes register
    themselves as the real module's would)."""
    code = code_of(path)
    assert len(code.strip().splitlines()) < 60, "a worked example must stay under 60 lines"
    name = "gankit." + path[: -len(".py")].replace("/", ".")
    mod = types.ModuleType(name)
    mod.__package__ = name.rsplit(".", 1)[0]  # its relative imports resolve as they would in the package
    sys.modules[mod.__name__] = mod
    try:
        exec(compile(code, str(DOC), "exec"), mod.__dict__)
    finally:
        del sys.modules[mod.__name__]
    return mod


def add_preset(tmp_path, monkeypatch, recipe: str, comment: str) -> Path:
    """The page's default preset of ``recipe`` (the yaml block that starts with ``comment``) in a presets folder that
    also holds the bundled ones, as a contributor would add it."""
    text = next(b for b in blocks("yaml") if b.startswith(comment))
    folder = tmp_path / "presets"
    if not folder.is_dir():
        folder.mkdir()
        for f in C.presets_dir().glob("*.yaml"):
            (folder / f.name).write_text(f.read_text())
        monkeypatch.setattr(C, "presets_dir", lambda: folder)
    (folder / f"{recipe}.default.yaml").write_text(text)
    return folder / f"{recipe}.default.yaml"


SMALL = {
    "data": {"limit": 512},
    "train": {"steps": 300, "log_every": 50, "sample_every": 300, "ckpt_every": 300, "device": "cpu", "threads": 1},
}


@pytest.fixture
def registry():
    """RECIPES and PIPELINES as they were before the test: the families and modalities it defines leave with it."""
    saved = dict(RECIPES), dict(PIPELINES)
    yield
    for table, old in zip((RECIPES, PIPELINES), saved):
        table.clear()
        table.update(old)


def test_the_example_is_short_and_imports_only_downwards():
    code = code_of("models/hinge_mlp.py")
    imports = re.findall(r"^from (\S+) import", code, re.M)
    assert set(imports) <= {"__future__", "math", "dataclasses", "torch", "..", ".base"}, imports
    assert ".backward(" not in code and "zero_grad" not in code and ".step(" not in code


@pytest.mark.parametrize("recipe, comment", [("hinge-mlp", "# Hinge-loss GAN"), ("denoise-mlp", "# Denoising GAN")])
def test_the_example_presets_keep_the_preset_rules(tmp_path, monkeypatch, registry, recipe, comment):
    """Each example's default preset sets no model key (the Options dataclass is it) and only the data and train
    keys that differ from DataConfig's and TrainConfig's, as tests/test_presets.py asks of every bundled preset."""
    path = "models/hinge_mlp.py" if recipe == "hinge-mlp" else "models/denoise_mlp.py"
    cls = RECIPES[recipe] if recipe in RECIPES else None
    cls = cls or next(v for v in vars(example_module(path)).values() if getattr(v, "name", None) == recipe)
    preset = add_preset(tmp_path, monkeypatch, recipe, comment)
    assert "model" not in yaml.safe_load(preset.read_text())
    (layer,) = C.preset_layers(cls, "default")
    assert layer.restated == [] and layer.changes
    assert any(r == recipe and desc.startswith(comment[2:]) for r, _, desc in C.list_presets())


@pytest.mark.slow
@pytest.mark.skipif(not FMNIST.is_dir(), reason="Fashion-MNIST IDX files not installed")
def test_the_example_family_trains_and_beats_an_untrained_generator(tmp_path, monkeypatch, registry):
    mod = example_module()
    cls = mod.HingeMLP
    assert RECIPES[cls.name] is cls  # defining the family registered it: no table was edited
    add_preset(tmp_path, monkeypatch, cls.name, "# Hinge-loss GAN")
    cfg = C.resolve(cls, "default", overrides=SMALL)
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


def test_the_new_modality_example_imports_only_downwards():
    for path, allowed in (
        ("models/denoise_mlp.py", {"__future__", "math", "dataclasses", "torch", "..", ".base"}),
        ("pipelines/denoise.py", {"__future__", ".base"}),
    ):
        code = code_of(path)
        assert set(re.findall(r"^from (\S+) import", code, re.M)) <= allowed, path
        assert ".backward(" not in code and "zero_grad" not in code and ".step(" not in code


@pytest.mark.slow
@pytest.mark.skipif(not FMNIST.is_dir(), reason="Fashion-MNIST IDX files not installed")
def test_a_family_of_a_new_modality_touches_only_its_own_files(tmp_path, monkeypatch, registry, capsys):
    """The page's denoising family and its "denoise" pipeline: defined (no table edited), trained, found by the
    pipeline lookup, exported by `gankit export` and served by the studio, and better than doing nothing."""
    import numpy as np
    import onnxruntime as ort
    from fastapi.testclient import TestClient

    from gankit.cli import main
    from gankit.export import read_metadata
    from gankit.serve.app import create_app
    from gankit.serve.panels import Panel, load_models

    fam, pipe_mod = example_module("models/denoise_mlp.py"), example_module("pipelines/denoise.py")
    cls, Pipe = fam.DenoiseMLP, pipe_mod.DenoisePipeline
    assert RECIPES["denoise-mlp"] is cls and PIPELINES["denoise"] is Pipe
    assert pipelines.pipeline_for("denoise-mlp") is Pipe
    add_preset(tmp_path, monkeypatch, cls.name, "# Denoising GAN")
    run = api.trainer(C.resolve(cls, "default", overrides=SMALL), out=tmp_path / "runs", progress=False).fit()
    assert (run / "samples").is_dir()

    pipe = pipelines.load(run)  # the checkpoint's modality picks the pipeline
    assert type(pipe) is Pipe and pipe.modality == "denoise"
    clean = load(pipe.config.data).batch(torch.arange(256))["image"]
    noisy = (clean + 0.5 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(1))).clamp(-1, 1)
    err, err_identity = (pipe(noisy) - clean).abs().mean(), (noisy - clean).abs().mean()
    assert err < 0.7 * err_identity, (float(err), float(err_identity))

    onnx_file = tmp_path / "denoise.onnx"
    assert main(["export", str(run), "--format", "onnx", "--out", str(onnx_file)]) == 0
    assert "in: noisy" in capsys.readouterr().out and read_metadata(onnx_file)["recipe"] == "denoise-mlp"
    sess = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"noisy": noisy[:3].numpy()})[0]
    assert np.abs(got - pipe(noisy[:3]).numpy()).max() <= 1e-4

    assert main(["sample", str(run)]) == 2  # a denoiser does not sample from noise: one line says what it is
    err_line = capsys.readouterr().err
    assert "is a denoise model, not a noise model" in err_line and len(err_line.strip().splitlines()) == 1

    served = load_models([run])  # the studio serves it (the run's pictures: no panel of its own)
    (panel,) = served.values()
    assert type(panel) is Panel and panel.info()["kind"] == "denoise" and panel.info()["family"] == "denoise-mlp"
    client = TestClient(create_app(None, models=served))
    files = [f["name"] for f in client.get(f"/api/models/{panel.id}/run").json()["files"]]
    assert "loss.png" in files and any(f.startswith("samples/") for f in files)
    r = client.get(f"/api/models/{panel.id}/sample.png")
    assert r.status_code == 400 and "denoise model" in r.json()["error"]
