"""Batch-norm statistics for an EMA copy of a network (``train.ema_bn``).

The EMA copy averages G's weights, but batch norm's running mean and variance are not weights: they describe the
activations of the *raw* G. Copied into the averaged net they normalise activations they were never measured on: on
trained checkpoints the EMA G's samples come out washed out and FID suffers (agecgan 115 against 65, dcgan 42
against 8, mlp-gan 16 against 13.5 with them re-estimated: ``benchmarks/ema_bn_stats.py``, ``docs/ageing.md``).
``recompute`` re-estimates them from the EMA net's own forward passes instead, BigGAN's "standing statistics" (Brock
et al. 2019): reset, then a cumulative average (``momentum=None``) over a few batches drawn by the recipe
(``Recipe.ema_bn_forward``), with only the batch norms in training mode (dropout and any other layer stay as in
inference, so the statistics are those of the activations the net sees when it is used). The draws come from their
own seeded generator and the global RNG is forked, so the training run is untouched and the result is a function of
the EMA weights alone: resume stays bitwise.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

EMA_BN_BATCHES = 16  # batches of train.batch_size per re-estimation (4x as many moved FID by 0.5-1.9 on the
# checkpoints measured by benchmarks/ema_bn_stats.py)


def batch_norms(net: nn.Module) -> list[_BatchNorm]:
    """The batch norms of ``net`` that keep running statistics (what ``recompute`` re-estimates)."""
    return [m for m in net.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]


@torch.no_grad()
def recompute_bn_stats(net: nn.Module, forward: Callable[[torch.Generator], bool], batches: int, seed: int) -> bool:
    """Re-estimate the running statistics of ``net``'s batch norms from ``batches`` calls of ``forward(generator)``
    (each one forward pass of ``net`` on freshly drawn inputs, True when it could draw them); False, and ``net``
    untouched, when it has none or ``forward`` returns False. ``net``'s modes, momenta and the global RNG state are
    restored."""
    bns = batch_norms(net)
    if not bns:
        return False
    saved = [(m, m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone()) for m in bns]
    done = True
    device = next(iter(net.buffers())).device
    modes = [(m, m.training) for m in net.modules()]
    momenta = [m.momentum for m in bns]
    forked = [device] if device.type == "cuda" else []
    try:
        net.eval()
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the batches
            m.train()
        with torch.random.fork_rng(devices=forked):
            torch.manual_seed(seed)
            gen = torch.Generator(device).manual_seed(seed)
            for _ in range(batches):
                if not forward(gen):
                    done = False
                    break
    finally:
        if not done:
            for m, mean, var, count in saved:
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)
                m.num_batches_tracked.copy_(count)
        for m, mom in zip(bns, momenta):
            m.momentum = mom
        for m, was in modes:
            m.training = was
    return done


def standing_stats(recipe, name: str, net: nn.Module, batch_size: int, seed: int, data=None) -> bool:
    """``train.ema_bn=recompute`` for the EMA copy ``net`` of ``recipe``'s network ``name``: its statistics from
    ``EMA_BN_BATCHES`` batches of ``batch_size`` that ``recipe.ema_bn_forward`` draws (seeded by the run's
    ``train.seed``). A copy of a net that is not trained (agecgan stage 2's frozen G) keeps what it was given."""
    if not any(p.requires_grad for p in getattr(recipe, name).parameters()):
        return False

    def forward(gen):
        return recipe.ema_bn_forward(name, net, batch_size, gen, data)

    return recompute_bn_stats(net, forward, EMA_BN_BATCHES, seed=seed * 7919 + 4099)
