"""Spatial derivative operators: the one autodiff implementation in insr.

Every operator takes ``fn`` -- a :class:`~insr.fields.base.Field` or any callable mapping
physical points ``(N, d)`` to values ``(N, c)`` -- and points ``x`` ``(N, d)``, and returns
the values ``u (N, c)`` with the derivatives:

- :func:`jacobian`: ``J (N, c, d)``, ``J[n, i, j] = du_i/dx_j``
- :func:`hessian`: ``J`` and ``H (N, c, d, d)``, ``H[n, i, j, k] = d^2 u_i / dx_j dx_k``
- :func:`laplacian`: ``J`` and ``lap (N, c) = sum_j d^2 u_i / dx_j^2``
- :func:`divergence`: ``div (N,) = sum_j du_j/dx_j`` (``c = d``)
- :func:`directional_first`: ``v . grad u (N, c)`` for directions ``v`` ``(N, d)`` or ``(d,)``
- :func:`directional_second`: ``J`` and ``v^T H v (N, c)``, the second derivative along the
  straight line ``x + s v`` (``= (v . grad)^2 u`` for a constant ``v``)

``create_graph=True`` keeps the graph (for the parameters) so the result can enter a loss;
otherwise the results are detached.

**Closed-form hooks.** With ``closed=True`` (the default) an operator first uses the field's
own closed form when the field provides it, else reverse-mode autodiff:

==============================  ===================================================
hook on the field               used by
==============================  ===================================================
``has_closed_form = True`` and  :func:`jacobian`, and the first derivatives inside
``value_and_jacobian(x)``       :func:`hessian` / :func:`laplacian` (returns ``(u, J)``)
``closed_laplacian(x, cg)``     :func:`laplacian` (returns ``(u, J, lap)``)
``closed_divergence(x, cg)``    :func:`divergence` (returns ``(u, div)``)
``directional_derivatives(x,    :func:`directional_second` (returns ``(u, J, v^T H v)``)
v, create_graph)``
==============================  ===================================================

A hook called with ``cg = create_graph`` must keep the parameter graph when
``create_graph`` is true (it is called under the caller's grad mode) and may skip it
otherwise. Second derivatives without a hook are reverse mode of the (closed-form when
available) Jacobian, one backward pass per (channel, axis).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

#: a field, or any callable ``(N, d) -> (N, c)`` of physical points
Fn = Callable[[torch.Tensor], torch.Tensor]


def _hook(fn: Any, name: str, closed: bool) -> Callable | None:
    """The field's closed-form method ``name`` when ``closed`` and the field has one."""
    return getattr(fn, name, None) if closed else None


def _has_closed_jacobian(fn: Any) -> bool:
    return bool(getattr(fn, "has_closed_form", False))


def _leaf(x: torch.Tensor) -> torch.Tensor:
    return x.detach().requires_grad_(True)


def _autodiff_rows(u: torch.Tensor, xg: torch.Tensor, create_graph: bool) -> torch.Tensor:
    """``J (N, c, d)`` of ``u (N, c)`` w.r.t. the leaf ``xg``: one backward per channel."""
    rows = [
        torch.autograd.grad(u[:, i].sum(), xg, create_graph=create_graph, retain_graph=True)[0]
        for i in range(u.shape[1])
    ]
    return torch.stack(rows, dim=1)


def _jacobian_at(fn: Fn, xg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``u`` and ``J`` at the leaf ``xg`` with the graph to ``xg`` kept (for second
    derivatives): the closed form when the field has one, else autodiff."""
    if _has_closed_jacobian(fn):
        return fn.value_and_jacobian(xg)  # type: ignore[attr-defined]
    u = fn(xg)
    return u, _autodiff_rows(u, xg, create_graph=True)


def _detached(out: tuple[torch.Tensor, ...], create_graph: bool) -> tuple[torch.Tensor, ...]:
    return out if create_graph else tuple(t.detach() for t in out)


def jacobian(
    fn: Fn, x: torch.Tensor, *, create_graph: bool = False, closed: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Values ``(N, c)`` and Jacobian ``(N, c, d)`` of ``fn`` at ``x``.

    ``closed`` uses the field's ``value_and_jacobian`` when ``has_closed_form`` (called on
    ``x`` as given, without a graph unless ``create_graph``); otherwise reverse mode, one
    ``autograd.grad`` per output channel.
    """
    if closed and _has_closed_jacobian(fn):
        if create_graph:
            return fn.value_and_jacobian(x)  # type: ignore[attr-defined]
        with torch.no_grad():
            return fn.value_and_jacobian(x)  # type: ignore[attr-defined]
    with torch.enable_grad():
        xg = _leaf(x)
        u = fn(xg)
        jac = _autodiff_rows(u, xg, create_graph)
    return _detached((u, jac), create_graph)  # type: ignore[return-value]


def hessian(
    fn: Fn, x: torch.Tensor, *, create_graph: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Values ``(N, c)``, Jacobian ``(N, c, d)`` and Hessian ``(N, c, d, d)`` at ``x``.

    The Jacobian is the field's closed form when it has one (autodiff otherwise); the
    Hessian is reverse mode of that Jacobian. A Jacobian without a graph to ``x`` (a field
    locally linear in ``x``) has a zero Hessian.
    """
    with torch.enable_grad():
        xg = _leaf(x)
        u, jac = _jacobian_at(fn, xg)
        c, d = jac.shape[1], jac.shape[2]
        hess = []
        for i in range(c):
            per_axis = []
            for j in range(d):
                if not jac.requires_grad:
                    per_axis.append(torch.zeros_like(xg))
                    continue
                (g,) = torch.autograd.grad(
                    jac[:, i, j].sum(),
                    xg,
                    create_graph=create_graph,
                    retain_graph=True,
                    allow_unused=True,
                )
                per_axis.append(torch.zeros_like(xg) if g is None else g)
            hess.append(torch.stack(per_axis, dim=1))
        h = torch.stack(hess, dim=1)
    return _detached((u, jac, h), create_graph)  # type: ignore[return-value]


def laplacian(
    fn: Fn, x: torch.Tensor, *, create_graph: bool = False, closed: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Values ``(N, c)``, Jacobian ``(N, c, d)`` and Laplacian ``(N, c)`` at ``x``.

    Hook: ``fn.closed_laplacian(x, create_graph)``; else the diagonal of the Hessian of
    the (closed-form when available) Jacobian, one backward pass per (channel, axis),
    summed over the axes in order.
    """
    hook = _hook(fn, "closed_laplacian", closed)
    if hook is not None:
        with torch.set_grad_enabled(create_graph and torch.is_grad_enabled()):
            return _detached(hook(x, create_graph), create_graph)  # type: ignore[return-value]
    with torch.enable_grad():
        xg = _leaf(x)
        u, jac = _jacobian_at(fn, xg)
        lap = []
        for i in range(jac.shape[1]):
            terms = []
            for j in range(jac.shape[2]):
                if not jac.requires_grad:
                    terms.append(torch.zeros_like(xg[:, j]))
                    continue
                (g,) = torch.autograd.grad(
                    jac[:, i, j].sum(), xg, create_graph=create_graph, retain_graph=True
                )
                terms.append(g[:, j])
            lap.append(sum(terms))
        out = torch.stack(lap, dim=1)  # type: ignore[arg-type]
    return _detached((u, jac, out), create_graph)  # type: ignore[return-value]


def divergence(
    fn: Fn, x: torch.Tensor, *, create_graph: bool = False, closed: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Values ``(N, d)`` and divergence ``(N,)`` of a vector field (``c = d``) at ``x``.

    Hook: ``fn.closed_divergence(x, create_graph)``; else the trace of :func:`jacobian`.
    """
    hook = _hook(fn, "closed_divergence", closed)
    if hook is not None:
        with torch.set_grad_enabled(create_graph and torch.is_grad_enabled()):
            return _detached(hook(x, create_graph), create_graph)  # type: ignore[return-value]
    u, jac = jacobian(fn, x, create_graph=create_graph, closed=closed)
    if jac.shape[1] != jac.shape[2]:
        raise ValueError(f"divergence needs as many channels as axes, got J {tuple(jac.shape)}")
    return u, torch.diagonal(jac, dim1=1, dim2=2).sum(-1)


def along(jac: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``v . grad u`` ``(N, c)`` from a Jacobian ``(N, c, d)`` and ``v`` ``(N, d)`` / ``(d,)``."""
    return (jac * v.to(jac.dtype).unsqueeze(-2)).sum(-1)


def directional_first(
    fn: Fn, x: torch.Tensor, v: torch.Tensor, *, create_graph: bool = False, closed: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Values ``(N, c)`` and the first derivative along ``v`` (``v . grad u``, ``(N, c)``)."""
    u, jac = jacobian(fn, x, create_graph=create_graph, closed=closed)
    return u, along(jac, v)


def directional_second(
    fn: Fn, x: torch.Tensor, v: torch.Tensor, *, create_graph: bool = False, closed: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Values ``(N, c)``, Jacobian ``(N, c, d)`` and ``v^T H v`` ``(N, c)`` at ``x``.

    ``v`` is ``(N, d)`` or ``(d,)`` in physical units and held fixed. Hook:
    ``fn.directional_derivatives(x, v, create_graph=...)`` (a closed-form forward sweep
    for MLP fields); else :func:`hessian` contracted with ``v`` twice.
    """
    hook = _hook(fn, "directional_derivatives", closed)
    if hook is not None:
        return hook(x, v, create_graph=create_graph)
    u, jac, hess = hessian(fn, x, create_graph=create_graph)
    vv = v.to(hess.dtype).expand(x.shape[0], x.shape[1])
    return u, jac, torch.einsum("ncjk,nj,nk->nc", hess, vv, vv)
