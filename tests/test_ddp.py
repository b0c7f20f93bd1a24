"""Two CPU processes (gloo) through torchrun against one process on the concatenated batch.

For a net without batch statistics, DDP's averaged gradients make a 2-process step equal a single-process step on
both halves together. The weights must match that run (and must have moved), the EMA copies too; a run with twice
the learning rate (what a summed instead of averaged all-reduce gives under SGD) must not match. With batch norm,
each replica keeps its own running statistics until the end-of-run sync hands every replica rank 0's.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

HERE = Path(__file__).parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
# mlp-gan with no batch statistics (batch norm; mode seeking, which pairs the halves of each rank's own batch) and no
# dropout (per-rank randomness), plain SGD: the update is the gradient
PLAIN = [
    "data.name=twemoji",
    "data.size=8",
    "train.batch_size=8",
    "model.g_norm=none",
    "model.dropout=0",
    "model.g_hidden=[32,32]",
    "model.d_hidden=[32,32]",
    "train.optimizer=sgd",
    "train.momentum=0",
    "train.lr=0.05",
    "train.ema=0.9",
    "model.mode_seeking=0",
]


def torchrun(*args):
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(HERE / "ddp_worker.py"),
        *map(str, args),
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-4000:]


def single(*args):
    env = {k: v for k, v in ENV.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    p = subprocess.run(
        [sys.executable, str(HERE / "ddp_worker.py"), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-4000:]


def close(a, b, keys):
    return all(torch.allclose(a[k], b[k], rtol=1e-4, atol=1e-6) for k in keys)


def test_two_processes_equal_one_process_on_the_concatenated_batch(tmp_path):
    steps = 3
    torchrun("compare", "mlp-gan", tmp_path, steps, *PLAIN)
    # the single process gets the 2-process global batch: batch_size 16
    single("compare", "mlp-gan", tmp_path / "ref", steps, *PLAIN, "train.batch_size=16")
    single("compare", "mlp-gan", tmp_path / "ref2", steps, *PLAIN, "train.batch_size=16", "train.lr=0.1")
    r0, r1 = (load_file(str(tmp_path / f"compare-w2-rank{r}.safetensors")) for r in (0, 1))
    ref = load_file(str(tmp_path / "ref" / "compare-w1-rank0.safetensors"))
    ref2 = load_file(str(tmp_path / "ref2" / "compare-w1-rank0.safetensors"))
    init = [k for k in ref if k.startswith("init.") and k.endswith("weight")]
    final = [k.replace("init.", "final.", 1) for k in init]
    ema = [k for k in ref if k.startswith("ema.")]
    assert init and ema and set(ref) == set(r0)
    assert close(ref, r0, init)  # the same starting point (DDP broadcasts rank 0's weights)
    moved = max((r0[f] - r0[i]).abs().max().item() for i, f in zip(init, final))
    assert moved > 1e-3  # the steps did something (lr = 0 would not)
    assert close(ref, r0, final) and close(ref, r1, final)
    assert close(ref, r0, ema) and close(ref, r1, ema)
    assert not close(ref2, r0, final)  # twice the step (a summed all-reduce under SGD) is told apart


def test_batch_norm_statistics_stay_per_replica_until_the_end_of_run_sync(tmp_path):
    torchrun(
        "fit",
        "dcgan",
        tmp_path,
        4,
        "data.name=twemoji",
        "data.size=16",
        "train.batch_size=8",
        "model.g_channels=[16,16]",
        "model.d_channels=[16,16]",
        "model.d_stem=8",
        "model.g_base=16",
        "model.d_split_steps=false",
        "train.ckpt_every=4",
    )
    a, b = (load_file(str(tmp_path / f"rank{r}.safetensors")) for r in (0, 1))
    assert a["step"].item() == 4 == b["step"].item()
    means = [k for k in a if k.startswith("presync.") and k.endswith("running_mean")]
    assert means
    # each replica normalised its own shard: their running statistics differ before the sync ...
    assert all(not torch.allclose(a[k], b[k]) for k in means)
    # ... and after it every replica holds rank 0's (not rank 1's, not a mix)
    for k in means:
        final = k.replace("presync.", "final.", 1)
        assert torch.equal(b[final], a[k]) and torch.equal(a[final], a[k])
    # gradients are averaged: the weights themselves are identical on both replicas
    w = [k for k in a if k.startswith("final.") and k.endswith("weight")]
    assert w and all(torch.equal(a[k], b[k]) for k in w)
    # only rank 0 wrote a run directory; its final checkpoint holds the replicas' weights
    (run,) = (tmp_path / "runs-w2").iterdir()
    saved = load_file(str(run / "checkpoints" / "step-0000004" / "tensors.safetensors"))
    g_keys = [k for k in w if k.startswith("final.G.")]
    assert g_keys and all(torch.equal(saved["net." + k[len("final.") :]], a[k]) for k in g_keys)
    # the logged losses and accuracies are the mean of what the two ranks measured on their shards
    local = [json.loads((tmp_path / f"stats{r}.json").read_text()) for r in (0, 1)]
    logged = [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "loss/D_real" in r]
    assert len(logged) == len(local[0]) == 2
    differ = 0
    for row, l0, l1 in zip(logged, *local):
        for k in ("loss/D_real", "loss/D_fake", "loss/G", "D/acc_real"):
            assert row[k] == pytest.approx((l0[k] + l1[k]) / 2, rel=1e-6, abs=1e-7), k
            differ += l0[k] != l1[k]
    assert differ  # the ranks did see different data: the mean is not just rank 0's value
