"""Loss curves from metrics.jsonl (the seed 002 plot_history figure, one panel per group)."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path


def read_metrics(path: Path) -> list[dict]:
    rows = []
    if Path(path).exists():
        for line in Path(path).read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def plot_losses(metrics_path: Path, out: Path, title: str = "") -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in read_metrics(metrics_path) if "step" in r]
    series: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        for k, v in r.items():
            if "/" in k and isinstance(v, (int, float)):
                group = k.split("/")[0]
                series[group][k].append((r["step"], v))
    groups = [g for g in ("loss", "D", "eval", "health") if g in series] + [
        g for g in series if g not in ("loss", "D", "eval", "health", "perf")
    ]
    if not groups:
        return None
    fig, axes = plt.subplots(len(groups), 1, figsize=(8, 2.6 * len(groups)), sharex=True, squeeze=False)
    for ax, g in zip(axes[:, 0], groups):
        for k, pts in sorted(series[g].items()):
            xs, ys = zip(*pts)
            ax.plot(xs, ys, label=k.split("/", 1)[1], linewidth=1.2, marker="o" if len(xs) < 3 else None)
        ax.set_ylabel(g)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("step")
    if title:
        axes[0, 0].set_title(title)
    fig.tight_layout()
    out = Path(out)
    tmp = out.with_name(f".{out.stem}.tmp{os.getpid()}.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, out)
    return out
