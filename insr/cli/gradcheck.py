"""`insr gradcheck`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from insr.cli.app import (
    Flag,
    app,
    console,
    user_errors,
)

# ----------------------------------------------------------------- gradcheck
GRADCHECK_HELP = """Check every representation's analytic derivatives against numerical ones.

In float64, at random points kept away from grid cell borders (no kinks inside a stencil),
each analytic path (autodiff, closed form) is compared with central differences along each
axis and along a random direction; error = ||g_num - g_ana|| / (||g_num|| + ||g_ana||):
pass < 1e-7, warn, fail > 1e-4 (exit code 1 on any failure). Custom torch.autograd.Functions
in the package are checked with torch.autograd.gradcheck.

Why the step eps matters: a central difference has truncation error ~ eps^2 |f'''| / 6 and
round-off error ~ 1e-16 |f| / eps. Too large an eps measures truncation, too small measures
round-off; the error over eps is V-shaped with its bottom near eps ~ 1e-5..1e-6 in float64
(use --sweep-eps to see the curve). Only near that bottom does a large error mean a bug.
"""


def _status_cell(status: str) -> str:
    color = {"pass": "green", "warn": "yellow", "fail": "bold red"}.get(status, "white")
    return f"[{color}]{status}[/]"


MAX_POINTS = 1_000_000  # more points cost memory (float64 Hessians) without a stricter check


def _check_options(
    repr_: str | None, dim: int, points: int, eps: float, kinds: list[str], seed: int = 0
) -> None:
    from insr.config import suggest
    from insr.errors import UsageError

    if repr_ is not None and repr_ not in kinds:
        raise UsageError(
            f"cannot gradcheck representation '{repr_}'{suggest(repr_, kinds)}; "
            f"allowed: {', '.join(kinds)}"
        )
    if dim not in (0, 1, 2, 3):
        raise UsageError(f"--dim {dim} is not allowed: expected 0, 1, 2 or 3")
    if not 1 <= points <= MAX_POINTS:
        raise UsageError(
            f"--points {points} is not allowed: expected an integer in [1, {MAX_POINTS}]"
        )
    if not 0 <= seed < 2**63:
        raise UsageError(f"--seed {seed} is not allowed: expected an integer in [0, 2**63)")
    if not 0 < eps < 1:
        raise UsageError(f"--eps {eps} is not allowed: expected a number in (0, 1)")


def _sweep_tables(kinds: list[str], dims: tuple[int, ...], points: int, seed: int) -> None:
    """One table per representation: rows eps, one column per variant and dimension."""
    from insr import gradcheck as gc

    console.print("central-difference error vs closed form over eps (float64), per representation:")
    for k in kinds:
        table = Table(title=f"[bold]{k}[/]")
        table.add_column("eps", justify="right")
        curves = []
        for lbl, p in gc.variants(k):
            for d in dims:
                table.add_column(f"{lbl + ' ' if lbl else ''}{d}D", justify="right")
                curves.append(gc.sweep_eps(k, d, params=p, n_points=points, seed=seed))
        for i, e in enumerate(gc.SWEEP):
            table.add_row(f"{e:.0e}", *[f"{c[i][1]:.2e}" for c in curves])
        console.print(table)
    console.print(
        "large eps: truncation error ~ eps^2; small eps: round-off ~ 1e-16/eps "
        "(grids: large eps also crosses cell borders)."
    )


def _check_table(kinds: list[str], dims: tuple[int, ...], points: int, eps: float, seed: int):
    """Print the checks; returns the number of failures."""
    from insr import gradcheck as gc

    rows = gc.check_all(kinds, dims, n_points=points, eps=eps, seed=seed)
    table = Table(title=f"gradcheck (float64, eps = {eps:g}, {points} points)")
    for col in ("representation", "check", "rel. error", "status", "note"):
        table.add_column(col, justify="right" if col == "rel. error" else "left")
    for r in rows:
        err = "-" if r.error is None else f"{r.error:.2e}"
        table.add_row(r.representation, r.check, err, _status_cell(r.status), r.note)
    console.print(table)
    n_fail = sum(r.status == "fail" for r in rows)
    n_warn = sum(r.status == "warn" for r in rows)
    console.print(
        f"{len(rows)} checks: {len(rows) - n_fail - n_warn} pass, {n_warn} warn, "
        f"{n_fail} fail (pass < {gc.PASS:g}, fail > {gc.FAIL:g})"
    )
    return n_fail


@app.command(help=GRADCHECK_HELP)
def gradcheck(
    repr_: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--repr", help="Check only this representation (default: all)."),
    ] = None,
    dim: Annotated[int, typer.Option(help="Input dimension: 1, 2, 3, or 0 for 1 and 2.")] = 0,
    points: Annotated[int, typer.Option(help="Random points per check.")] = 64,
    eps: Annotated[float, typer.Option(help="Finite-difference step (physical units).")] = 1e-6,
    sweep_eps: Annotated[
        bool,
        Flag("--sweep-eps", help="Print the FD error for eps = 1e-1 ... 1e-12 (per repr)."),
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed of points and parameters.")] = 0,
) -> None:
    from insr.fields import field_kinds

    with user_errors():
        kinds_ok = field_kinds()
        _check_options(repr_, dim, points, eps, kinds_ok, seed)
        kinds = [repr_] if repr_ else kinds_ok
        dims = (1, 2) if dim == 0 else (dim,)
        if sweep_eps:
            _sweep_tables(kinds, dims, points, seed)
        elif _check_table(kinds, dims, points, eps, seed):
            raise typer.Exit(1)
