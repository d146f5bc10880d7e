"""Weights and RNG state of a run as named numpy arrays (checkpoints, retries, resume)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from insr.fields.base import Field


def field_state(fields: dict[str, Field]) -> dict[str, np.ndarray]:
    """Every field's state_dict as arrays named ``field/<field>.<key>``.

    Non-tensor entries (``nn.Module.get_extra_state``, e.g. a schedule's position) are
    stored as JSON bytes, so a field that keeps such state resumes exactly too.
    """
    state: dict[str, np.ndarray] = {}
    for fname, f in _fields_of(fields).items():
        for k, v in f.state_dict().items():
            if isinstance(v, torch.Tensor):
                state[f"field/{fname}.{k}"] = v.detach().cpu().numpy().copy()
            else:
                state[f"field/{fname}.{k}#json"] = np.frombuffer(json.dumps(v).encode(), np.uint8)
    return state


def load_field_state(fields: dict[str, Field], state: dict[str, np.ndarray]) -> None:
    """Inverse of :func:`field_state` (accepts names with or without the ``field/`` prefix)."""
    state = {k.removeprefix("field/"): v for k, v in state.items()}
    for fname, f in _fields_of(fields).items():
        new: dict[str, Any] = {}
        for k, v in f.state_dict().items():
            name = f"{fname}.{k}"
            if isinstance(v, torch.Tensor):
                new[k] = torch.from_numpy(np.array(state[name])).to(v.device)
            else:
                new[k] = json.loads(bytes(np.asarray(state[f"{name}#json"])).decode())
        f.load_state_dict(new)


def _fields_of(obj: Any) -> dict[str, Field]:
    """Accept a ``{name: field}`` dict or anything with a ``fields`` dict (an equation)."""
    return obj if isinstance(obj, dict) else obj.fields


def rng_state(gen: torch.Generator, device: torch.device) -> dict[str, np.ndarray]:
    """The sample generator's and torch's global RNG states."""
    out = {"rng/gen": gen.get_state().numpy(), "rng/torch": torch.get_rng_state().numpy()}
    if device.type == "cuda":
        out["rng/cuda"] = torch.cuda.get_rng_state(device).numpy()
    return out


def set_rng_state(
    gen: torch.Generator, device: torch.device, arrays: dict[str, np.ndarray]
) -> None:
    """Inverse of :func:`rng_state`."""
    gen.set_state(torch.from_numpy(np.asarray(arrays["rng/gen"], dtype=np.uint8)))
    torch.set_rng_state(torch.from_numpy(np.asarray(arrays["rng/torch"], dtype=np.uint8)))
    if "rng/cuda" in arrays and device.type == "cuda":
        torch.cuda.set_rng_state(torch.from_numpy(arrays["rng/cuda"]), device)
