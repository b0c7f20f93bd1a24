"""What the studio shows of a run besides the model: its pictures, health report and score cards."""

from __future__ import annotations

import json
from pathlib import Path


def run_files(run_dir: Path) -> dict[str, Path]:
    """The run's pictures the page may show, by name relative to the run directory (the only files served)."""
    run_dir = Path(run_dir)
    out = {}
    for name in ("loss.png", "health.md"):
        if (run_dir / name).is_file():
            out[name] = run_dir / name
    for pattern in ("samples/*.png", "eval/*.json"):
        for p in sorted(run_dir.glob(pattern)):
            if p.is_file() and not p.name.startswith("."):
                out[p.relative_to(run_dir).as_posix()] = p
    return out


def score_cards(run_dir: Path) -> list[dict]:
    """``gankit eval`` results written into the run (``eval/*.json``): scores and what they were measured on."""
    cards = []
    for p in sorted(Path(run_dir).glob("eval/*.json")):
        try:
            d = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(d, dict) and isinstance(d.get("scores"), dict):
            card = d.get("card") or {}
            cards.append(
                {
                    "file": p.name,
                    "scores": d["scores"],
                    "extractor": (card.get("extractor") or {}).get("name"),
                    "n_fake": card.get("n_fake"),
                    "reference": card.get("reference"),
                }
            )
    return cards
