"""ramac's ORAAC update against O-RAAC's own ``ORAAC.train`` (``nuria95/O-RAAC``), timed side by side in one run.

    git -C <O-RAAC mirror> archive HEAD oraaclib | tar -x -C /tmp/oraac_ref
    python bench/compare_oraac.py --reference /tmp/oraac_ref --task hopper --threads 2

Both at O-RAAC's expert-JSON settings (VAE 750, actor 400/300, IQN critic 256/16/16/32, N 32, K 8, actor and
targets every 2 steps) and its batch of 128, on random data of the task's dimensions. O-RAAC's ``train`` runs in its
own process each round with ``gym`` stubbed (its agent imports ``gym.wrappers.ClipAction`` and never uses it in
``train``); its batch comes from a minimal stand-in for its replay buffer (uniform indices, as
``experience_replay.py`` l.434-439). Losses are compared in ``tests/learners/test_oraac.py``.
"""

from __future__ import annotations

import sys
import types
from copy import deepcopy

import torch
from update_step import TASKS, compare_main, median_ms

BATCH = 128


def time_reference(path: str, task: str, iterations: int, warmup: int) -> float:
    gym, wrappers = types.ModuleType("gym"), types.ModuleType("gym.wrappers")
    wrappers.ClipAction = lambda env: None
    gym.wrappers = wrappers
    sys.modules.update({"gym": gym, "gym.wrappers": wrappers})
    sys.path.insert(0, path)
    from oraaclib.agent.ORAAC import ORAAC
    from oraaclib.util.neural_networks import VAE, DeterministicNN_IQN, ORAAC_Actor

    obs_dim, action_dim, _, _ = TASKS[task]
    size = 100_000
    g = torch.Generator().manual_seed(0)
    data = (torch.randn(size, obs_dim, generator=g), torch.rand(size, action_dim, generator=g) * 2 - 1,
            torch.randn(size, generator=g), torch.zeros(size), torch.randn(size, obs_dim, generator=g))

    class Buffer:  # O-RAAC's get_batch: uniform indices, (state, action, reward, done, next_state)
        def get_batch(self, batch_size: int):
            idx = torch.randint(0, size, (batch_size,))
            return tuple(x[idx] for x in data)

    policy = ORAAC_Actor(obs_dim, action_dim, 1.0, lamda=0.25, tau=0.005)
    critic = DeterministicNN_IQN(obs_dim, action_dim, layers_state=[256], layers_action=[256], layers_f=[32],
                                 tau_embed_dim=16, embedding_dim=16, tau=0.005)
    vae = VAE(dim_state=obs_dim, dim_action=action_dim, latent_dim=2 * action_dim, max_action=1.0)
    params = {"gamma": 0.99, "target_update_freq": 2, "batch_size": BATCH, "n_quantiles_policy": 8,
              "n_quantiles_critic": 32, "risk_distortion": "cvar", "alpha_cvar": 0.1, "lr_actor": 1e-4,
              "lr_critic": 1e-3}
    agent = ORAAC(types.SimpleNamespace(), policy, critic, deepcopy(policy), deepcopy(critic), params, Buffer(),
                  vae=vae)
    return median_ms(agent.train, iterations, warmup)


def main() -> None:
    compare_main(__doc__.split("\n\n")[0], time_reference, "oraac", "O-RAAC", "directory holding O-RAAC's oraaclib/",
                 iterations=60, warmup=10, batch_size=BATCH)


if __name__ == "__main__":
    main()
