"""Checkpointing policy: ``last.ckpt`` every N iterations and always when training ends."""

from __future__ import annotations

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint


class RamacCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` that also writes ``last.ckpt`` at the end of training when the final
    iteration is not a multiple of ``every_n_train_steps`` (Lightning skips it once any ``last``
    exists). Files are written by Lightning's transactional save, so a crash mid-write leaves the
    previous ``last.ckpt`` intact."""

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.save_last and self._last_global_step_saved != trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
