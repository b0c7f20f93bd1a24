"""Data order: a seeded permutation per epoch, sharded by rank, consumed in fixed-size batches.

The whole position is (epoch, batch index): checkpointing those two numbers makes resume continue with
exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import torch


class EpochSampler:
    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.n, self.batch_size, self.seed, self.rank, self.world = n, batch_size, seed, rank, world
        per_rank = n // world
        if per_rank < batch_size:
            raise ValueError(
                f"{n} images cannot fill a batch of {batch_size} on {world} process(es): lower train.batch_size"
            )
        self.steps_per_epoch = per_rank // batch_size
        self.epoch, self.pos = 0, 0
        self._perm = None

    def _permutation(self) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return torch.randperm(self.n, generator=g)[self.rank :: self.world]

    def next(self) -> torch.Tensor:
        if self.pos >= self.steps_per_epoch:
            self.epoch, self.pos, self._perm = self.epoch + 1, 0, None
        if self._perm is None:
            self._perm = self._permutation()
        i = self.pos * self.batch_size
        self.pos += 1
        return self._perm[i : i + self.batch_size]

    @property
    def epoch_float(self) -> float:
        return self.epoch + self.pos / self.steps_per_epoch

    def state(self) -> dict:
        return {"epoch": self.epoch, "pos": self.pos}

    def load(self, state: dict) -> None:
        self.epoch, self.pos, self._perm = int(state["epoch"]), int(state["pos"]), None
