"""``ramac`` command line: LightningCLI with ramac's learners, data modules and defaults.

``ramac fit --config conf/bandit.yaml`` trains; ``--ckpt_path last`` resumes the newest ``last*.ckpt``
under ``<default_root_dir>/checkpoints``; every Trainer option is available (``--trainer.devices 2
--trainer.strategy ddp``, ``--trainer.precision bf16-mixed``...). ``ramac fit --print_config`` shows
the complete configuration with every default.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from typing import Any

from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ProgressBar, RichProgressBar
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from ramac.callbacks.checkpoint import RamacCheckpoint
from ramac.callbacks.online import OnlineOptions, OnlinePhase
from ramac.cli.compose import expand
from ramac.data.datamodule import OfflineDataModule
from ramac.learners.base import OfflineLearner
from ramac.learners.members import Members, MemberSpec, build_member, member_specs
from ramac.version import __version__

_QUIET = (
    r".*does not have many workers.*",
    r".*litlogger.*",
    r".*LeafSpec.*",
    r".*args parameter is intended to run from within Python.*",
    r".*`IterableDataset` has `__len__` defined.*",
    r".*checkpoint.*manual optimization.*",
    r".*Checkpoint directory .* exists and is not empty.*",
    r".*You're resuming from a checkpoint that ended before the epoch ended.*",
    r".*The number of training batches .* is smaller than the logging interval.*",
)


class _DropTips(logging.Filter):
    """Drops Lightning's advertisement for its cloud logger from the console output."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "litlogger" not in record.getMessage().lower()


def _checkpoint_dir(root: str) -> str:
    return os.path.join(root, "checkpoints")


class IterationProgressBar(RichProgressBar):
    """Lightning's rich bar labelled with the run's length in learner iterations. ramac runs are bounded by
    ``max_steps``, and Lightning's label ``Epoch e/(max_epochs - 1)`` then reads ``Epoch 3/-2``."""

    def _get_train_description(self, current_epoch: int) -> str:
        if self.trainer.max_steps < 0:
            return super()._get_train_description(current_epoch)
        return f"Epoch {current_epoch} (run: {self.trainer.max_steps:,} iterations)"


#: learner options the resume check leaves alone: linked from the data at instantiation, or checked with their own
#: message (the seed: :meth:`ramac.learners.base.OfflineLearner.on_load_checkpoint`)
_CKPT_UNCHECKED = frozenset({"obs_dim", "action_dim", "max_action", "seed"})


def _model_options(config: Any) -> dict[str, Any]:
    """The learner's options in a parsed config (``model.init_args``), with its class path."""
    model = config.get("model")
    if model is None:
        return {}
    options = dict(vars(model.init_args)) if getattr(model, "init_args", None) is not None else {}
    return {**options, "class_path": getattr(model, "class_path", None)}


def _comparable(value: Any) -> Any:
    """Tuples and lists alike, namespaces as dicts (a saved hyperparameter against its parsed config value)."""
    if isinstance(value, tuple | list):
        return [_comparable(item) for item in value]
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return {key: _comparable(item) for key, item in vars(value).items()}
    return value


class RamacCLI(LightningCLI):
    """LightningCLI with the data dimensions linked into the learner and a fixed checkpoint folder."""

    def add_arguments_to_parser(self, parser) -> None:  # type: ignore[no-untyped-def]
        for attribute in ("obs_dim", "action_dim", "max_action"):
            parser.link_arguments(f"data.{attribute}", f"model.init_args.{attribute}", apply_on="instantiate")
        parser.link_arguments("seed_everything", "model.init_args.seed")
        parser.add_argument("--members", type=int | list[MemberSpec] | None, default=None,
                            help="train several runs in one process (ramac.learners.members): a count S (seeds "
                                 "seed_everything … +S-1, folders <default_root_dir>/seed<s>) or a list of "
                                 "{seed, root_dir, model: {option: value}}")
        parser.add_argument("--online", type=OnlineOptions | None, default=None,
                            help="an online phase (ramac.callbacks.online): step the task's environment with the "
                                 "policy and mix its transitions into each batch, e.g. --online '{envs: 4}' or "
                                 "--online.offline_fraction 0.5 (null: offline only)")
        parser.add_lightning_class_args(RamacCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.save_last": True, "checkpoint.save_top_k": 0,
                             "checkpoint.every_n_train_steps": 1000})
        # One checkpoint folder per run directory (not per logger version), so `--ckpt_path last`
        # finds the previous run's last.ckpt.
        parser.link_arguments("trainer.default_root_dir", "checkpoint.dirpath", compute_fn=_checkpoint_dir)

    def _parse_ckpt_path(self) -> None:
        """Lightning's (a checkpoint path given as a file puts the learner options saved in it over the config's;
        ``last`` is resolved here to ``<default_root_dir>/checkpoints/last.ckpt`` so that it is treated alike),
        refusing a config whose learner options differ from the checkpoint's: a resume continues the run it
        resumes, and LightningCLI would otherwise drop the config's values without a word."""
        subcommand = self.config.get("subcommand")
        if not subcommand:
            return
        config = self.config[subcommand]
        given = config.get("ckpt_path")
        if given == "last":  # Lightning resolves it later, so its options would go unchecked (and unapplied)
            root = config.get("trainer", {}).get("default_root_dir") or "."
            config["ckpt_path"] = os.path.join(_checkpoint_dir(root), "last.ckpt")
        before = _model_options(config)
        try:
            super()._parse_ckpt_path()
        finally:
            self.config[subcommand]["ckpt_path"] = given
        after = _model_options(self.config[subcommand])
        changed = [key for key, value in before.items()
                   if key in after and value is not None and key not in _CKPT_UNCHECKED
                   and _comparable(value) != _comparable(after[key])]
        if changed:
            options = ", ".join(f"model.init_args.{key}={before[key]!r}" for key in changed)
            saved = ", ".join(f"{after[key]!r}" for key in changed)
            raise ValueError(f"--ckpt_path {given}: the config sets {options} but the checkpoint was trained with "
                             f"{saved}; a resume continues its run with the run's own options (start a new run to "
                             "change them)")

    def instantiate_classes(self) -> None:
        """Lightning's, and with ``--members`` the :class:`~ramac.learners.members.Members` of the configured
        learner in its place (each member built as its solo run builds its learner)."""
        super().instantiate_classes()
        members = self._get(self.config, "members", None)
        if members is None:
            return
        specs = member_specs([vars(m) if not isinstance(m, dict | MemberSpec) else m for m in members]
                             if isinstance(members, list) else members,
                             int(self._get(self.config, "seed_everything")),
                             self._get(self.config, "trainer.default_root_dir"))
        template = self.model
        self.model = Members([build_member(template, spec) for spec in specs], [s.root_dir for s in specs])

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """Lightning's default logger (TensorBoard) plus a CSV logger writing into the same version folder (with any
        other configured logger, a CSV logger in ``<default_root_dir>/lightning_logs``), and
        :class:`IterationProgressBar` in place of Lightning's default bar."""
        configured = self._get(self.config_init, "trainer.callbacks", None) or []
        configured = configured if isinstance(configured, list) else [configured]
        own_bar = any(isinstance(c, ProgressBar) for c in configured)
        trainer = super().instantiate_trainer(**kwargs)
        online = self._get(self.config_init, "online", None)
        if online is not None:
            trainer.callbacks.append(OnlinePhase(online))
        for index, callback in enumerate(trainer.callbacks):
            if type(callback) is RichProgressBar and not own_bar:  # Lightning's default bar
                trainer.callbacks[index] = IterationProgressBar()
        if len(trainer.loggers) == 1 and isinstance(trainer.logger, TensorBoardLogger) \
                and self._get(self.config_init, "trainer.logger", None) in (None, True):
            tensorboard = trainer.logger
            trainer.loggers = [tensorboard, CSVLogger(tensorboard.save_dir, name=tensorboard.name,
                                                      version=tensorboard.version)]
        elif trainer.loggers and not any(isinstance(logger, CSVLogger) for logger in trainer.loggers):
            # a configured logger (Weights & Biases, MLflow, TensorBoard elsewhere) keeps the CSV metrics that
            # `ramac report` and the sweep engine read, in the run folder
            trainer.loggers = [*trainer.loggers, CSVLogger(trainer.default_root_dir, name="lightning_logs")]
        return trainer


def build_cli(args: list[str], run: bool = True) -> RamacCLI:
    """The ramac LightningCLI on ``args`` (``run=False``: parse and instantiate only, no subcommand), after the
    short forms of :mod:`ramac.cli.compose` are expanded."""
    for pattern in _QUIET:
        warnings.filterwarnings("ignore", message=pattern)
    for name in ("lightning_utilities.core.rank_zero", "lightning.pytorch.utilities.rank_zero",
                 "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).addFilter(_DropTips())
    return RamacCLI(
        OfflineLearner,
        OfflineDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        seed_everything_default=0,
        # parse errors raise (ArgumentError) instead of printing the usage: `console` shows them in one line
        parser_kwargs={"parser_mode": "omegaconf", "exit_on_error": False,
                       # `--version` in `ramac --help` (the `ramac` console script answers it before parsing)
                       "prog": "ramac", "version": __version__},
        trainer_defaults={"default_root_dir": "runs/default", "max_steps": 1000, "log_every_n_steps": 50},
        args=expand(list(args)),
        run=run,
    )


def main(args: list[str] | None = None) -> None:
    """Entry point of ``ramac fit|validate|...`` (``args`` lets tests run it in-process)."""
    build_cli(sys.argv[1:] if args is None else args)
