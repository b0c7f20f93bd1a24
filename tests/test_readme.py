"""Every command in the README runs as written: each ``gankit`` line of its shell blocks parses against the CLI
(command, options, arguments), each ``gankit train`` line resolves its config with ``--dry-run``, and every ``api``
function its Python blocks call exists."""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest
import typer.main

from gankit import api
from gankit.cli import app, main

README = (Path(__file__).parents[1] / "README.md").read_text()
SHELL = re.findall(r"```(?:bash|sh|console)\n(.*?)```", README, re.S)
PYTHON = re.findall(r"```python\n(.*?)```", README, re.S)


def gankit_commands() -> list[list[str]]:
    """The argument lists of every gankit invocation in the README's shell blocks (after ``gankit`` or
    ``-m gankit.cli``; ``&&`` chains split; comments dropped)."""
    out = []
    for block in SHELL:
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                words = shlex.split(part, comments=True)
                for i, w in enumerate(words):
                    if w == "gankit" or (w == "gankit.cli" and i and words[i - 1] == "-m"):
                        out.append(words[i + 1 :])
                        break
    return out


COMMANDS = gankit_commands()


def test_the_readme_is_short_and_has_commands_to_check():
    assert len(README.splitlines()) <= 150
    assert len(COMMANDS) >= 10 and PYTHON


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a)[:60] for a in COMMANDS])
def test_each_command_parses(args):
    cmd, name, rest = typer.main.get_command(app), "gankit", list(args)
    while hasattr(cmd, "list_commands"):  # down the groups: gankit, then data / metrics (Typer bundles its own click)
        assert rest, f"'{name}' needs a command"
        name, cmd, rest = rest[0], cmd.get_command(cmd.context_class(cmd), rest[0]), rest[1:]
        assert cmd is not None, f"no command '{name}'"
    cmd.make_context(name, list(rest))  # raises a click UsageError on an unknown option or a missing argument


@pytest.mark.parametrize(
    "args", [a for a in COMMANDS if a[:1] == ["train"] and "--resume" not in a], ids=lambda a: " ".join(a)[:60]
)
def test_each_train_command_resolves(args, capsys):
    assert main([*args, "--dry-run"]) == 0, capsys.readouterr().err


def test_the_python_blocks_call_the_api_that_exists():
    called = {
        n.func.attr
        for block in PYTHON
        for n in ast.walk(ast.parse(block))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and getattr(n.func.value, "id", "") == "api"
    }
    assert called and all(hasattr(api, f) for f in called), called - set(dir(api))
