"""Run by test_ddp.py, under torchrun (2 CPU processes, gloo) or as a plain single process.

``compare RECIPE OUT STEPS [overrides]``: every process builds the same Trainer (DDP-wrapped under torchrun) and
runs STEPS training steps by hand on a fixed global batch: process r of w gets the r-th slice of the real images
and of every latent draw, a single process gets all of it. The test compares a 2-process run with a single-process
run on the concatenated batch. Writes OUT/<tag>.safetensors: initial and final weights, EMA copies.

``fit RECIPE OUT STEPS [overrides]``: Trainer.fit as a user runs it; writes each rank's final weights and buffers,
and its buffers just before the end-of-run buffer sync (OUT/rank<r>.safetensors).
"""

import json
import os
import sys

import torch
from safetensors.torch import save_file

from gankit.models import resolve_config
from gankit.train.trainer import Trainer

mode, recipe, out, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
overrides = [
    f"train.steps={steps}",
    "train.device=cpu",
    "train.threads=1",
    "train.log_every=2",
    "train.sample_every=1000",
    "train.ckpt_every=1000",
    "data.limit=256",
    "train.precision=fp32",
    "train.channels_last=false",
    "train.fused=false",
    *sys.argv[5:],
]
cfg = resolve_config(recipe, "default", overrides=overrides)
trainer = Trainer(cfg, out=os.path.join(out, f"runs-w{world}"), progress=False)
r = trainer.recipe


def weights(prefix, nets):
    return {
        f"{prefix}.{n}.{k}": v.detach().clone().contiguous()
        for n, net in nets.items()
        for k, v in net.state_dict().items()
    }


if mode == "compare":
    n = cfg.train.batch_size  # per process; the global batch is n * world
    g = torch.Generator().manual_seed(123)
    real = torch.rand(steps, n * world, *r.shape, generator=g) * 2 - 1  # the global batch, the same everywhere
    z_gen = torch.Generator().manual_seed(321)
    orig_latent = r.latent

    def latent(k, generator=None):  # every latent draw: the same global tensor everywhere, sliced by rank
        if generator is not None:
            return orig_latent(k, generator)
        full = torch.randn(k * world, r.latent_dim, generator=z_gen)
        return full[rank * k : (rank + 1) * k]

    r.latent = latent
    init = weights("init", r.networks())
    for s in range(steps):
        r.step = trainer.step
        r.train_step({"image": real[s][rank * n : (rank + 1) * n]})
        trainer.step += 1
        trainer.update_ema()
    tensors = {**init, **weights("final", r.networks()), **weights("ema", trainer.ema)}
    save_file(tensors, os.path.join(out, f"compare-w{world}-rank{rank}.safetensors"))
else:
    pre_sync = {}
    sync = trainer._sync_buffers

    def record_then_sync():
        pre_sync.update(
            {f"presync.{n}.{k}": b.detach().clone() for n, net in r.networks().items() for k, b in net.named_buffers()}
        )
        sync()

    trainer._sync_buffers = record_then_sync
    local_rows, flush = [], trainer.stats.flush

    def recording_flush():  # what this rank measured, before the Trainer averages it across ranks
        row = flush()
        local_rows.append(row)
        return row

    trainer.stats.flush = recording_flush
    trainer.fit()
    with open(os.path.join(out, f"stats{rank}.json"), "w") as f:
        json.dump(local_rows, f)
    tensors = {
        **weights("final", r.networks()),
        **weights("ema", trainer.ema),
        **pre_sync,
        "step": torch.tensor(trainer.step),
    }
    save_file(tensors, os.path.join(out, f"rank{rank}.safetensors"))
