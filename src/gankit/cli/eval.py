"""``gankit eval`` and ``gankit metrics ...``: scores with provenance cards, feature extractors, card comparison."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

metrics_app = typer.Typer(
    no_args_is_help=True, help="Metrics: train a domain feature extractor, list extractors, compare score cards."
)

SCORE_KEYS = ("fid", "kid", "kid_std", "is", "is_std", "precision", "recall")


def _fail(msg: str):
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


def _fmt(k: str, v: float) -> str:
    return f"{k}={v:.6g}"


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in s)


def eval_cmd(
    target: Optional[Path] = typer.Argument(None, metavar="CKPT|DIR", help="run dir, checkpoint or image folder"),
    metrics: str = typer.Option("fid,kid,is,pr", "--metrics", help="comma list of fid, kid, is, pr"),
    ref: Optional[str] = typer.Option(
        None,
        "--ref",
        help="reference: dataset name, folder:PATH or a folder (default: the checkpoint's training dataset)",
    ),
    real: Optional[Path] = typer.Option(None, "--real", help="reference image folder (folder-vs-folder)"),
    fake: Optional[Path] = typer.Option(None, "--fake", help="generated image folder (folder-vs-folder)"),
    n: int = typer.Option(10000, "--n", help="number of generated images"),
    n_ref: Optional[int] = typer.Option(None, "--n-ref", help="use only the first N reference images"),
    size: Optional[int] = typer.Option(None, "--size", help="compare at SIZE x SIZE (folders are resized to it)"),
    split: Optional[str] = typer.Option(None, "--split", help="reference split (default: test where it exists)"),
    extractor: str = typer.Option(
        "auto", "--extractor", help="auto, inception, domain:<dataset>, wide:<dataset>, random"
    ),
    inception_weights: Optional[Path] = typer.Option(None, "--inception-weights", help="pt_inception-2015-12-05 file"),
    seed: int = typer.Option(0, "--seed", help="latents, KID subsets and IS split order"),
    batch: int = typer.Option(250, "--batch"),
    device: str = typer.Option("cpu", "--device"),
    no_ema: bool = typer.Option(False, "--no-ema", help="score the raw generator instead of its EMA copy"),
    no_cache: bool = typer.Option(False, "--no-cache", help="recompute reference features"),
    out: Optional[Path] = typer.Option(None, "--out", help="result JSON (default: RUN/eval/... for a checkpoint)"),
    compare: Optional[List[Path]] = typer.Option(None, "--compare", help="warn if this result's card differs"),
    as_json: bool = typer.Option(False, "--json", help="print the result JSON"),
    also: bool = typer.Option(
        True, "--second/--no-second", help="also score with the second extractor (wide:<dataset>) when it is trained"
    ),
):
    """Score generated images (FID, KID, IS, precision/recall) with a provenance card; fully offline."""
    from ..evaluation import evaluate

    if fake is not None and target is not None:
        _fail("give CKPT|DIR or --fake DIR, not both")
    subject = fake if fake is not None else target
    if subject is None:
        _fail("name a checkpoint / run dir, or --fake DIR with --real DIR")
    if not subject.exists():
        _fail(f"checkpoint not found: {subject}" if fake is None else f"--fake: folder not found: {subject}")
    if real is not None and ref is not None:
        _fail("give --ref or --real, not both")
    if n < 2:
        _fail("--n must be at least 2")
    log = (lambda m: typer.echo(m, err=True)) if not as_json else None
    kw = dict(
        metrics=metrics,
        n=n,
        n_ref=n_ref,
        split=split,
        seed=seed,
        batch=batch,
        device=device,
        inception_weights=inception_weights,
        cache=not no_cache,
        ema=not no_ema,
        size=size,
        log=log,
    )
    res = evaluate(subject, ref if real is None else str(real), extractor=extractor, **kw)
    result = _record(res, out, compare)
    second = _second_ruler(res["card"]) if also else None
    if second is not None:  # the second, independently built extractor, scored on the same protocol
        res2 = evaluate(subject, ref if real is None else str(real), extractor=second, **kw)
        result["second"] = _record(
            res2, None if out is None else out.with_name(out.stem + "-" + _slug(second) + ".json"), None
        )
    if as_json:
        typer.echo(json.dumps(result, indent=1))
        return
    for r in [result] + ([result["second"]] if "second" in result else []):
        _print(r)


def _second_ruler(card: dict) -> str | None:
    """``wide:<dataset>`` beside ``domain:<dataset>`` when that extractor has been trained."""
    from ..metrics.extractors import wide_path

    name = card["extractor"]["name"]
    if not name.startswith("domain:"):
        return None
    ds = name.split(":", 1)[1]
    return f"wide:{ds}" if wide_path(ds).is_file() else None


def _record(res: dict, out: Optional[Path], compare) -> dict:
    """Write one extractor's result JSON (RUN/eval/... for a checkpoint), log it to the run, check --compare."""
    from ..metrics import card as cards
    from ..train import checkpoint as ckpt

    card = res["card"]
    run_dir = None
    if card["fake"]["kind"] == "checkpoint":
        step_dir = Path(card["fake"]["path"])
        run_dir = step_dir.parent.parent
        if out is None:
            out = (
                run_dir
                / "eval"
                / (
                    f"{step_dir.name}-{_slug(card['extractor']['name'])}-n{card['n_fake']}"
                    f"-{card['reference']['split']}.json"
                )
            )
    result = {"scores": {k: res[k] for k in SCORE_KEYS if k in res}, "card": card, "seconds": res["seconds"]}
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        ckpt.write_text_atomic(out, json.dumps(result, indent=1))
        result["path"] = str(out)
    if run_dir is not None and (run_dir / "metrics.jsonl").exists():
        _log_to_run(run_dir / "metrics.jsonl", card, result["scores"])
    for other in compare or []:
        cards.warn_if_different(card, cards.load(other), str(other))
    return result


def _print(result: dict) -> None:
    card = result["card"]
    ex = card["extractor"]
    typer.echo(f"[{ex['name']}] " + "  ".join(_fmt(k, v) for k, v in result["scores"].items()))
    typer.echo(
        f"card: extractor {ex['name']} sha256:{ex['sha256'][:12]}  {ex['resizer']} -> {ex['input_size']}px  "
        f"images {card['image_size']}  n_real={card['n_real']} ({card['reference']['dataset']} "
        f"[{card['reference']['split']}] {card['reference']['fingerprint']})  n_fake={card['n_fake']}  "
        f"seed={card['seed']}  gankit {card['gankit']} torch {card['torch']}"
    )
    if "warning" in card:
        typer.echo(f"warning: {card['warning']}", err=True)
    if "path" in result:
        typer.echo(f"result: {result['path']}  ({result['seconds']:.1f}s)")


def _log_to_run(path: Path, card: dict, scores: dict):
    """Append a line to the run's metrics.jsonl, warning when earlier evals there used a different protocol."""
    from ..metrics import card as cards

    prev = None
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row.get("eval_card"), dict):
            prev = row
    if prev is not None:
        cards.warn_if_different(card, prev["eval_card"], f"the eval at step {prev.get('step')} in {path}")
    row = {
        "step": card["fake"]["step"],
        **{f"eval/{k}": v for k, v in scores.items()},
        "eval_source": "gankit eval",
        "eval_card": card,
    }
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


@metrics_app.command("train-extractor")
def train_extractor_cmd(
    dataset: str = typer.Argument(..., help="labelled dataset: fashion-mnist, mnist, cifar10, twemoji, folder:PATH"),
    epochs: float = typer.Option(2.0, "--epochs"),
    batch_size: int = typer.Option(128, "--batch-size"),
    lr: Optional[float] = typer.Option(None, "--lr", help="default: 2e-3 (domain), 0.05 (wide)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="default: 0 (domain), 1 (wide)"),
    size: Optional[int] = typer.Option(None, "--size", help="input size (default: native; twemoji: 32)"),
    limit: Optional[int] = typer.Option(None, "--limit", help="train on the first N images only"),
    out: Optional[Path] = typer.Option(None, "--out", help="default: $GANKIT_CACHE/extractors/<dataset>.safetensors"),
    device: str = typer.Option("cpu", "--device"),
    arch: str = typer.Option(
        "domain",
        "--arch",
        help="domain (the small CNN) or wide (the second ruler: a wider ResNet trained with augmentation)",
    ),
):
    """Train the domain classifier used as `--extractor domain:<dataset>` (or, with --arch wide, the second
    extractor `wide:<dataset>`) and store it in the cache."""
    from ..metrics.extractors import train_extractor

    train_extractor(
        dataset, epochs, batch_size, lr, seed, size, limit, out, device, log=lambda m: typer.echo(m), arch=arch
    )


@metrics_app.command("list")
def list_cmd():
    """Feature extractors available offline on this machine."""
    from ..metrics.extractors import available, extractor_dir

    rows = available()
    if not rows:
        typer.echo(f"no extractors in {extractor_dir()}; train one with: gankit metrics train-extractor fashion-mnist")
    for r in rows:
        extra = f"  acc={r['accuracy']}  input={r['input']}" if "accuracy" in r else ""
        typer.echo(f"{r['name']:28s} {r['path']}{extra}")


@metrics_app.command("compare")
def compare_cmd(results: List[Path] = typer.Argument(..., help="result JSON files written by gankit eval")):
    """Print scores side by side; warn and say what differs when their cards differ. Exit 1 if any differ."""
    from ..metrics import card as cards

    loaded = []
    for p in results:
        c = cards.load(p)
        data = json.loads(p.read_text())
        loaded.append((p, c, data.get("scores", {})))
    for p, _c, s in loaded:
        typer.echo(f"{str(p):60s} " + "  ".join(f"{k}={v:.5g}" for k, v in s.items()))
    differ = False
    base_p, base, _ = loaded[0]
    for _p, c, _ in loaded[1:]:
        d = cards.warn_if_different(c, base, str(base_p), file=sys.stdout)
        differ |= bool(d)
    if not differ and len(loaded) > 1:
        typer.echo("cards agree: the scores are comparable")
    raise typer.Exit(1 if differ else 0)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_cmd)
    app.add_typer(metrics_app, name="metrics")
