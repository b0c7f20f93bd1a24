import json

import pytest
import torch

from gankit.errors import CheckpointError
from gankit.train import checkpoint as ckpt


def test_round_trip_and_pointers(tmp_path):
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    tensors = {f"net.G.{k}": v for k, v in net.state_dict().items()}
    meta = ckpt.pack_optimizer("optim.G", opt, tensors)
    rng = ckpt.rng_state(torch.Generator().manual_seed(3), tensors)
    d = tmp_path / "checkpoints"
    ckpt.write(d, "step-0000010", tensors, {"step": 10, "config": {"recipe": "x"}, "optim": {"G": meta}, "rng": rng})
    c = ckpt.load(tmp_path)  # resolved from the run dir through `latest`
    assert c.step == 10 and c.path.name == "step-0000010"
    assert torch.equal(c.net("net.G")["weight"], net.weight)
    opt2 = torch.optim.Adam(torch.nn.Linear(3, 2).parameters(), lr=5.0)
    opt2.load_state_dict(ckpt.unpack_optimizer("optim.G", c.state["optim"]["G"], c.tensors))
    assert opt2.param_groups[0]["lr"] == 1e-3
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    # no pickle anywhere: the tensors file is safetensors and the rest is JSON
    assert json.loads((c.path / "state.json").read_text())["format"] == "gankit-checkpoint"


def test_rng_restored(tmp_path):
    g = torch.Generator().manual_seed(5)
    torch.manual_seed(1)
    tensors = {}
    meta = ckpt.rng_state(g, tensors)
    a = (torch.rand(3), torch.rand(3, generator=g))
    g2 = torch.Generator().manual_seed(99)
    torch.manual_seed(99)
    ckpt.restore_rng(meta, tensors, g2)
    b = (torch.rand(3), torch.rand(3, generator=g2))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_crash_during_write_keeps_previous(tmp_path, monkeypatch):
    d = tmp_path / "checkpoints"
    ckpt.write(d, "step-0000001", {"x": torch.ones(2)}, {"step": 1, "config": {}})

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt, "save_file", boom)
    with pytest.raises(OSError):
        ckpt.write(d, "step-0000002", {"x": torch.zeros(2)}, {"step": 2, "config": {}})
    assert ckpt.read_pointer(d, "latest") == "step-0000001"
    assert ckpt.load(tmp_path).step == 1 and not (d / "step-0000002").exists()


def test_prune_keeps_best_and_latest(tmp_path):
    d = tmp_path / "checkpoints"
    for s in range(1, 6):
        ckpt.write(d, f"step-{s:07d}", {"x": torch.ones(1) * s}, {"step": s, "config": {}})
    ckpt.set_best(d, "step-0000002")
    ckpt.prune(d, keep=2)
    assert sorted(p.name for p in d.glob("step-*")) == ["step-0000002", "step-0000004", "step-0000005"]
    assert ckpt.load(d / "best").step == 2


def test_bad_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        ckpt.load(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="no checkpoint here"):
        ckpt.load(tmp_path)
    d = tmp_path / "checkpoints"
    ckpt.write(d, "step-0000001", {"x": torch.ones(2)}, {"step": 1, "config": {}})
    (d / "step-0000001" / "tensors.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(CheckpointError, match="unreadable tensors"):
        ckpt.load(tmp_path)
