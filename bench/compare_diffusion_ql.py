"""ramac's Diffusion-QL against its reference code (Zhendong-Wang/Diffusion-Policies-for-Offline-RL @ d871f5c).

    git -C <mirror> archive HEAD agents utils | tar -x -C /tmp/dql_ref
    python bench/compare_diffusion_ql.py --reference /tmp/dql_ref --task hopper --threads 2

1. *Same numbers.* Both learners get the same weights (the reference's, copied into ramac's modules) and the same
   batch and random numbers (replayed from the reference's global-RNG draws): the reverse chain's actions, the BC
   loss, the critic loss, the normalised Q term for both coin outcomes, and the actor gradient are compared.
2. *Speed.* Interleaved rounds: the reference's ``train(buffer, iterations=1)`` (own process per round) against
   ramac's update through Lightning (``update_step.py``), batch 256; medians and their ratio.

The reference's logger imports ``tabulate`` and ``dateutil``, which the training path never uses; they are
stubbed when missing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import types
import warnings

import numpy as np
import torch
from update_step import TASKS, median_ms, side_by_side

from ramac.generative.ddpm import epsilon_loss
from ramac.learners.diffusion_ql import DiffusionQL
from ramac.objectives.td import mse_td_loss, normalized_q_loss, td_target


def import_reference(path: str):
    for name in ("tabulate", "dateutil", "dateutil.tz"):
        if name not in sys.modules:
            try:
                __import__(name)
            except ImportError:
                stub = types.ModuleType(name)
                stub.tabulate = lambda *a, **k: ""  # type: ignore[attr-defined]
                stub.tz = stub  # type: ignore[attr-defined]
                sys.modules[name] = stub
    sys.path.insert(0, path)
    from agents.ql_diffusion import Diffusion_QL

    return Diffusion_QL


def reference_agent(Diffusion_QL, obs_dim: int, action_dim: int):
    return Diffusion_QL(obs_dim, action_dim, 1.0, "cpu", 0.99, 0.005, eta=1.0, beta_schedule="vp", n_timesteps=5,
                        grad_norm=5.0, step_start_ema=0)


def copy_weights(ref, ours: DiffusionQL) -> None:
    """The reference's parameters into ramac's modules (same architecture, other names)."""
    mlp, den = ref.actor.model, ours.actor.denoiser
    pairs = [(mlp.time_mlp[1], den.time_in), (mlp.time_mlp[3], den.time_out), (mlp.mid_layer[0], den.layer1),
             (mlp.mid_layer[2], den.layer2), (mlp.mid_layer[4], den.layer3), (mlp.final_layer, den.out)]
    with torch.no_grad():
        for src, dst in pairs:
            dst.weight.copy_(src.weight)
            dst.bias.copy_(src.bias)
        for ref_critic, critic in ((ref.critic, ours.critic), (ref.critic_target, ours.critic_target)):
            for src, dst in zip((ref_critic.q1_model, ref_critic.q2_model), critic.members, strict=True):
                dst.load_state_dict(src.state_dict())
    ours.actor_ema.load_state_dict(ours.actor.state_dict())


def chain_noise(seed: int, steps: int, batch: int, action_dim: int) -> torch.Tensor:
    """The reference's draws for one reverse chain (``x_T``, then one ``randn_like`` per step), stacked."""
    torch.manual_seed(seed)
    return torch.stack([torch.randn(batch, action_dim) for _ in range(steps + 1)])


def compare(reference_path: str, task: str) -> None:
    Diffusion_QL = import_reference(reference_path)
    obs_dim, action_dim, _, _ = TASKS[task]
    torch.manual_seed(0)
    ref = reference_agent(Diffusion_QL, obs_dim, action_dim)
    ours = DiffusionQL(obs_dim, action_dim)
    copy_weights(ref, ours)
    g = torch.Generator().manual_seed(1)
    batch = 256
    s, s2 = torch.randn(batch, obs_dim, generator=g), torch.randn(batch, obs_dim, generator=g)
    a = torch.rand(batch, action_dim, generator=g) * 2 - 1
    r, d = torch.randn(batch, generator=g), (torch.rand(batch, generator=g) < 0.1).float()
    steps = ours.actor.schedule.steps
    rows = []

    # 1. the reverse chain from the same noise
    torch.manual_seed(7)
    ref_actions = ref.actor.sample(s)
    our_actions = ours.actor.actions_from_noise(s, chain_noise(7, steps, batch, action_dim))
    rows.append(("reverse chain actions", (ref_actions - our_actions).abs().max().item()))

    # 2. the BC loss with the same t and noise
    torch.manual_seed(8)
    ref_bc = ref.actor.loss(a, s)
    torch.manual_seed(8)
    t = torch.randint(0, steps, (batch,))
    noise = torch.randn_like(a)
    our_bc = epsilon_loss(ours.actor.denoiser, ours.actor.schedule, s, a, t, noise)
    rows.append(("BC loss", abs(ref_bc.item() - our_bc.item())))

    # 3. the critic loss with the same next actions
    with torch.no_grad():
        next_actions = ref.ema_model.sample(s2)
        tq1, tq2 = ref.critic_target(s2, next_actions)
        ref_target = (r.view(-1, 1) + (1 - d).view(-1, 1) * 0.99 * torch.min(tq1, tq2))
        q1, q2 = ref.critic(s, a)
        ref_critic = torch.nn.functional.mse_loss(q1, ref_target) + torch.nn.functional.mse_loss(q2, ref_target)
        target = td_target(r, d, ours.critic_target(s2, next_actions), 0.99)
        our_critic = mse_td_loss(ours.critic(s, a), target).sum()
    rows.append(("critic loss", abs(ref_critic.item() - our_critic.item())))

    # 4. the normalised Q term, both coin outcomes, and the actor gradient of BC + Q
    new_q1, new_q2 = ref.critic(s, ref_actions.detach())
    q = ours.critic(s, ref_actions.detach())
    for name, ref_q, our_q in (("Q term (coin: Q1/|Q2|)", -new_q1.mean() / new_q2.abs().mean(),
                                normalized_q_loss(q[0], q[1])),
                               ("Q term (coin: Q2/|Q1|)", -new_q2.mean() / new_q1.abs().mean(),
                                normalized_q_loss(q[1], q[0]))):
        rows.append((name, abs(ref_q.item() - our_q.item())))
    noise_chain = chain_noise(9, steps, batch, action_dim)
    torch.manual_seed(9)
    ref.actor.zero_grad()
    q1n, q2n = ref.critic(s, ref.actor.sample(s))
    (-q1n.mean() / q2n.abs().mean().detach()).backward()
    ours.actor.zero_grad()
    qn = ours.critic(s, ours.actor.actions_from_noise(s, noise_chain), detach_params=True)
    normalized_q_loss(qn[0], qn[1]).backward()
    ref_grads = torch.cat([p.grad.flatten() for p in ref.actor.model.parameters()])
    our_grads = torch.cat([p.grad.flatten() for p in (
        *ours.actor.denoiser.time_in.parameters(), *ours.actor.denoiser.time_out.parameters(),
        *ours.actor.denoiser.layer1.parameters(), *ours.actor.denoiser.layer2.parameters(),
        *ours.actor.denoiser.layer3.parameters(), *ours.actor.denoiser.out.parameters())])
    rows.append(("actor gradient of the Q term (max abs diff / max abs)",
                 ((ref_grads - our_grads).abs().max() / ref_grads.abs().max()).item()))
    print(f"Diffusion-QL vs reference, {task} dims, batch {batch}: max absolute differences")
    for name, value in rows:
        print(f"  {name:55s} {value:.2e}")


def time_reference(reference_path: str, task: str, iterations: int, warmup: int) -> float:
    Diffusion_QL = import_reference(reference_path)
    obs_dim, action_dim, _, _ = TASKS[task]
    agent = reference_agent(Diffusion_QL, obs_dim, action_dim)
    g = torch.Generator().manual_seed(0)
    size = 100_000
    data = (torch.randn(size, obs_dim, generator=g), torch.rand(size, action_dim, generator=g) * 2 - 1,
            torch.randn(size, obs_dim, generator=g), torch.randn(size, 1, generator=g), torch.ones(size, 1))

    class Buffer:  # the reference's sampler: index on the CPU, gather
        def sample(self, batch_size: int):
            idx = torch.randint(0, size, (batch_size,))
            return tuple(x[idx] for x in data)

    buffer = Buffer()
    return median_ms(lambda: agent.train(buffer, iterations=1, batch_size=256), iterations, warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference", required=True, help="directory with the reference's agents/ and utils/")
    parser.add_argument("--task", choices=sorted(TASKS), default="hopper")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--only-reference", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    np.random.seed(0)
    if args.only_reference:
        print(time_reference(args.reference, args.task, args.iterations, 5))
        return
    compare(args.reference, args.task)
    cmd = [sys.executable, __file__, "--only-reference", "--reference", args.reference, "--task", args.task,
           "--threads", str(args.threads), "--iterations", str(args.iterations)]
    reference, ours = side_by_side(cmd, args.task, args.iterations, args.rounds, "diffusion_ql")
    a, b = statistics.median(reference), statistics.median(ours)
    print(f"task={args.task} threads={args.threads} | reference ms/it {', '.join(f'{x:.0f}' for x in reference)}"
          f" | ramac ms/it {', '.join(f'{x:.1f}' for x in ours)} | median {a:.1f} vs {b:.1f} ms -> {a / b:.2f}x")


if __name__ == "__main__":
    main()
