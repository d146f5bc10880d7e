"""Evaluate a study's claims from run logs: numbers, a verdict, and the reason.

Verdicts: ``reproduced`` (the statement holds), ``not reproduced`` (it does not), and
``inconclusive`` (a run is missing or unfinished, its fit verdict is ``poor``/``failed``, or a
value is not finite) — always with the reason. Nothing here runs a solver; it reads logs.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from insr.errors import UsageError
from insr.log import RunLogReader
from insr.study.spec import ClaimSpec, Quantity, Study

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}
BAD_FITS = ("poor", "failed")


def _peak(dataset: str) -> Callable[[RunLogReader, int], float]:
    def peak(reader: RunLogReader, row: int) -> float:
        return float(np.max(np.abs(reader.row(dataset, row))))

    return peak


def _derived(name: str) -> Callable[[RunLogReader, int], float] | None:
    """Quantities computed from the logged arrays rather than read from ``metrics/``."""
    if name.startswith("gradient_peak_"):
        return _peak("gradient/" + name.removeprefix("gradient_peak_"))
    return DERIVED.get(name)


#: derived quantity -> (reader, row) -> value; ``gradient_peak_<strategy>`` is max |∇u| of
#: ``gradient/<strategy>`` over the evaluation grid (all channels and axes).
DERIVED: dict[str, Callable[[RunLogReader, int], float]] = {
    "field_peak": _peak("field"),
    "exact_gradient_peak": _peak("exact/gradient"),
}


class Inconclusive(Exception):
    """A quantity cannot be read honestly; the message is the reason."""


@dataclass
class Value:
    """A quantity as read: the step actually used and the number."""

    quantity: str
    step: int
    value: float


@dataclass
class ClaimResult:
    id: str
    text: str
    statement: str
    verdict: str
    reason: str = ""
    values: list[Value] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)


class LogBook:
    """Opens each run's log once and reads quantities from it.

    ``logs`` maps run name -> path of its run directory (or None when it has none);
    ``step_map`` maps (run, full-study step) -> the step to read (``--quick`` scaling);
    ``failed`` maps run name -> why it did not complete (the reason a claim names).
    """

    def __init__(
        self,
        logs: Mapping[str, Path | None],
        step_map: Callable[[str, int], int] | None = None,
        failed: Mapping[str, str] | None = None,
    ) -> None:
        self.logs = dict(logs)
        self.failed = dict(failed or {})
        self.step_map = step_map or (lambda _run, k: k)
        self._readers: dict[str, RunLogReader] = {}

    def close(self) -> None:
        for r in self._readers.values():
            r.close()
        self._readers.clear()

    def __enter__(self) -> LogBook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reader(self, run: str) -> RunLogReader:
        if run in self._readers:
            return self._readers[run]
        if run in self.failed:
            raise Inconclusive(f"run '{run}' did not complete ({self.failed[run]})")
        path = self.logs.get(run)
        if path is None:
            raise Inconclusive(f"run '{run}' has no log")
        try:
            reader = RunLogReader(path)
        except UsageError as e:
            raise Inconclusive(f"run '{run}': {e}") from None
        status = reader.status
        if not status.startswith("complete"):
            reader.close()
            raise Inconclusive(f"run '{run}' is '{status}', not complete")
        verdict = str(reader.attrs.get("fit_verdict", "ok"))
        if verdict in BAD_FITS:
            reader.close()
            raise Inconclusive(f"run '{run}' has a '{verdict}' fit verdict")
        self._readers[run] = reader
        return reader

    def read(self, q: Quantity) -> Value:
        reader = self.reader(q.run)
        steps = np.asarray(reader.series("step")).astype(int)
        if steps.size == 0:
            raise Inconclusive(f"run '{q.run}' has no completed step")
        if q.step == "first":
            row = 0
        elif q.step == "last":
            row = steps.size - 1
        else:
            want = self.step_map(q.run, int(q.step))
            hits = np.nonzero(steps == want)[0]
            if hits.size == 0:
                raise Inconclusive(f"run '{q.run}' logged no step {want} (last: {steps[-1]})")
            row = int(hits[0])
        fn = _derived(q.name)
        try:
            if fn is not None:
                value = fn(reader, row)
            else:
                if not reader.has(f"metrics/{q.name}"):
                    raise Inconclusive(f"run '{q.run}' logs no metric '{q.name}'")
                value = float(reader.row(f"metrics/{q.name}", row))
        except UsageError as e:
            raise Inconclusive(f"run '{q.run}': {e}") from None
        if not math.isfinite(value):
            raise Inconclusive(f"{q} is {value}")
        return Value(str(q), int(steps[row]), value)


def statement_words(c: ClaimSpec) -> str:
    """A claim's statement in words (what the report shows, whatever the verdict)."""
    if c.kind == "compare":
        return f"{c.left} {c.op} {c.factor:g} × {c.right}"
    if c.kind == "growth":
        q0 = Quantity.parse(str(c.quantity), c.id)
        q1 = f"{q0.run}:{q0.name}@{c.to_step}"
        return f"({q1} − {q0}) / |{q0}| {c.op} {c.threshold:g}"
    return f"{c.expect} has the {c.order} value among {', '.join(c.candidates)}"


def _compare(c: ClaimSpec, book: LogBook) -> tuple[bool, list[Value], str]:
    a = book.read(Quantity.parse(str(c.left), c.id))
    b = book.read(Quantity.parse(str(c.right), c.id))
    return OPS[c.op](a.value, c.factor * b.value), [a, b], statement_words(c)


def _growth(c: ClaimSpec, book: LogBook) -> tuple[bool, list[Value], str]:
    q0 = Quantity.parse(str(c.quantity), c.id)
    later = str(c.to_step)
    q1 = Quantity(q0.run, q0.name, int(later) if later.isdigit() else later)  # type: ignore[arg-type]
    a, b = book.read(q0), book.read(q1)
    if a.value == 0:
        raise Inconclusive(f"{q0} is 0: relative growth undefined")
    growth = (b.value - a.value) / abs(a.value)
    g = Value(f"relative growth {q0.run}:{q0.name}", b.step, growth)
    return OPS[c.op](growth, c.threshold), [a, b, g], statement_words(c)


def _best(c: ClaimSpec, book: LogBook) -> tuple[bool, list[Value], str]:
    values = [book.read(Quantity.parse(q, c.id)) for q in c.candidates]
    pick = min if c.order == "lowest" else max
    winner = pick(values, key=lambda v: v.value)
    return winner.quantity.split(":")[0] == c.expect, values, statement_words(c)


#: statement kind -> evaluator (claim, logs) -> (holds, values read, statement in words)
STATEMENTS: dict[str, Callable[[ClaimSpec, LogBook], tuple[bool, list[Value], str]]] = {
    "compare": _compare,
    "growth": _growth,
    "best": _best,
}


def evaluate_claim(claim: ClaimSpec, book: LogBook, runs: list[str]) -> ClaimResult:
    """One claim's verdict from the logs; never raises for missing or bad runs."""
    res = ClaimResult(claim.id, claim.text, "", "", runs=runs)
    try:
        holds, values, words = STATEMENTS[claim.kind](claim, book)
    except Inconclusive as e:
        res.verdict, res.reason = INCONCLUSIVE, str(e)
        res.statement = statement_words(claim)
        return res
    res.statement, res.values = words, values
    res.verdict = REPRODUCED if holds else NOT_REPRODUCED
    res.reason = "the statement holds" if holds else "the statement does not hold"
    return res


def evaluate(
    study: Study,
    logs: Mapping[str, Path | None],
    step_map: Callable[[str, int], int] | None = None,
    failed: Mapping[str, str] | None = None,
) -> list[ClaimResult]:
    """Every claim of ``study`` evaluated from ``logs`` (run name -> run directory);
    ``failed``: runs that did not complete -> why."""
    with LogBook(logs, step_map, failed) as book:
        return [evaluate_claim(c, book, study.runs_of(c)) for c in study.claims]
