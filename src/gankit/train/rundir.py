"""Auto-numbered run directories: ``runs/00003-dcgan-twemoji32``. Never reuses an existing one."""

from __future__ import annotations

import re
from pathlib import Path


def new_run_dir(out: str | Path, tag: str) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    while True:
        nums = [int(m.group(1)) for p in out.iterdir() if (m := re.match(r"(\d{5})-", p.name))]
        d = out / f"{max(nums, default=-1) + 1:05d}-{tag}"
        try:
            d.mkdir()  # atomic: two runs started at once never share a directory
            return d
        except FileExistsError:
            continue
