"""The conservative penalty of CQL(H) (Kumar et al. 2020, Eq. 4 with the importance-sampled log-sum-exp of their
App. F), shared by CQL and CODAC (on quantile values). Shapes in :mod:`ramac.types`."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def conservative_penalty(
    q_data: Tensor,  # [E, B]        Q(s, a) at the dataset actions
    q_random: Tensor,  # [E, B, P]   Q(s, a_j), a_j ~ U([-max_action, max_action]^A)
    q_policy: Tensor,  # [E, B, P]   Q(s, a_j), a_j ~ π(·|s)
    log_prob_policy: Tensor,  # [B, P]
    q_next_policy: Tensor,  # [E, B, P]  Q(s, a_j), a_j ~ π(·|s')
    log_prob_next_policy: Tensor,  # [B, P]
    action_dim: int,
    max_action: float = 1.0,
    temperature: float = 1.0,
) -> Tensor:  # [E]
    r"""``mean_b [T · log Σ_j exp((Q(s_b, a_j) − log μ(a_j)) / T)] − mean_b Q(s_b, a_b)`` per critic.

    The ``3P`` actions ``a_j`` are importance samples of the log-sum-exp over the action box: ``P`` uniform
    (density ``(2 max_action)^{−A}``), ``P`` from ``π(·|s)`` and ``P`` from ``π(·|s')``, each corrected by its own
    log-density (d3rlpy ``CQLImpl._compute_conservative_loss``; CQL ``cql.py``). Log-densities are detached.
    """
    if q_random.dim() != 3 or q_random.shape[:2] != q_data.shape:
        raise ValueError(f"q_random must be [E, B, P] with [E, B] = {tuple(q_data.shape)}, got {tuple(q_random.shape)}")
    for name, q, log_prob in (("policy", q_policy, log_prob_policy), ("next_policy", q_next_policy,
                                                                      log_prob_next_policy)):
        if q.shape[:2] != q_data.shape or log_prob.shape != q.shape[1:]:
            raise ValueError(f"q_{name} must be [E, B, P] and its log-probabilities [B, P]; got {tuple(q.shape)}, "
                             f"{tuple(log_prob.shape)}")
    random_log_density = -action_dim * math.log(2.0 * max_action)
    values = torch.cat((q_random - random_log_density, q_policy - log_prob_policy.detach(),
                        q_next_policy - log_prob_next_policy.detach()), dim=-1)  # [E, B, 3P]
    soft_max = temperature * torch.logsumexp(values / temperature, dim=-1)  # [E, B]
    return (soft_max - q_data).mean(-1)
