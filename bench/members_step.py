"""Design input for issue 27 (members): S independent BC steps of RADAC's diffusion actor in one process, three ways.

    python bench/members_step.py --threads 1
    python bench/members_step.py --threads 2

One step: the DDPM epsilon loss of the Diffusion-QL denoiser (3 × 256 Mish, hopper dimensions O = 11, A = 3) on a
batch of 256, backward, Adam. For S members:

- ``loop``: S separate denoisers and Adams, stepped one after another (what S solo runs do, minus the processes);
- ``vmap``: the S denoisers' parameters stacked (``torch.func.stack_module_state``), the loss vmapped over the
  member dimension with ``functional_call``, the per-member losses summed, one backward, one Adam;
- ``stacked``: the same network written with member-stacked weights (``baddbmm``), one backward, one Adam.

Each member has its own batch and noise. Every variant's member k must equal the loop's member k (checked after
the timed steps, to float tolerance). Prints ms per step and per member-step (median of 5 repeats of 20 steps).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from ramac.generative.ddpm import DDPMSchedule, epsilon_loss
from ramac.nn.denoiser import Denoiser
from ramac.nn.functional import mish, sinusoidal_embedding

OBS, ACT, BATCH, STEPS = 11, 3, 256, 5


class Inputs:
    """Per-member batches and noise, drawn once per step from per-member generators: ``[S, B, ...]``."""

    def __init__(self, members: int, seed: int) -> None:
        self.generators = [torch.Generator().manual_seed(seed + k) for k in range(members)]

    def draw(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        obs, actions, timesteps, noise = [], [], [], []
        for g in self.generators:
            obs.append(torch.randn(BATCH, OBS, generator=g))
            actions.append(torch.rand(BATCH, ACT, generator=g) * 2 - 1)
            timesteps.append(torch.randint(0, STEPS, (BATCH,), generator=g))
            noise.append(torch.randn(BATCH, ACT, generator=g))
        return torch.stack(obs), torch.stack(actions), torch.stack(timesteps), torch.stack(noise)


def stacked_loss(params: dict[str, Tensor], schedule: DDPMSchedule, obs: Tensor, actions: Tensor, timesteps: Tensor,
                 noise: Tensor) -> Tensor:  # [S]
    """The denoiser's epsilon loss per member with weights ``[S, in, out]`` (``nn.Linear``'s ``[out, in]``
    transposed by ``matmul`` on the last two dimensions)."""
    def linear(name: str, x: Tensor) -> Tensor:
        return torch.baddbmm(params[f"{name}.bias"].unsqueeze(1), x, params[f"{name}.weight"].transpose(1, 2))

    noisy = schedule.q_sample(actions, timesteps, noise)  # [S, B, A]
    emb = sinusoidal_embedding(timesteps.reshape(-1), 16).view(*timesteps.shape, 16)
    emb = linear("time_out", mish(linear("time_in", emb)))
    h = mish(linear("layer1", torch.cat((noisy, emb, obs), -1)))
    h = mish(linear("layer2", h))
    h = mish(linear("layer3", h))
    return (linear("out", h) - noise).square().mean((1, 2))


def run(variant: str, members: int, steps: int, seed: int = 0) -> tuple[float, list[dict[str, Tensor]]]:
    torch.manual_seed(seed)
    nets = [Denoiser(OBS, ACT) for _ in range(members)]
    schedule = DDPMSchedule("vp", STEPS)
    inputs = Inputs(members, seed)
    if variant == "loop":
        optimizers = [torch.optim.Adam(n.parameters(), lr=3e-4, foreach=True) for n in nets]

        def step() -> None:
            obs, actions, timesteps, noise = inputs.draw()
            for k, (net, opt) in enumerate(zip(nets, optimizers, strict=True)):
                opt.zero_grad()
                epsilon_loss(net, schedule, obs[k], actions[k], timesteps[k], noise[k]).backward()
                opt.step()

        def state() -> list[dict[str, Tensor]]:
            return [dict(n.named_parameters()) for n in nets]
    else:
        params, _ = stack_module_state(nets)
        if variant == "stacked":
            params = {name: nn.Parameter(p.detach().clone()) for name, p in params.items()}
        optimizer = torch.optim.Adam(params.values(), lr=3e-4, foreach=True)
        shell = copy.deepcopy(nets[0]).to("meta")

        def step() -> None:
            obs, actions, timesteps, noise = inputs.draw()
            optimizer.zero_grad()
            if variant == "vmap":
                noisy = schedule.q_sample(actions, timesteps, noise)
                predicted = vmap(lambda p, o, x, t: functional_call(shell, p, (x, t, o)))(params, obs, noisy, timesteps)
                losses = (predicted - noise).square().mean((1, 2))
            else:
                losses = stacked_loss(params, schedule, obs, actions, timesteps, noise)
            losses.sum().backward()
            optimizer.step()

        def state() -> list[dict[str, Tensor]]:
            return [{name: p[k] for name, p in params.items()} for k in range(members)]

    for _ in range(3):
        step()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        times.append((time.perf_counter() - start) / steps * 1e3)
    return statistics.median(times), state()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--members", type=int, nargs="*", default=[1, 5, 10])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print("| threads | members | variant | ms per step | ms per member-step | max abs. difference from loop |")
    print("|---|---|---|---|---|---|")
    for members in args.members:
        reference = None
        for variant in ("loop", "vmap", "stacked"):
            ms, state = run(variant, members, args.steps)
            if reference is None:
                reference, difference = state, 0.0
            else:
                difference = max(float((state[k][name] - reference[k][name]).detach().abs().max())
                                 for k in range(members) for name in reference[k])
            print(f"| {args.threads} | {members} | {variant} | {ms:.2f} | {ms / members:.2f} | {difference:.1e} |",
                  flush=True)


if __name__ == "__main__":
    main()
