"""insr: time-stepping PDEs with implicit neural spatial representations."""

__version__ = "0.1.0"
