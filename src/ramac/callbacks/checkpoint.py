"""Checkpointing policy: ``last.ckpt`` every N iterations and always when training ends."""

from __future__ import annotations

import os
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from ramac.learners.members import Members, member_checkpoint


class RamacCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` that also writes ``last.ckpt`` at the end of training when the final
    iteration is not a multiple of ``every_n_train_steps`` (Lightning skips it once any ``last``
    exists). Files are written by Lightning's transactional save, so a crash mid-write leaves the
    previous ``last.ckpt`` intact. In a members run it then writes each member's solo checkpoint,
    ``<member folder>/checkpoints/last.ckpt`` (:func:`ramac.learners.members.member_checkpoint`), which
    ``ramac evaluate`` and ``--ckpt_path`` take as they take a solo run's."""

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.save_last and self._last_global_step_saved != trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        if self.save_last and isinstance(pl_module, Members):
            checkpoint = trainer._checkpoint_connector.dump_checkpoint()
            for k, root in enumerate(pl_module.root_dirs):
                solo = member_checkpoint(checkpoint, k)
                trainer.strategy.save_checkpoint(solo, os.path.join(root, "checkpoints", "last.ckpt"))


def read_checkpoint(path: str, option: str = "--ckpt_path") -> dict[str, Any]:
    """Load a ramac checkpoint on the CPU (tensors memory-mapped); anything else is refused in one line that
    names ``option`` and the file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{option} {path}: no such file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except Exception as err:  # torch.load raises many types for a file that is not a checkpoint
        raise ValueError(f"{option} {path}: not a ramac checkpoint (torch.load failed: {type(err).__name__})") from err
    missing = [key for key in ("state_dict", "ramac") if not isinstance(checkpoint, dict) or key not in checkpoint]
    if missing:
        raise ValueError(f"{option} {path}: not a ramac checkpoint (no {' or '.join(map(repr, missing))} section)")
    return checkpoint
