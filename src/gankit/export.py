"""``gankit export CKPT --format onnx|torchscript --out FILE``: a checkpoint's generator as a standalone model file.

The checkpoint's pipeline (``gankit.pipelines``) says what is exported (``Pipeline.exportable``): the generator (its
EMA copy when the checkpoint has one), with a dynamic batch dimension (and dynamic height/width for the fully
convolutional image-to-image nets); a text model takes the caption embedding as an input. What goes in and comes
out — names, shapes, dtypes, value ranges, class names — is written into the file's metadata (ONNX
``metadata_props`` key ``gankit``; TorchScript extra file ``gankit.json``), so the file can be used without gankit.

ONNX uses PyTorch's TorchScript-based exporter (``dynamo=False``): the newer ``torch.export`` exporter needs the
``onnxscript`` package, which the ``export`` extra does not install. Opset ``OPSET`` unless ``--opset`` says else.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from .errors import GankitError
from .fileio import atomic_path
from .pipelines import Exportable, load

OPSET = 17
FORMATS = ("onnx", "torchscript")


def exportable(ckpt_path, direction: str | None = None, batch: int = 2) -> Exportable:
    """The generator of any checkpoint, as its pipeline exports it (eval mode, CPU, EMA weights when present)."""
    return load(ckpt_path, "cpu", direction=direction).exportable(batch)


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
        torch.onnx.export(
            ex.module,
            ex.args,
            buf,
            dynamo=False,
            opset_version=opset,
            input_names=ex.input_names,
            output_names=ex.output_names,
            dynamic_axes=ex.dynamic_axes,
            do_constant_folding=True,
        )
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
        warnings.simplefilter(
            "ignore", FutureWarning
        )  # PyTorch marks TorchScript deprecated; ONNX is the future-proof format
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
