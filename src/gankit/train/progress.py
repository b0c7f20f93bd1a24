"""A Rich progress bar with the latest losses and an ETA."""

from __future__ import annotations

import time

from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress


class Progress:
    def __init__(self, total: int | None, deadline: float | None, start: int = 0):
        self.deadline = deadline
        self.t0 = time.time()
        self.total = total
        self.p = RichProgress(
            TextColumn("[bold]step {task.completed}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[losses]}"),
        )
        self.p.start()
        horizon = total if total is not None else None
        self.task = self.p.add_task("train", total=horizon, completed=start, losses="")

    def update(self, step: int, row: dict):
        losses = " ".join(
            f"{k.split('/', 1)[1]}={v:.3f}" for k, v in row.items() if k.startswith("loss/") and isinstance(v, float)
        )
        total = self.total
        if total is None and self.deadline is not None:  # time budget: estimate the final step from the pace
            frac = (time.time() - self.t0) / max(self.deadline - self.t0, 1e-9)
            total = int(step / max(frac, 1e-9))
        self.p.update(self.task, completed=step, total=total, losses=losses)

    def close(self):
        self.p.stop()
