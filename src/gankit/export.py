"""``gankit export CKPT --format onnx|torchscript --out FILE``: a checkpoint's generator as a standalone model file.

Only the generator is exported (its EMA copy when the checkpoint has one), with a dynamic batch dimension (and
dynamic height/width for the fully convolutional image-to-image nets). What goes in and comes out — names, shapes,
dtypes, value ranges, class names — is written into the file's metadata (ONNX ``metadata_props`` key ``gankit``;
TorchScript extra file ``gankit.json``), so the file can be used without gankit.

ONNX uses PyTorch's TorchScript-based exporter (``dynamo=False``): the newer ``torch.export`` exporter needs the
``onnxscript`` package, which the ``export`` extra does not install. Opset ``OPSET`` unless ``--opset`` says else.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .errors import GankitError
from .fileio import atomic_path, gankit_version

OPSET = 17
FORMATS = ("onnx", "torchscript")


class NoiseGenerator(nn.Module):
    """``z`` (and ``label`` for a conditional model) -> images, as ``Recipe.generate`` computes them."""

    def __init__(self, recipe, G: nn.Module):
        super().__init__()
        self.G = G
        self._generate = recipe.generate  # a bound method of a plain object: not registered as a submodule

    def forward(self, z: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        return self._generate(self.G, z, label).float()


@dataclass
class Exportable:
    """A module ready to trace, example inputs, and what its inputs and outputs mean."""

    module: nn.Module
    args: tuple
    inputs: list[dict]
    outputs: list[dict]
    dynamic_axes: dict[str, dict[int, str]]
    meta: dict = field(default_factory=dict)

    @property
    def input_names(self) -> list[str]:
        return [i["name"] for i in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [o["name"] for o in self.outputs]


def _meta(c, ema: bool, **extra) -> dict:
    cfg = c.config
    return {"gankit": gankit_version(), "torch": torch.__version__, "recipe": cfg["recipe"],
            "preset": cfg.get("preset"), "step": c.step, "checkpoint": str(c.path), "ema": ema,
            "data": (c.state.get("data_info") or {}).get("name"), **extra}


def exportable(ckpt_path, direction: str | None = None, batch: int = 2) -> Exportable:
    """The generator of any checkpoint, wrapped for export (eval mode, CPU, EMA weights when present)."""
    from .models import recipe_class
    from .train import checkpoint as ckpt

    from .models.translation import TranslationRecipe

    c = ckpt.load(ckpt_path)
    recipe = c.config["recipe"]
    cls = recipe_class(recipe)
    g = torch.Generator().manual_seed(0)
    img_range = {"dtype": "float32", "range": [-1.0, 1.0], "layout": "NCHW"}
    if recipe == "srgan":
        from .upscale import load_model

        m = load_model(c.path)
        C = (c.state.get("data_info", {}).get("shape") or [3])[0]
        if direction:
            raise GankitError("--direction applies to pix2pix and cyclegan checkpoints only")
        s = m.scale
        x = torch.rand(batch, C, 24, 24, generator=g) * 2 - 1
        return Exportable(m.G.eval(), (x,),
                          [{"name": "lr", "shape": ["batch", C, "height", "width"], **img_range}],
                          [{"name": "sr", "shape": ["batch", C, f"{s}*height", f"{s}*width"], **img_range}],
                          {"lr": {0: "batch", 2: "height", 3: "width"}, "sr": {0: "batch", 2: "out_height", 3: "out_width"}},
                          _meta(c, m.ema, scale=s))
    if issubclass(cls, TranslationRecipe):
        from .translate import load_translator

        tr = load_translator(c.path, direction)
        net_name = "G" if tr.net is tr.recipe.G else "F"
        ema = net_name in c.state.get("ema_nets", [])
        if ema:
            tr.net.load_state_dict(c.net(f"ema.{net_name}"))
        C, S = tr.channels, tr.size
        x = torch.rand(batch, C, S, S, generator=g) * 2 - 1
        return Exportable(tr.net.eval(), (x,),
                          [{"name": "image", "shape": ["batch", C, "height", "width"], **img_range,
                            "note": f"height and width multiples of {tr.stride}; trained at {S} x {S}"}],
                          [{"name": "translated", "shape": ["batch", C, "height", "width"], **img_range}],
                          {"image": {0: "batch", 2: "height", 3: "width"},
                           "translated": {0: "batch", 2: "height", 3: "width"}},
                          _meta(c, ema, direction=tr.direction, background=tr.background))
    if cls.use_instead:
        raise GankitError(f"{c.path}: gankit export does not know how to export {recipe} checkpoints yet")
    from . import api

    gen = api.load(c.path)
    r = gen.recipe
    z = torch.randn(batch, r.latent_dim, generator=g)
    inputs = [{"name": "z", "shape": ["batch", r.latent_dim], "dtype": "float32", "distribution": "standard normal"}]
    args: tuple = (z,)
    axes = {"z": {0: "batch"}, "image": {0: "batch"}}
    if r.conditional:
        args = (z, torch.arange(batch) % max(1, r.num_classes))
        inputs.append({"name": "label", "shape": ["batch"], "dtype": "int64", "range": [0, r.num_classes - 1]})
        axes["label"] = {0: "batch"}
    out = [{"name": "image", "shape": ["batch", *r.shape], **img_range}]
    return Exportable(NoiseGenerator(r, gen.G).eval(), args, inputs, out, axes, _meta(c, gen.ema, classes=gen.classes))


def export(ckpt_path, fmt: str, out, opset: int = OPSET, direction: str | None = None) -> tuple[Path, dict]:
    """Write the generator of ``ckpt_path`` to ``out`` (atomically); returns the path and the metadata written."""
    if fmt not in FORMATS:
        raise GankitError(f"--format must be one of {', '.join(FORMATS)}, got '{fmt}'")
    ex = exportable(ckpt_path, direction)
    for p in ex.module.parameters():
        p.requires_grad_(False)
    meta = {**ex.meta, "format": fmt, "inputs": ex.inputs, "outputs": ex.outputs}
    out = Path(out)
    if fmt == "onnx":
        meta["opset"] = opset
        _onnx(ex, out, opset, meta)
    else:
        _torchscript(ex, out, meta)
    return out, meta


def _onnx(ex: Exportable, out: Path, opset: int, meta: dict) -> None:
    import io

    try:
        import onnx
    except ImportError:
        raise GankitError("ONNX export needs the onnx package: pip install 'gankit[export]'") from None
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter announces its deprecation and traces with warnings
        torch.onnx.export(ex.module, ex.args, buf, dynamo=False, opset_version=opset, input_names=ex.input_names,
                          output_names=ex.output_names, dynamic_axes=ex.dynamic_axes, do_constant_folding=True)
    model = onnx.load_from_string(buf.getvalue())
    model.doc_string = f"gankit {meta['recipe']} generator (step {meta['step']}); metadata key 'gankit' describes it"
    model.producer_name = "gankit"
    model.producer_version = meta["gankit"]
    for k, v in (("gankit", json.dumps(meta)), ("inputs", json.dumps(ex.inputs)), ("outputs", json.dumps(ex.outputs))):
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(model)
    with atomic_path(out) as tmp:
        onnx.save(model, str(tmp))


def _torchscript(ex: Exportable, out: Path, meta: dict) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(ex.module, ex.args, check_trace=True)
    with atomic_path(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # PyTorch marks TorchScript deprecated; ONNX is the future-proof format
        torch.jit.save(traced, str(tmp), _extra_files={"gankit.json": json.dumps(meta)})


def read_metadata(path) -> dict:
    """The ``gankit`` metadata of an exported file (ONNX or TorchScript)."""
    path = Path(path)
    if not path.is_file():
        raise GankitError(f"{path}: no such file")
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"PK"):  # TorchScript archives are zip files
        extra = {"gankit.json": ""}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            torch.jit.load(str(path), _extra_files=extra)
        return json.loads(extra["gankit.json"])
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    props = {p.key: p.value for p in model.metadata_props}
    if "gankit" not in props:
        raise GankitError(f"{path}: no gankit metadata in this ONNX file")
    return json.loads(props["gankit"])
