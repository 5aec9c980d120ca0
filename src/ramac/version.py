"""The one place ramac's version lives: ``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``), ``ramac
--version`` prints it, ``ramac.__version__`` re-exports it, and a test checks that ``CITATION.cff`` repeats it. A
module of the bottom layer, so that every layer may import it (``tests/system/test_import_layers.py``)."""

__version__ = "0.1.0"
