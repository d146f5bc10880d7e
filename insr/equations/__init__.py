"""Time-discrete equations and the factory that builds one from a run config."""

from __future__ import annotations

import torch

from insr.cases import Case
from insr.config import RunConfig
from insr.derivatives import grid_spacing
from insr.fields import build_field


def build_equation(cfg: RunConfig, case: Case, device: torch.device, dtype: torch.dtype):
    """The equation object for ``cfg.case.pde`` with freshly initialized fields."""
    rep = cfg.representation
    if cfg.case.pde == "advection":
        from insr.derivatives.coarse_to_fine import schedule_options
        from insr.equations.advection import Advection

        field = build_field(rep.kind, rep.params, case.domain, case.channels).to(device, dtype)
        s = cfg.solver
        return Advection(
            case,
            field,
            loss_strategy=cfg.derivative.loss,
            h=cfg.derivative.h,
            scheme=cfg.derivative.scheme,
            samples=s.samples,
            boundary_weight=s.boundary_weight,
            boundary_samples=s.boundary_samples,
            dtype=dtype,
            device=device,
            sobolev_weight=cfg.derivative.sobolev_weight,
            gradient_supervision=cfg.derivative.gradient_supervision,
            coarse_to_fine=schedule_options(cfg.derivative),
            time_scheme=s.time_scheme,
            spacing=grid_spacing(case.domain, cfg.eval.resolution),
        )
    from insr.equations.fluid import build_fluid  # incompressible Euler

    return build_fluid(cfg, case, device, dtype)
