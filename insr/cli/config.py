"""``insr config show`` / ``insr config keys``: the resolved configuration and every key,
documented from the schema (:mod:`insr.keys`)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from insr.cli.app import ConfigOpt, Flag, SetOpt, app, console, user_errors

config_app = typer.Typer(
    no_args_is_help=True,
    help="Show a resolved configuration (TOML with docs) or list every configuration key.",
)
app.add_typer(config_app, name="config")


class KeysFormat(StrEnum):
    table = "table"
    markdown = "markdown"


def _is_run(target: str) -> bool:
    p = Path(target)
    return (p.is_dir() and (p / "run.h5").is_file()) or (p.is_file() and p.suffix == ".h5")


@config_app.command("show")
def show(
    case: Annotated[
        str,
        typer.Argument(
            help="Case name (see `insr cases`), case TOML, or a run directory / run.h5 "
            "(its stored configuration)."
        ),
    ],
    config: ConfigOpt = None,
    set_: SetOpt = None,
    no_docs: Annotated[bool, Flag("--no-docs", help="Leave out the doc comments.")] = False,
) -> None:
    """Print the resolved configuration of CASE as TOML with each key's doc as a comment.

    Fed back with --config it resolves to the same configuration.
    """
    from insr.config import apply_sets, build_config, load_config
    from insr.errors import UsageError
    from insr.keys import to_toml

    with user_errors():
        if _is_run(case):
            from insr.log import RunLogReader

            if config:
                raise UsageError("a run's stored configuration takes no --config; use --set")
            with RunLogReader(case) as log:
                stored = log.config
            cfg = build_config(apply_sets(stored, list(set_ or [])))
        else:
            cfg = load_config(case, [str(c) for c in config or []], list(set_ or []))
        # plain print: rich would take [table] headers for markup
        typer.echo(to_toml(cfg, docs=not no_docs), nl=False)


@config_app.command("keys")
def keys(
    section: Annotated[
        str | None,
        typer.Argument(help="Only this section and its sub-tables (e.g. solver, representation)."),
    ] = None,
    format_: Annotated[
        KeysFormat, typer.Option("--format", help="A table, or the README's markdown table.")
    ] = KeysFormat.table,
) -> None:
    """List every configuration key with its type, allowed values, default and doc."""
    from insr.keys import default_text, keys_of, kind_text, markdown_table

    with user_errors():
        found = keys_of(section)
        if format_ is KeysFormat.markdown:
            typer.echo(markdown_table(found), nl=False)
            return
        where = f" in \\[{section}]" if section else ""  # \[: a literal bracket in rich
        table = Table(title=f"configuration keys{where}")
        for col in ("key", "type / allowed", "default", "doc"):
            table.add_column(col, overflow="fold")
        for k in found:
            table.add_row(k.label, kind_text(k), default_text(k), k.doc)
        console.print(table, highlight=False)
