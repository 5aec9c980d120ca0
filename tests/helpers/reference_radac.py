"""A slow reference of one RADAC iteration, written from the paper's equations with loops (no ramac code).

It guards the fast learner (`ramac.learners.radac`) against every later layout or speed change: given the
same parameters, batch and random numbers, one `iteration` here must produce the fast update's losses,
clipped gradients and parameters to float tolerance. Everything is float64 and per sample / per level:

- IQN critic (Dabney et al. 2018; O-RAAC / RAMAC ``utils/quantile_value.py``): for member e, sample b, level
  tau: ``psi = relu(W_f [relu(W_s s + b_s); relu(W_a a + b_a)] + b_f)``,
  ``phi = relu(W_tau [cos(pi i tau)]_{i<C} + b_tau)``, ``Z = w_h . relu(W_z (psi * phi) + b_z) + b_h``;
- DDPM actor (Ho et al. 2020; Diffusion-QL vp schedule, T steps), epsilon network
  ``MLP([x_t, t_emb(t), s])`` with Mish and a sinusoidal time embedding;
- RAMAC Eq. 9-12: TD target with the element-wise min of the target twins, quantile-Huber loss, actor loss
  ``bc_weight L_BC - w(i) CVaR``, Adam, per-network (per-critic) norm clipping, Polyak and EMA updates.

The random numbers are drawn from the caller's generator in the fast update's order (levels, target-action
chain, policy chain, BC steps and noise): that order is the only convention shared with the fast code.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

F64 = torch.float64


def mish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.tanh(F.softplus(x))


def vp_betas(steps: int) -> list[float]:
    """Diffusion-QL's ``vp_beta_schedule``: ``beta_t = 1 - exp(-b_min/T - (b_max - b_min)(2t-1)/(2T^2))``."""
    return [1.0 - math.exp(-0.1 / steps - 0.5 * 9.9 * (2 * t - 1) / steps**2) for t in range(1, steps + 1)]


class Reference:
    """Float64 copies of a RADAC learner's networks, optimiser states and hyperparameters."""

    def __init__(self, state: dict[str, torch.Tensor], hp: dict) -> None:
        self.p = {k: v.detach().to(F64).clone() for k, v in state.items()}
        self.hp = hp
        self.adam: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.adam_steps = {"critic": 0, "actor": 0}
        betas = vp_betas(hp["diffusion_steps"])
        self.betas = betas
        self.abar = [math.prod(1 - b for b in betas[: t + 1]) for t in range(len(betas))]

    # -- networks --------------------------------------------------------------------------------
    def z(self, prefix: str, e: int, s: torch.Tensor, a: torch.Tensor, tau: torch.Tensor,
          p: dict[str, torch.Tensor]) -> torch.Tensor:
        """One quantile value ``Z_e(s, a; tau)`` (scalar)."""
        w = {k.removeprefix(prefix): v[e] for k, v in p.items() if k.startswith(prefix)}
        hs = torch.relu(s @ w["state_weight"] + w["state_bias"])
        ha = torch.relu(a @ w["action_weight"] + w["action_bias"])
        psi = torch.relu(torch.cat([hs, ha]) @ w["fuse_weight"] + w["fuse_bias"])
        features = w["tau_weight"].shape[0]
        cos = torch.stack([torch.cos(math.pi * i * tau) for i in range(features)])
        phi = torch.relu(cos @ w["tau_weight"] + w["tau_bias"])
        hidden = torch.relu((psi * phi) @ w["hidden_weight"] + w["hidden_bias"])
        return hidden @ w["head_weight"] + w["head_bias"]

    def eps(self, prefix: str, x: torch.Tensor, t: int, s: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
        """Epsilon prediction for one sample: ``x [A]``, step ``t``, state ``s [O]``."""
        w = {k.removeprefix(prefix): v for k, v in p.items() if k.startswith(prefix)}
        dim = w["time_out.weight"].shape[0]
        half = dim // 2
        freq = torch.tensor([math.exp(-math.log(10000.0) * k / (half - 1)) for k in range(half)], dtype=F64)
        emb = torch.cat([torch.sin(t * freq), torch.cos(t * freq)])
        emb = mish(emb @ w["time_in.weight"].T + w["time_in.bias"]) @ w["time_out.weight"].T + w["time_out.bias"]
        h = mish(torch.cat([x, emb, s]) @ w["layer1.weight"].T + w["layer1.bias"])
        h = mish(h @ w["layer2.weight"].T + w["layer2.bias"])
        h = mish(h @ w["layer3.weight"].T + w["layer3.bias"])
        return h @ w["out.weight"].T + w["out.bias"]

    def chain(self, prefix: str, s: torch.Tensor, noise: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
        """Reverse DDPM chain for one sample from ``x_T = noise[0]``; ``noise[T - t]`` at step ``t``."""
        steps, bound = len(self.betas), self.hp["max_action"]
        x = noise[0]
        for t in reversed(range(steps)):
            abar, abar_prev, beta = self.abar[t], (self.abar[t - 1] if t > 0 else 1.0), self.betas[t]
            x0 = (x - math.sqrt(1 - abar) * self.eps(prefix, x, t, s, p)) / math.sqrt(abar)
            x0 = x0.clamp(-bound, bound)
            mean = (beta * math.sqrt(abar_prev) * x0 + (1 - abar_prev) * math.sqrt(1 - beta) * x) / (1 - abar)
            if t > 0:
                mean = mean + math.sqrt(beta * (1 - abar_prev) / (1 - abar)) * noise[steps - t]
            x = mean
        return x.clamp(-bound, bound)

    # -- one iteration ---------------------------------------------------------------------------
    def iteration(self, batch, generator: torch.Generator, iteration: int) -> dict[str, object]:
        hp = self.hp
        s, a, r, s2, d = (x.to(F64) for x in batch)
        size, adim = a.shape
        n, m, k, steps = hp["n_quantiles"], hp["n_quantiles"], hp["n_quantiles"], hp["diffusion_steps"]
        levels = torch.rand(n + m + k, generator=generator).to(F64)
        taus, target_taus, risk_levels = levels[:n], levels[n:n + m], levels[n + m:]
        risk_taus = hp["cvar_alpha"] * risk_levels  # CVaR distortion g(u) = alpha u
        target_noise = torch.randn((steps + 1, size, adim), generator=generator).to(F64)
        policy_noise = torch.randn((steps + 1, size, adim), generator=generator).to(F64)
        bc_steps = torch.randint(0, steps, (size,), generator=generator)
        bc_noise = torch.randn((size, adim), generator=generator).to(F64)
        out: dict[str, object] = {}

        # critic: y_bj = clip(r_b + gamma (1 - d_b) min_e Z_e^targ(s'_b, a'_b; tau'_j))
        with torch.no_grad():
            target = torch.zeros(size, m, dtype=F64)
            for b in range(size):
                next_action = self.chain("actor_ema.denoiser.", s2[b], target_noise[:, b], self.p)
                for j in range(m):
                    low = min(self.z("critic_target.", e, s2[b], next_action, target_taus[j], self.p) for e in range(2))
                    y = r[b] + hp["discount"] * (1 - d[b]) * low
                    if hp["target_clip"] is not None:
                        y = y.clamp(*hp["target_clip"])
                    target[b, j] = y
        critic = {key: v.clone().requires_grad_(True) for key, v in self.p.items() if key.startswith("critic.")}
        losses = []
        for e in range(2):
            total = torch.zeros((), dtype=F64)
            for b in range(size):
                for i in range(n):
                    pred = self.z("critic.", e, s[b], a[b], taus[i], critic)
                    for j in range(m):
                        delta = target[b, j] - pred
                        level = taus[i] if hp["quantile_pairing"] == "standard" else taus[j]
                        weight = abs(float(level) - float(delta.item() < 0))
                        huber = 0.5 * delta**2 if abs(delta.item()) <= 1.0 else abs(delta) - 0.5
                        total = total + weight * huber / m
            losses.append(total / size)
        grads = torch.autograd.grad(sum(losses), list(critic.values()))
        grads = dict(zip(critic, grads, strict=True))
        for e in range(2):  # each critic clipped on its own
            norm = math.sqrt(sum(float(g[e].square().sum()) for g in grads.values()))
            scale = min(1.0, hp["max_grad_norm"] / (norm + 1e-6))
            for g in grads.values():
                g[e] *= scale
        out["critic_losses"] = [float(x) for x in losses]
        out["critic_grads"] = grads
        self._adam("critic", grads, hp["critic_lr"])

        # actor: bc_weight L_BC - w(i) mean_{b,k} min_e Z_e(s_b, a_pi,b; g(u_k)), with the updated critic
        actor = {key: v.clone().requires_grad_(True) for key, v in self.p.items() if key.startswith("actor.")}
        params = {**self.p, **actor}
        bc = torch.zeros((), dtype=F64)
        risk = torch.zeros((), dtype=F64)
        for b in range(size):
            policy_action = self.chain("actor.denoiser.", s[b], policy_noise[:, b], params)
            for kk in range(k):
                risk = risk + min((self.z("critic.", e, s[b], policy_action, risk_taus[kk], self.p) for e in range(2)),
                                  key=float) / (size * k)
            t = int(bc_steps[b])
            noisy = math.sqrt(self.abar[t]) * a[b] + math.sqrt(1 - self.abar[t]) * bc_noise[b]
            bc = bc + (self.eps("actor.denoiser.", noisy, t, s[b], params) - bc_noise[b]).square().sum() / (size * adim)
        # the released schedule without a ramp: the risk term is on from the iteration after the warm-up
        weight = hp["risk_weight"] if iteration > hp["risk_warmup_iterations"] else 0.0
        actor_loss = hp["bc_weight"] * bc - weight * risk
        grads = dict(zip(actor, torch.autograd.grad(actor_loss, list(actor.values())), strict=True))
        norm = math.sqrt(sum(float(g.square().sum()) for g in grads.values()))
        for g in grads.values():
            g *= min(1.0, hp["max_grad_norm"] / (norm + 1e-6))
        out.update(bc_loss=float(bc), risk=float(risk), actor_loss=float(actor_loss), risk_weight=weight,
                   actor_grads=grads)
        self._adam("actor", grads, hp["actor_lr"])

        # targets: Polyak for the critics, EMA of the actor every `ema_every` iterations from the start
        for key in [key for key in self.p if key.startswith("critic.")]:
            target_key = "critic_target." + key.removeprefix("critic.")
            rate = hp["target_update_rate"]
            self.p[target_key] = (1 - rate) * self.p[target_key] + rate * self.p[key]
        if iteration >= hp["ema_start_iteration"] and iteration % hp["ema_every"] == 0:
            for key in [key for key in self.p if key.startswith("actor.")]:
                ema_key = "actor_ema." + key.removeprefix("actor.")
                self.p[ema_key] = hp["ema_decay"] * self.p[ema_key] + (1 - hp["ema_decay"]) * self.p[key]
        return out

    def _adam(self, group: str, grads: dict[str, torch.Tensor], lr: float, beta1: float = 0.9, beta2: float = 0.999,
              eps: float = 1e-8) -> None:
        """Adam (Kingma & Ba 2015, Algorithm 1) with torch's defaults."""
        self.adam_steps[group] += 1
        step = self.adam_steps[group]
        for key, g in grads.items():
            m, v = self.adam.get(key, (torch.zeros_like(g), torch.zeros_like(g)))
            m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g
            self.adam[key] = (m, v)
            self.p[key] = self.p[key] - lr * (m / (1 - beta1**step)) / ((v / (1 - beta2**step)).sqrt() + eps)
