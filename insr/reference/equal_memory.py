"""Equal-memory grid baselines (Chen et al., ICML 2023, "INSR", Sec. 5).

A neural field with ``n_params`` trainable parameters is compared with a plain grid that
stores at most as many floats: ``resolution**dim * channels <= n_params``.
"""

from __future__ import annotations

from insr.reference.errors import ReferenceInputError


def grid_resolution_for_params(n_params: int, dim: int, channels: int) -> int:
    """Largest per-axis resolution ``r`` with ``r**dim * channels <= n_params``.

    Args:
        n_params: number of stored floats allowed (the network's parameter count).
        dim: spatial dimension (>= 1).
        channels: floats stored per grid point (e.g. 1 for a scalar, 2 for a 2D velocity).

    Returns:
        The resolution per axis (>= 1); exact integer arithmetic, no floating-point root
        round-off.

    Raises:
        ReferenceInputError: non-positive inputs, or ``n_params < channels`` (not even one
        grid point fits).
    """
    for name, val in (("n_params", n_params), ("dim", dim), ("channels", channels)):
        if int(val) != val or val < 1:
            raise ReferenceInputError(f"{name} must be a positive integer, got {val!r}")
    n_params, dim, channels = int(n_params), int(dim), int(channels)
    budget = n_params // channels  # r**dim * channels <= n_params  <=>  r**dim <= budget
    if budget < 1:
        raise ReferenceInputError(
            f"{n_params} parameters cannot hold even one grid point of {channels} channels"
        )
    r = max(1, int(round(budget ** (1.0 / dim))))
    while r**dim > budget:
        r -= 1
    while (r + 1) ** dim <= budget:
        r += 1
    return r
