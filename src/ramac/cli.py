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
from argparse import ArgumentError
from typing import Any

import yaml
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ProgressBar, RichProgressBar
from lightning.pytorch.cli import ArgsType, LightningCLI
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from ramac.checkpointing import RamacCheckpoint, read_checkpoint
from ramac.data.datamodule import OfflineDataModule
from ramac.learners.base import OfflineLearner

_QUIET = (
    r".*does not have many workers.*",
    r".*litlogger.*",
    r".*LeafSpec.*",
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


class RamacCLI(LightningCLI):
    """LightningCLI with the data dimensions linked into the learner and a fixed checkpoint folder."""

    def add_arguments_to_parser(self, parser) -> None:  # type: ignore[no-untyped-def]
        for attribute in ("obs_dim", "action_dim", "max_action"):
            parser.link_arguments(f"data.{attribute}", f"model.init_args.{attribute}", apply_on="instantiate")
        parser.link_arguments("seed_everything", "model.init_args.seed")
        parser.add_lightning_class_args(RamacCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.save_last": True, "checkpoint.save_top_k": 0,
                             "checkpoint.every_n_train_steps": 1000})
        # One checkpoint folder per run directory (not per logger version), so `--ckpt_path last`
        # finds the previous run's last.ckpt.
        parser.link_arguments("trainer.default_root_dir", "checkpoint.dirpath", compute_fn=_checkpoint_dir)

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """Lightning's default logger (TensorBoard) plus a CSV logger writing into the same version folder, and
        :class:`IterationProgressBar` in place of Lightning's default bar."""
        configured = self._get(self.config_init, "trainer.callbacks", None) or []
        configured = configured if isinstance(configured, list) else [configured]
        own_bar = any(isinstance(c, ProgressBar) for c in configured)
        trainer = super().instantiate_trainer(**kwargs)
        for index, callback in enumerate(trainer.callbacks):
            if type(callback) is RichProgressBar and not own_bar:  # Lightning's default bar
                trainer.callbacks[index] = IterationProgressBar()
        if len(trainer.loggers) == 1 and isinstance(trainer.logger, TensorBoardLogger) \
                and self._get(self.config_init, "trainer.logger", None) in (None, True):
            tensorboard = trainer.logger
            trainer.loggers = [tensorboard, CSVLogger(tensorboard.save_dir, name=tensorboard.name,
                                                      version=tensorboard.version)]
        return trainer


def build_cli(args: ArgsType = None, run: bool = True) -> RamacCLI:
    """The ramac LightningCLI (``run=False``: parse and instantiate only, no subcommand)."""
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
        parser_kwargs={"parser_mode": "omegaconf", "exit_on_error": False},
        trainer_defaults={"default_root_dir": "runs/default", "max_steps": 1000, "log_every_n_steps": 50},
        args=args,
        run=run,
    )


def main(args: ArgsType = None) -> None:
    """Entry point of ``ramac fit|validate|...`` (``args`` lets tests run it in-process)."""
    build_cli(args)


_STRUCTURE = ("Does not validate against any of the Union subtypes", "Subtypes:", "Errors:", "Given value",
              "Expected a <class 'NoneType'>")


def one_line(message: str) -> str:
    """The essence of a (jsonargparse) error message on one line: the full option key and the innermost reason.

    jsonargparse nests its reasons: ``Parser key "model": ... Problem with given class_path 'C': ... Parser
    key "risk_weight": Expected a <class 'float'>. Got value: abc``. This keeps the key path
    (``model.init_args.risk_weight``) and the first line that is a reason, not structure.
    """
    keys: list[str] = []
    reasons: list[str] = []
    in_class = False  # after "Problem with given class_path": the next key is one of its init_args
    for raw in message.splitlines():
        line = raw.strip().removeprefix("- ").strip()
        if not line or line.startswith(_STRUCTURE):
            continue
        if line.startswith("Parser key "):
            key, _, rest = line.removeprefix("Parser key ").partition(":")
            keys += ["init_args", key.strip('"')] if in_class and not reasons else [key.strip('"')]
            in_class, line = False, rest.strip()
        elif line.startswith("Problem with given class_path"):
            in_class = not reasons
            continue
        if line:
            reasons.append(line)
    if not reasons:
        return " ".join(message.split())
    if in_class and keys:  # the class itself was the problem: a bad class_path or an unknown init arg
        keys.append("init_args" if reasons[0].startswith("Option '") else "class_path")
    key = ".".join(keys)
    return f"--{key}: {reasons[0]}" if key else reasons[0]


def _option_values(argv: list[str], *names: str) -> list[str]:
    """Values of ``--name VALUE`` and ``--name=VALUE`` in ``argv``."""
    values = []
    for index, arg in enumerate(argv):
        if arg in names and index + 1 < len(argv):
            values.append(argv[index + 1])
        elif arg.partition("=")[0] in names and "=" in arg:
            values.append(arg.partition("=")[2])
    return values


def check_named_files(argv: list[str], checkpoints: bool = True) -> None:
    """Refuse a ``--config`` that is missing or not YAML and (``checkpoints``) a ``--ckpt_path`` that is not a
    ramac checkpoint, naming the option and the file (jsonargparse and ``torch.load`` name neither), before
    any work starts."""
    for path in _option_values(argv, "--config", "-c"):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"--config {path}: no such file")
        try:
            with open(path) as handle:
                yaml.safe_load(handle)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]
            raise ValueError(f"--config {path}: not valid YAML ({problem}{where})") from err
    for path in _option_values(argv, "--ckpt_path") if checkpoints else []:
        if path not in ("last", "best", "hpc", "registry"):  # Lightning's names for checkpoints it finds
            read_checkpoint(path)


def console() -> None:
    """The ``ramac`` console script: like :func:`main`, but bad input ends with a one-line error, not a traceback.

    Set ``RAMAC_TRACEBACK=1`` to see the traceback (and jsonargparse's full message).
    """
    try:
        if sys.argv[1:2] == ["data"]:
            from ramac.data_cli import main as data_main

            data_main(sys.argv[2:])
        elif sys.argv[1:2] == ["evaluate"]:
            from ramac.evaluate_cli import main as evaluate_main

            check_named_files(sys.argv[2:], checkpoints=False)  # evaluate reads (and checks) it first
            evaluate_main(sys.argv[2:])
        else:
            check_named_files(sys.argv[1:])
            main()
    except (ArgumentError, FileNotFoundError, PermissionError, KeyError, ValueError, TypeError, ImportError) as err:
        if os.environ.get("RAMAC_TRACEBACK"):
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        sys.stderr.write(f"ramac: error: {one_line(str(message))}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    console()
