"""Facts of each locomotion environment, in one table: the gymnasium id ramac runs, the dimensions, the
evaluation horizon and the D4RL reference returns.

Sources: horizons 200 (HalfCheetah) and 500 (Hopper, Walker2d) are RAMAC's and O-RAAC's evaluation protocol
(arXiv 2510.02695, §5; O-RAAC, Urpí et al. 2021, §5); the reference returns (random, expert) are D4RL's
``d4rl/infos.py`` values, which the v2 datasets reuse from v0; dimensions are those of the gymnasium v5 envs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EnvFacts:
    """What ramac needs to know about one environment."""

    gym_id: str
    obs_dim: int
    action_dim: int
    eval_horizon: int
    d4rl_reference: tuple[float, float]  # (random, expert) returns of the normalised score


ENVS: dict[str, EnvFacts] = {
    "hopper": EnvFacts("Hopper-v5", 11, 3, 500, (-20.272305, 3234.3)),
    "walker2d": EnvFacts("Walker2d-v5", 17, 6, 500, (1.629008, 4592.3)),
    "halfcheetah": EnvFacts("HalfCheetah-v5", 17, 6, 200, (-280.178953, 12135.0)),
}

#: the D4RL datasets the behaviour-policy zoo (``ramac.zoo``) makes offline, for every environment
ZOO_DATASETS = ("medium", "expert", "medium-expert", "medium-replay")


def env_facts(env: str) -> EnvFacts:
    """The facts of ``env`` (``hopper``, ``walker2d``, ``halfcheetah``); anything else is refused by name."""
    if env not in ENVS:
        raise ValueError(f"unknown environment {env!r}; expected one of {tuple(ENVS)}")
    return ENVS[env]
