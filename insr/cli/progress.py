"""Live rich progress displays for runs and sweeps."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from insr.cli.app import err_console


class _LiveProgress:
    """Context manager around ``self.progress`` (a rich Progress set by the subclass)."""

    progress: Progress

    @staticmethod
    def _make(quiet: bool, eta: bool) -> Progress:
        """Bar, k/N, an ``info`` text column, elapsed time (and ETA) on stderr."""
        columns = [
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
        ]
        if eta:
            columns.append(TimeRemainingColumn())
        return Progress(*columns, console=err_console, disable=quiet)

    def __enter__(self):  # noqa: ANN204 - returns the subclass
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)


class RunProgress(_LiveProgress):
    """Rich progress for a run: steps bar and the current step's iterations and loss."""

    def __init__(self, total_steps: int, first_step: int, max_iters: int, quiet: bool) -> None:
        self.quiet = quiet
        self.max_iters = max_iters
        self.progress = self._make(quiet, eta=True)
        self.steps = self.progress.add_task(
            "steps", total=total_steps + 1, completed=first_step, info=""
        )
        self.iters = self.progress.add_task("iterations", total=max_iters, info="")

    def __call__(self, event: str, data: dict) -> None:
        if self.quiet:
            return
        if event == "step":
            self.progress.reset(self.iters, total=self.max_iters, info="")
            self.progress.update(self.steps, info=f"step {data['step']}  t={data['t']:.3g}")
        elif event == "iter":
            self.progress.update(
                self.iters,
                completed=min(data["iteration"], self.max_iters),
                info=f"{data['name']}  loss {data['loss']:.3e}",
            )
        elif event == "done":
            m = data["metrics"]
            info = f"step {data['step']}"
            if "field_max_error" in m:
                info += f"  max|u-u*| {m['field_max_error']:.2e}"
            self.progress.update(self.steps, advance=1, info=info)


class SweepProgress(_LiveProgress):
    """One progress row per member (steps done), fed by compare.run_sweep's report."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.progress = self._make(quiet, eta=False)
        self.tasks: dict[str, int] = {}

    def __call__(self, event: str, data: dict) -> None:
        if event == "start":
            self.tasks[data["name"]] = self.progress.add_task(
                data["name"], total=data["total"], info="waiting"
            )
        elif event == "step" and data["name"] in self.tasks:
            self.progress.update(
                self.tasks[data["name"]], completed=data["step"] + 1, info=f"step {data['step']}"
            )
        elif event == "end":
            o = data["outcome"]
            if o.name in self.tasks:
                self.progress.update(self.tasks[o.name], info=f"{o.status} ({o.seconds:.0f} s)")
