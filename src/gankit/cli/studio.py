"""``gankit serve`` (the local web studio) and ``gankit export`` (a generator to ONNX / TorchScript)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..errors import GankitError


def serve(
    ckpts: List[Path] = typer.Argument(..., metavar="RUN_OR_CKPT...", help="run dirs or checkpoints to serve"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (default: this machine only)"),
    port: int = typer.Option(8000, "--port"),
    device: str = typer.Option("cpu", "--device"),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch CPU threads (default: torch's choice)"),
    max_upload_mb: float = typer.Option(10.0, "--max-upload-mb", help="largest accepted upload, in MB"),
    max_pixels: int = typer.Option(16_000_000, "--max-pixels", help="largest accepted upload, in pixels"),
):
    """A web page to try the models: sample, slide through latents, interpolate, translate and upscale uploads."""
    try:
        from ..serve.app import serve as run
        from ..serve.uploads import Limits
    except ImportError as e:
        raise GankitError(
            f"gankit serve needs the serve extra ({e.name} is missing): pip install 'gankit[serve]'"
        ) from None
    if not 1 <= port <= 65535:
        raise GankitError(f"--port must be in 1..65535, got {port}")
    if max_upload_mb <= 0 or max_pixels <= 0:
        raise GankitError("--max-upload-mb and --max-pixels must be positive")
    run(
        ckpts,
        host=host,
        port=port,
        device=device,
        threads=threads,
        limits=Limits(int(max_upload_mb * 1024 * 1024), max_pixels),
        log=typer.echo,
    )


def export(
    ckpt_path: Path = typer.Argument(..., metavar="CKPT", help="run dir, checkpoints dir or step folder"),
    fmt: str = typer.Option(..., "--format", help="onnx or torchscript"),
    out: Path = typer.Option(..., "--out", help="the model file to write"),
    opset: int = typer.Option(17, "--opset", help="ONNX opset version"),
    direction: Optional[str] = typer.Option(None, "--direction", help="cyclegan: AtoB or BtoA (default: as trained)"),
):
    """Write the generator (EMA weights when present) as ONNX or TorchScript, with its inputs described inside."""
    from ..export import export as run

    path, meta = run(ckpt_path, fmt, out, opset, direction)
    ins = ", ".join(f"{i['name']} {i['shape']}" for i in meta["inputs"])
    outs = ", ".join(f"{o['name']} {o['shape']}" for o in meta["outputs"])
    typer.echo(
        f"{path}: {meta['recipe']} step {meta['step']}{' (EMA)' if meta['ema'] else ''}, {fmt}"
        + (f" opset {meta['opset']}" if "opset" in meta else "")
        + f"; in: {ins}; out: {outs}"
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("export")(export)
