"""Flow-matching actors: the BC flow policy (a velocity field × Euler sampling) and the one-step
noise-conditioned policy distilled from it (FQL, Park et al. 2025; RAFMAC, ours)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ramac.generative.flow import euler_sample, flow_matching_loss
from ramac.nn.mlp import Activation, mlp


class FlowActor(nn.Module):
    """``π(a|s)``: ``K`` Euler steps of a velocity field ``v_θ(s, x, t)`` from ``x_0 ~ N(0, I)``, then clipped to the
    action box (FQL ``fql.py`` ``compute_flow_actions``). ``v_θ`` is an MLP on ``[s, x, t]`` with ``t`` a raw scalar.

    Args:
        obs_dim, action_dim, max_action: dimensions and action bound.
        flow_steps: ``K`` (FQL: 10).
        hidden_dim, hidden_layers, activation, layer_norm, xavier_init: the field's MLP (FQL: 4 × 512 GELU,
            no LayerNorm, Xavier-uniform).
        input_scale: factor on ``x`` at the field's input (1 = FQL; see :class:`ramac.nn.denoiser.Denoiser`).
    """

    def __init__(self, obs_dim: int, action_dim: int, max_action: float = 1.0, flow_steps: int = 10,
                 hidden_dim: int = 512, hidden_layers: int = 4, activation: Activation = "gelu",
                 layer_norm: bool = False, xavier_init: bool = True, input_scale: float = 1.0) -> None:
        super().__init__()
        if max_action <= 0 or flow_steps < 1 or input_scale <= 0:
            raise ValueError(f"FlowActor: max_action and input_scale must be > 0 and flow_steps >= 1, got "
                             f"{max_action}, {input_scale}, {flow_steps}")
        self.action_dim, self.max_action, self.flow_steps = action_dim, float(max_action), flow_steps
        self.input_scale = input_scale
        self.field = mlp(obs_dim + action_dim + 1, action_dim, hidden_dim, hidden_layers, activation, layer_norm,
                         xavier_init)

    def velocity(self, obs: Tensor, x: Tensor, t: Tensor) -> Tensor:  # [B, O], [B, A], [B, 1] -> [B, A]
        return self.field(torch.cat((obs, x * self.input_scale if self.input_scale != 1.0 else x, t), -1))

    def sample_noise(self, batch: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
        return torch.randn((batch, self.action_dim), generator=generator, device=device)  # [B, A]

    def actions_from_noise(self, obs: Tensor, noise: Tensor) -> Tensor:  # [B, O], [B, A] -> [B, A]
        return euler_sample(self.velocity, obs, noise, self.flow_steps).clamp(-self.max_action, self.max_action)

    def sample(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:  # [B, O] -> [B, A]
        return self.actions_from_noise(obs, self.sample_noise(obs.shape[0], generator, obs.device).to(obs.dtype))

    def bc_loss(self, obs: Tensor, actions: Tensor, generator: torch.Generator | None = None) -> Tensor:  # []
        """Flow matching on the dataset actions: ``t ~ U(0, 1)``, ``x_0 ~ N(0, I)`` (FQL "BC flow loss")."""
        batch = obs.shape[0]
        noise = torch.randn(actions.shape, generator=generator, device=obs.device, dtype=actions.dtype)
        times = torch.rand((batch, 1), generator=generator, device=obs.device, dtype=actions.dtype)
        return flow_matching_loss(self.velocity, obs, actions, noise, times)


class OneStepActor(nn.Module):
    """``μ_ω(s, z)``, ``z ~ N(0, I)``, clipped to the action box: a noise-conditioned policy that acts in one network
    call (FQL's ``actor_onestep_flow``). It has no likelihood, so no BC loss of its own: its learner distills a flow
    policy into it, ``mean ||μ_ω(s, z) − a_T||²`` on the *unclipped* output (:meth:`raw_actions`) against the flow's
    clipped actions from the same noise (FQL ``fql.py``, "Distillation loss"); the Q or risk term reads the
    clipped action."""

    def __init__(self, obs_dim: int, action_dim: int, max_action: float = 1.0, hidden_dim: int = 512,
                 hidden_layers: int = 4, activation: Activation = "gelu", layer_norm: bool = False,
                 xavier_init: bool = True) -> None:
        super().__init__()
        if max_action <= 0:
            raise ValueError(f"OneStepActor: max_action must be > 0, got {max_action}")
        self.action_dim, self.max_action = action_dim, float(max_action)
        self.net = mlp(obs_dim + action_dim, action_dim, hidden_dim, hidden_layers, activation, layer_norm,
                       xavier_init)

    def raw_actions(self, obs: Tensor, noise: Tensor) -> Tensor:  # [B, O], [B, A] -> [B, A], not clipped
        if noise.shape != (obs.shape[0], self.action_dim):
            raise ValueError(f"noise must be [B={obs.shape[0]}, A={self.action_dim}], got {tuple(noise.shape)}")
        return self.net(torch.cat((obs, noise), -1))

    def sample_noise(self, batch: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
        return torch.randn((batch, self.action_dim), generator=generator, device=device)  # [B, A]

    def actions_from_noise(self, obs: Tensor, noise: Tensor) -> Tensor:  # [B, O], [B, A] -> [B, A]
        return self.raw_actions(obs, noise).clamp(-self.max_action, self.max_action)

    def sample(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:  # [B, O] -> [B, A]
        return self.actions_from_noise(obs, self.sample_noise(obs.shape[0], generator, obs.device).to(obs.dtype))

    def distill(self, teacher: FlowActor, obs: Tensor, generator: torch.Generator | None
                ) -> tuple[Tensor, Tensor]:  # -> [], [B, A]
        """FQL's distillation on one noise draw: ``mean ||μ_ω(s, z) − a_T||²`` against the teacher's clipped
        actions ``a_T`` from the same noise (no gradient into the teacher), and the student's clipped actions
        ``clip(μ_ω(s, z))``, which the Q or risk term reads (FQL ``fql.py``, "Distillation loss", "Q loss")."""
        noise = self.sample_noise(obs.shape[0], generator, obs.device).to(obs.dtype)  # [B, A]
        with torch.no_grad():
            teacher_actions = teacher.actions_from_noise(obs, noise)  # clipped
        student_actions = self.raw_actions(obs, noise)  # not clipped
        distill_loss = (student_actions - teacher_actions).square().mean()
        return distill_loss, student_actions.clamp(-self.max_action, self.max_action)
