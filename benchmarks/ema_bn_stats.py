"""Batch-norm statistics of the EMA generator, measured on trained checkpoints (no training): which statistics
should the averaged weights normalise with?

    PYTHONPATH=src python benchmarks/ema_bn_stats.py --agecgan RUN [RUN ...] --gan3d RUN [RUN ...] \
        [--fid RUN ...] [--json benchmarks/ema_bn_stats.json] [--grids docs/img/ema_bn]
    PYTHONPATH=src python benchmarks/ema_bn_stats.py --rewrite RUN OUT   # RUN's EMA as train.ema_bn=recompute saves it

Rows per checkpoint, all from the same saved weights:
- ``raw``: the raw G (its own running statistics);
- ``ema copy``: the EMA G as saved before ``train.ema_bn`` existed (the raw G's running statistics copied in);
- ``ema recompute``: the EMA G with its statistics re-estimated from its own forward passes, exactly as the trainer
  saves it with ``train.ema_bn=recompute`` (16 batches of the run's batch size, only the batch norms in training
  mode);
- ``ema recompute, 4x batches``: the same from four times as many batches (has the estimate settled?);
- ``ema recompute+dropout`` (nets with dropout): the whole net in training mode while estimating (dropout on, as
  the raw G's statistics were gathered);
- ``ema ema-buffers``: not measurable post hoc (it needs the buffers averaged during training); left out.
agecgan (stage 1): speckle and colour speckle (``metrics.task.speckle_ratio``, over the real training faces; held-out
real faces give the reference), target-age accuracy and FID (domain features) of 600 samples under an age classifier
trained on the real training split (``benchmarks/agecgan_eval.py``'s judge). gan3d: MMD-IoU / COV / 1-NNA against
200 held-out shapes and the fragment share (``benchmarks/gan3d_metrics.py``'s ``evaluate``).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from agecgan_eval import chroma, features, predict, train_classifier  # noqa: E402
from gan3d_metrics import evaluate, reference  # noqa: E402

from gankit.config import DataConfig  # noqa: E402
from gankit.data.ages import load_ages  # noqa: E402
from gankit.data.images import to_float  # noqa: E402
from gankit.metrics.core import fid  # noqa: E402
from gankit.metrics.task import speckle_ratio  # noqa: E402
from gankit.train import checkpoint as ckpt  # noqa: E402
from gankit.train.ema import EMA_BN_BATCHES, recompute_bn_stats, standing_stats  # noqa: E402
from gankit.train.loader import load_recipe  # noqa: E402
from gankit.viz.grid import save_grid  # noqa: E402


def variants(path: str) -> tuple[object, dict[str, nn.Module], dict]:
    """The recipe and its generators: raw, EMA as saved, EMA re-estimated (batch norms only / whole net)."""
    c = ckpt.load(path)
    raw, ema = load_recipe(c, ema=False), load_recipe(c, ema=True)
    r, bs = ema.recipe, c.config["train"]["batch_size"]
    nets = {"raw": raw.nets["G"], "ema copy": ema.nets["G"]}
    has_dropout = any(isinstance(m, nn.Dropout) for m in ema.nets["G"].modules())
    G = copy.deepcopy(ema.nets["G"])
    t = time.time()
    standing_stats(r, "G", G, bs, c.config["train"]["seed"])  # what the trainer saves with train.ema_bn=recompute
    nets["ema recompute"] = G.eval()
    print(f"{path}: ema recompute in {time.time() - t:.1f} s", file=sys.stderr)
    for name, dropout, k in (("ema recompute, 4x batches", False, 4), ("ema recompute+dropout", True, 1)):
        if dropout and not has_dropout:
            continue
        G = copy.deepcopy(ema.nets["G"])

        def forward(gen, G=G, dropout=dropout):
            if dropout:
                G.train()
            return r.ema_bn_forward("G", G, bs, gen, None)

        recompute_bn_stats(G, forward, EMA_BN_BATCHES * k, seed=0)
        nets[name] = G.eval()
    info = {"step": c.step, "preset": c.config.get("preset"), "ema": c.config["train"]["ema"], "batch": bs}
    return r, nets, info


def agecgan_rows(paths, grids: Path | None) -> list[dict]:
    cfg = ckpt.load(paths[0]).config  # every run is judged on the first one's data
    data = load_ages(
        DataConfig(name=cfg["data"]["name"], size=cfg["data"]["size"]),
        balance=True,
        people=cfg["model"].get("people", "faces"),
    )
    k = data.num_classes
    clf = train_classifier(data, 600)
    torch.set_grad_enabled(False)
    real = to_float(data.images)
    test = data.test.batch(torch.arange(len(data.test)))["image"]
    real_feats = features(clf, real[:2000]).numpy()
    ref = {
        "speckle_real_heldout": speckle_ratio(test, real),
        "colour_speckle_real_heldout": speckle_ratio(chroma(test), chroma(real)),
        "age_acc_real_heldout": float((predict(clf, test) == data.test.labels).float().mean()),
    }
    rows = [{"family": "agecgan", "row": "real held-out faces", **ref}]
    g = torch.Generator().manual_seed(12345)
    for path in paths:
        r, nets, info = variants(path)
        z = r.latent(600, g)
        y = torch.arange(600) % k
        grid_z = z[:8].repeat(k, 1)
        grid_y = torch.arange(k).repeat_interleave(8)
        for name, G in nets.items():
            x = r.sample(G, z, y)
            rows.append(
                {
                    "family": "agecgan",
                    "run": path,
                    "row": name,
                    **info,
                    "speckle": speckle_ratio(x, real),
                    "colour_speckle": speckle_ratio(chroma(x), chroma(real)),
                    "target_age_acc": float((predict(clf, x) == y).float().mean()),
                    "fid_domain": fid(real_feats, features(clf, x).numpy()),
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr)
            if grids is not None:
                tag = f"run{paths.index(path)}"
                name_ = name.replace(", ", "_").replace(" ", "_").replace("+", "_")
                save_grid(r.sample(G, grid_z, grid_y), grids / f"agecgan_{tag}_{name_}.png", 8)
    return rows


@torch.no_grad()
def gan3d_rows(paths, n: int = 200) -> list[dict]:
    rows, refs = [], {}
    for path in paths:
        r, nets, info = variants(path)
        res = r.shape[-1]
        if res not in refs:
            refs[res] = reference(res, n, 0)[0]
        z = r.latent(n, torch.Generator().manual_seed(12345))
        for name, G in nets.items():
            vox = r.sample(G, z)
            m = evaluate(vox, refs[res], None, 0)
            rows.append({"family": "gan3d", "run": path, "row": name, **info, **m})
            print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


@torch.no_grad()
def fid_rows(paths, n: int = 5000) -> list[dict]:
    """FID / precision / recall (``gankit eval``'s engine, the data set's domain extractor, its test split) of ``n``
    samples of each generator of each run."""
    from gankit.evaluation import evaluate

    rows = []
    for path in paths:
        r, nets, info = variants(path)
        z = r.latent(n, torch.Generator().manual_seed(12345))
        for name, G in nets.items():
            m = evaluate(r.sample(G, z), r.cfg.data.name, metrics=("fid", "pr"), n=n)
            rows.append(
                {
                    "family": r.name,
                    "run": path,
                    "row": name,
                    **info,
                    **{k: m[k] for k in ("fid", "precision", "recall")},
                    "extractor": m["card"].get("extractor"),
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def rewrite(run: str, out: str) -> None:
    """``run`` copied to ``out`` (logs, config, samples) with only its latest checkpoint, whose EMA copies have their
    batch-norm statistics recomputed and whose config says ``train.ema_bn: recompute``."""
    import shutil

    c = ckpt.load(run)
    src = Path(c.path).parents[1]
    dst = Path(out) / src.name
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("checkpoints"))
    loaded = load_recipe(c, ema=True)
    tensors = dict(c.tensors)
    for n in loaded.ema:
        standing_stats(loaded.recipe, n, loaded.nets[n], c.config["train"]["batch_size"], c.config["train"]["seed"])
        tensors.update({f"ema.{n}.{k}": v.detach().cpu().clone() for k, v in loaded.nets[n].state_dict().items()})
    state = {
        k: v for k, v in c.state.items() if k not in ("format", "schema", "gankit", "torch", "created", "tensor_index")
    }
    state["config"] = {**state["config"], "train": {**state["config"]["train"], "ema_bn": "recompute"}}
    print(ckpt.write(dst / "checkpoints", Path(c.path).name, tensors, state))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agecgan", nargs="*", default=[])
    ap.add_argument("--gan3d", nargs="*", default=[])
    ap.add_argument("--fid", nargs="*", default=[], help="runs of noise families scored by FID on their data set")
    ap.add_argument(
        "--rewrite",
        nargs=2,
        metavar=("RUN", "OUT"),
        help="only copy run RUN to OUT with its latest checkpoint's EMA statistics recomputed, as the "
        "trainer saves them with train.ema_bn=recompute (then exit)",
    )
    ap.add_argument("--json", default="benchmarks/ema_bn_stats.json")
    ap.add_argument("--grids", default=None, help="folder for the agecgan sample grids of every row")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    if a.rewrite:
        return rewrite(*a.rewrite)
    grids = Path(a.grids) if a.grids else None
    if grids:
        grids.mkdir(parents=True, exist_ok=True)
    t = time.time()
    rows = agecgan_rows(a.agecgan, grids) if a.agecgan else []
    rows += gan3d_rows(a.gan3d) if a.gan3d else []
    rows += fid_rows(a.fid) if a.fid else []
    out = {"batches": EMA_BN_BATCHES, "seconds": round(time.time() - t), "threads": 1, "rows": rows}
    Path(a.json).write_text(json.dumps(out, indent=1))
    for row in rows:
        keys = (
            "fid",
            "precision",
            "recall",
            "speckle",
            "colour_speckle",
            "target_age_acc",
            "fid_domain",
            "mmd_iou",
            "cov_iou",
            "1nna_iou",
            "fragments",
            "fragmented",
        )
        print(row["family"], row.get("run", "")[-60:], row["row"], {k: round(row[k], 3) for k in keys if k in row})


if __name__ == "__main__":
    main()
