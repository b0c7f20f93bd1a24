"""``gankit voxels CKPT``: sample shapes from a 3D model (``VoxelPipeline``: gan3d) and export meshes (or voxel
arrays), a shaded grid and an optional turntable GIF."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..errors import GankitError

FORMATS = ("obj", "ply", "stl", "npy", "binvox", "none")


def voxels(
    ckpt_path: Path = typer.Argument(..., metavar="CKPT", help="run dir, checkpoints dir or step folder of a 3D run"),
    n: int = typer.Option(8, "-n", help="number of shapes (frames with --interpolate)"),
    seed: int = typer.Option(0, "--seed"),
    export: str = typer.Option(
        "obj", "--export", help="obj, ply, stl (marching-cubes meshes), npy or binvox (voxels), none"
    ),
    out: Optional[Path] = typer.Option(None, "--out", help="output folder (default: RUN/generated/voxels-...)"),
    interpolate: bool = typer.Option(False, "--interpolate", help="walk (slerp) from seed's latent to seed+1's"),
    cls: Optional[str] = typer.Option(None, "--class", help="class name or index (conditional models)"),
    turntable: bool = typer.Option(False, "--turntable", help="also write turntable.gif"),
    threshold: float = typer.Option(0.5, "--threshold", help="occupancy level of the surface"),
    keep_largest: bool = typer.Option(
        False, "--keep-largest", help="meshes: keep only the largest face-connected part (off: export what G made)"
    ),
    no_ema: bool = typer.Option(False, "--no-ema", help="use the raw generator instead of its EMA copy"),
    device: str = typer.Option("cpu", "--device"),
):
    """Generate voxel shapes: per-shape meshes (watertight where a shape is one solid), grid.png, summary.json."""
    import torch

    from ..data.meshes import voxels_to_mesh
    from ..data.voxels import write_binvox
    from ..fileio import write_bytes_atomic, write_text_atomic
    from ..pipelines import VoxelPipeline, slerp
    from ..pipelines.voxel import mesh_bytes
    from ..viz.grid import save_grid
    from ..viz.voxels import render, save_turntable

    export = export.lower()
    if export not in FORMATS:
        raise GankitError(f"--export must be one of {', '.join(FORMATS)}, got '{export}'")
    if n < 1 or (interpolate and n < 2):
        raise GankitError("-n must be at least 1 (2 with --interpolate)")
    if not 0 < threshold < 1:
        raise GankitError(f"--threshold must be in (0, 1), got {threshold}")
    gen = VoxelPipeline.from_checkpoint(ckpt_path, device, ema=not no_ema)
    k = _class_index(cls, gen.classes) if cls is not None else None
    if interpolate:
        a, b = gen.latents(1, seed), gen.latents(1, seed + 1)
        z = slerp(a, b, torch.linspace(0, 1, n)[:, None])
    else:
        z = gen.latents(n, seed)
    vox = gen.sample(z.shape[0], seed=seed, cls=k, z=z).cpu()  # N x 1 x D x H x W in [0, 1]
    tag = f"step{gen.checkpoint.step}-seed{seed}" + ("-interp" if interpolate else "") + (f"-{cls}" if cls else "")
    out = out or gen.checkpoint.run_dir / "generated" / f"voxels-{tag}"
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, v in enumerate(vox[:, 0].numpy()):
        row = {"index": i, "occupancy": round(float((v >= threshold).mean()), 5)}
        name = f"shape-{i:03d}"
        if export == "npy":
            import io

            import numpy as np

            buf = io.BytesIO()
            np.save(buf, (v >= threshold).astype(np.uint8))
            write_bytes_atomic(out / f"{name}.npy", buf.getvalue())
            row["file"] = f"{name}.npy"
        elif export == "binvox":
            write_binvox(out / f"{name}.binvox", v >= threshold)
            row["file"] = f"{name}.binvox"
        elif export != "none":
            mesh = voxels_to_mesh(v, threshold, keep_largest=keep_largest)
            if mesh is None:
                row["file"], row["note"] = None, f"empty: no voxel above {threshold}"
            else:
                write_bytes_atomic(out / f"{name}.{export}", mesh_bytes(mesh, export))
                row.update(
                    file=f"{name}.{export}",
                    vertices=len(mesh.vertices),
                    faces=len(mesh.faces),
                    watertight=bool(mesh.is_watertight),
                    parts=len(mesh.split(only_watertight=False)),
                )
        rows.append(row)
    nrow = n if interpolate else max(1, round(n**0.5))
    save_grid(render(vox, size=96 if vox.shape[-1] > 32 else 64, threshold=threshold), out / "grid.png", nrow)
    if turntable:
        save_turntable(vox, out / "turntable.gif", threshold=threshold)
    summary = {
        "checkpoint": str(gen.checkpoint.path),
        "step": gen.checkpoint.step,
        "seed": seed,
        "class": cls,
        "interpolate": interpolate,
        "threshold": threshold,
        "shapes": rows,
    }
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=1))
    made = sum(1 for r in rows if r.get("file"))
    typer.echo(
        f"{made} of {len(rows)} shape(s) -> {out}"
        + (f" ({export})" if export != "none" else "")
        + ("; turntable.gif" if turntable else "")
    )


def _class_index(cls: str, classes: list[str]) -> int:
    if cls in classes:
        return classes.index(cls)
    try:
        return int(cls)
    except ValueError:
        raise GankitError(f"--class {cls!r}: this model's classes are {', '.join(classes) or '(none)'}") from None


def register(app: typer.Typer) -> None:
    app.command("voxels")(voxels)
