"""The stage-2 input check (``nn/agecgan.py: InputCheck``) on emoji-people at 32 px, calibrated as training does:
held-out people against non-person emoji (Twemoji and OpenMoji renderings), as distance / threshold.

    PYTHONPATH=src python benchmarks/agecgan_input_check.py --json benchmarks/agecgan_input_check.json

``--stage2 RUN`` checks that run's saved check instead of a fresh calibration (the same numbers for a run trained
on the same data and options).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from gankit.config import DataConfig
from gankit.data.ages import load_ages
from gankit.data.images import resize_batch, to_float
from gankit.data.pairs import render_emoji_pairs
from gankit.models import resolve_config
from gankit.models.agecgan import AgeCGAN
from gankit.pipelines import AgePipeline

OTHER = {  # non-person emoji, and a few faces that are not people
    "1f34e": "red apple",
    "1f431": "cat face",
    "1f408": "cat",
    "1f436": "dog face",
    "1f98a": "fox",
    "1f33b": "sunflower",
    "1f697": "car",
    "1f916": "robot",
    "1f47d": "alien",
    "1f921": "clown face",
    "1f600": "grinning face",
    "1f9df": "zombie",
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stage2", help="a stage-2 run whose saved check is used")
    ap.add_argument("--json", default="benchmarks/agecgan_input_check.json")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    data = load_ages(DataConfig(name="emoji-people", size=32))
    if a.stage2:
        m = AgePipeline.from_checkpoint(a.stage2)
    else:
        cfg = resolve_config("agecgan", "encoder", None, ["model.identity=none", f"model.ood_bank={len(data.images)}"])
        r = AgeCGAN(cfg, data.shape, data.num_classes)
        r.calibrate_check(data)
        m = AgePipeline(r.G.eval(), r.E.eval(), data.num_classes, r.opts, None)
    check = m.E.check
    t = float(check.threshold)
    held = check.distance(to_float(data.test.images)) / t
    tw, om = render_emoji_pairs(list(OTHER))
    other = {}
    for style, imgs in (("twemoji", tw), ("openmoji", om)):
        d = check.distance(to_float(resize_batch(imgs, 32))) / t
        other[style] = {f"{code} {name}": round(float(v), 3) for (code, name), v in zip(OTHER.items(), d)}
    res = {
        "threshold": t,
        "margin": m.opts.ood_margin,
        "bank": int(check.bank.shape[0]),
        "heldout_people_over_threshold": {"n": len(held), "max": float(held.max()), "median": float(held.median())},
        "other_emoji_over_threshold": other,
        "flagged": {s: sorted(k for k, v in o.items() if v > 1) for s, o in other.items()},
    }
    Path(a.json).write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
