"""Learners: Lightning modules that orchestrate the pure losses of one algorithm each."""

from ramac.learners.base import OfflineLearner
from ramac.learners.radac import RADAC

__all__ = ["RADAC", "OfflineLearner"]
