"""Members: S independent runs of one learner trained in one process, sharing one copy of the data.

A members run is what S solo runs would be (issue 27): member ``k`` is built as the solo run of its seed builds its
learner (``seed_everything(seed_k)``, then the learner's constructor, with the member's own option overrides), draws
its batch and every random number of its iteration from its own generator (``iteration_seed(seed_k, rank, i)``),
clips its own gradient norms and steps its own optimizers, EMA actor and target networks. So member ``k`` after N
iterations equals the solo run of ``seed_k`` bit for bit on one device (``tests/learners/test_members.py`` checks
every learner). Its outputs (``eval.json``/``bandit.json``, ``lightning_logs/version_*/metrics.csv`` and
``hparams.yaml``, and at the end of training its own solo ``checkpoints/last.ckpt``) go into its own folder, laid out
as a solo run's, so ``ramac report``, ``ramac evaluate`` and ``--ckpt_path`` read a member as they read a solo run.
The run's own folder (``--trainer.default_root_dir``) holds the checkpoint of every member (resume: ``--ckpt_path
last`` as for a solo run) and the TensorBoard/CSV logs with every member's metrics prefixed ``seed<s>/``.

How the iteration is computed: the members' updates run one after another (a loop over S learners). This keeps every
learner's ``update()`` as it is and makes a member exactly its solo run; on this machine's CPUs a loop over members
is within 10 % of stacked ``[S, ...]`` parameters (BENCHMARKS.md "Members, design input"), and one process holds one
copy of the data instead of S. Stacked parameters with CUDA-graph capture, where the GPU would gain, are not built
(README "Many runs in one process").

Across devices: with ``--trainer.devices N`` (DDP) the members are split over the N processes, member ``k`` on rank
``k mod N``; each process trains its share alone (a member's whole batch, rank-0 draws, no gradient exchange: still
exactly its solo run), and the members' weights, optimizer states, evaluations and bandit references are gathered
(``broadcast_object_list`` from each member's owner) whenever a checkpoint is written and when training ends. On this
machine's two cores ``--trainer.accelerator cpu --trainer.devices 2 --trainer.strategy ddp`` is how S members match
two 1-thread solo runs at a time (BENCHMARKS.md "Members on this machine").

Where they are configured: ``ramac fit ... --members 5`` (seeds ``s0 … s0+4`` after ``--seed_everything s0``, folders
``<default_root_dir>/seed<s>``) or an explicit list ``--members '[{seed: 0, root_dir: a}, {seed: 3, root_dir: b,
model: {risk_weight: 0.1}}]'``: any learner option can differ between members (a risk-weight frontier in one
process). :mod:`ramac.cli.fit` builds the :class:`Members` module from that list.
"""

from __future__ import annotations

import copy
import inspect
import os
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.strategies import ParallelStrategy
from lightning.pytorch.utilities.seed import isolate_rng
from torch import Tensor, nn

from ramac.learners.base import BCReference, OfflineLearner


@dataclass(frozen=True)
class MemberSpec:
    """One member of a members run: its seed, its output folder, and the learner options that differ from the
    run's ``model`` section (``{}``: none)."""

    seed: int
    root_dir: str | None = None
    model: dict[str, Any] = field(default_factory=dict)


def member_specs(members: int | Sequence[MemberSpec | dict[str, Any]], first_seed: int, root_dir: str
                 ) -> list[MemberSpec]:
    """The member list of ``--members``: a count ``S`` means seeds ``first_seed … first_seed + S - 1``; a member
    without ``root_dir`` writes into ``<root_dir>/seed<s>``. Refuses a count below 1 and repeated seeds or folders."""
    if isinstance(members, int):
        if members < 1:
            raise ValueError(f"--members must be a count >= 1 or a list of members, got {members}")
        specs = [MemberSpec(first_seed + k) for k in range(members)]
    else:
        specs = [m if isinstance(m, MemberSpec) else MemberSpec(**m) for m in members]
        if not specs:
            raise ValueError("--members: the list of members is empty")
    specs = [MemberSpec(m.seed, m.root_dir or os.path.join(root_dir, f"seed{m.seed}"), dict(m.model)) for m in specs]
    folders = [os.path.abspath(str(m.root_dir)) for m in specs]
    if len(set(folders)) != len(folders):
        raise ValueError(f"--members: two members write into one folder: {[m.root_dir for m in specs]}")
    if len({(m.seed, tuple(sorted(m.model.items(), key=str))) for m in specs}) != len(specs):
        raise ValueError(f"--members: two members have the same seed and options: {[m.seed for m in specs]}")
    return specs


def build_member(template: OfflineLearner, spec: MemberSpec) -> OfflineLearner:
    """The learner of ``spec``'s solo run: ``template``'s class and options, with the member's seed and overrides,
    constructed right after ``seed_everything(seed)`` as the CLI builds a solo run's learner (the caller's global
    random state is left as it was)."""
    from lightning.pytorch import seed_everything

    cls = type(template)
    names = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(spec.model) - set(names))
    if unknown:
        raise ValueError(f"--members: member seed {spec.seed} sets {unknown}, which {cls.__name__} does not take; "
                         f"its options are {names}")
    options = {name: template.hparams[name] for name in names if name in template.hparams}
    options.update(spec.model, seed=spec.seed)
    with isolate_rng():
        seed_everything(spec.seed, verbose=False)
        return cls(**options)


class Members(OfflineLearner):
    """S learners of one class trained together, each exactly as its solo run (module docstring).

    Args:
        learners: the members, built by :func:`build_member` (their ``seed`` differ, or their options do).
        root_dirs: each member's output folder.
    """

    def __init__(self, learners: Sequence[OfflineLearner], root_dirs: Sequence[str]) -> None:
        if not learners or len(learners) != len(root_dirs):
            raise ValueError(f"Members: {len(learners)} learners for {len(root_dirs)} folders")
        kinds = {type(learner) for learner in learners}
        if len(kinds) != 1:
            raise ValueError(f"Members: all members must be one learner class, got {sorted(k.__name__ for k in kinds)}")
        super().__init__(learners[0].obs_normalizer.mean.numel(), seed=learners[0].seed)
        self.members = nn.ModuleList(learners)
        self.root_dirs = [str(d) for d in root_dirs]
        self.member_loggers: list[CSVLogger] = []

    @property
    def size(self) -> int:
        return len(self.members)

    def seed_label(self, k: int) -> str:
        return f"seed{self.members[k].seed}"

    @property
    def split(self) -> bool:
        """Whether the members are split over several processes (``--trainer.devices N`` with DDP)."""
        return self._trainer is not None and self.trainer.world_size > 1

    def owner(self, k: int) -> int:
        """The rank that trains member ``k``."""
        return k % self.trainer.world_size if self.split else 0

    def owned(self) -> list[int]:
        """The members this process trains."""
        return [k for k in range(self.size) if self.owner(k) == self.trainer.global_rank]

    def sampler_world_size(self) -> int:
        return 1  # split members draw their whole batch on their own rank; one process: no split anyway

    def gather(self) -> None:
        """Split over processes: give every process each member's weights and optimizer states from the member's
        owner (a collective: every rank calls it at the same point). One process: nothing to do."""
        if not self.split:
            return
        optimizers = self.trainer.strategy._lightning_optimizers
        for k, member in enumerate(self.members):
            own = optimizers[member._optimizer_slice]
            package = [None]
            if self.owner(k) == self.trainer.global_rank:
                package = [{"module": {key: v.detach().cpu() for key, v in member.state_dict().items()},
                            "optimizers": [o.optimizer.state_dict() for o in own]}]
            dist.broadcast_object_list(package, src=self.owner(k))
            if self.owner(k) != self.trainer.global_rank:
                member.load_state_dict(package[0]["module"])
                for optimizer, state in zip(own, package[0]["optimizers"], strict=True):
                    optimizer.optimizer.load_state_dict(state)

    def gather_objects(self, mine: dict[int, Any]) -> dict[int, Any]:
        """``{member: object}`` of this process's members, merged over every process (a collective when split)."""
        if not self.split:
            return mine
        every: list[dict[int, Any] | None] = [None] * self.trainer.world_size
        dist.all_gather_object(every, mine)
        return {k: v for part in every if part for k, v in part.items()}

    # -- Lightning hooks ------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        for member in self.members:  # Lightning hands the trainer to direct LightningModule children only
            member.trainer = self.trainer

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        optimizers: list[torch.optim.Optimizer] = []
        for member in self.members:
            own = member.configure_optimizers()
            own = list(own) if isinstance(own, list | tuple) else [own]
            if not all(isinstance(o, torch.optim.Optimizer) for o in own):
                raise TypeError(f"Members: {type(member).__name__}.configure_optimizers must return optimizers only")
            member._optimizer_slice = slice(len(optimizers), len(optimizers) + len(own))
            optimizers += own
        return optimizers

    def on_fit_start(self) -> None:
        super().on_fit_start()
        stats = getattr(self.trainer.datamodule, "observation_stats", None)
        description = self.trainer.datamodule.description
        self.member_loggers = []
        if self.split and self.size < self.trainer.world_size:
            raise ValueError(f"--members: {self.size} members cannot be split over {self.trainer.world_size} "
                             "devices; give every device at least one member")
        owned = self.owned()
        for k, member in enumerate(self.members):
            member.sampler = self.sampler  # one copy of the data; each member draws its own indices
            member._generator = torch.Generator(device=self.device)
            member._counts_global_step = k == owned[-1]  # Lightning counts one step per iteration
            member._rank_independent = self.split
            if stats is not None:
                member.obs_normalizer.set_statistics(*stats)
            if self.trainer.is_global_zero:
                logger = CSVLogger(self.root_dirs[k], name="lightning_logs")
                logger.log_hyperparams({"data": description, **dict(member.hparams)})
                logger.save()
                self.member_loggers.append(logger)

    def training_step(self, batch: Any, batch_idx: int) -> None:
        strategy = self.trainer.strategy
        logged: dict[str, Tensor] = {}
        no_reducer = strategy.block_backward_sync() if isinstance(strategy, ParallelStrategy) else nullcontext()
        with no_reducer:
            mine = {k: self.members[k].run_iteration() for k in self.owned()}
        self.iteration += 1
        for member in self.members:
            member.iteration = self.iteration
        if self.iteration % self.trainer.log_every_n_steps != 0:
            return
        per_member = self.gather_objects({k: {key: float(v) for key, v in m.items()} for k, m in mine.items()})
        for k in range(self.size):
            logged.update({f"{self.seed_label(k)}/{key}": torch.tensor(v) for key, v in per_member[k].items()})
            if self.member_loggers:
                # the step Lightning gives a solo run's `log_dict` rows at this iteration
                step = self.trainer.fit_loop.epoch_loop._batches_that_stepped
                row = {**per_member[k], "epoch": float(self.current_epoch)}
                self.member_loggers[k].log_metrics(row, step=step)
        self.log_dict(logged, on_step=True, on_epoch=False, prog_bar=False, sync_dist=False)

    def on_train_end(self) -> None:
        for logger in self.member_loggers:
            logger.save()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.split:  # every rank writes nothing but dumps the checkpoint: gather, then refresh what was dumped
            self.gather()
            checkpoint["state_dict"] = self.trainer.strategy.lightning_module_state_dict()
            checkpoint["optimizer_states"] = [self.trainer.strategy.optimizer_state(o) for o in self.trainer.optimizers]
        super().on_save_checkpoint(checkpoint)
        checkpoint["ramac"]["optimizers_per_member"] = [
            member._optimizer_slice.stop - member._optimizer_slice.start for member in self.members]
        checkpoint["ramac"]["members"] = [
            {"seed": member.seed, "root_dir": root, "learner": type(member).__name__, "hparams": dict(member.hparams)}
            for member, root in zip(self.members, self.root_dirs, strict=True)]

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get("ramac", {}).get("members")
        if saved is None:
            raise ValueError("checkpoint holds one run, not members: resume it without --members (or export nothing)")
        if [m["seed"] for m in saved] != [member.seed for member in self.members]:
            raise ValueError(f"checkpoint holds members with seeds {[m['seed'] for m in saved]}, the config's "
                             f"--members has {[member.seed for member in self.members]}; resume with the same members")
        super().on_load_checkpoint(checkpoint)
        for member in self.members:
            member.iteration = self.iteration

    # -- what a run does with its learner ----------------------------------------------------------
    def update(self, batch: Any, generator: torch.Generator) -> dict[str, Tensor]:
        raise TypeError("Members has no update of its own: each member updates in training_step")

    def act(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:
        raise TypeError("Members.act: a members run acts member by member (Members.members[k].act)")

    def bc_reference(self) -> BCReference:
        raise TypeError("Members.bc_reference: each member has its own (Members.members[k].bc_reference())")


def members_of(module: Any, default_root_dir: str) -> list[tuple[OfflineLearner, str]]:
    """The learners a callback evaluates and where each writes its results: each member and its folder for a members
    run, else the run's learner and ``default_root_dir``."""
    if isinstance(module, Members):
        return list(zip(module.members, module.root_dirs, strict=True))
    return [(module, default_root_dir)]


def member_checkpoint(checkpoint: dict[str, Any], k: int) -> dict[str, Any]:
    """Member ``k`` of a members run's checkpoint as the checkpoint its solo run would have written at the same
    iteration: its weights and optimizer states, its seed and hyper-parameters, and each callback's state for it
    (callbacks keep a member's state under ``members[k]``, see :func:`callback_state_for_member`)."""
    saved = checkpoint.get("ramac", {}).get("members")
    if saved is None:
        raise ValueError("checkpoint holds one run, not members")
    if not 0 <= k < len(saved):
        raise ValueError(f"member {k} out of range: the checkpoint holds {len(saved)} members (0 … {len(saved) - 1})")
    prefix = f"members.{k}."
    counts = [_optimizer_count(checkpoint, j) for j in range(len(saved))]
    first = sum(counts[:k])
    solo = {key: value for key, value in checkpoint.items()
            if key not in ("state_dict", "optimizer_states", "callbacks", "ramac", "hyper_parameters")}
    solo["state_dict"] = {key[len(prefix):]: value for key, value in checkpoint["state_dict"].items()
                          if key.startswith(prefix)}
    if "optimizer_states" in checkpoint:  # absent from a weights-only checkpoint
        solo["optimizer_states"] = list(checkpoint["optimizer_states"][first:first + counts[k]])
    solo["hyper_parameters"] = dict(saved[k]["hparams"])
    solo["hparams_name"] = "kwargs"  # what Lightning records for a learner's save_hyperparameters()
    solo["ramac"] = {"iteration": checkpoint["ramac"]["iteration"], "seed": saved[k]["seed"],
                     "rng": copy.deepcopy(checkpoint["ramac"]["rng"])}
    if "callbacks" in checkpoint:
        solo["callbacks"] = {name: callback_state_for_member(state, k)
                             for name, state in checkpoint["callbacks"].items()}
    return solo


def callback_state_for_member(state: Any, k: int) -> Any:
    """A callback's state in a members checkpoint is ``{"members": [state_0, …]}`` when it is kept per member
    (evaluation history, the bandit's BC reference); member ``k``'s solo state is then ``state_k``. Any other state
    (``ModelCheckpoint``'s) is the run's and is copied."""
    if isinstance(state, dict) and set(state) == {"members"}:
        return copy.deepcopy(state["members"][k])
    return copy.deepcopy(state)


def _optimizer_count(checkpoint: dict[str, Any], k: int) -> int:
    counts = checkpoint["ramac"].get("optimizers_per_member")
    if counts is None:
        raise ValueError("members checkpoint without 'optimizers_per_member'")
    return int(counts[k])
