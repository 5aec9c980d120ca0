"""ramac: risk-aware offline RL with generative actors (RAMAC, arXiv 2510.02695)."""

from ramac.version import __version__

__all__ = ["__version__"]
