"""The ``gankit`` command line, one module per command group (parsing only: the work is in the library; a checkpoint
is used through its pipeline, ``gankit.pipelines``). Bad input: one line on stderr and exit code 2.

- ``train``: train, presets, info          - ``sample``: sample, interpolate (noise models)
- ``data``: data list / fetch / check / prepare  - ``eval``: eval, metrics ...
- ``upscale``: upscale, sr-eval            - ``translate``: translate, translate-eval
- ``voxels``: voxels                       - ``age``: age
- ``text``: text2img                       - ``studio``: serve, export
"""

from __future__ import annotations

import typer

from ..errors import GankitError
from . import age, data, eval, sample, studio, text, train, translate, upscale, voxels

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Train, evaluate and use generative adversarial networks.",
)
for group in (train, sample, data, upscale, eval, translate, voxels, age, text, studio):
    group.register(app)


def main(argv: list[str] | None = None) -> int:
    try:
        ret = app(args=argv, standalone_mode=False)
        if isinstance(ret, int):  # click returns typer.Exit's code instead of raising it here
            return ret
    except GankitError as e:
        typer.echo(f"error: {e}", err=True)
        return 2
    except typer.Exit as e:
        return e.exit_code
    except KeyboardInterrupt:
        typer.echo("aborted", err=True)
        return 130
    except typer.Abort:
        return 130
    except Exception as e:  # usage errors (Typer's bundled click): show them, exit 2
        if hasattr(e, "show") and hasattr(e, "exit_code"):
            e.show()
            return 2
        raise
    return 0
