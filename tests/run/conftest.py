"""Fixtures shared by the run tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def _restore_threads() -> Iterator[None]:
    """In-process runs set torch's thread count (run.threads); give it back per module."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)
