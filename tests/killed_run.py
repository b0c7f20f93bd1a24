"""Run a gankit command in this process and SIGKILL it at a chosen point, as a crash or a power cut would (the
resume tests; ``conftest.gankit_killed`` runs it).

    python tests/killed_run.py --at-step N ARGS...     killed at the end of step N (after that step's checkpoint)
    python tests/killed_run.py --in-write NAME ARGS... killed inside the write of checkpoint NAME, after its tensors
                                                       file is on disk and before its state file is

The library holds no test hook: this wraps two of its functions before the command runs, and runs the command as
``python -m gankit.cli`` would.
"""

import os
import runpy
import signal
import sys
from pathlib import Path


def _die():
    os.kill(os.getpid(), signal.SIGKILL)


def kill_at_step(n: int) -> None:
    """The Trainer asks whether to stop once per iteration, after the previous step's logs, grids and checkpoint:
    die there once step ``n`` is done."""
    from gankit.train.trainer import Trainer

    should_stop = Trainer._should_stop

    def stop_or_die(self, *args, **kwargs):
        if self.step == n:
            _die()
        return should_stop(self, *args, **kwargs)

    Trainer._should_stop = stop_or_die


def kill_in_write(name: str) -> None:
    """Die right after the tensors file of checkpoint ``name`` is saved (into its temporary folder)."""
    from gankit.train import checkpoint

    save_file = checkpoint.save_file

    def save_then_die(tensors, path, *args, **kwargs):
        save_file(tensors, path, *args, **kwargs)
        if Path(path).parent.name.startswith(f".tmp-{name}-"):
            _die()

    checkpoint.save_file = save_then_die


def arm(how: str, where: str) -> None:
    """``--at-step N`` or ``--in-write NAME``: set the process to die there (also used by tests/cli_forkserver.py)."""
    {"--at-step": lambda: kill_at_step(int(where)), "--in-write": lambda: kill_in_write(where)}[how]()


if __name__ == "__main__":
    how, where, *args = sys.argv[1:]
    arm(how, where)
    sys.argv = ["gankit", *args]
    runpy.run_module("gankit.cli", run_name="__main__", alter_sys=True)
