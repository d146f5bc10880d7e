"""Equal-memory layouts and resolutions, against hand counts."""

from __future__ import annotations

import pytest

from insr.reference.equal_memory import (
    mac_floats,
    nodal_floats,
    resolution_for_budget,
)
from insr.reference.errors import ReferenceInputError


def test_mac_floats_count_faces_and_cells() -> None:
    # r = 3: u on x-faces 4 x 3 = 12, v on y-faces 3 x 4 = 12, p at cells 3 x 3 = 9
    assert mac_floats(3) == 33
    # r = 1: 2 + 2 + 1
    assert mac_floats(1) == 5


def test_nodal_floats() -> None:
    assert nodal_floats(5, 2, 3) == 75
    assert nodal_floats(481, 1, 1) == 481


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        (4515, 38),  # 3*38^2 + 2*38 = 4408 <= 4515 < 4641 (r = 39)
        (4408, 38),
        (4407, 37),  # 3*37^2 + 2*37 = 4181
        (33, 3),
        (32, 2),  # 3*4 + 4 = 16
    ],
)
def test_resolution_for_mac_budget(budget: int, expected: int) -> None:
    assert resolution_for_budget(budget, mac_floats) == expected


def test_resolution_respects_minimum() -> None:
    with pytest.raises(ReferenceInputError, match="smallest grid"):
        resolution_for_budget(100, mac_floats, minimum=7)  # 7 cells: 161 floats
    assert resolution_for_budget(161, mac_floats, minimum=7) == 7
