"""``insr.run(config)``: run a configuration from Python (what ``insr run`` does, quietly).

The ``insr.run`` package itself is callable (see ``insr/run/__init__.py``), so
``insr.run(cfg)`` works whether or not the package was imported before.
"""

from __future__ import annotations

from pathlib import Path

from insr.run.build import default_run_dir
from insr.run.driver import Reporter, RunResult, execute
from insr.settings import RunConfig


def run_config(
    config: RunConfig,
    run_dir: str | Path | None = None,
    *,
    overwrite: bool = False,
    on_diverge: str = "stop",
    report: Reporter | None = None,
) -> RunResult:
    """Run ``config`` (from :func:`insr.load_config`) into ``run_dir`` (default: where
    ``insr run`` would put it) and return its :class:`~insr.run.RunResult`: ``run_dir``,
    ``log_path``, ``status``, ``verdict``, ``completed_steps``, ``last_metrics``, and
    ``open()`` for the log as :class:`insr.RunData`. ``report(event, data)`` receives the
    progress events (``step``, ``iter``, ``done``, ``retry``); nothing is printed."""
    if not isinstance(config, RunConfig):
        from insr.errors import UsageError

        raise UsageError(
            f"insr.run expects a RunConfig (from insr.load_config), got {type(config).__name__}"
        )
    target = Path(run_dir) if run_dir is not None else default_run_dir(config)
    return execute(config, target, overwrite=overwrite, report=report, on_diverge=on_diverge)
