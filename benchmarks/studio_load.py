"""A bounded load test of `gankit serve` on loopback: concurrent sample, interpolation and upload requests against two
models (a noise model and a translation model), a fixed number of requests and a time limit (it stops by itself).
Reports latencies, status codes and the server's resident memory (VmRSS) sampled through the run: after warm-up it
should stay flat.

    python benchmarks/studio_load.py                      # trains two tiny runs first (a few seconds)
    python benchmarks/studio_load.py RUN_NOISE RUN_IMAGE --requests 600 --concurrency 8 --time-limit 180 \
        --json benchmarks/STUDIO_LOAD.json

tests/test_studio_browser.py runs the same driver, smaller, against its own server.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def upload_pngs(k: int = 8, side: int = 64) -> list[bytes]:
    import numpy as np
    from PIL import Image

    out, rng = [], np.random.default_rng(0)
    for _ in range(k):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(buf, format="PNG")
        out.append(buf.getvalue())
    return out


def run_load(
    url: str,
    pid: int,
    noise_id: str,
    image_id: str,
    requests: int = 200,
    concurrency: int = 6,
    time_limit: float = 120.0,
    warmup: float = 0.2,
) -> dict:
    """Send ``requests`` requests (a third each: sample, interpolate, upload) from ``concurrency`` threads, or stop
    at ``time_limit`` seconds; sample the server's RSS every 0.2 s."""
    import httpx

    pngs = upload_pngs()
    kinds = ("sample", "interpolate", "upload")
    counter, lock = itertools.count(), threading.Lock()
    done, lat, statuses, errors, rss = [0], {k: [] for k in kinds}, Counter(), [], []
    t0 = time.perf_counter()
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            rss.append((time.perf_counter() - t0, done[0], rss_mb(pid)))
            stop.wait(0.2)

    def worker(client: httpx.Client):
        while True:
            i = next(counter)
            if i >= requests or time.perf_counter() - t0 > time_limit:
                return
            kind = kinds[i % 3]
            s = time.perf_counter()
            try:
                if kind == "sample":
                    r = client.get(f"/api/models/{noise_id}/sample.png", params={"seed": i, "n": 16})
                elif kind == "interpolate":
                    r = client.get(
                        f"/api/models/{noise_id}/interpolate.png", params={"seed_a": i, "seed_b": i + 1, "steps": 8}
                    )
                else:
                    r = client.post(f"/api/models/{image_id}/apply", files={"file": (f"{i}.png", pngs[i % len(pngs)])})
                code = r.status_code
                ok = code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"
            except httpx.HTTPError as e:
                code, ok = type(e).__name__, False
            with lock:
                statuses[str(code)] += 1
                done[0] += 1
                if ok:
                    lat[kind].append(time.perf_counter() - s)
                elif len(errors) < 5:
                    errors.append(f"{kind} #{i}: {code}")

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    with httpx.Client(base_url=url, timeout=120) as client, ThreadPoolExecutor(concurrency) as pool:
        for f in [pool.submit(worker, client) for _ in range(concurrency)]:
            f.result()
    seconds = time.perf_counter() - t0
    stop.set()
    th.join()
    rss.append((seconds, done[0], rss_mb(pid)))
    warm = [r for r in rss if r[1] >= warmup * done[0]]
    after = warm[0][2] if warm else rss[-1][2]
    pct = lambda xs, q: round(1000 * statistics.quantiles(xs, n=20)[q], 1) if len(xs) >= 2 else None  # noqa: E731
    return {
        "requests": done[0],
        "planned": requests,
        "concurrency": concurrency,
        "seconds": round(seconds, 1),
        "time_limited": done[0] < requests,
        "requests_per_s": round(done[0] / seconds, 2),
        "statuses": dict(statuses),
        "errors": errors,
        "latency_ms": {k: {"n": len(v), "p50": pct(v, 9), "p95": pct(v, 18)} for k, v in lat.items()},
        "rss_mb": {
            "start": round(rss[0][2], 1),
            "after_warmup": round(after, 1),
            "end": round(rss[-1][2], 1),
            "max_after_warmup": round(max(r[2] for r in warm), 1) if warm else None,
            "growth_after_warmup": round(rss[-1][2] - after, 1),
            "samples": len(rss),
        },
    }


def start(runs: list[Path], threads: int | None = None):
    """`gankit serve` on a free loopback port, in a fresh process: (process, base URL)."""
    import socket
    import subprocess
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "gankit.cli", "serve", *map(str, runs), "--port", str(port)]
    if threads:
        cmd += ["--threads", str(threads)]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OMP_NUM_THREADS": str(threads or 1)},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url + "/api/models", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("gankit serve did not start")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="*", type=Path, help="a noise-model run and an image-model run (default: tiny ones)")
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=6)
    ap.add_argument("--time-limit", type=float, default=180.0)
    ap.add_argument("--threads", type=int, default=1, help="the server's torch threads")
    ap.add_argument("--json", type=Path, help="also write the result here")
    a = ap.parse_args(argv)
    runs = a.runs
    if not runs:
        sys.path.insert(0, str(ROOT / "tests"))
        from studio_runs import train_runs

        tmp = Path(tempfile.mkdtemp(prefix="studio-load-"))
        os.environ.setdefault("GANKIT_CACHE", str(tmp / "cache"))
        made = train_runs(tmp, ("dcgan", "pix2pix"))
        runs = [made["dcgan"], made["pix2pix"]]
    proc, url = start(runs, a.threads)
    try:
        import httpx

        models = httpx.get(url + "/api/models").json()["models"]
        noise = next(m for m in models if m["kind"] == "noise")
        image = next(m for m in models if m["kind"] in ("translate", "upscale"))
        res = run_load(url, proc.pid, noise["id"], image["id"], a.requests, a.concurrency, a.time_limit)
        res["models"] = {"noise": f"{noise['family']} {noise['shape']}", "image": f"{image['family']} {image['shape']}"}
        res["server_threads"] = a.threads
    finally:
        proc.terminate()
        proc.wait(10)
    print(json.dumps(res, indent=1))
    if a.json:
        a.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0 if not res["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
