"""Offline data: transitions, the device-resident sampler and the Lightning data modules."""

from ramac.data.datamodule import OfflineDataModule
from ramac.data.transitions import Transitions

__all__ = ["OfflineDataModule", "Transitions"]
