"""The glibc heap top pad set at import (insr/__init__.py): asked for once, skipped under
tcmalloc, an explicit MALLOC_TOP_PAD_ or INSR_HEAP_PAD=0."""

from __future__ import annotations

import ctypes

import insr


def test_heap_pad_asks_glibc_unless_tcmalloc_or_an_explicit_setting(monkeypatch):
    calls: list[tuple[int, int]] = []

    class Libc:
        def mallopt(self, key: int, value: int) -> int:
            calls.append((key, value))
            return 1

    monkeypatch.setattr(ctypes, "CDLL", lambda name: Libc())
    monkeypatch.delenv("MALLOC_TOP_PAD_", raising=False)
    monkeypatch.delenv("INSR_HEAP_PAD", raising=False)
    monkeypatch.setenv("LD_PRELOAD", "")
    insr._pad_glibc_heap()
    assert calls == [(-2, 64 << 20)]  # M_TOP_PAD, 64 MiB
    monkeypatch.setenv("LD_PRELOAD", "/usr/lib/libtcmalloc_minimal.so.4")
    insr._pad_glibc_heap()
    monkeypatch.setenv("LD_PRELOAD", "")
    monkeypatch.setenv("MALLOC_TOP_PAD_", "131072")
    insr._pad_glibc_heap()
    monkeypatch.delenv("MALLOC_TOP_PAD_")
    monkeypatch.setenv("INSR_HEAP_PAD", "0")
    insr._pad_glibc_heap()
    assert len(calls) == 1


def test_heap_pad_without_glibc_is_a_no_op(monkeypatch):
    def missing(name: str):
        raise OSError(name)

    monkeypatch.setattr(ctypes, "CDLL", missing)
    monkeypatch.delenv("MALLOC_TOP_PAD_", raising=False)
    monkeypatch.setenv("LD_PRELOAD", "")
    insr._pad_glibc_heap()  # no exception
