"""The 4th-order Pade(2,2) time scheme for advection and the directional-derivative sweep."""

from __future__ import annotations

import math

import pytest
import torch

from insr.config import ConfigError, load_config
from insr.derivatives.operators import directional_second
from insr.equations import Numerics, make_case
from insr.equations.advection import Advection
from insr.fields import build_field, representation_params
from insr.fields.base import Field
from insr.run import Run

ACTIVATIONS = [
    ("siren", {}),
    ("gauss", {}),
    ("mlp", {"activation": "tanh"}),
    ("mlp", {"activation": "softplus"}),
]


def _autodiff_reference(f: Field, x: torch.Tensor, v: torch.Tensor):
    """u, J and v^T H v by plain double reverse mode through ``f.forward`` (no closed form)."""
    xg = x.clone().requires_grad_(True)
    u = f(xg)
    jac, vhv = [], []
    for i in range(u.shape[1]):
        (g,) = torch.autograd.grad(u[:, i].sum(), xg, create_graph=True)
        (hv,) = torch.autograd.grad((g * v).sum(), xg, retain_graph=True)  # H v, row by row
        jac.append(g.detach())
        vhv.append((hv * v).sum(-1))
    return u.detach(), torch.stack(jac, 1), torch.stack(vhv, 1)


@pytest.mark.parametrize("kind,over", ACTIVATIONS)
@pytest.mark.parametrize("dim", [1, 2])
def test_closed_directional_sweep_matches_autodiff(kind, over, dim):
    torch.manual_seed(3)
    params = representation_params(kind, over, f"representation.{kind}")
    f = build_field(kind, params, [[-1.0, 3.0]] * dim, 2).double()
    x = torch.rand(40, dim, dtype=torch.float64) * 4 - 1
    v = torch.randn(40, dim, dtype=torch.float64)
    u, jac, vhv = f.directional_derivatives(x, v)
    u_r, jac_r, vhv_r = _autodiff_reference(f, x, v)
    # float64, same math in a different order: agreement to round-off
    assert (u - u_r).abs().max() <= 1e-12 * u_r.abs().max()
    assert (jac - jac_r).abs().max() <= 1e-12 * jac_r.abs().max()
    assert (vhv - vhv_r).abs().max() <= 1e-11 * vhv_r.abs().max()
    # a constant direction (d,) gives the same as the per-point copy
    _, _, vhv_c = f.directional_derivatives(x, v[0])
    _, _, vhv_e = f.directional_derivatives(x, v[0].expand(40, dim))
    assert torch.allclose(vhv_c, vhv_e, rtol=1e-13, atol=0)


def test_directional_sweep_parameter_gradient_matches_autodiff():
    torch.manual_seed(4)
    f = build_field("siren", representation_params("siren", {}, "r"), [[-2.0, 2.0]], 1).double()
    x = torch.rand(25, 1, dtype=torch.float64) * 4 - 2
    v = torch.tensor([0.25], dtype=torch.float64)
    u, jac, vhv = f.directional_derivatives(x, v, create_graph=True)
    g1 = torch.autograd.grad((vhv**2).sum() + jac.sum() + u.sum(), list(f.parameters()))
    u_r, jac_r, vhv_r = directional_second(f, x, v, create_graph=True, closed=False)
    g2 = torch.autograd.grad((vhv_r**2).sum() + jac_r.sum() + u_r.sum(), list(f.parameters()))
    for a, b in zip(g1, g2, strict=True):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)


class ExactField(Field):
    """The exact solution ``u(x, t)`` of a case as a field, at a settable time ``t``."""

    def __init__(self, case, t: float) -> None:
        super().__init__(case.domain, case.channels)
        self.case, self.t = case, t
        self.dummy = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.case.exact_fn(x, self.t) + 0.0 * self.dummy


def _residual_rms(case_name: str, scheme: str, dt: float, t0: float, n: int) -> float:
    """RMS of the scheme's residual with the exact solution plugged in for one step."""
    case = make_case(load_config(case_name).case)
    field = ExactField(case, t0)
    eq = Advection(
        case,
        {"u": field},
        None,
        Numerics(
            loss_strategy="closed",
            samples=n,
            boundary_weight=0.0,
            dtype=torch.float64,
            time_scheme=scheme,
        ),
    )
    (problem,) = eq.step_problems(1, t0 + dt, dt)  # freezes u(t0) as the previous step
    field.t = t0 + dt
    lo = torch.tensor([a for a, _ in case.domain], dtype=torch.float64)
    hi = torch.tensor([b for _, b in case.domain], dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    x = lo + (hi - lo) * torch.rand(n, len(case.domain), generator=gen, dtype=torch.float64)
    return math.sqrt(float(problem.loss(x).detach()))


@pytest.mark.parametrize(
    "case_name,dts,t0",
    [("advection1d", (0.02, 0.01, 0.005), 0.3), ("advection2d", (0.04, 0.02, 0.01), 0.2)],
)
def test_exact_solution_residual_order(case_name, dts, t0):
    # Local error per step: O(dt^5) for Pade(2,2), O(dt^3) for the midpoint rule, so
    # halving dt divides the residual by ~32 resp. ~8. Tolerance 3 % on the ratio (the
    # next term of the expansion is O(dt) relative; measured ratios are within 1 %, and
    # dropping the rotation term of (v . grad)^2 u turns pade4's 32 into 8).
    # The 2D case (rotation) also checks the (grad v . v) . grad u term of (v . grad)^2 u.
    n = 4000
    for scheme, order in (("pade4", 5), ("midpoint", 3)):
        rms = [_residual_rms(case_name, scheme, dt, t0, n) for dt in dts]
        for coarse, fine in zip(rms[:-1], rms[1:], strict=False):
            assert coarse / fine == pytest.approx(2.0**order, rel=0.03), (scheme, rms)


def test_pade4_rejections():
    case = make_case(load_config("advection1d").case)
    f = build_field("siren", representation_params("siren", {}, "r"), case.domain, 1)
    with pytest.raises(ConfigError, match="time_scheme"):
        Advection(case, {"u": f}, None, Numerics(time_scheme="rk4"))
    # the equation names its settings; the run layer names the config keys
    with pytest.raises(ConfigError, match="loss_strategy"):
        Advection(case, {"u": f}, None, Numerics(loss_strategy="fd", time_scheme="pade4"))
    with pytest.raises(ConfigError, match="derivative.loss"):
        Run(load_config("advection1d", sets=["derivative.loss=fd", "solver.time_scheme=pade4"]))
    with pytest.raises(ConfigError, match="gradient_supervision"):
        Advection(
            case,
            {"u": f},
            None,
            Numerics(loss_strategy="closed", gradient_supervision=0.1, time_scheme="pade4"),
        )


def test_time_scheme_key_is_validated_with_one_line_error():
    with pytest.raises(ConfigError, match="time_scheme"):
        load_config("advection1d", sets=["solver.time_scheme=rk4"])


def test_auto_time_scheme_picks_pade4_only_where_it_is_well_defined():
    from insr.config import load_config
    from insr.run import Run

    def scheme(*sets):
        cfg = load_config(
            "advection1d",
            sets=["eval.resolution=9", "solver.time_scheme=auto", *sets],
        )
        return Run(cfg).equation.time_scheme

    assert scheme() == "pade4"  # SIREN, closed-form loss
    assert scheme("representation.kind=hashgrid") == "midpoint"  # linear: kinks
    assert (
        scheme("representation.kind=hashgrid", "representation.hashgrid.interpolation=smoothstep")
        == "pade4"
    )
    assert scheme("derivative.loss=fd") == "midpoint"  # first derivatives only


def test_explicit_pade4_on_a_linear_grid_is_refused():
    import pytest

    from insr.config import ConfigError, load_config
    from insr.run import Run

    cfg = load_config(
        "advection1d",
        sets=[
            "eval.resolution=9",
            "solver.time_scheme=pade4",
            "representation.kind=densegrid",
            "representation.densegrid.interpolation=linear",  # the 1D preset is smoothstep
            "derivative.gradient_supervision=0",  # the preset's term is a midpoint-rule one
        ],
    )
    with pytest.raises(ConfigError, match="smoothstep"):
        Run(cfg)
