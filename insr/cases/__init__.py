"""The Python side of cases: initial conditions, velocities and exact solutions of a
``[case]`` table (:class:`Case`); the case builder of each equation is registered with it
in :mod:`insr.equations`."""

from insr.cases import fluid  # noqa: F401 - registers the fluid initial-condition families
from insr.cases.advection import make_advection_case
from insr.cases.base import Case

__all__ = ["Case", "make_advection_case"]
