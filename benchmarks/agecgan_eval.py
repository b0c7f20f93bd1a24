"""Age-cGAN on emoji-people, measured: does a re-aged held-out person land in the requested age bin, and is it
still the same person?

    PYTHONPATH=src python benchmarks/agecgan_eval.py --stage1 RUN1 --stage2 RUN2 --out docs/img/agecgan
    # or let it train both stages first (same commands as in docs/ageing.md):
    PYTHONPATH=src python benchmarks/agecgan_eval.py --stage1-steps 1200 --stage2-steps 600 --out docs/img/agecgan

Judges, both trained here on the *real training split* only (fixed seeds), never on generated images:
- an age classifier (gankit's DomainNet, 3 bins); its held-out accuracy (overall and per bin) is printed. Its
  128-d penultimate features are the domain extractor for FID.
- an evaluation identity embedder (``nn/identity.py`` architecture, another seed and run than the stage-2 embedder
  that stage 3 optimises against), so the identity column is not scored by the net that was optimised.
Rows: untrained G and E (same architecture, seed 0), trained G + E with no latent optimisation (stages 1+2), and
trained G + E + per-image latent optimisation (stages 1+2+3). Columns: target-age accuracy over every held-out
input x every bin; identity cosine similarity input<->output (against same-identity and random-pair baselines on
the held-out real images); FID (domain features) of outputs aimed at ``adult`` against the real adult training
images; speckle: the high-frequency (Laplacian) energy of all outputs over that of the real training faces, on
the pixels and on their colour (each pixel less its grey level), ~1 when as sharp as the data, well above 1 when
speckled (held-out real faces give the reference value). Writes ``<out>/agecgan_eval.json`` and
``<out>/agecgan_strip.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from gankit import api
from gankit.config import DataConfig, from_dict
from gankit.data.ages import load_ages
from gankit.data.images import to_float
from gankit.metrics.core import fid
from gankit.metrics.extractors import DomainNet
from gankit.metrics.identity import cosine, pair_baselines
from gankit.metrics.task import speckle_ratio
from gankit.models.agecgan import AgeCGAN
from gankit.nn.identity import EmojiIdentityNet
from gankit.pipelines import AgePipeline
from gankit.viz.grid import save_grid


def train_classifier(data, steps: int, seed: int = 0, batch: int = 64) -> DomainNet:
    """DomainNet over the age bins, class-balanced batches, random horizontal flips."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = DomainNet(3, data.num_classes, width=32)
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    order = torch.arange(len(data))  # data.order is the balanced index space
    for _ in range(steps):
        idx = order[torch.randint(0, len(order), (batch,), generator=g)]
        b = data.batch(idx)
        x = torch.where(torch.rand(batch, 1, 1, 1, generator=g) < 0.5, b["image"].flip(-1), b["image"])
        loss = F.cross_entropy(net(x)[1], b["label"])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def train_embedder(data, steps: int, seed: int = 1, batch: int = 64) -> EmojiIdentityNet:
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = EmojiIdentityNet(3, len(data.identities), 64)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for _ in range(steps):
        idx = torch.randint(0, len(data), (batch,), generator=g)
        b = data.batch(idx)
        loss, _ = net.loss(b["image"], b["identity"])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


@torch.no_grad()
def predict(net, x, bs: int = 256):
    return torch.cat([net(x[i : i + bs])[1].argmax(1) for i in range(0, len(x), bs)])


@torch.no_grad()
def features(net, x, bs: int = 256):
    return torch.cat([net(x[i : i + bs])[0] for i in range(0, len(x), bs)])


@torch.no_grad()
def embed(net, x, bs: int = 256):
    return torch.cat([net(x[i : i + bs]) for i in range(0, len(x), bs)])


def chroma(x):
    """Each pixel less its grey level: what coloured speckle adds to, and emoji outlines (black) mostly do not."""
    return x - x.mean(1, keepdim=True)


def score(model: AgePipeline, x, y0, steps: int, clf, emb, real_adult_feats, k: int, real=None) -> dict:
    t = time.time()
    z = model.latents(x, y0, steps)
    outs = [model.reage(z, torch.full((len(x),), b, dtype=torch.long)) for b in range(k)]
    acc = [float((predict(clf, o) == b).float().mean()) for b, o in enumerate(outs)]
    e_in = embed(emb, x)
    sims = [float(cosine(e_in, embed(emb, o)).mean()) for o in outs]
    adult = 1 if k == 3 else None
    f = fid(real_adult_feats.numpy(), features(clf, outs[adult]).numpy()) if adult is not None else None
    allout = torch.cat(outs)
    return {
        "speckle": speckle_ratio(allout, real) if real is not None else None,
        "colour_speckle": speckle_ratio(chroma(allout), chroma(real)) if real is not None else None,
        "target_age_acc": sum(acc) / k,
        "target_age_acc_per_bin": acc,
        "identity_sim": sum(sims) / k,
        "identity_sim_per_bin": sims,
        "fid_adult_domain": f,
        "seconds": round(time.time() - t, 1),
    }, outs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stage1", help="stage-1 run dir (else trained here with --stage1-steps)")
    ap.add_argument("--stage2", help="stage-2 run dir (else trained here with --stage2-steps)")
    ap.add_argument("--stage1-steps", type=int, default=1200)
    ap.add_argument("--stage2-steps", type=int, default=600)
    ap.add_argument("--latent-steps", type=int, default=None, help="stage 3 steps (default: the checkpoint's)")
    ap.add_argument("--judge-steps", type=int, default=600, help="training steps of the age classifier and embedder")
    ap.add_argument("--runs", default="runs/agecgan-eval")
    ap.add_argument("--out", default="docs/img/agecgan")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    s1 = a.stage1 or api.train(
        "agecgan", "default", [f"train.steps={a.stage1_steps}", f"train.threads={a.threads}"], out=f"{a.runs}/stage1"
    )
    s2 = a.stage2 or api.train(
        "agecgan",
        "encoder",
        [f"train.steps={a.stage2_steps}", f"model.init_from={s1}", f"train.threads={a.threads}"],
        out=f"{a.runs}/stage2",
    )
    model = AgePipeline.from_checkpoint(s2)
    cfg = model.checkpoint.config
    data = load_ages(
        DataConfig(name=cfg["data"]["name"], size=cfg["data"]["size"]),
        balance=True,
        people=cfg["model"].get("people", "all"),
    )
    test, k = data.test, data.num_classes
    print(json.dumps({"data": data.card()}), file=sys.stderr)

    t0 = time.time()
    clf = train_classifier(data, a.judge_steps)
    pred = predict(clf, test.batch(torch.arange(len(test)))["image"])
    per_bin = [float((pred[test.labels == b] == b).float().mean()) for b in range(k)]
    emb = train_embedder(data, a.judge_steps)
    judge_s = round(time.time() - t0, 1)

    xb = test.batch(torch.arange(len(test)))
    x, y0 = xb["image"], xb["label"]
    g = torch.Generator().manual_seed(0)
    base = pair_baselines(embed(emb, x), xb["identity"], g)
    real_adult_feats = features(clf, to_float(data.images[data.labels == 1][:2000]))
    heldout_adult = features(clf, x[y0 == 1])
    real = to_float(data.images)  # speckle: high-frequency energy of outputs over that of the real training faces
    fid_real = fid(real_adult_feats.numpy(), heldout_adult.numpy())

    torch.manual_seed(0)
    fresh = AgeCGAN(from_dict({**cfg, "model": {**cfg["model"], "init_from": None}}, AgeCGAN), model.shape, k)
    untrained = AgePipeline(fresh.G.eval(), fresh.E.eval(), k, model.opts, None)
    rows = {}
    rows["untrained G + E"], _ = score(untrained, x, y0, 0, clf, emb, real_adult_feats, k, real)
    rows["stages 1+2 (G + E, no optimisation)"], _ = score(model, x, y0, 0, clf, emb, real_adult_feats, k, real)
    steps = model.opts.latent_steps if a.latent_steps is None else a.latent_steps
    rows[f"stages 1+2+3 (+{steps} latent steps)"], _ = score(model, x, y0, steps, clf, emb, real_adult_feats, k, real)

    # the strip: held-out plain people (child, adult, older of the held-out skin tone), Twemoji then OpenMoji
    plain = [i for i in range(len(test)) if test.identities[int(test.identity[i])].startswith("plain|")]
    tw = sorted((i for i in plain if test.keys[i].startswith("twemoji:")), key=lambda i: int(test.labels[i]))
    om = sorted((i for i in plain if test.keys[i].startswith("openmoji:")), key=lambda i: int(test.labels[i]))
    pick = torch.tensor(tw[:8] + om[:: max(1, len(om) // 4)][:4])
    strip = model.strip(x[pick], y0[pick], steps)
    save_grid(strip.flatten(0, 1), out / "agecgan_strip.png", nrow=k + 1)
    strip0 = model.strip(x[pick], y0[pick], 0)
    save_grid(strip0.flatten(0, 1), out / "agecgan_strip_no_opt.png", nrow=k + 1)

    res = {
        "stage1": str(s1),
        "stage2": str(s2),
        "data": data.card(),
        "bins": data.classes,
        "age_classifier": {
            "arch": "DomainNet/2 (width 32)",
            "steps": a.judge_steps,
            "trained_on": "real training split",
            "heldout_acc": float((pred == test.labels).float().mean()),
            "heldout_acc_per_bin": per_bin,
            "heldout_balanced_acc": sum(per_bin) / k,
            "chance": 1 / k,
        },
        "identity_embedder": {
            "name": "emoji identity embedder (evaluation copy, seed 1; trained on emoji-people)",
            "steps": a.judge_steps,
            "heldout_baselines_cosine": base,
        },
        "stage3_identity": getattr(model.identity, "name", "none"),
        "stage3": {
            "steps": steps,
            "lr": model.opts.latent_lr,
            "identity_weight": model.opts.identity_weight,
            "pixel_weight": model.opts.pixel_weight,
        },
        "fid_real_train_vs_heldout_adult": fid_real,
        "speckle_real_heldout": speckle_ratio(x, real),
        "colour_speckle_real_heldout": speckle_ratio(chroma(x), chroma(real)),
        "judge_seconds": judge_s,
        "rows": rows,
        "strip_rows": [test.keys[i] for i in pick.tolist()],
    }
    (out / "agecgan_eval.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))
    w = max(len(r) for r in rows)
    print(f"\n{'row':{w}}  target-age acc  identity cos  FID(adult, domain)  speckle  colour speckle")
    for r, v in rows.items():
        print(
            f"{r:{w}}  {v['target_age_acc']:.3f}          {v['identity_sim']:.3f}         {v['fid_adult_domain']:.2f}"
            f"              {v['speckle']:.2f}     {v['colour_speckle']:.2f}"
        )
    print(
        f"baselines: same identity {base.get('same_identity', float('nan')):.3f}, "
        f"random pair {base['random_pair']:.3f}; "
        f"age classifier held-out acc {res['age_classifier']['heldout_acc']:.3f} (balanced {sum(per_bin) / k:.3f})"
    )


if __name__ == "__main__":
    main()
