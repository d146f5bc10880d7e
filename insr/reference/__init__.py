"""Classical grid solvers: exact/reference solutions and equal-memory grid baselines.

Pure numpy/scipy; nothing here imports torch or any neural code.

- :mod:`insr.reference.advection1d`: 1D linear advection (semi-Lagrangian cubic,
  Lax–Wendroff, upwind) on a nodal grid.
- :mod:`insr.reference.euler2d`: 2D incompressible Euler, MAC stable-fluids solver with an
  exact DCT pressure projection.
- :mod:`insr.reference.initial`: initial velocity fields for the fluid cases.
- :mod:`insr.reference.equal_memory`: grid resolution with as many floats as a network.
"""

from insr.reference.equal_memory import grid_resolution_for_params
from insr.reference.errors import ReferenceInputError

__all__ = ["ReferenceInputError", "grid_resolution_for_params"]
