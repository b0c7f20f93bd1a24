"""A fork server for the tests that run the CLI (``conftest.gankit``, ``conftest.gankit_killed``).

Importing gankit costs about 8 s of CPU (torch, torchvision, matplotlib), paid by each of the suite's ~90 CLI
processes. This server pays it once per pytest worker, then forks one child per command: each command still runs
in a process of its own, with its own environment, working directory, standard streams and exit status, and can
be SIGKILLed mid-run, as ``python -m gankit.cli`` would. ``GANKIT_TEST_FRESH=1`` makes the tests start real fresh
processes instead.

Requests arrive one JSON object per line on stdin: ``{"argv", "env", "cwd", "stdout", "stderr", "kill"}``, where
``kill`` is null or ``["--at-step", "N"]`` / ``["--in-write", NAME]`` (tests/killed_run.py). For each, the server
answers ``pid N`` when the child starts and ``status S`` when it ends (S as ``subprocess`` reports it: the exit
code, or minus the signal that killed it).
"""

import json
import os
import runpy
import sys

import matplotlib.pyplot  # noqa: F401
import torch.utils.tensorboard  # noqa: F401

import gankit.api  # noqa: F401
import gankit.cli  # noqa: F401  the imports this server exists to pay once
import gankit.metrics.periodic  # noqa: F401
import gankit.models  # noqa: F401
import gankit.pipelines  # noqa: F401
import gankit.train.trainer  # noqa: F401


def run_child(req: dict) -> None:
    """In the forked child: become the command's process, then run the CLI as ``python -m gankit.cli`` does."""
    os.environ.clear()
    os.environ.update(req["env"])
    os.chdir(req["cwd"])
    for fd, path, flags in (
        (0, os.devnull, os.O_RDONLY),
        (1, req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        (2, req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    ):
        f = os.open(path, flags)
        os.dup2(f, fd)
        os.close(f)
    if req["kill"]:
        import killed_run

        killed_run.arm(*req["kill"])
    sys.argv = ["gankit", *req["argv"]]
    runpy.run_module("gankit.cli", run_name="__main__", alter_sys=True)


def serve() -> None:
    for line in sys.stdin:
        req = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child never returns to this loop: SystemExit (or an error) ends its interpreter
            run_child(req)
            sys.exit(0)
        print("pid", pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print("status", os.waitstatus_to_exitcode(status), flush=True)


if __name__ == "__main__":
    serve()
