import json
import os
import signal
import subprocess
import sys
import time

from gankit.cli import main
from gankit.train import checkpoint as ckpt


def test_ctrl_c_saves_a_checkpoint_then_resume_continues(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "gankit.cli",
        "train",
        "mlp-gan",
        "--steps",
        "100000",
        "--out",
        str(tmp_path),
        "--no-progress",
        "--data",
        "twemoji",
        "data.size=16",
        "data.limit=64",
        "train.batch_size=8",
        "train.log_every=1",
        "train.ckpt_every=100000",
        "model.g_hidden=[16]",
        "model.d_hidden=[16]",
    ]
    p = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        m = list(tmp_path.glob("*/metrics.jsonl"))
        if m and len(m[0].read_text().splitlines()) >= 5:
            break
        time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert "interrupted: saving a checkpoint" in err
    (run,) = tmp_path.iterdir()
    c = ckpt.load(run)
    assert c.step >= 5
    logged = [json.loads(l)["step"] for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert logged[-1] == c.step  # the checkpoint is at the step the run stopped
    assert main(["train", "--resume", str(run), "--steps", str(c.step + 3), "--no-progress"]) == 0
    assert ckpt.load(run).step == c.step + 3


def test_dcgan_reports_seed_d_accuracy(tmp_path, capsys):
    code = main(
        [
            "train",
            "dcgan",
            "--preset",
            "tutorial",
            "--steps",
            "8",
            "--out",
            str(tmp_path),
            "--no-progress",
            "--data",
            "twemoji",
            "data.size=16",
            "data.limit=64",
            "train.batch_size=16",
            "model.g_channels=[16,16]",
            "model.d_channels=[16,16]",
            "model.d_stem=8",
            "model.g_base=16",
            "train.report_every_epochs=1",
            "train.log_every=4",
        ]
    )
    assert code == 0
    (run,) = tmp_path.iterdir()
    reports = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines() if "eval/D_acc_real" in l]
    assert [r["step"] for r in reports] == [4, 8]  # 64 images / batch 16 = 4 steps per epoch
    assert all(0 <= r["eval/D_acc_real"] <= 1 and 0 <= r["eval/D_acc_fake"] <= 1 for r in reports)
