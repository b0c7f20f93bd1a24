"""Shaded pictures of voxel grids without OpenGL: an orthographic ray-marcher in PyTorch.

Each pixel casts a parallel ray through the trilinearly interpolated occupancy (``grid_sample``); the first sample
at or above the iso level ``threshold`` is the surface (refined between the last miss and the hit), the normal is
the occupancy gradient there, and the colour is Lambert shading with an ambient term and a depth cue on a white
background. 64 shapes at 32^3 render in about a second on one CPU core.

Axes follow ``data/furniture.py``: ``v[x, y, z]`` with ``z`` up; the default camera looks at the front-right
of the shape from 25 degrees above.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

BASE = (0.80, 0.52, 0.30)  # clay / wood
LIGHT = (-0.4, -0.7, 0.9)


def _camera(azimuth: float, elevation: float):
    a, e = math.radians(azimuth), math.radians(elevation)
    back = torch.tensor([math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)])  # towards the camera
    right = torch.tensor([-math.sin(a), math.cos(a), 0.0])
    up = torch.cross(back, right, dim=0)
    return back, right, up


@torch.no_grad()
def render(
    voxels: torch.Tensor,
    size: int = 64,
    azimuth: float = -60.0,
    elevation: float = 25.0,
    threshold: float = 0.5,
    color=BASE,
    steps: int | None = None,
    zoom: float = 1.0,
    chunk: int = 16,
) -> torch.Tensor:
    """Voxels (N x 1 x D x H x W or N x D x H x W, values in [0, 1]) -> float RGB images in [-1, 1],
    N x 3 x size x size."""
    v = voxels.detach().float().cpu()
    if v.dim() == 4:
        v = v[:, None]
    if v.dim() != 5 or v.shape[1] != 1:
        raise ValueError(f"render: expected N x 1 x D x H x W voxels, got {tuple(voxels.shape)}")
    out = [
        _render_chunk(v[i : i + chunk], size, azimuth, elevation, threshold, color, steps, zoom)
        for i in range(0, v.shape[0], chunk)
    ]
    return torch.cat(out) if out else torch.empty(0, 3, size, size)


def _render_chunk(v, size, azimuth, elevation, threshold, color, steps, zoom):
    n, res = v.shape[0], max(v.shape[2:])
    back, right, up = _camera(azimuth, elevation)
    half = math.sqrt(3)
    steps = steps or int(2.2 * res)
    s = 1.15 / zoom
    lin = torch.linspace(s, -s, size)
    vv, uu = torch.meshgrid(lin, -lin, indexing="ij")  # row 0 is the top of the picture
    origin = uu[..., None] * right + vv[..., None] * up + half * back  # (size, size, 3) world points in [-1, 1]^3
    t = torch.linspace(0, 2 * half, steps)
    pts = origin[None] - t[:, None, None, None] * back  # (T, size, size, 3): x, y, z in world order
    grid = pts.flip(-1)  # grid_sample wants (W, H, D) = (z, y, x) for a v[x, y, z] volume
    vol = v
    samples = F.grid_sample(
        vol, grid[None].expand(n, -1, -1, -1, -1), mode="bilinear", padding_mode="zeros", align_corners=False
    )[:, 0]  # (n, T, size, size)
    inside = samples >= threshold
    hit = inside.any(1)
    first = inside.float().argmax(1)  # (n, size, size)
    # refine between the last miss and the first hit
    prev = (first - 1).clamp(min=0)
    a = samples.gather(1, prev[:, None])[:, 0]
    b = samples.gather(1, first[:, None])[:, 0]
    frac = ((threshold - a) / (b - a).clamp(min=1e-6)).clamp(0, 1)
    frac = torch.where(first > 0, frac, torch.ones_like(frac))
    depth = (prev.float() + frac) * (2 * half / (steps - 1))  # (n, size, size)
    p = origin[None] - depth[..., None] * back  # surface points (n, size, size, 3)
    # normals: the occupancy gradient (of a slightly blurred volume) at the surface points
    blur = F.avg_pool3d(F.pad(vol, (1,) * 6, mode="replicate"), 3, 1)
    gx = F.pad(blur[:, :, 2:] - blur[:, :, :-2], (0, 0, 0, 0, 1, 1))
    gy = F.pad(blur[:, :, :, 2:] - blur[:, :, :, :-2], (0, 0, 1, 1))
    gz = F.pad(blur[..., 2:] - blur[..., :-2], (1, 1))
    grad = torch.cat([gx, gy, gz], 1)  # (n, 3, D, H, W): d/dx, d/dy, d/dz
    g = F.grid_sample(grad, p.flip(-1)[:, None], mode="bilinear", padding_mode="border", align_corners=False)
    normal = -g[:, :, 0].permute(0, 2, 3, 1)  # outward: occupancy falls outwards
    normal = normal / normal.norm(dim=-1, keepdim=True).clamp(min=1e-6)
    light = torch.tensor(LIGHT)
    light = light / light.norm()
    diffuse = (normal * light).sum(-1).clamp(min=0)
    facing = (normal * back).sum(-1).clamp(min=0)  # a little light from the camera keeps back faces readable
    cue = 1 - 0.25 * (depth - depth.amin()) / (2 * half)
    shade = (0.28 + 0.55 * diffuse + 0.22 * facing) * cue
    rgb = shade[:, None] * torch.tensor(color)[None, :, None, None]
    rgb = torch.where(hit[:, None], rgb.clamp(0, 1), torch.ones_like(rgb))
    return rgb * 2 - 1


def turntable_frames(
    voxels: torch.Tensor,
    frames: int = 24,
    size: int = 96,
    elevation: float = 25.0,
    threshold: float = 0.5,
    nrow: int | None = None,
) -> list:
    """PIL frames of the shapes spinning once around the vertical axis (all shapes side by side in a grid)."""
    from PIL import Image
    from torchvision.utils import make_grid

    n = voxels.shape[0]
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    out = []
    for k in range(frames):
        imgs = render(voxels, size, azimuth=-60 + 360 * k / frames, elevation=elevation, threshold=threshold)
        g = make_grid(imgs, nrow=nrow, padding=2, pad_value=1.0)
        arr = ((g.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
        out.append(Image.fromarray(arr))
    return out


def save_turntable(
    voxels: torch.Tensor, path: str | Path, frames: int = 24, size: int = 96, threshold: float = 0.5, ms: int = 80
) -> Path:
    """An animated GIF of the shapes turning (written atomically)."""
    from ..fileio import atomic_path

    imgs = turntable_frames(voxels, frames, size, threshold=threshold)
    path = Path(path)
    with atomic_path(path) as tmp:
        imgs[0].save(tmp, format="GIF", save_all=True, append_images=imgs[1:], duration=ms, loop=0)
    return path
