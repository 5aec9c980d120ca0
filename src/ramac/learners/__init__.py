"""Learners: one Lightning module per paper algorithm, each ``update()`` in its paper's order."""

from ramac.learners.base import OfflineLearner
from ramac.learners.bc import BC
from ramac.learners.codac import CODAC
from ramac.learners.cql import CQL
from ramac.learners.diffusion_ql import DiffusionQL
from ramac.learners.fql import FQL
from ramac.learners.oraac import ORAAC
from ramac.learners.radac import RADAC
from ramac.learners.rafmac import RAFMAC

__all__ = ["BC", "CODAC", "CQL", "FQL", "ORAAC", "RADAC", "RAFMAC", "DiffusionQL", "OfflineLearner"]
