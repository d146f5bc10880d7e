"""Guards that refuse a run before it allocates or writes more than the machine has."""

from __future__ import annotations

import os
from pathlib import Path

from insr.errors import UsageError
from insr.fields import _classes
from insr.log import RESERVE, estimate_log_bytes, free_bytes, mount_point
from insr.settings import RunConfig

RNG_STATE_BYTES = 16 * 1024
MAX_LAYERS = 1000  # torch CPU generator states (2 x 5056 bytes) and slack


def _gib(n: float) -> str:
    if n < 2**20:
        return f"{n / 2**10:.3g} KiB"
    return f"{n / 2**30:.3g} GiB" if n >= 2**30 else f"{n / 2**20:.3g} MiB"


def available_memory() -> int:
    """Bytes of memory available to a new allocation (MemAvailable; physical memory else)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 1 << 62


def eval_row_bytes(cfg: RunConfig, dim: int, channels: int) -> tuple[int, int]:
    """(bytes of one logged row on disk, bytes held in memory while evaluating it).

    A row holds the field (c), each logged gradient (c*d) and the exact field and gradient,
    stored as float32. In memory the evaluation points (N*d in the run dtype) plus every
    array about three times over (chunk list, concatenation, reshaped copy), in float64 to
    be safe: a coarse upper estimate, meant to refuse absurd sizes before allocating.
    """
    n = cfg.eval.resolution**dim
    per_point = channels * (2 + (len(cfg.derivative.log) + 1) * dim)
    itemsize = 8 if cfg.run.dtype == "float64" else 4
    return n * per_point * 4, n * (dim * itemsize + 3 * 8 * per_point)


def check_eval_memory(cfg: RunConfig, dim: int, channels: int) -> None:
    """Refuse an evaluation grid whose arrays would not fit in memory."""
    _, mem = eval_row_bytes(cfg, dim, channels)
    avail = available_memory()
    if mem > 0.8 * avail:
        raise UsageError(
            f"eval.resolution = {cfg.eval.resolution} ({cfg.eval.resolution}^{dim} points) needs "
            f"about {_gib(mem)} of memory for the evaluation arrays but only {_gib(avail)} is "
            "available; lower eval.resolution"
        )


def check_field_memory(cfg: RunConfig, dim: int, channels: int) -> None:
    """Refuse a representation whose parameters would not fit in memory, before building it.

    Uses ``param_count(params: dict, dim, channels) -> int`` on the field class when it has
    one (grid representations: ``resolution^d x features`` per level); 4 copies (weights,
    gradient, two Adam moments) in the run dtype.
    """
    count = getattr(_classes(cfg.representation.kind)[1], "param_count", None)
    if count is None:
        return
    n = int(count(cfg.representation.params, dim, channels))
    need = n * 4 * (8 if cfg.run.dtype == "float64" else 4)
    avail = available_memory()
    if need > 0.8 * avail:
        raise UsageError(
            f"representation {cfg.representation.kind} has {n:.3g} parameters: about "
            f"{_gib(need)} with gradients and optimizer state, but only {_gib(avail)} of "
            "memory is available; lower its resolution / table size"
        )


def check_disk_budget(
    cfg: RunConfig, dim: int, channels: int, run_dir: Path, n_params: int = 0
) -> None:
    """Refuse a run whose log would not fit on the disk, before anything is written.

    The estimate (:func:`insr.log.estimate_log_bytes`) counts the rows, one chunk-index entry
    per dataset per row, the datasets' headers, two checkpoint copies (``n_params`` weights in
    the run dtype plus the RNG states) and fixed metadata, plus the writer's free-space
    reserve (:data:`insr.log.RESERVE`). During the run the writer checks free space again
    before every row and checkpoint (the disk may fill from elsewhere).
    """
    row, _ = eval_row_bytes(cfg, dim, channels)
    rows = cfg.case.steps // cfg.eval.every + 2
    datasets = 40 + 4 * len(cfg.derivative.log)
    itemsize = 8 if cfg.run.dtype == "float64" else 4
    ckpt = n_params * itemsize + RNG_STATE_BYTES
    need = estimate_log_bytes(row, rows, datasets, ckpt) + RESERVE
    free = free_bytes(run_dir)
    if free is not None and need > free:
        raise UsageError(
            f"the log would need about {_gib(need)} ({_gib(row)} per row x {rows} rows, "
            f"checkpoints, metadata and a {_gib(RESERVE)} reserve) but only {_gib(free)} is "
            f"free on {mount_point(run_dir)}; lower eval.resolution or raise eval.every"
        )


def _network_size(cfg: RunConfig) -> tuple[int, int]:
    """(hidden layers, width) of the representation's MLP (0, 0: none)."""
    p = cfg.representation.params
    layers, width = p.get("hidden_layers", 0), p.get("hidden_features", 0)
    if isinstance(layers, bool) or isinstance(width, bool):
        return 0, 0
    if not isinstance(layers, int) or not isinstance(width, int):
        return 0, 0
    return max(layers, 0), max(width, 0)


def check_network_memory(cfg: RunConfig, dim: int, channels: int) -> None:
    """Refuse a network or a sample count whose arrays would not fit in memory, before
    anything is allocated.

    Parameters: the MLP's weights with gradient and two Adam moments (4 copies). Samples:
    each of ``solver.samples`` points carries, per layer, its activation and ``dim``
    derivatives through the forward and the backward pass (about 4 copies). Both in the run
    dtype; a coarse lower bound of what the step needs, meant to refuse absurd sizes.
    """
    from insr.fields.gridbase import mlp_param_count

    layers, width = _network_size(cfg)
    kind = cfg.representation.kind
    if layers > MAX_LAYERS:
        raise UsageError(
            f"representation.{kind}.hidden_layers = {layers} is not allowed: expected at most "
            f"{MAX_LAYERS} (a deeper network does not train in a time step)"
        )
    itemsize = 8 if cfg.run.dtype == "float64" else 4
    avail = available_memory()
    if layers and width:
        n = mlp_param_count(dim, layers, width, channels)
        need = 4 * n * itemsize
        if need > 0.8 * avail:
            raise UsageError(
                f"representation.{kind} with hidden_layers = {layers} and hidden_features = "
                f"{width} has {n:.3g} parameters: about {_gib(need)} with gradients and "
                f"optimizer state, but only {_gib(avail)} of memory is available; lower them"
            )
    per_sample = (dim + 1) * max(width, channels) * (layers + 1) * itemsize * 4 + 8 * dim
    need = cfg.solver.samples * per_sample
    if need > 0.8 * avail:
        raise UsageError(
            f"solver.samples = {cfg.solver.samples} needs about {_gib(need)} of memory per "
            f"iteration (activations and derivatives of every sample through "
            f"{layers + 1} layers of width {max(width, channels)}), but only {_gib(avail)} is "
            "available; lower solver.samples"
        )
