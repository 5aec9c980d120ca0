"""Behaviour regularisers other than the denoising BC loss, for generative actors (RAMAC's open question (1): "can
alternative regularization strategies, such as f-divergences or Wasserstein distances, improve the trade-off between
mode-covering and mode-seeking compared to the forward KL (BC)?"; research note ``science-followups.md`` §4).

Both are one function of two batches of actions, ``mean_b ||x_b − y_b||²``, read two ways:

- **Wasserstein coupling** (``w2_coupling``): ``x = π_θ(s; ξ)`` and ``y = π_ref(s; ξ)``, the actor's and a frozen
  behaviour-cloned chain's actions from the *same* initial and per-step noise ``ξ``. Sharing ``ξ`` is a coupling of
  the two policies' action laws at ``s``, so ``E_ξ ||x − y||² ≥ W₂²(π_θ(·|s), π_ref(·|s))``: minimising it bounds the
  Wasserstein-2 distance to the cloned policy from above, and both modes of a multimodal cloned policy stay targets
  (each noise draw is pulled towards the mode its own reference sample lands in).
- **Sample L2** (``sample_l2``): ``x = π_θ(s; ξ)`` and ``y = a``, the dataset's action, as TD3+BC and ReBRAC regularise
  (Fujimoto & Gu 2021; Tarasov et al. 2023). Its minimiser is the conditional mean of the data's actions: a labelled
  **mean-seeking** control, which on multimodal data pulls samples between the modes.
"""

from __future__ import annotations

from torch import Tensor


def mean_squared_distance(actions: Tensor, other: Tensor) -> Tensor:  # [B, A], [B, A] -> []
    r"""``(1/B) Σ_b ||x_b − y_b||²``: the W₂² upper bound of a coupling, or the sample L2 to the data (module
    docstring)."""
    if actions.shape != other.shape or actions.dim() != 2:
        raise ValueError(f"mean_squared_distance needs two [B, A] batches, got {tuple(actions.shape)} and "
                         f"{tuple(other.shape)}")
    return (actions - other).pow(2).sum(-1).mean()
