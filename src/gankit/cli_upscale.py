"""``gankit upscale``: enlarge any image x4 with an srgan checkpoint; ``gankit sr-eval``: score checkpoints.

Any size and mode: large images go through G in overlapping tiles blended with linear ramps; an alpha
channel is enlarged separately (bicubic) and put back; greyscale images go through G as grey RGB and come
back greyscale; 16-bit, palette and CMYK images are converted to 8-bit RGB(A) first.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import torch
import torch.nn.functional as F
import typer

from .errors import GankitError


# --------------------------------------------------------------------------- tiling


def _starts(n: int, tile: int, overlap: int) -> list[int]:
    if n <= tile:
        return [0]
    step = tile - overlap
    s = list(range(0, n - tile, step))
    return s + [n - tile]


def _ramp(length: int, lo_edge: bool, hi_edge: bool, ramp: int) -> torch.Tensor:
    """1-D blending weight: rises linearly over ``ramp`` px at an inner tile edge, flat (1) at an image edge."""
    i = torch.arange(length, dtype=torch.float32) + 0.5
    w = torch.ones(length)
    if ramp > 0:
        if not lo_edge:
            w = torch.minimum(w, i / ramp)
        if not hi_edge:
            w = torch.minimum(w, (length - i) / ramp)
    return w.clamp_min(1e-4)


@torch.no_grad()
def upscale_tensor(G, lr: torch.Tensor, scale: int, tile: int | None = 128, overlap: int = 16) -> torch.Tensor:
    """SR of ``lr`` (1 x C x h x w in [-1, 1]); tiles of ``tile`` LR px overlapping by ``overlap`` px when the
    image is larger than one tile (``tile=None`` or 0: whole image at once)."""
    _, c, h, w = lr.shape
    if not tile or (h <= tile and w <= tile):
        return G(lr).float()
    if overlap * 2 > tile:
        raise GankitError(f"--overlap {overlap} must be at most half of --tile {tile}")
    th, tw = min(tile, h), min(tile, w)
    out = torch.zeros(1, c, h * scale, w * scale, device=lr.device)
    norm = torch.zeros(1, 1, h * scale, w * scale, device=lr.device)
    ramp = overlap * scale
    for y in _starts(h, th, overlap):
        for x in _starts(w, tw, overlap):
            sr = G(lr[:, :, y: y + th, x: x + tw]).float()
            wy = _ramp(th * scale, y == 0, y + th == h, ramp)
            wx = _ramp(tw * scale, x == 0, x + tw == w, ramp)
            wt = (wy[:, None] * wx[None, :]).to(lr.device)[None, None]
            ys, xs = slice(y * scale, (y + th) * scale), slice(x * scale, (x + tw) * scale)
            out[:, :, ys, xs] += sr * wt
            norm[:, :, ys, xs] += wt
    return out / norm


# --------------------------------------------------------------------------- image modes


def _fill_transparent(rgb: torch.Tensor, alpha: torch.Tensor, rounds: int = 32) -> torch.Tensor:
    """Colour of fully transparent pixels from their visible neighbours (normalised 3x3 averaging, repeated), so
    the enlarged edges of a cut-out do not pick up whatever colour hides under alpha = 0 (often black)."""
    known = (alpha > 0).float()
    if known.all() or not known.any():
        return rgb
    x = rgb * known
    for _ in range(rounds):
        s = F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
        k = F.avg_pool2d(known, 3, 1, 1, count_include_pad=False)
        grown = (k > 0).float()
        x = torch.where(known.bool(), x, torch.where(grown.bool(), s / k.clamp_min(1e-8), x))
        known = torch.maximum(known, grown)
        if known.all():
            break
    return torch.where(known.bool(), x, torch.ones_like(x))  # unreachable pixels: white


def upscale_image(model, im, tile: int | None = 128, overlap: int = 16, device="cpu"):
    """A PIL image of any mode -> the x``scale`` PIL image in the matching mode (L, LA, RGB or RGBA)."""
    import numpy as np
    from PIL import Image

    from .data.images import to_float, to_tensor_u8, to_uint8

    s = model.scale
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if arr.max() > 255 else 255.0
        im = Image.fromarray((arr / hi * 255).round().clip(0, 255).astype(np.uint8), "L")
    grey = im.mode in ("1", "L", "LA") or (im.mode == "P" and _grey_palette(im))
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    rgba = im.convert("RGBA")
    t = to_tensor_u8(rgba)
    rgb, alpha = to_float(t[None, :3]), t[None, 3:4]
    if has_alpha:
        rgb = _fill_transparent(rgb, alpha.float())
    channels = model.G.tail.out_channels if hasattr(model.G, "tail") else 3
    x = rgb.to(device)
    if channels == 1:
        x = _luma(x)
    sr = upscale_tensor(model.G, x, s, tile, overlap)
    if channels == 1:
        sr = sr.expand(-1, 3, -1, -1)
    out = to_uint8(sr[0].cpu())
    if grey:
        g = _luma(to_float(out[None]))[0]
        out = to_uint8(g)
    if has_alpha:
        a = Image.fromarray(alpha[0, 0].numpy(), "L").resize((im.width * s, im.height * s), Image.Resampling.BICUBIC)
        a = torch.from_numpy(np.asarray(a).copy())[None]
        out = torch.cat([out, a])
    arr = out.permute(1, 2, 0).numpy()
    return Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr,
                           {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[arr.shape[2]])


def _luma(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma of float RGB (as PIL's convert('L'))."""
    return (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])


def _grey_palette(im) -> bool:
    pal = im.getpalette() or []
    trip = [pal[i: i + 3] for i in range(0, len(pal), 3)]
    return bool(trip) and all(r == g == b for r, g, b in trip)


def _inputs(paths: list[Path]) -> list[Path]:
    from .data.images import IMAGE_SUFFIXES

    out = []
    for p in paths:
        p = Path(p).expanduser()
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_SUFFIXES and q.is_file())
        elif p.is_file():
            out.append(p)
        else:
            raise GankitError(f"{p}: no such file or folder")
    if not out:
        raise GankitError("no input images found")
    return out


# --------------------------------------------------------------------------- commands


def upscale(
    ckpt_path: Path = typer.Argument(..., metavar="CKPT", help="srgan run dir, checkpoints dir or step folder"),
    inputs: List[Path] = typer.Argument(..., metavar="INPUT...", help="image files or folders"),
    out: Path = typer.Option(..., "--out", help="output folder (PNG files named <stem>_x4.png)"),
    tile: int = typer.Option(128, "--tile", help="tile side in input pixels for large images (0: no tiling)"),
    overlap: int = typer.Option(16, "--overlap", help="overlap of neighbouring tiles in input pixels"),
    device: str = typer.Option("cpu", "--device"),
    no_ema: bool = typer.Option(False, "--no-ema", help="use the raw generator instead of its EMA copy"),
):
    """Enlarge images x4 (any size; alpha kept; greyscale stays greyscale)."""
    from PIL import Image, UnidentifiedImageError

    from .models.srgan import load_model

    files = _inputs(inputs)
    if tile < 0 or overlap < 0:
        raise GankitError("--tile and --overlap must be >= 0")
    model = load_model(ckpt_path, device=device, ema=not no_ema)
    out.mkdir(parents=True, exist_ok=True)
    for f in files:
        try:
            with Image.open(f) as im:
                im.load()
                res = upscale_image(model, im, tile or None, overlap, device)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
            raise GankitError(f"{f}: unreadable image ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'corrupt'})") from None
        dest = out / f"{f.stem}_x{model.scale}.png"
        tmp = dest.with_name(f".{dest.name}.tmp.png")
        res.save(tmp)
        tmp.replace(dest)
        typer.echo(f"{f} -> {dest} ({res.width}x{res.height} {res.mode})")


def sr_eval(
    ckpts: Optional[List[Path]] = typer.Argument(None, metavar="CKPT...", help="srgan checkpoints (none: bicubic only)"),
    data: str = typer.Option("openmoji", "--data", help="HR data whose held-out split is scored"),
    size: Optional[int] = typer.Option(128, "--size", help="data.size (OpenMoji render size)"),
    limit: Optional[int] = typer.Option(None, "--limit", help="score only the first N held-out images"),
    device: str = typer.Option("cpu", "--device"),
    as_json: bool = typer.Option(False, "--json", help="print the score cards as JSON"),
    dump: Optional[Path] = typer.Option(None, "--dump", help="also write the held-out HR images and every method's "
                                        "outputs as PNG folders (DIR/hr, DIR/bicubic, DIR/model-K), e.g. for "
                                        "`gankit eval --real DIR/hr --fake DIR/model-1`"),
):
    """Score cards on the fixed held-out split: PSNR/SSIM (Y, border = scale) of bicubic and each checkpoint."""
    from .config import DataConfig
    from .data.sr import load_sr
    from .models.srgan import evaluate, load_model

    models = [(str(p), load_model(p, device=device)) for p in (ckpts or [])]
    scale = models[0][1].scale if models else 4
    ds = load_sr(DataConfig(name=data, size=size), crop=4 * scale, scale=scale)
    cards = [{"model": "bicubic", **evaluate(None, ds, scale, limit, device)["bicubic"]}]
    for name, m in models:
        res = evaluate(m.G, ds, m.scale, limit, device)
        o = m.opts
        card = {"model": name, "stage": o.stage, "content": o.content, "step": m.checkpoint.step, **res["sr"]}
        if o.content_note:
            card["warning"] = o.content_note
        cards.append(card)
    n = min(limit or len(ds.heldout), len(ds.heldout))
    if dump is not None:
        _dump_outputs(dump, ds, models, n, scale, device)
    head = {"data": data, "size": size, "heldout_images": n, "metric": f"Y (BT.601), {scale}-px border cropped, 8-bit"}
    if as_json:
        typer.echo(json.dumps({**head, "cards": cards}, indent=1))
        return
    typer.echo(f"held-out {data} ({n} images); PSNR/SSIM on {head['metric']}")
    for c in cards:
        typer.echo(f"  {c['model']}: PSNR {c['psnr_y']:.2f} dB  SSIM {c['ssim_y']:.4f}  (RGB PSNR {c['psnr_rgb']:.2f})"
                   + (f"  [{c['stage']}, content {c['content']}, step {c['step']}]" if "stage" in c else ""))
        if "warning" in c:
            typer.echo(f"  warning: {c['warning']}")


@torch.no_grad()
def _dump_outputs(out: Path, ds, models, n: int, scale: int, device) -> None:
    from .data.sr import bicubic_up
    from .viz.grid import save_images

    folders = {"hr": [], "bicubic": []}
    folders.update({f"model-{k + 1}": [] for k in range(len(models))})
    for i in range(n):
        hr, lr = ds.heldout_pair(i, device)
        folders["hr"].append(hr)
        folders["bicubic"].append(bicubic_up(lr, scale))
        for k, (_, m) in enumerate(models):
            m.G.eval()
            folders[f"model-{k + 1}"].append(m.G(lr).float())
    for name, imgs in folders.items():
        save_images(torch.cat(imgs), out / name, prefix=name)
    typer.echo(f"wrote {n} held-out images per method under {out}")


def register(app: typer.Typer) -> None:
    app.command("upscale")(upscale)
    app.command("sr-eval")(sr_eval)
