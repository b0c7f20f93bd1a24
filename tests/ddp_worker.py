"""Run under torchrun by test_ddp.py: trains a tiny recipe on 2 CPU processes (gloo) and writes each
replica's weights, so the test can check that DDP kept them identical."""
import json
import os
import sys

import torch
from safetensors.torch import save_file

from gankit.models import resolve_config
from gankit.train.trainer import Trainer

recipe, out, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
overrides = [f"train.steps={steps}", "train.device=cpu", "train.threads=1", "train.log_every=2",
             "train.sample_every=1000", "train.ckpt_every=1000", "data.limit=256", "train.batch_size=16",
             *sys.argv[4:]]
cfg = resolve_config(recipe, "default", overrides=overrides)
trainer = Trainer(cfg, out=out, progress=False)
rank = int(os.environ["RANK"])
local_rows, flush = [], trainer.stats.flush


def recording_flush():  # what this rank measured, before the Trainer averages it across ranks
    row = flush()
    local_rows.append(row)
    return row


trainer.stats.flush = recording_flush
trainer.fit()
with open(os.path.join(out, f"stats{rank}.json"), "w") as f:
    json.dump(local_rows, f)
tensors = {f"{n}.{k}": v.detach().clone().contiguous() for n, net in trainer.recipe.networks().items()
           for k, v in net.state_dict().items()}
tensors["step"] = torch.tensor(trainer.step)
save_file(tensors, os.path.join(out, f"rank{rank}.safetensors"))
