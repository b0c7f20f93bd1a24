"""StackGAN on emoji: R-precision of held-out captions, and a grid of held-out captions with their outputs.

R-precision (R = 1, the StackGAN/AttnGAN protocol at 100 candidates): an image encoder is trained on the REAL
training pairs to map images into the caption-embedding space (MiniLM, frozen); for each held-out emoji its
caption (the CLDR name) is drawn, and the image (generated from that caption, or the real one) must score its own
caption above 99 captions of other held-out emoji. Rows: random image embeddings (chance = 1 %), stage I,
stage II (its 128 px output resized to the encoder's 64 px), real held-out images (the encoder's ceiling).

    PYTHONPATH=src python benchmarks/stackgan_eval.py --stage1 RUN1 --stage2 RUN2 --out docs/img/stackgan

Writes ``results.json``, ``results.md`` and ``heldout_grid.png`` (rows: held-out caption; columns: the real
OpenMoji, three stage-I samples, three stage-II samples) into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from gankit.fileio import write_text_atomic  # noqa: E402
from gankit.models import config_from_dict  # noqa: E402
from gankit.models.stackgan import StackGAN  # noqa: E402
from gankit.nn.text import ImageEmbedder, joint_embedding_loss  # noqa: E402
from gankit.pipelines import TextPipeline  # noqa: E402
from gankit.train import checkpoint as ckpt  # noqa: E402
from gankit.viz.grid import save_grid  # noqa: E402

ENC_SIZE = 64


def to_enc(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] at the encoder's size (antialiased reduction of stage-II outputs)."""
    if x.shape[-1] == ENC_SIZE:
        return x
    return F.interpolate(x, size=(ENC_SIZE, ENC_SIZE), mode="bilinear", antialias=True, align_corners=False)


def train_image_encoder(data, steps: int, batch: int, seed: int, log) -> ImageEmbedder:
    """ImageEmbedder trained on real (image, caption embedding) training pairs with the joint embedding loss."""
    torch.manual_seed(seed)
    enc = ImageEmbedder(data.embeddings.shape[1], 32)
    opt = torch.optim.Adam(enc.parameters(), 1e-3)
    g = torch.Generator().manual_seed(seed)
    for step in range(steps):
        idx = torch.randint(0, len(data), (batch,), generator=g)
        b = data.batch(idx, None, g)
        img = to_enc(b["image"])
        if torch.rand(1, generator=g) < 0.5:  # emoji are not mirror-symmetric in meaning, but flips regularise
            img = img.flip(-1)
        same = b["group"][:, None] == b["group"][None, :]
        loss = joint_embedding_loss(enc(img), b["emb"], same)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"  encoder step {step}: loss {loss.item():.4f}")
    return enc.eval()


def queries(test, per_code: bool = True):
    """One query per held-out item: (item index, its first caption index); ``per_code`` keeps one item per
    emoji (its last rendering, OpenMoji in the stage-I set)."""
    seen = {}
    for i, k in enumerate(test.keys):
        seen[k] = i
    items = sorted(seen.values()) if per_code else list(range(len(test)))
    return items, [test.item_caps[i][0] for i in items]


@torch.no_grad()
def r_precision(img_emb: torch.Tensor, cap_emb: torch.Tensor, groups: torch.Tensor, cand: int, seed: int) -> float:
    """Share of queries whose own caption (row i of ``cap_emb``) scores highest among itself and ``cand - 1``
    captions of other groups drawn at random."""
    g = torch.Generator().manual_seed(seed)
    n = img_emb.shape[0]
    hits = 0
    for i in range(n):
        others = torch.nonzero(groups != groups[i]).flatten()
        pick = others[torch.randperm(len(others), generator=g)[: cand - 1]]
        c = torch.cat([cap_emb[i : i + 1], cap_emb[pick]])
        s = F.normalize(img_emb[i : i + 1], dim=1) @ c.t()
        hits += int(s.argmax() == 0)
    return hits / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stage1", required=True)
    ap.add_argument("--stage2")
    ap.add_argument("--out", default="docs/img/stackgan")
    ap.add_argument("--encoder-steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--candidates", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--grid-rows", type=int, default=10)
    ap.add_argument("--train-queries", type=int, default=0, help="also score N training emoji (memorisation)")
    ap.add_argument("--encoder-cache", help="load the image encoder from this file if it exists, else save it there")
    ap.add_argument(
        "--extractor", help="also FID/KID against the held-out images, e.g. domain:/path/twemoji.safetensors"
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    log = lambda m: print(f"[{time.time() - t0:6.0f}s] {m}", flush=True)  # noqa: E731

    c1 = ckpt.load(args.stage1)
    cfg1 = config_from_dict(c1.config)
    data = StackGAN.load_data(cfg1)  # same captions, same (cached) embeddings as the run
    test = data.test
    log(f"data: {len(data)} train items, {len(test)} held-out items, {len(data.captions)} training captions")
    cache = Path(args.encoder_cache) if args.encoder_cache else None
    if cache is not None and cache.exists():
        from safetensors.torch import load_file

        enc = ImageEmbedder(data.embeddings.shape[1], 32)
        enc.load_state_dict(load_file(str(cache)))
        enc.eval()
        log(f"image encoder: {cache}")
    else:
        enc = train_image_encoder(data, args.encoder_steps, args.batch, 0, log)
        if cache is not None:
            from safetensors.torch import save_file

            save_file(enc.state_dict(), str(cache))

    items, caps = queries(test)
    emb = test.embeddings[torch.tensor(caps)]
    groups = test.groups[torch.tensor(items)]
    embed = lambda x: torch.cat([enc(to_enc(x[i : i + 256])) for i in range(0, len(x), 256)])  # noqa: E731
    rows = {}
    g = torch.Generator().manual_seed(0)
    rows["random image embedding (chance 1 %)"] = [
        r_precision(torch.randn(len(items), emb.shape[1], generator=g), emb, groups, args.candidates, s)
        for s in range(args.seeds)
    ]
    real = test.images[torch.tensor(items)].float() / 127.5 - 1
    with torch.no_grad():
        rows["real held-out images (ceiling)"] = [
            r_precision(embed(real), emb, groups, args.candidates, s) for s in range(args.seeds)
        ]
    m1 = TextPipeline.from_checkpoint(c1)
    samples = {}
    with torch.no_grad():
        x1 = [m1.generate(emb, seed=100 + s) for s in range(args.seeds)]
        rows[f"stage I ({c1.state['data_info']['shape'][-1]} px, step {c1.step})"] = [
            r_precision(embed(x), emb, groups, args.candidates, s) for s, x in enumerate(x1)
        ]
        samples["stage1"] = x1
        if args.stage2:
            c2 = ckpt.load(args.stage2)
            m2 = TextPipeline.from_checkpoint(c2)
            x2 = [m2.generate(emb, seed=100 + s) for s in range(args.seeds)]
            rows[f"stage II ({c2.state['data_info']['shape'][-1]} px, step {c2.step}; stage I of its own G1)"] = [
                r_precision(embed(x), emb, groups, args.candidates, s) for s, x in enumerate(x2)
            ]
            samples["stage2"] = x2
            samples["stage2_lo"] = [m2.generate(emb, seed=100 + s, output="stage1") for s in range(args.seeds)]
        if args.train_queries:  # the same protocol on training emoji: did it learn captions it has seen?
            ti, tc = queries(data)
            sel = torch.linspace(0, len(ti) - 1, min(args.train_queries, len(ti))).long()
            ti, tc = [ti[i] for i in sel], [tc[i] for i in sel]
            temb, tgr = data.embeddings[torch.tensor(tc)], data.groups[torch.tensor(ti)]
            treal = data.images[torch.tensor(ti)].float() / 127.5 - 1
            rows["real training images"] = [
                r_precision(embed(treal), temb, tgr, args.candidates, s) for s in range(args.seeds)
            ]
            rows["stage I, training captions"] = [
                r_precision(embed(m1.generate(temb, seed=100 + s)), temb, tgr, args.candidates, s)
                for s in range(args.seeds)
            ]
            if args.stage2:
                rows["stage II, training captions"] = [
                    r_precision(embed(m2.generate(temb, seed=100 + s)), temb, tgr, args.candidates, s)
                    for s in range(args.seeds)
                ]
    log("R-precision done")

    fidkid = {}
    if args.extractor:
        from gankit.data.images import to_uint8
        from gankit.metrics.core import fid, kid
        from gankit.metrics.engine import extract
        from gankit.metrics.extractors import load_extractor

        ex = load_extractor(args.extractor)
        feats = lambda x: extract(ex, to_uint8(to_enc(x)))[0]  # noqa: E731  (every row at the same 64 px)
        ref = feats(test.images.float() / 127.5 - 1)
        sets = {}
        n_fake = len(items) * args.seeds
        gi = torch.Generator().manual_seed(1)
        tr = torch.randperm(len(data), generator=gi)[:n_fake]
        sets["real training images (floor)"] = data.images[tr].float() / 127.5 - 1
        sets["stage I"] = torch.cat(samples["stage1"])
        if "stage2" in samples:
            sets["stage II"] = torch.cat(samples["stage2"])
        for k, x in sets.items():
            f = feats(x)
            km, ks = kid(ref, f, subsets=50, subset_size=min(500, len(ref), len(f)))
            fidkid[k] = {"fid": round(fid(ref, f), 3), "kid": round(km, 5), "kid_std": round(ks, 5), "n": len(f)}
        log(f"FID/KID with {ex.name}: {fidkid}")

    res = {
        "protocol": f"R-precision@1 among {args.candidates} captions (1 true + {args.candidates - 1} of other "
        f"held-out emoji), {len(items)} held-out emoji, {args.seeds} noise seeds",
        "encoder": f"ImageEmbedder(width 32) -> {emb.shape[1]}-d, joint embedding loss, {args.encoder_steps} steps "
        f"x {args.batch} real training pairs at {ENC_SIZE} px",
        "stage1": str(args.stage1),
        "stage2": args.stage2,
        "rows": {k: {"mean": round(sum(v) / len(v), 4), "per_seed": [round(x, 4) for x in v]} for k, v in rows.items()},
        "fid_kid": {"extractor": args.extractor, "reference": f"{len(test)} held-out images", "rows": fidkid},
        "seconds": round(time.time() - t0, 1),
    }
    write_text_atomic(out / "results.json", json.dumps(res, indent=1) + "\n")
    md = ["| images scored | R-precision@1 (100 captions) |", "|---|---|"]
    md += [f"| {k} | {100 * v['mean']:.1f} % |" for k, v in res["rows"].items()]
    if fidkid:
        md += ["", f"| images vs {len(test)} held-out real | FID | KID |", "|---|---|---|"]
        md += [f"| {k} | {v['fid']:.2f} | {v['kid']:.4f} |" for k, v in fidkid.items()]
    write_text_atomic(out / "results.md", "\n".join(md) + "\n")
    print("\n".join(md))

    # the grid: held-out captions, real | 3 x stage I | 3 x stage II
    k = min(args.grid_rows, len(items))
    pick = torch.linspace(0, len(items) - 1, k).long()
    side = (samples["stage2"] if "stage2" in samples else samples["stage1"])[0].shape[-1]
    up = lambda x: F.interpolate(x, size=(side, side), mode="nearest") if x.shape[-1] != side else x  # noqa: E731
    cols = [up(real[pick])]
    cols += [up(samples["stage2_lo" if "stage2" in samples else "stage1"][s][pick]) for s in range(min(3, args.seeds))]
    if "stage2" in samples:
        cols += [samples["stage2"][s][pick] for s in range(min(3, args.seeds))]
    grid = torch.stack(cols, 1).flatten(0, 1)
    save_grid(grid, out / "heldout_grid.png", len(cols))
    names = [test.captions[caps[int(i)]] for i in pick]
    write_text_atomic(out / "heldout_grid.txt", "\n".join(f"row {r + 1}: {n}" for r, n in enumerate(names)) + "\n")
    log(f"grid: {out / 'heldout_grid.png'} (rows: {', '.join(names)})")


if __name__ == "__main__":
    main()
