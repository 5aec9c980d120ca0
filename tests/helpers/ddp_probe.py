"""Callback used by test_ddp.py inside the DDP worker processes (tests/ is on their PYTHONPATH)."""

from __future__ import annotations

import os

import lightning.pytorch as pl
import torch


class RankProbe(pl.Callback):
    """Saves each rank's final parameters and the action sums of the batches it drew."""

    def __init__(self, out_dir: str) -> None:
        self.out_dir, self.batch_sums = out_dir, []

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        original = pl_module.sampler.sample

        def recording(generator):
            batch = original(generator)
            self.batch_sums.append(batch.actions.sum().item())
            return batch

        pl_module.sampler.sample = recording

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        state = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}
        torch.save({"state": state, "batch_sums": self.batch_sums, "world_size": trainer.world_size,
                    "batch_size": pl_module.sampler.batch_size, "iteration": pl_module.iteration},
                   os.path.join(self.out_dir, f"rank{trainer.global_rank}.pt"))
