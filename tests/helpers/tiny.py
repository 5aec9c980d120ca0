"""Tiny data, trainers and learners for the tests (obs 3, action 2, hidden 16, 3 diffusion steps)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ramac.data.datamodule import OfflineDataModule
from ramac.data.transitions import Transitions


class TinyData(OfflineDataModule):
    """Random transitions with a terminal and a non-terminal mix (obs 3, action 2)."""

    def __init__(self, size: int = 128, batch_size: int = 16, obs_dim: int = 3, action_dim: int = 2,
                 iterations_per_epoch: int = 7) -> None:
        super().__init__(batch_size=batch_size, iterations_per_epoch=iterations_per_epoch)
        self.size, self.dims = size, (obs_dim, action_dim)

    def load_transitions(self) -> Transitions:
        rng = np.random.default_rng(0)
        o, a = self.dims
        obs = rng.standard_normal((self.size, o))
        return Transitions(obs, rng.uniform(-1, 1, (self.size, a)), rng.standard_normal(self.size),
                           obs + 0.1 * rng.standard_normal((self.size, o)),
                           (np.arange(self.size) % 5 == 0).astype(np.float32), source="tiny")


def tiny_radac(**overrides):
    from ramac.learners.radac import RADAC

    kwargs = dict(obs_dim=3, action_dim=2, n_quantiles=4, critic_embedding_dim=8, critic_hidden_dim=16,
                  actor_hidden_dim=16, diffusion_steps=3, ema_start_iteration=2, ema_every=2, critic_lr=1e-3,
                  risk_warmup_iterations=0)
    kwargs.update(overrides)
    return RADAC(**kwargs)


def quiet_trainer(**overrides):
    import lightning.pytorch as pl

    kwargs = dict(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                  enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=1)
    kwargs.update(overrides)
    return pl.Trainer(**kwargs)


@dataclass(frozen=True)
class TinyLearner:
    """A learner as the contract suite (tests/learners/test_learner_contract.py) sees it.

    ``steps``: per optimizer step of one iteration, in order, the parameter-name prefixes it trains;
    ``frozen``: prefixes of networks that never receive gradients (targets, EMA copies).
    """

    make: Callable[..., object]
    steps: tuple[tuple[str, ...], ...]
    frozen: tuple[str, ...]


def tiny_bc(**overrides):
    from ramac.learners.bc import BC

    return BC(**{**dict(obs_dim=3, action_dim=2, actor_hidden_dim=16, diffusion_steps=3, flow_steps=3), **overrides})


def tiny_diffusion_ql(**overrides):
    from ramac.learners.diffusion_ql import DiffusionQL

    kwargs = dict(obs_dim=3, action_dim=2, actor_hidden_dim=16, critic_hidden_dim=16, diffusion_steps=3,
                  ema_start_iteration=2, ema_every=2, eval_candidates=4)
    return DiffusionQL(**{**kwargs, **overrides})


def tiny_fql(**overrides):
    from ramac.learners.fql import FQL

    return FQL(**{**dict(obs_dim=3, action_dim=2, hidden_dim=16, hidden_layers=2, flow_steps=3), **overrides})


def tiny_rafmac(**overrides):
    from ramac.learners.rafmac import RAFMAC

    kwargs = dict(obs_dim=3, action_dim=2, n_quantiles=4, critic_embedding_dim=8, critic_hidden_dim=16,
                  actor_hidden_dim=16, actor_hidden_layers=2, flow_steps=3, critic_lr=1e-3)
    return RAFMAC(**{**kwargs, **overrides})


def tiny_cql(**overrides):
    from ramac.learners.cql import CQL

    kwargs = dict(obs_dim=3, action_dim=2, hidden_dim=16, hidden_layers=2, n_action_samples=3, lagrange_threshold=1.0)
    return CQL(**{**kwargs, **overrides})


def tiny_oraac(**overrides):
    """ORAAC with its actor stepping every iteration (the cadence of 2 is tested in tests/learners/test_oraac.py)."""
    from ramac.learners.oraac import ORAAC

    kwargs = dict(obs_dim=3, action_dim=2, prior_hidden_dim=16, actor_hidden_dims=(16, 16), critic_hidden_dim=16,
                  critic_embedding_dim=16, critic_head_dim=16, cosine_features=4, n_quantiles=4, n_risk_quantiles=3,
                  diffusion_steps=3, flow_steps=3, policy_update_every=1)
    return ORAAC(**{**kwargs, **overrides})


def tiny_codac(**overrides):
    from ramac.learners.codac import CODAC

    kwargs = dict(obs_dim=3, action_dim=2, hidden_dim=16, cosine_features=8, n_quantiles=4, n_action_samples=3,
                  automatic_entropy=True)
    return CODAC(**{**kwargs, **overrides})


#: every learner joins the contract suite by one entry here
TINY_LEARNERS = {
    "radac": TinyLearner(tiny_radac, steps=(("critic.",), ("actor.",)), frozen=("critic_target.", "actor_ema.")),
    "bc_diffusion": TinyLearner(tiny_bc, steps=(("actor.",),), frozen=()),
    "bc_flow": TinyLearner(lambda **kw: tiny_bc(actor="flow", **kw), steps=(("actor.",),), frozen=()),
    "bc_tanh_gaussian": TinyLearner(lambda **kw: tiny_bc(actor="tanh_gaussian", **kw), steps=(("actor.",),),
                                    frozen=()),
    "diffusion_ql": TinyLearner(tiny_diffusion_ql, steps=(("critic.",), ("actor.",)),
                                frozen=("critic_target.", "actor_ema.")),
    "fql": TinyLearner(tiny_fql, steps=(("critic.", "flow_actor.", "actor."),), frozen=("critic_target.",)),
    "cql": TinyLearner(tiny_cql, steps=(("alpha_prime.",), ("critic.",), ("temperature.",), ("actor.",)),
                       frozen=("critic_target.",)),
    "codac": TinyLearner(tiny_codac, steps=(("entropy_temperature.",), ("alpha_prime.",), ("critic.",), ("actor.",)),
                         frozen=("critic_target.", "actor_target.")),
    **{name: TinyLearner(lambda prior=prior, **kw: tiny_oraac(prior=prior, **kw),
                         steps=(("prior.",), ("critic.",), ("actor.",)), frozen=("critic_target.", "actor_target."))
       for name, prior in (("oraac", "vae"), ("oraac_diffusion", "diffusion"), ("oraac_flow", "flow"))},
    "rafmac": TinyLearner(tiny_rafmac, steps=(("critic.",), ("flow_actor.", "actor.")), frozen=("critic_target.",)),
}


#: ``ramac fit`` options that make ``conf/bandit.yaml``'s RADAC small and quick (the in-process CLI tests)
SMALL_BANDIT_ARGS = [
    "--model.init_args.diffusion_steps", "3", "--model.init_args.n_quantiles", "4",
    "--model.init_args.critic_hidden_dim", "16", "--model.init_args.critic_embedding_dim", "8",
    "--model.init_args.actor_hidden_dim", "16", "--model.init_args.risk_warmup_iterations", "5",
    "--data.init_args.dataset_size", "256", "--data.init_args.batch_size", "32",
    "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
    "--checkpoint.every_n_train_steps", "10", "--trainer.log_every_n_steps", "5",
]
