"""Two CPU processes (gloo) through torchrun: DDP must keep both replicas identical."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

HERE = Path(__file__).parent


@pytest.mark.parametrize("recipe, extra", [("dcgan", ["data.size=32", "model.d_split_steps=false"]),
                                           ("mlp-gan", ["data.size=16"])])
def test_two_process_ddp_keeps_replicas_identical(recipe, extra, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(HERE / "ddp_worker.py"), recipe, str(tmp_path), "6", "data.name=twemoji", *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-4000:]
    a, b = (load_file(str(tmp_path / f"rank{r}.safetensors")) for r in (0, 1))
    assert a["step"].item() == 6 and set(a) == set(b)
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    # only rank 0 wrote a run directory; its final checkpoint holds the replicas' weights
    runs = [d for d in tmp_path.iterdir() if d.is_dir()]
    assert len(runs) == 1
    saved = load_file(str(runs[0] / "checkpoints" / "step-0000006" / "tensors.safetensors"))
    g_keys = [k for k in a if k.startswith("G.")]
    assert g_keys and all(torch.equal(saved["net." + k], a[k]) for k in g_keys)
    # the logged losses and accuracies are the mean of what the two ranks measured on their shards
    local = [json.loads((tmp_path / f"stats{r}.json").read_text()) for r in (0, 1)]
    logged = [r for r in map(json.loads, (runs[0] / "metrics.jsonl").read_text().splitlines()) if "loss/D_real" in r]
    assert len(logged) == len(local[0]) == 3
    differ = 0
    for row, l0, l1 in zip(logged, *local):
        for k in ("loss/D_real", "loss/D_fake", "loss/G", "D/acc_real"):
            assert row[k] == pytest.approx((l0[k] + l1[k]) / 2, rel=1e-6, abs=1e-7), k
            differ += l0[k] != l1[k]
    assert differ  # the ranks did see different data: the mean is not just rank 0's value
