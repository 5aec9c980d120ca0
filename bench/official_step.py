"""A stand-in for the released RAMAC code's RADAC iteration, with the same structure and math.

Written for this benchmark (not copied): it reproduces what makes the released step cost what it
costs (released agents/radac.py and utils/quantile_value.py): each critic tiles state, action and τ to B·N rows
before every layer; two critic modules with two backward passes and two default (for-loop) Adams;
nn.Mish; schedule coefficients gathered per step; τ drawn on the host; Python-loop Polyak/EMA; and
``.item()`` for logging. ``compare_official.py`` times it next to ramac's update.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from ramac.generative.ddpm import make_betas


class TiledIQN(nn.Module):
    def __init__(self, obs_dim: int, action_dim: int, n_cos: int, emb: int, hidden: int = 256) -> None:
        super().__init__()
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.state = nn.Sequential(nn.Linear(obs_dim, hidden), nn.ReLU())
        self.action = nn.Sequential(nn.Linear(action_dim, hidden), nn.ReLU())
        self.fuse = nn.Sequential(nn.Linear(2 * hidden, emb), nn.ReLU())
        self.tau = nn.Sequential(nn.Linear(n_cos, emb), nn.ReLU())
        self.out = nn.Sequential(nn.Linear(emb, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.register_buffer("basis", torch.arange(n_cos, dtype=torch.float32))

    def sampled_z(self, obs: torch.Tensor, taus: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        n, b = taus.shape[0], obs.shape[0]
        s = obs.repeat(1, n).view(-1, self.obs_dim)
        a = actions.repeat(1, n).view(-1, self.action_dim)
        t = taus.repeat(b, 1).view(n * b, 1)
        h = self.fuse(torch.cat((self.state(s), self.action(a)), -1))
        return self.out(h * self.tau(torch.cos(math.pi * self.basis * t))).view(b, n)


class ConcatDenoiser(nn.Module):
    def __init__(self, obs_dim: int, action_dim: int, hidden: int = 256, t_dim: int = 16) -> None:
        super().__init__()
        self.t_dim = t_dim
        self.time = nn.Sequential(nn.Linear(t_dim, 2 * t_dim), nn.Mish(), nn.Linear(2 * t_dim, t_dim))
        self.body = nn.Sequential(nn.Linear(obs_dim + action_dim + t_dim, hidden), nn.Mish(),
                                  nn.Linear(hidden, hidden), nn.Mish(), nn.Linear(hidden, hidden), nn.Mish(),
                                  nn.Linear(hidden, action_dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        half = self.t_dim // 2
        freqs = torch.exp(-math.log(10000.0) / (half - 1) * torch.arange(half, device=x.device))
        ang = t.float().unsqueeze(-1) * freqs
        return self.body(torch.cat((x, self.time(torch.cat((ang.sin(), ang.cos()), -1)), s), 1))


class GatherDiffusion(nn.Module):
    def __init__(self, obs_dim: int, action_dim: int, steps: int = 5) -> None:
        super().__init__()
        self.net, self.steps, self.action_dim = ConcatDenoiser(obs_dim, action_dim), steps, action_dim
        betas = torch.tensor(make_betas("vp", steps), dtype=torch.float32)
        abar = torch.cumprod(1 - betas, 0)
        prev = torch.cat((torch.ones(1), abar[:-1]))
        var = betas * (1 - prev) / (1 - abar)
        for name, value in {"sa": abar.sqrt(), "s1a": (1 - abar).sqrt(), "ra": (1 / abar).sqrt(),
                            "rm1": (1 / abar - 1).sqrt(), "logv": var.clamp(min=1e-20).log(),
                            "c1": betas * prev.sqrt() / (1 - abar), "c2": (1 - prev) * (1 - betas).sqrt() / (1 - abar)
                            }.items():
            self.register_buffer(name, value)

    def _g(self, buf: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return buf.gather(0, t).view(-1, 1)

    def sample(self, s: torch.Tensor) -> torch.Tensor:
        x = torch.randn(s.shape[0], self.action_dim, device=s.device)
        for i in reversed(range(self.steps)):
            t = torch.full((s.shape[0],), i, device=s.device, dtype=torch.long)
            x0 = (self._g(self.ra, t) * x - self._g(self.rm1, t) * self.net(x, t, s)).clamp(-1, 1)
            mean = self._g(self.c1, t) * x0 + self._g(self.c2, t) * x
            x = mean + (t != 0).float().view(-1, 1) * torch.exp(0.5 * self._g(self.logv, t)) * torch.randn_like(x)
        return x.clamp(-1, 1)

    def loss(self, a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        t = torch.randint(0, self.steps, (a.shape[0],), device=a.device)
        noise = torch.randn_like(a)
        return F.mse_loss(self.net(self._g(self.sa, t) * a + self._g(self.s1a, t) * noise, t, s), noise)


def quantile_loss(target: torch.Tensor, current: torch.Tensor, taus: torch.Tensor) -> torch.Tensor:
    b, n = target.shape
    tgt = target.unsqueeze(2).expand(b, -1, n)
    cur = current.unsqueeze(1).expand(b, n, -1)
    weight = (taus.view(1, n, 1) - (tgt - cur).detach().le(0).float()).abs()
    return (weight * F.smooth_l1_loss(cur, tgt, reduction="none")).sum(1).mean()


class OfficialStyleRADAC:
    def __init__(self, obs_dim: int, action_dim: int, n_quantiles: int, emb: int) -> None:
        self.n = n_quantiles
        self.actor = GatherDiffusion(obs_dim, action_dim)
        self.ema = copy.deepcopy(self.actor)
        self.critics = [TiledIQN(obs_dim, action_dim, n_quantiles, emb) for _ in range(2)]
        self.targets = [copy.deepcopy(c) for c in self.critics]
        self.critic_opts = [torch.optim.Adam(c.parameters(), lr=1e-5) for c in self.critics]
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=3e-4)
        self.uniform = torch.distributions.Uniform(0.0, 1.0)
        self.step = 0

    def train_step(self, s, a, r, s2, not_done) -> None:
        taus = self.uniform.sample((self.n, 1))
        taus2 = self.uniform.sample((self.n, 1))
        current = [c.sampled_z(s, taus, a) for c in self.critics]
        with torch.no_grad():
            a2 = self.ema.sample(s2)
            tz = torch.min(*[t.sampled_z(s2, taus2, a2) for t in self.targets])
            y = (r.view(-1, 1) + not_done.view(-1, 1) * 0.99 * tz).clamp(-300, 300)
        for critic, opt, z in zip(self.critics, self.critic_opts, current, strict=True):
            loss = quantile_loss(y, z, taus)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(critic.parameters(), 5.0)
            opt.step()
        pi = self.actor.sample(s)
        bc = self.actor.loss(a, s)
        risk_taus = self.uniform.sample((self.n, 1)) * 0.1
        cvar = torch.min(*[c.sampled_z(s, risk_taus, pi) for c in self.critics]).mean()
        actor_loss = bc - 0.05 * cvar
        self.actor_opt.zero_grad()
        actor_loss.backward()
        nn.utils.clip_grad_norm_(self.actor.parameters(), 5.0)
        self.actor_opt.step()
        if self.step % 5 == 0:
            for pe, p in zip(self.ema.parameters(), self.actor.parameters(), strict=True):
                pe.data = pe.data * 0.995 + 0.005 * p.data
        for critic, target in zip(self.critics, self.targets, strict=True):
            for p, pt in zip(critic.parameters(), target.parameters(), strict=True):
                pt.data.copy_(0.005 * p.data + 0.995 * pt.data)
        self.step += 1
        _ = (bc.item(), actor_loss.item(), cvar.item(), current[0].mean().item(), current[1].mean().item())
