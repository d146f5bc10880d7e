"""Live rich progress displays for runs and sweeps."""

from __future__ import annotations

from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column

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

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)


FIXED_WIDTH = 58  # run display: every column but the info text, separators included


def info_width() -> int:
    """Width of the run display's info column: fixed for the whole run (bars never jump)
    and small enough that a line never wraps (no stale lines)."""
    return max(20, min(60, err_console.width - FIXED_WIDTH))


def gradient_error_note(metrics: dict) -> str:
    """The headline number of a step: the relative gradient error of the first logged
    strategy (``gradient_rel_error_<s>``, in percent so that it fits an 80-column line), or
    '' when none was logged."""
    for k, v in metrics.items():
        if k.startswith("gradient_rel_error_"):
            return f"∇err({k[len('gradient_rel_error_') :]}) {100 * v:.3g}%"
    return ""


class RunProgress(_LiveProgress):
    """Rich progress for a run: steps bar (last step's field and gradient error) and the
    current step's iterations (bar sized to this step's budget: the step-0 fit's or a
    time step's) and loss. Fixed column widths, one line per bar."""

    def __init__(
        self,
        total_steps: int,
        first_step: int,
        max_iters: int,
        quiet: bool,
        init_iters: int | None = None,
    ) -> None:
        self.quiet = quiet
        self.max_iters = max_iters
        self.init_iters = max_iters if init_iters is None else init_iters
        self.progress = self._columns(quiet)
        self.steps = self.progress.add_task(
            "steps", total=total_steps + 1, completed=first_step, info=""
        )
        self.budget = self.init_iters if first_step == 0 else max_iters
        self.iters = self.progress.add_task("iterations", total=self.budget, info="")
        self.problem = ""

    @staticmethod
    def _columns(quiet: bool) -> Progress:
        info = Column(width=info_width(), no_wrap=True, overflow="ellipsis")
        return Progress(
            TextColumn("[bold]{task.description}", table_column=Column(width=10, no_wrap=True)),
            BarColumn(bar_width=18),
            MofNCompleteColumn(table_column=Column(width=11, justify="right", no_wrap=True)),
            TextColumn("{task.fields[info]}", table_column=info),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err_console,
            disable=quiet,
        )

    def __exit__(self, *exc: Any) -> None:
        self.progress.update(self.iters, visible=False)  # no stale iteration line at the end
        if exc and exc[0] is not None:  # a failure: its one error line stands alone
            self.progress.update(self.steps, visible=False)
        super().__exit__(*exc)

    def __call__(self, event: str, data: dict) -> None:
        if self.quiet:
            return
        if event == "step":
            self.budget = self.init_iters if data["step"] == 0 else self.max_iters
            self.problem = ""
            self.progress.reset(self.iters, total=self.budget, info="")
            self.progress.update(self.steps, info=f"step {data['step']}  t={data['t']:.3g}")
        elif event == "iter":
            if data["name"] != self.problem:  # a new sub-problem restarts its count
                self.problem = data["name"]
                self.progress.reset(self.iters, total=self.budget, info="")
            self.progress.update(
                self.iters,
                completed=min(data["iteration"], self.budget),
                info=f"{data['name']}  loss {data['loss']:.3e}",
            )
        elif event == "done":
            m = data["metrics"]
            parts = [gradient_error_note(m)]
            if "field_max_error" in m:
                parts.append(f"max|u-u*| {m['field_max_error']:.2e}")
            info = "  ".join(p for p in parts if p)
            self.progress.update(self.steps, advance=1, info=info)


class SweepProgress(_LiveProgress):
    """One live table of members: bar, steps done, phase (``queued``, ``starting``,
    ``fitting step 0``, ``step k/N``, the final status), elapsed time and ETA; an
    ``all members`` row on top carries the overall ETA. Widths are fixed once the plan is known."""

    PHASE_WIDTH = 22

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tasks: dict[str, TaskID] = {}
        self.totals: dict[str, int] = {}
        self.ended: set[str] = set()
        self.name_width = 12
        self.progress = self._make_table(quiet)
        self.overall: TaskID | None = None

    def _make_table(self, quiet: bool) -> Progress:
        return Progress(
            TextColumn("{task.description}", table_column=Column(no_wrap=True)),
            BarColumn(bar_width=30),
            MofNCompleteColumn(table_column=Column(width=9, justify="right")),
            TextColumn(
                "{task.fields[info]}", table_column=Column(width=self.PHASE_WIDTH, no_wrap=True)
            ),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err_console,
            disable=quiet,
        )

    def _label(self, name: str) -> str:
        return name[: self.name_width].ljust(self.name_width)

    def _add(self, name: str, total: int) -> None:
        if name in self.tasks:
            return
        self.totals[name] = total
        self.tasks[name] = self.progress.add_task(self._label(name), total=total, info="queued")
        if self.overall is not None:
            self.progress.update(self.overall, total=sum(self.totals.values()))

    def _done_steps(self) -> int:
        return int(sum(self.progress.tasks[i].completed for i in self.tasks.values()))

    def _update_overall(self) -> None:
        if self.overall is None:
            return
        ended = len(self.ended)
        self.progress.update(
            self.overall,
            completed=self._done_steps(),
            info=f"{ended}/{len(self.tasks)} members ended",
        )

    def __call__(self, event: str, data: dict) -> None:
        if event == "plan":
            names = [n for n, _ in data["members"]]
            self.name_width = max([12, *(len(n) for n in names)])
            self.overall = self.progress.add_task(
                self._label("all members"),
                total=sum(t for _, t in data["members"]) or 1,
                info=f"0/{len(names)} members ended",
            )
            for n, t in data["members"]:
                self._add(n, t)
        elif event == "start":
            self._add(data["name"], data["total"])
        elif event == "phase" and data["name"] in self.tasks:
            self.progress.update(self.tasks[data["name"]], info=data["phase"])
        elif event == "step" and data["name"] in self.tasks:
            name, k = data["name"], int(data["step"])
            self.progress.update(
                self.tasks[name], completed=k + 1, info=f"step {k}/{self.totals[name] - 1}"
            )
        elif event == "end":
            o = data["outcome"]
            if o.name in self.tasks:
                tid = self.tasks[o.name]
                word = "done" if o.status == "complete" else o.status
                self.progress.update(tid, info=f"{word} ({o.seconds:.0f} s)"[: self.PHASE_WIDTH])
                # an ended member no longer counts towards the remaining work
                self.ended.add(o.name)
                self.totals[o.name] = int(self.progress.tasks[tid].completed)
                if self.overall is not None:
                    self.progress.update(self.overall, total=max(1, sum(self.totals.values())))
        self._update_overall()
