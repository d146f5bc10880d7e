"""A trained field back from a run log: ``insr.load_field(path, step)``.

The log keeps the weights of its last checkpointed step only (``/checkpoint``, written after
every step; see :mod:`insr.log`), so that step is the one that can be loaded; the fields are
rebuilt from the config stored in the log (with the ``omega0`` an ``"auto"`` search chose)
and the checkpoint's weights are loaded into them. Nothing is trained or written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from insr.config import build_config
from insr.derivatives import get_strategy, grid_spacing
from insr.equations import FieldSpec, equation_settings, get_equation
from insr.errors import UsageError
from insr.fields import build_field
from insr.fields.base import Field
from insr.log import RunLogReader, checkpoint, resolve_log_path
from insr.run.build import resolve_device
from insr.run.omega0 import wants_auto_omega0, with_omega0
from insr.run.state import load_field_state
from insr.settings import RunConfig


class TrainedField:
    """A field of a finished (or stopped) run, evaluated at any points of its box.

    ``f(x)``: values ``(N, c)`` at points ``x`` ``(N, d)``; one point (a ``(d,)`` vector, or
    a number in 1D) gives ``(c,)``, and a 1D field also takes ``(N,)`` as N points.
    ``f.grad(x)``: the spatial Jacobian ``(N, c, d)``, ``J[n, i, j] = d u_i / d x_j``, by a
    derivative strategy (default ``autodiff``; ``closed``, ``fd``, ``average`` with the run's h).
    A numpy (or list) ``x`` gives numpy arrays; a torch tensor gives tensors, with the graph
    kept when ``x.requires_grad`` (for ``autodiff``: to ``x`` too, so torch can take second
    derivatives; other strategies: to the weights only). ``f.module`` is the
    underlying ``torch.nn.Module`` (:class:`insr.fields.base.Field`).
    """

    def __init__(
        self, module: Field, cfg: RunConfig, path: Path, step: int, time: float, name: str
    ) -> None:
        self.module = module.eval()
        self.config = cfg
        self.path, self.step, self.time, self.name = path, step, time, name
        self.domain = module.domain
        self.dim, self.channels = module.in_features, module.out_features
        p = next(module.buffers(), None)
        w = next(module.parameters(), p)
        self.dtype = w.dtype if w is not None else torch.float32
        self.device = w.device if w is not None else torch.device("cpu")

    def __repr__(self) -> str:
        return (
            f"TrainedField({str(self.path)!r}, field={self.name!r}, step={self.step}, "
            f"t={self.time:g}, kind={self.config.representation.kind!r}, dim={self.dim}, "
            f"channels={self.channels})"
        )

    def _points(self, x: Any) -> tuple[torch.Tensor, bool, bool]:
        """``(points (N, d), as numpy, single point)``."""
        as_numpy = not isinstance(x, torch.Tensor)
        t = torch.as_tensor(np.asarray(x, dtype=np.float64)) if as_numpy else x
        # one point: a scalar (1D) or a (d,) vector (d > 1); a 1D field takes (N,) as N points
        single = t.ndim == 0 or (t.ndim == 1 and self.dim > 1 and t.shape[0] == self.dim)
        if single:
            t = t.reshape(1, -1)
        elif t.ndim == 1 and self.dim == 1:
            t = t[:, None]
        if t.ndim != 2 or t.shape[1] != self.dim:
            raise UsageError(
                f"points of shape {tuple(t.shape)} do not fit this {self.dim}D field: "
                f"expected (N, {self.dim})"
            )
        return t.to(self.device, self.dtype), as_numpy, single

    def _out(self, v: torch.Tensor, as_numpy: bool, single: bool) -> Any:
        v = v[0] if single else v
        return v.detach().cpu().numpy() if as_numpy else v

    def __call__(self, x: Any) -> Any:
        t, as_numpy, single = self._points(x)
        if t.requires_grad:
            return self._out(self.module(t), as_numpy, single)
        with torch.no_grad():
            return self._out(self.module(t), as_numpy, single)

    def grad(self, x: Any, strategy: str = "autodiff") -> Any:
        """Jacobian ``(N, c, d)`` at ``x`` by ``strategy`` (h, scheme: the run's)."""
        if strategy == "coarse_to_fine":
            raise UsageError(
                "coarse_to_fine follows the run's level schedule, which a loaded field does "
                "not have; use autodiff, closed, fd or average"
            )
        t, as_numpy, single = self._points(x)
        d = self.config.derivative
        spacing = grid_spacing(self.config.case.domain, self.config.eval.resolution)
        strat = get_strategy(strategy, h=d.h, scheme=d.scheme, spacing=spacing)
        if t.requires_grad and strategy == "autodiff":  # differentiable in x (and weights)
            u = self.module(t)
            rows = [
                torch.autograd.grad(u[:, i].sum(), t, create_graph=True)[0]
                for i in range(u.shape[1])
            ]
            return self._out(torch.stack(rows, dim=1), as_numpy, single)
        _, jac = strat(self.module, t, create_graph=t.requires_grad)
        return self._out(jac, as_numpy, single)


def _fields(cfg: RunConfig, device: torch.device, dtype: torch.dtype) -> dict[str, Field]:
    """Freshly built fields of the run's equation (the shapes the checkpoint holds)."""
    entry = get_equation(cfg.case.pde)
    settings = equation_settings(entry, cfg.extra)
    case = entry.make_case(cfg.case, settings)
    rep = FieldSpec(cfg.representation.kind, cfg.representation.params, case.channels)
    specs = entry.fields(case, settings, rep, f"extra.{entry.table}")
    return {
        n: build_field(sp.kind, sp.params, case.domain, sp.channels).to(device, dtype)
        for n, sp in specs.items()
    }


def load_field(
    path: str | Path, step: int | None = None, *, name: str = "u", device: str = "cpu"
) -> TrainedField:
    """The field ``name`` (``u``: the logged field; fluid runs also have ``p``, the pressure)
    of the run at ``path`` (run directory or ``run.h5``) at ``step``.

    Only the last checkpointed step is stored with its weights: ``step=None`` (or ``-1``)
    loads it, any other step is refused with one line naming the step that can be loaded.
    """
    log = resolve_log_path(path)
    with RunLogReader(log) as r:
        stored, attrs = r.config, r.attrs
    cfg = build_config(stored)
    if cfg.representation.kind == "grid":
        raise UsageError(
            f"{log} is a grid run: it has values on its grid, not a field to evaluate "
            "(read them with insr.open_run)"
        )
    ck = checkpoint(log)
    if ck is None:
        raise UsageError(f"{log} holds no checkpoint yet (no step finished): nothing to load")
    arrays, meta = ck
    last = int(meta["step"])
    if step is not None and step not in (-1, last):
        raise UsageError(
            f"step {step} of {log} cannot be loaded: the log keeps the weights of its last "
            f"checkpointed step only (step {last}); use step={last} or step=None"
        )
    if wants_auto_omega0(cfg):
        if "omega0_auto" not in attrs:
            raise UsageError(f"{log}: omega0 = 'auto' but the log records no chosen omega0")
        cfg = with_omega0(cfg, float(attrs["omega0_auto"]))
    dtype = torch.float64 if cfg.run.dtype == "float64" else torch.float32
    fields = _fields(cfg, resolve_device(device), dtype)
    if name not in fields:
        raise UsageError(
            f"{log} has no field '{name}'; this run's fields: {', '.join(sorted(fields))}"
        )
    try:
        load_field_state(fields, arrays)
    except (KeyError, RuntimeError, ValueError) as e:
        raise UsageError(f"the checkpoint in {log} does not fit its config: {e}") from None
    t = float(meta.get("t", last * cfg.case.dt))
    return TrainedField(fields[name], cfg, log, last, t, name)
