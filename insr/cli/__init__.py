"""The ``insr`` command line: parse, load config, call one function, print with rich.

One module per command group; each registers its commands on the shared typer ``app``.
"""

from insr.cli import (  # noqa: F401 - registers commands
    compare,
    config,
    gradcheck,
    render,
    run,
    study,
)
from insr.cli.app import app, main

__all__ = ["app", "main"]
