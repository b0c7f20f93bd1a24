"""A small collector for scalars reported inside the training step.

``report(name, tensor)`` only accumulates on the device (no host sync); ``flush()`` turns the running
means into floats once per logging interval (the one sync), as stylegan2-ada's training_stats does.
"""

from __future__ import annotations

import torch


class Collector:
    def __init__(self):
        self._sum: dict[str, torch.Tensor] = {}
        self._n: dict[str, int] = {}

    def report(self, name: str, value) -> None:
        v = value.detach().float().mean() if torch.is_tensor(value) else torch.tensor(float(value))
        if name in self._sum:
            self._sum[name] = self._sum[name] + v
            self._n[name] += 1
        else:
            self._sum[name], self._n[name] = v, 1

    __call__ = report

    def flush(self) -> dict[str, float]:
        if not self._sum:
            return {}
        names = list(self._sum)
        values = torch.stack([self._sum[k] / self._n[k] for k in names]).cpu().tolist()
        self._sum.clear()
        self._n.clear()
        return dict(zip(names, values))
