"""`make bench`: speed and memory side by side in one run, written to benchmarks/RESULTS.md.

1. Training throughput of the Keras CIFAR-10 DCGAN tutorial's nets (batch 128: D on 64 real + 64 fake, G on 128)
   with gankit's default fast path, against benchmarks/refs/'s plain-PyTorch and Keras 3 references, alternated
   over rounds; ratios are medians of per-round ratios.
2. Sampling throughput of the DCGAN generator: fast path vs plain eager PyTorch.
3. Peak memory (max RSS) of a short CPU training run of each recipe at default settings.
4. Image-folder batches from the memory-mapped decoded cache vs in memory (bench_data_cache.py).
5. The roofline table (roofline.py): each recipe's training step as a share of this machine's own GEMM peak.
6. The other benchmark scripts in this folder (FID, pix2pix) where present.

Usage: python benchmarks/run.py [--rounds 3] [--iters 10] [--roofline-presets default] [--quick] [--no-others]
       python benchmarks/run.py --only-others   (finish a run that stopped before part 6)
(--quick on a loaded or small machine: 1 round of 8 iterations, 5-step memory runs, 2-iteration roofline.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REFS = HERE / "refs"  # the reference scripts live in the repository (tests/test_bench_refs.py checks their nets)
KERAS_PY = Path(os.environ.get("GANKIT_KERAS_PYTHON", ROOT / ".bench-venv" / "bin" / "python"))
PY = sys.executable


def sh(cmd: list[str], env=None, cwd=None, timeout=1800) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return p.stdout


def img_per_s(out: str) -> float:
    return float(re.findall(r"img_per_s=([\d.]+)", out)[-1])


def machine() -> str:
    import torch

    model = ""
    try:
        model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    flags = open("/proc/cpuinfo").read() if Path("/proc/cpuinfo").exists() else ""
    isa = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return (
        f"{model or platform.processor()}, {os.cpu_count()} cores, ISA {'/'.join(isa)}; Python "
        f"{platform.python_version()}, torch {torch.__version__}, threads {torch.get_num_threads()}"
    )


def dcgan_training(rounds: int, iters: int) -> tuple[list[str], dict]:
    contenders = {
        "gankit": [PY, str(HERE / "bench_dcgan_step.py"), str(iters), "default-fast"],
        "torch-plain": [PY, str(REFS / "torch_dcgan_ref.py"), str(iters)],
    }
    if KERAS_PY.exists():
        contenders["keras3-fixed"] = [str(KERAS_PY), str(REFS / "keras_dcgan_fixed.py"), str(iters)]
        contenders["keras3-tutorial-as-written"] = [str(KERAS_PY), str(REFS / "keras_dcgan_ref.py"), str(iters)]
    runs = {k: [] for k in contenders}
    for r in range(rounds):
        for name, cmd in contenders.items():  # alternate the contenders within each round
            runs[name].append(img_per_s(sh(cmd, cwd=REFS if "keras" in name else None)))
            print(f"  round {r + 1} {name:24s} {runs[name][-1]:8.1f} img/s", flush=True)
    rows = ["| contender | img/s (median) | gankit ÷ contender (median of per-round ratios) |", "|---|---|---|"]
    ratios = {}
    for name, vals in runs.items():
        ratio = statistics.median(g / v for g, v in zip(runs["gankit"], vals))
        ratios[name] = ratio
        rows.append(f"| {name} | {statistics.median(vals):.1f} | {'—' if name == 'gankit' else f'{ratio:.2f}×'} |")
    if not KERAS_PY.exists():
        rows.append(f"| keras3 (not measured: no {KERAS_PY}; `make bench` creates it with tensorflow-cpu) | | |")
    return rows, {"runs": runs, "ratios": ratios}


def dcgan_sampling(rounds: int) -> tuple[list[str], dict]:
    out = sh([PY, str(HERE / "bench_sampling.py"), str(rounds)])
    data = json.loads(out.strip().splitlines()[-1])
    rows = ["| variant | img/s (median) | × eager fp32 |", "|---|---|---|"]
    for k, v in data.items():
        rows.append(f"| {k} | {v:.0f} | {v / data['eager-fp32']:.2f}× |")
    return rows, data


def peak_memory(quick: bool) -> tuple[list[str], dict]:
    from gankit.models import RECIPES

    rows = ["| recipe (default preset) | peak RSS (MiB) | steps |", "|---|---|---|"]
    res = {}
    for recipe in RECIPES:
        steps = 5 if quick else 20
        code = (
            "import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True); "
            "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        )
        tmp = HERE / ".mem-runs"
        cmd = [
            PY,
            "-c",
            code,
            PY,
            "-m",
            "gankit.cli",
            "train",
            recipe,
            "--steps",
            str(steps),
            "--out",
            str(tmp),
            "--no-progress",
            "train.sample_every=100000",
            "train.ckpt_every=100000",
        ]
        rc, kib = sh(cmd).split()
        if rc != "0":
            rows.append(f"| {recipe} | failed (exit {rc}) | |")
            continue
        res[recipe] = int(kib) / 1024
        rows.append(f"| {recipe} | {res[recipe]:.0f} | {steps} |")
    subprocess.run(["rm", "-rf", str(HERE / ".mem-runs")])
    return rows, res


def data_cache(quick: bool) -> list[str]:
    args = ["--n", "600", "--size", "64", "--rounds", "1"] if quick else ["--rounds", "3"]
    out = sh([PY, str(HERE / "bench_data_cache.py"), *args])
    return [line for line in out.strip().splitlines() if not line.startswith("{")]


def other_scripts() -> list[str]:
    rows = []
    for script in sorted(HERE.glob("bench_*.py")):
        if script.name in ("bench_dcgan_step.py", "bench_sampling.py", "bench_data_cache.py"):
            continue
        t = time.time()
        try:
            out = sh([PY, str(script)], timeout=1800)
            tail = "\n".join(out.strip().splitlines()[-8:])
            rows += [f"### {script.name} ({time.time() - t:.0f} s)", "```", tail, "```"]
        except RuntimeError as e:
            # a script exits non-zero when it misses its own target (bench_fid: the 60 s budget) or crashes
            rows += [f"### {script.name}: exited non-zero", "```", str(e)[-1500:].replace(f"{ROOT}/", ""), "```"]
    return rows


def save(lines: list[str], stopped_before: str | None = None) -> None:
    """RESULTS.md after every part, so a run stopped part-way keeps what it measured and says where it stopped."""
    tail = [f"(This run stopped before: {stopped_before}.)", ""] if stopped_before else []
    (HERE / "RESULTS.md").write_text("\n".join(lines + tail) + "\n")


def finish_with_others() -> None:
    trailer = "(This run stopped before: the other benchmark scripts.)"
    text = (HERE / "RESULTS.md").read_text()
    if trailer not in text:
        sys.exit(f"benchmarks/RESULTS.md does not end with '{trailer}': run the whole bench")
    finish(text[: text.index(trailer)].rstrip("\n").split("\n") + [""])


def finish(lines: list[str], others: bool = True) -> None:
    """Part 6 (the other bench_*.py scripts) and the closing load average, then RESULTS.md."""
    if others:
        save(lines, "the other benchmark scripts")
        print("other benchmark scripts ...", flush=True)
        lines += ["## Other benchmarks", "", *other_scripts(), ""]
    lines += [f"Load average (1 min) when the run ended: {os.getloadavg()[0]:.1f}", ""]
    save(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="1 round of 8 iterations, shorter memory and roofline runs")
    ap.add_argument("--roofline-presets", default="default", help="e.g. default,paper (paper: 256-px nets, slow)")
    ap.add_argument("--no-others", action="store_true", help="skip the other bench_*.py scripts (FID, FLOPs, ...)")
    ap.add_argument(
        "--only-others",
        action="store_true",
        help="finish a RESULTS.md that stopped before the other benchmark scripts: run only those and append them",
    )
    a = ap.parse_args()
    if a.only_others:
        return finish_with_others()
    if a.quick:
        a.rounds, a.iters = 1, 8
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {machine()}",
        f"Date: {time.strftime('%Y-%m-%d %H:%M')}",
        f"Load average (1 min) when the run started: {os.getloadavg()[0]:.1f}",
        f"Settings: --rounds {a.rounds} --iters {a.iters}{' --quick' if a.quick else ''}",
        "",
        "Reproduce: `make bench` (or `.venv/bin/python benchmarks/run.py`). Ratios are measured side by side in "
        "this one run; absolute CPU numbers depend on load.",
        "",
    ]
    print("DCGAN training throughput ...", flush=True)
    rows, train = dcgan_training(a.rounds, a.iters)
    lines += [
        "## CIFAR-10 DCGAN (the Keras DCGAN tutorial's nets) training throughput (CPU)",
        "",
        "gankit runs the tutorial's nets with its default fast path (`bench_dcgan_step.py default-fast`); the "
        "references are `benchmarks/refs/*.py` with the same iteration.",
        "",
        *rows,
        "",
    ]
    save(lines, "DCGAN sampling throughput")
    print("DCGAN sampling throughput ...", flush=True)
    rows, _ = dcgan_sampling(a.rounds)
    lines += ["## DCGAN generator sampling throughput (CPU, batch 256)", "", *rows, ""]
    save(lines, "peak memory")
    print("peak memory ...", flush=True)
    rows, _ = peak_memory(a.quick)
    lines += ["## Peak memory of a short CPU training run, default presets", "", *rows, ""]
    save(lines, "image folder: mmap cache vs memory")
    print("image folder: mmap cache vs memory ...", flush=True)
    lines += [
        "## Image-folder batches: memory-mapped decoded cache vs in memory (CPU)",
        "",
        "`python benchmarks/bench_data_cache.py` (each variant in a fresh process, alternated over rounds; the "
        "cache already built and in the page cache).",
        "",
        *data_cache(a.quick),
        "",
    ]
    save(lines, "roofline")
    print("roofline ...", flush=True)
    roof = sh(
        [PY, str(HERE / "roofline.py"), "--iters", "2" if a.quick else "3", "--presets", a.roofline_presets],
        timeout=3600,
    )
    lines += [
        "## Roofline: each recipe's training step against this machine's GEMM peak (CPU)",
        "",
        f"`python benchmarks/roofline.py --presets {a.roofline_presets}` (FLOPs by `torch.utils.flop_counter`; "
        "`preset` = the preset's own precision and layout, `fast` = `train.precision=auto` (bf16 where the CPU has "
        "it natively), channels-last and fused Adam forced on).",
        "",
        roof.strip(),
        "",
    ]
    save(lines, "profiles")
    print("profiles ...", flush=True)
    prof = sh(
        [
            PY,
            str(HERE / "profile_step.py"),
            "mlp-gan",
            "dcgan",
            "lsgan",
            "cgan",
            "pix2pix",
            "cyclegan",
            "srgan",
            "agecgan",
            "stackgan",
            "r3gan",
            "gan3d",
            "--iters",
            "2",
        ],
        timeout=3600,
    )
    lines += [
        "## Where each default training step's time goes (CPU)",
        "",
        "`python benchmarks/profile_step.py RECIPE...` (torch.profiler self time per operator, binned; "
        "explained in `benchmarks/ROOFLINE.md`).",
        "",
        "\n".join(ln for ln in prof.splitlines() if ln.startswith("|") or "GEMM peak" in ln),
        "",
    ]
    finish(lines, others=not a.no_others)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
