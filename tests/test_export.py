"""`gankit export`: every family's generator runs in onnxruntime (and as TorchScript) and matches PyTorch; each
pipeline (noise, translate, upscale, text, voxel, age) says what it exports.

Tolerance: max |onnxruntime - PyTorch| <= 1e-4 on outputs in [-1, 1] (float32; measured ~5e-7 at most), at a batch
size (3) other than the one traced (2), so the batch dimension really is dynamic."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import gankit
from studio_runs import train_runs

from gankit.cli import main as cli
from gankit.export import OPSET, export, exportable, read_metadata

TOL = 1e-4
FAMILIES = ("dcgan", "cgan", "mlp-gan", "lsgan", "pix2pix", "cyclegan", "srgan")
MORE = ("stackgan", "gan3d", "agecgan-encoder")  # text, voxel and ageing models: inputs and outputs of their own


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        return train_runs(tmp_path_factory.mktemp("export"), FAMILIES + MORE)


def reference(run, batch=3, direction=None):
    ex = exportable(run, direction, batch=batch)
    with torch.no_grad():
        return ex, ex.module(*ex.args).numpy()


@pytest.mark.parametrize("family", FAMILIES)
def test_onnx_matches_pytorch_with_a_dynamic_batch(runs, family, tmp_path):
    import onnxruntime as ort

    out, meta = export(runs[family], "onnx", tmp_path / f"{family}.onnx")
    ex, ref = reference(runs[family], batch=3)
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ex.input_names
    assert [o.name for o in sess.get_outputs()] == ex.output_names
    got = sess.run(None, {n: a.numpy() for n, a in zip(ex.input_names, ex.args)})[0]
    assert got.shape == ref.shape and ref.shape[0] == 3
    assert np.abs(got - ref).max() <= TOL
    assert ref.min() >= -1 and ref.max() <= 1 and ref.std() > 0  # a real image batch, not a constant
    m = read_metadata(out)
    assert m["recipe"] == family and m["opset"] == OPSET and m["format"] == "onnx"
    assert m["outputs"][0]["range"] == [-1.0, 1.0]
    if family == "cgan":
        assert m["inputs"][1] == {"name": "label", "shape": ["batch"], "dtype": "int64", "range": [0, 1]}
        assert m["classes"] == ["green", "red"]
    if family == "srgan":  # fully convolutional: another input size works too, x4
        x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 10, 14)).astype(np.float32)
        assert sess.run(None, {"lr": x})[0].shape == (1, 3, 40, 56)


def test_text_voxel_and_ageing_models_export_what_their_pipeline_says(runs, tmp_path):
    """Every pipeline says how it exports: a text model takes the caption embedding and its noise (one input, its
    parts named), a 3D model gives occupancies in [0, 1], an ageing model its decoder (z, age bin)."""
    import onnxruntime as ort

    from gankit.pipelines import TextPipeline

    for family, names, output, low in (
        ("stackgan", ["embedding", "noise"], "image", -1.0),
        ("gan3d", ["z", "label"], "voxels", 0.0),
        ("agecgan-encoder", ["z", "label"], "image", -1.0),
    ):
        out, meta = export(runs[family], "onnx", tmp_path / f"{family}.onnx")
        ex, ref = reference(runs[family], batch=3)
        sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        assert [i.name for i in sess.get_inputs()] == ex.input_names == names, family
        got = sess.run(None, {n: a.numpy() for n, a in zip(ex.input_names, ex.args)})[0]
        assert got.shape == ref.shape and ref.shape[0] == 3 and np.abs(got - ref).max() <= TOL, family
        assert meta["outputs"][0]["name"] == output and meta["outputs"][0]["range"] == [low, 1.0], family
        assert ref.min() >= low and ref.max() <= 1 and ref.std() > 0, family
    assert read_metadata(tmp_path / "gan3d.onnx")["outputs"][0]["layout"] == "NCDHW"
    # a caption through the exported text model: its embedding and noise give the pipeline's own picture
    pipe = TextPipeline.from_checkpoint(runs["stackgan"])
    emb, noise = pipe.embed(["a red apple", "a blue car"]), pipe.noise(2, seed=3)
    want = pipe.generate(emb, noise=noise).numpy()
    parts = read_metadata(tmp_path / "stackgan.onnx")["inputs"][1]["parts"]
    assert list(parts) == list(noise) and [b - a for a, b in parts.values()] == [v.shape[1] for v in noise.values()]
    sess = ort.InferenceSession(str(tmp_path / "stackgan.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"embedding": emb.numpy(), "noise": torch.cat(list(noise.values()), 1).numpy()})[0]
    assert np.abs(got - want).max() <= TOL and np.abs(want[0] - want[1]).mean() > 1e-3


@pytest.mark.parametrize("family", ["dcgan", "cgan", "cyclegan"])
def test_torchscript_matches_pytorch(runs, family, tmp_path):
    out, _ = export(runs[family], "torchscript", tmp_path / f"{family}.pt")
    ex, ref = reference(runs[family], batch=3)
    m = torch.jit.load(str(out))
    with torch.no_grad():
        got = m(*ex.args).numpy()
    assert np.abs(got - ref).max() <= TOL
    assert read_metadata(out)["recipe"] == family


def test_exports_ema_weights_and_the_other_cyclegan_direction(runs, tmp_path):
    from gankit.train import checkpoint as ckpt

    c = ckpt.load(runs["dcgan"])
    assert "G" in c.state["ema_nets"]
    ex = exportable(runs["dcgan"])
    ema = c.net("ema.G")
    k = next(k for k in ema if k.endswith("weight"))
    assert torch.equal(ex.module.G.state_dict()[k], ema[k]) and not torch.equal(ema[k], c.net("net.G")[k])
    fwd, _ = reference(runs["cyclegan"], direction="AtoB")
    back, _ = reference(runs["cyclegan"], direction="BtoA")
    with torch.no_grad():
        assert not torch.allclose(fwd.module(fwd.args[0]), back.module(fwd.args[0]))
    _, meta = export(runs["cyclegan"], "onnx", tmp_path / "b.onnx", direction="BtoA")
    assert meta["direction"] == "BtoA"


def test_cli_export_and_bad_input(runs, tmp_path, capsys):
    out = tmp_path / "g.onnx"
    p = gankit("export", runs["dcgan"], "--format", "onnx", "--out", out)
    assert out.is_file() and "opset 17" in p.stdout and "z ['batch', 100]" in p.stdout
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically: no temporary left behind
    for args, msg in (
        (["--format", "tflite"], "--format must be one of"),
        (["--format", "onnx", "--direction", "BtoA"], "--direction applies"),
    ):
        rc = cli(["export", str(runs["srgan"]), *args, "--out", str(tmp_path / "x")])
        err = capsys.readouterr().err
        assert rc == 2 and msg in err and len(err.strip().splitlines()) == 1
    rc = cli(["export", str(tmp_path / "missing"), "--format", "onnx", "--out", str(tmp_path / "x")])
    assert rc == 2 and "checkpoint not found" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    meta = json.loads(json.dumps(read_metadata(out)))
    assert meta["inputs"][0]["distribution"] == "standard normal"
