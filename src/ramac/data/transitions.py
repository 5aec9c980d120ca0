"""The offline transition table every data source produces, with validation."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import torch

from ramac.types import Batch

TerminalNext = Literal["stored", "re-simulated", "following row"]


@dataclass(frozen=True)
class Transitions:
    """``N`` transitions ``(s, a, r, s', terminal)`` as float32 NumPy arrays.

    ``terminals`` is 1.0 only where the environment truly terminated; time-limit truncations are not
    terminals (their ``s'`` is still bootstrapped). ``episode_ends`` marks the last transition of each
    episode (terminal or time limit); it only serves statistics and defaults to ``terminals``.
    ``terminal_next`` says where the next observations of the terminal rows come from: ``stored`` (the
    environment's true next state), ``re-simulated`` (``ramac.envs.resimulation``) or ``following row``
    (``d4rl.qlearning_dataset``'s pairing: the next episode's first state, fine for learning since a
    terminal row does not bootstrap, wrong for a hazard decided on the next state).
    """

    observations: np.ndarray  # [R, O]
    actions: np.ndarray  # [R, A]
    rewards: np.ndarray  # [R]
    next_observations: np.ndarray  # [R, O]
    terminals: np.ndarray  # [R]
    source: str = "<memory>"
    episode_ends: np.ndarray | None = None  # [R]
    terminal_next: TerminalNext = "stored"

    def __post_init__(self) -> None:
        src = self.source
        if self.terminal_next not in get_args(TerminalNext):
            raise ValueError(f"{src}: terminal_next must be one of {get_args(TerminalNext)}, "
                             f"got {self.terminal_next!r}")
        if self.episode_ends is None:
            object.__setattr__(self, "episode_ends", np.asarray(self.terminals).copy())
        arrays = {"observations": self.observations, "actions": self.actions, "rewards": self.rewards,
                  "next_observations": self.next_observations, "terminals": self.terminals,
                  "episode_ends": self.episode_ends}
        for key, value in arrays.items():
            if not isinstance(value, np.ndarray):
                raise TypeError(f"{src}: '{key}' must be a numpy array, got {type(value).__name__}")
            if not np.issubdtype(value.dtype, np.number) and value.dtype != np.bool_:
                raise ValueError(f"{src}: '{key}' must be numeric, got dtype {value.dtype}")
        n = self.observations.shape[0] if self.observations.ndim else 0
        if n == 0:
            raise ValueError(f"{src}: the dataset is empty (no transitions)")
        expected = {"observations": 2, "actions": 2, "rewards": 1, "next_observations": 2, "terminals": 1,
                    "episode_ends": 1}
        for key, ndim in expected.items():
            value = arrays[key]
            if value.ndim != ndim or value.shape[0] != n:
                shape = "[R, dim]" if ndim == 2 else "[R]"
                raise ValueError(f"{src}: '{key}' must have shape {shape} with R = {n}, got {value.shape}")
        if self.next_observations.shape != self.observations.shape:
            raise ValueError(f"{src}: 'next_observations' shape {self.next_observations.shape} differs from "
                             f"'observations' shape {self.observations.shape}")
        for key, value in arrays.items():
            if value.dtype != np.bool_ and not np.all(np.isfinite(value)):
                bad = int(np.argwhere(~np.isfinite(value))[0][0])
                raise ValueError(f"{src}: '{key}' contains NaN or inf (first at row {bad})")
        for key in ("terminals", "episode_ends"):
            if not np.all((arrays[key] == 0) | (arrays[key] == 1)):
                raise ValueError(f"{src}: '{key}' must hold only 0/1 values")
        if np.any((arrays["terminals"] == 1) & (arrays["episode_ends"] == 0)):
            raise ValueError(f"{src}: every terminal transition must also end its episode")
        for key, value in arrays.items():
            object.__setattr__(self, key, np.ascontiguousarray(value, dtype=np.float32))

    def __len__(self) -> int:
        return int(self.observations.shape[0])

    @property
    def obs_dim(self) -> int:
        return int(self.observations.shape[1])

    @property
    def action_dim(self) -> int:
        return int(self.actions.shape[1])

    def returns_to_go(self, discount: float) -> np.ndarray:  # -> [R] float64
        r"""Monte-Carlo discounted return of every row to its episode's end, ``G_i = r_i + γ (1 − e_i) G_{i+1}``
        with ``e_i`` = ``episode_ends`` (rows in episode order, as every loader writes them). At a time-limit end
        the true return continues, so rows near such ends are underestimated. The reference a critic's mean
        estimate at the data's actions approaches as it learns (README "Results", the pilot)."""
        ends = self.episode_ends if self.episode_ends is not None else self.terminals
        out = np.empty(len(self), dtype=np.float64)
        following = 0.0
        for i in range(len(self) - 1, -1, -1):
            following = float(self.rewards[i]) + (0.0 if ends[i] else discount * following)
            out[i] = following
        return out

    def checksum(self) -> str:
        """SHA-256 over all arrays (identifies the exact data a run used)."""
        digest = hashlib.sha256()
        for arr in (self.observations, self.actions, self.rewards, self.next_observations, self.terminals):
            digest.update(arr.tobytes())
        return digest.hexdigest()


class TransitionSampler:
    """Uniform minibatches from one packed, device-resident tensor.

    Sampling is one ``randint`` and one ``index_select`` on the device: no per-item fetching, no
    collate and no host copies. The random stream is the caller's ``generator``.
    """

    def __init__(self, transitions: Transitions, batch_size: int, device: torch.device | str) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.obs_dim, self.action_dim = transitions.obs_dim, transitions.action_dim
        packed = np.concatenate([transitions.observations, transitions.actions, transitions.rewards[:, None],
                                 transitions.next_observations, transitions.terminals[:, None]], axis=1)
        self.packed = torch.from_numpy(packed).to(device)  # [R, 2·O + A + 2]
        self.size = len(transitions)

    def sample(self, generator: torch.Generator | None) -> Batch:
        index = torch.randint(0, self.size, (self.batch_size,), generator=generator, device=self.packed.device)
        return unpack(self.packed.index_select(0, index), self.obs_dim, self.action_dim)


def unpack(rows: torch.Tensor, obs_dim: int, action_dim: int) -> Batch:  # [B, 2·O + A + 2] -> Batch
    """A :class:`Batch` from packed rows ``[s, a, r, s', terminal]`` (the layout of :class:`TransitionSampler`)."""
    obs, act, rew, nxt, term = rows.split([obs_dim, action_dim, 1, obs_dim, 1], dim=1)
    return Batch(obs, act, rew.squeeze(1), nxt, term.squeeze(1))
