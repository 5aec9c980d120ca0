"""ramac: risk-aware offline RL with generative actors (RAMAC, arXiv 2510.02695)."""

__version__ = "0.1.0"
