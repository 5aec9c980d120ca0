"""ramac: risk-aware offline RL with generative actors (RAMAC, arXiv 2510.02695)."""

__version__ = "0.1.0"
"""The one place the version lives: ``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``), ``ramac --version``
prints it, and a test checks that ``CITATION.cff`` repeats it."""
