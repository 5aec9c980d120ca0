"""ramac's RADAC and the released RAMAC code in lockstep: same weights, batches and random numbers (issue 28, item 1).

    RUN=results/sweeps/hopper-released-gen2/hopper-medium-expert/radac/quantile_pairing=released/seed0
    ramac fit --config $RUN/config.yaml --trainer.max_steps 10000 --trainer.callbacks '[]' \\
        --trainer.default_root_dir /tmp/switch      # the run's full state at the switch (bit-identical)
    python bench/released_lockstep.py --official-repo /path/to/RAMAC --config $RUN/config.yaml \\
        --checkpoint /tmp/switch/checkpoints/last.ckpt --iterations 2500 \\
        --out results/released/hopper-medium-expert/lockstep-seed0.json

The end-to-end runs (``released_end_to_end.py``) compare the two loops by their outcomes, which differ by seed; this
compares them iteration by iteration. ramac resumes a full checkpoint of the run (with its optimizers; the evaluation
points' checkpoints hold weights only, so the run is repeated to the iteration wanted, which reproduces its weights
bit for bit) through Lightning (``Trainer.fit`` with ``ckpt_path``, the run's own config, no callbacks) and trains
``--iterations`` more. Before its first update the
learner's weights, target and EMA networks and both Adam states are copied into the released ``agents.radac.RADAC``
(imported from the checkout; its step set to the checkpoint's iteration). Then every ramac update is followed by one
released ``agent.train`` iteration on the same batch and the same random numbers: the released code draws from
torch's global RNG through ``Uniform.sample`` and ``torch.randn``/``randn_like``/``randint`` in
``agents/radac_diffusion.py``; here those calls are answered from the draws ramac made from its iteration generator,
in ramac's order (``sample_levels``: ``τ``, ``τ'``, CVaR levels ``0.1·u``; the EMA chain's ``[T+1, B, A]`` noise, the
policy chain's, then the BC loss's timesteps and noise), mapped to the released order (``x_T``, then one draw per
reverse step; ``randint``, then ``randn_like``).

A second released agent (the control) starts from the same state with every weight moved by one float32 ulp and
gets the same batches and draws: its distance from the first is how far rounding alone carries two identical loops.
Per iteration the script records both loops' losses (critic, BC, CVaR at the policy's actions, actor) and the largest
parameter difference of each network (actor, EMA actor, critics, target critics) relative to the network's largest
weight, ramac against released and control against released. Written to ``--out`` (JSON; every iteration for the
first 100, then every 10th) at the end, with a figure of the gaps beside it (``--out`` with ``.png``;
``--figure-only`` redraws it from an existing JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import types
from collections import deque
from typing import Any

import torch
from torch import Tensor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")

#: the released denoiser's parameter names for ramac's ``Denoiser`` (``agents/radac_diffusion.py``
#: ``RADACDenoiser``: time_encoder = [sinusoidal, Linear, Mish, Linear]; backbone = [Linear, Mish] × 3)
DENOISER = {"time_in": "time_encoder.1", "time_out": "time_encoder.3", "layer1": "backbone.0",
            "layer2": "backbone.2", "layer3": "backbone.4", "out": "output_layer"}
#: the released critic's layer for each of ramac's stacked critic layers (``utils/quantile_value.py``)
CRITIC = {"state": "fc_state.0", "action": "fc_action.0", "fuse": "fc_state_action.0", "tau": "head_tau.0",
          "hidden": "hidden_layers_f.0"}


def actor_pairs(ours: torch.nn.Module, theirs: torch.nn.Module) -> list[tuple[Tensor, Tensor, Any]]:
    """(ramac parameter, released parameter, map from ramac's layout to the released one) for a diffusion actor."""
    mine = dict(ours.denoiser.named_parameters())
    released = dict(theirs.denoiser.named_parameters())
    return [(mine[f"{a}.{kind}"], released[f"{b}.{kind}"], lambda x: x)
            for a, b in DENOISER.items() for kind in ("weight", "bias")]


def critic_pairs(ours: torch.nn.Module, theirs: list[torch.nn.Module]) -> list[tuple[Tensor, Tensor, Any]]:
    """The same for ramac's stacked twin critic (weights ``[E, in, out]``) and the released two critics."""
    mine = dict(ours.named_parameters())
    pairs = []
    for e, critic in enumerate(theirs):
        released = dict(critic.named_parameters())
        for a, b in CRITIC.items():
            pairs.append((mine[f"{a}_weight"], released[f"{b}.weight"], lambda x, e=e: x[e].T))
            pairs.append((mine[f"{a}_bias"], released[f"{b}.bias"], lambda x, e=e: x[e]))
        pairs.append((mine["head_weight"], released["head.weight"], lambda x, e=e: x[e].unsqueeze(0)))
        pairs.append((mine["head_bias"], released["head.bias"], lambda x, e=e: x[e:e + 1]))
    return pairs


def copy_state(pairs: list[tuple[Tensor, Tensor, Any]], ours_opt: torch.optim.Optimizer | None,
               theirs_opts: list[torch.optim.Optimizer]) -> None:
    """ramac's weights (and, given the optimizers, Adam's moments and step) into the released modules."""
    with torch.no_grad():
        for mine, released, layout in pairs:
            released.copy_(layout(mine))
            if ours_opt is None:
                continue
            state = ours_opt.state[mine]
            opt = next(o for o in theirs_opts if any(released is p for g in o.param_groups for p in g["params"]))
            opt.state[released] = {"step": state["step"].detach().clone().float().cpu().reshape(()),
                                   "exp_avg": layout(state["exp_avg"]).clone(),
                                   "exp_avg_sq": layout(state["exp_avg_sq"]).clone()}


def relative_gap(pairs: list[tuple[Tensor, Tensor, Any]], others: list[Tensor] | None = None) -> float:
    """``max |θ_a − θ_b| / max |θ_b|`` over a network's parameters, ``θ_b`` the released agent's and ``θ_a`` ramac's
    (in the released layout) or, given ``others``, the control agent's parameters in the same order."""
    with torch.no_grad():
        gap = max(float(((layout(mine) if others is None else others[i]) - released).abs().max())
                  for i, (mine, released, layout) in enumerate(pairs))
        scale = max(float(released.abs().max()) for _, released, _ in pairs)
    return gap / scale


class Replay:
    """Answers the released code's random draws from a queue filled with ramac's: ``sample`` stands for
    ``Uniform.sample`` (levels), and the module-level ``torch`` of ``agents/radac_diffusion.py`` is swapped for this
    object, whose ``randn``/``randn_like``/``randint`` pop the next draw (checking its shape) and whose other
    attributes are torch's."""

    def __init__(self) -> None:
        self.levels: deque[Tensor] = deque()
        self.noise: deque[Tensor] = deque()

    def __getattr__(self, name: str) -> Any:
        return getattr(torch, name)

    def _pop(self, queue: deque[Tensor], shape: tuple[int, ...], what: str) -> Tensor:
        if not queue:
            raise RuntimeError(f"lockstep: the released code drew more {what} than ramac did")
        value = queue.popleft()
        if tuple(value.shape) != tuple(shape):
            raise RuntimeError(f"lockstep: the released code drew {what} of shape {tuple(shape)}, ramac's next "
                               f"draw has {tuple(value.shape)}")
        return value.clone()

    def randn(self, *shape: Any, **_: Any) -> Tensor:
        size = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], tuple | list | torch.Size) else shape
        return self._pop(self.noise, size, "normal noise")

    def randn_like(self, x: Tensor, **_: Any) -> Tensor:
        return self._pop(self.noise, tuple(x.shape), "normal noise")

    def randint(self, low: int, high: int, size: tuple[int, ...], **_: Any) -> Tensor:
        return self._pop(self.noise, tuple(size), "timesteps")

    def sample(self, shape: tuple[int, ...]) -> Tensor:
        return self._pop(self.levels, tuple(shape), "quantile levels")


class OneBatch:
    """The released ``OfflineReplayDataset.sample`` answering with ramac's batch."""

    def __init__(self) -> None:
        self.batch: tuple[Tensor, ...] = ()

    def sample(self, batch_size: int) -> tuple[Tensor, ...]:
        if self.batch[0].shape[0] != batch_size:
            raise RuntimeError(f"lockstep: released batch size {batch_size}, ramac's {self.batch[0].shape[0]}")
        return self.batch


def ramac_draws(model: Any, generator_state: Tensor, batch_size: int) -> tuple[list[Tensor], list[Tensor]]:
    """ramac's random numbers of one update, drawn again from the iteration generator's state at ``update``'s
    start in ramac's order (``RADAC.update``), as (levels, noise) in the released code's order of use."""
    from ramac.learners.distributional import sample_levels

    hp = model.hparams
    generator = torch.Generator().manual_seed(0)
    generator.set_state(generator_state)
    taus, target_taus, risk_taus = sample_levels(generator, torch.device("cpu"), hp.n_quantiles,
                                                 model.n_target_quantiles, model.n_risk_quantiles, hp.distortion,
                                                 hp.cvar_alpha, hp.distortion_param)
    steps, action_dim = model.actor.schedule.steps, model.actor.action_dim
    ema_noise = model.actor_ema.sample_noise(batch_size, generator, torch.device("cpu"))  # [T+1, B, A]
    policy_noise = model.actor.sample_noise(batch_size, generator, torch.device("cpu"))
    timesteps = torch.randint(0, steps, (batch_size,), generator=generator)
    bc_noise = torch.randn((batch_size, action_dim), generator=generator)
    levels = [taus.view(-1, 1), target_taus.view(-1, 1), risk_taus.view(-1, 1)]
    noise = [*ema_noise.unbind(0), *policy_noise.unbind(0), timesteps, bc_noise]
    return levels, noise


def compact(result: dict[str, Any], dense: int = 100, every: int = 10) -> dict[str, Any]:
    """What is written: every iteration's record for the first ``dense`` iterations, then every ``every``-th, with
    figures to 6 significant digits (the full record of 1000 iterations is about 1 MB)."""
    def rounded(value: Any) -> Any:
        if isinstance(value, float):
            return float(f"{value:.6g}")
        if isinstance(value, dict):
            return {key: rounded(item) for key, item in value.items()}
        if isinstance(value, list):
            return [rounded(item) for item in value]
        return value

    records = result["records"]
    kept = [r for i, r in enumerate(records) if i < dense or i % every == 0 or i == len(records) - 1]
    return rounded({**result, "records": kept, "kept": f"iterations 0-{dense - 1} after the start, then every {every}"})


def figure(path: str) -> str:
    """The parameter gaps of a lockstep JSON against the iteration (log scale), one panel per network."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(path) as handle:
        result = json.load(handle)
    records = result["records"]
    iterations = [r["iteration"] for r in records]
    names = list(records[0]["gap_ramac_released"])
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.2), constrained_layout=True, sharey=True)
    for ax, name in zip(axes, names, strict=True):
        ax.semilogy(iterations, [r["gap_ramac_released"][name] for r in records], label="ramac − released")
        ax.semilogy(iterations, [r["gap_control_released"][name] for r in records],
                    label="released + 1 ulp − released (control)", alpha=0.8)
        switch = next((r["iteration"] for r in records if r["ramac"]["risk_weight"] > 0), None)
        if switch is not None:
            ax.axvline(switch, color="grey", linestyle=":", linewidth=1)
        ax.set(title=name, xlabel="iteration")
    axes[0].set_ylabel("max |Δθ| / max |θ|")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"lockstep from {result.get('config', result.get('run'))} at iteration {result['start']}", fontsize=8)
    image = os.path.splitext(path)[0] + ".png"
    fig.savefig(image, dpi=110)
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--official-repo", help="checkout of KaiFukazawa/RAMAC")
    parser.add_argument("--config", help="a ramac RADAC run's config.yaml")
    parser.add_argument("--checkpoint", help="a full checkpoint of that run (with the optimizers)")
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", required=True)
    parser.add_argument("--figure-only", action="store_true", help="redraw the figure of an existing --out")
    args = parser.parse_args()
    if args.figure_only:
        print(figure(args.out))
        return
    missing = [f"--{name.replace('_', '-')}" for name in ("official_repo", "config", "checkpoint")
               if getattr(args, name) is None]
    if missing:
        parser.error(f"{', '.join(missing)} required (all but --figure-only need them)")
    torch.set_num_threads(args.threads)

    sys.path.insert(0, os.path.abspath(args.official_repo))
    import agents.radac_diffusion as released_diffusion
    import lightning.pytorch as pl
    from agents.radac import RADAC as ReleasedRADAC

    from ramac.callbacks.checkpoint import read_checkpoint
    from ramac.cli.compose import config_without_fit_keys
    from ramac.cli.fit import build_cli
    from ramac.learners import RADAC

    ckpt = args.checkpoint
    checkpoint = read_checkpoint(ckpt)
    if "optimizer_states" not in checkpoint:
        raise SystemExit(f"{ckpt}: a weights-only checkpoint (the evaluation points' are); the lockstep needs the "
                         "optimizers too: rerun the run's config to that iteration (`ramac fit --config "
                         "RUN/config.yaml --trainer.max_steps N --trainer.callbacks '[]' --trainer.default_root_dir "
                         "DIR`, bit-identical) and pass DIR/checkpoints/last.ckpt")
    start = int(checkpoint["ramac"]["iteration"])
    cli = build_cli(["--config", config_without_fit_keys(args.config),
                     "--trainer.logger", "false"], run=False)
    model, data = cli.model, cli.datamodule
    if not isinstance(model, RADAC) or model.hparams.regularizer != "bc" or model.hparams.normalize_risk \
            or model.hparams.distortion != "cvar" or model.hparams.eval_actor != "online":
        raise SystemExit(f"{args.config}: the lockstep needs a RADAC run with the released code's objective "
                         "(regularizer bc, normalize_risk false, distortion cvar)")
    hp = model.hparams
    released_pairing = hp.quantile_pairing == "released"

    def released_agent() -> Any:
        agent = ReleasedRADAC(hp.obs_dim, hp.action_dim, float(hp.max_action), "cpu", discount=hp.discount,
                              tau=hp.target_update_rate, n_quantiles=hp.n_quantiles,
                              embedding_dim=hp.critic_embedding_dim, beta_schedule=hp.beta_schedule,
                              n_timesteps=hp.diffusion_steps, lr_actor=hp.actor_lr, lr_critic=hp.critic_lr,
                              alpha_cvar=hp.cvar_alpha, ema_decay=hp.ema_decay, grad_norm=hp.max_grad_norm,
                              eta=hp.risk_weight, step_start_ema=hp.ema_start_iteration,
                              update_ema_every=hp.ema_every,
                              q_clip_range=tuple(hp.target_clip) if hp.target_clip is not None else None,
                              lambda_bc=hp.bc_weight, eta_warmup_steps=hp.risk_warmup_iterations,
                              eta_ramp_steps=hp.risk_ramp_iterations)
        agent.step = start
        return agent

    released, control = released_agent(), released_agent()
    replay, buffer = Replay(), OneBatch()
    released_diffusion.torch = replay  # the released chain's and BC loss's draws come from ramac's
    for agent in (released, control):
        agent.distr_taus_uniform = agent.distr_taus_risk = types.SimpleNamespace(sample=replay.sample)

    def networks(agent: Any) -> dict[str, list[tuple[Tensor, Tensor, Any]]]:
        return {"actor": actor_pairs(model.actor, agent.actor), "ema actor": actor_pairs(model.actor_ema,
                                                                                         agent.ema_model),
                "critics": critic_pairs(model.critic, [agent.critic1, agent.critic2]),
                "target critics": critic_pairs(model.critic_target, [agent.critic1_target, agent.critic2_target])}

    records: list[dict[str, Any]] = []
    update = model.update

    def lockstep(batch: Any, generator: torch.Generator) -> dict[str, Tensor]:
        state = generator.get_state()
        if not records:  # Lightning has restored the weights and the optimizers: copy them into both agents
            critic_opt, actor_opt = (o.optimizer if hasattr(o, "optimizer") else o for o in model.optimizers())
            for agent in (released, control):
                pairs = networks(agent)
                copy_state(pairs["actor"], actor_opt, [agent.actor_optimizer])
                copy_state(pairs["critics"], critic_opt, [agent.critic1_optimizer, agent.critic2_optimizer])
                copy_state(pairs["ema actor"], None, [])
                copy_state(pairs["target critics"], None, [])
            with torch.no_grad():  # the control: every trained weight one float32 ulp away
                for module in (control.actor, control.critic1, control.critic2):
                    for p in module.parameters():
                        p.copy_(torch.nextafter(p, torch.full_like(p, float("inf"))))
        metrics = update(batch, generator)
        b = batch.observations.shape[0]
        buffer.batch = (batch.observations, batch.actions, batch.next_observations, batch.rewards.view(-1, 1),
                        (1.0 - batch.terminals).view(-1, 1))
        out = {}
        for name, agent in (("released", released), ("control", control)):
            levels, noise = ramac_draws(model, state, b)
            replay.levels.extend(levels)
            replay.noise.extend(noise)
            losses = agent.train(buffer, iterations=1, batch_size=b)
            if replay.levels or replay.noise:
                raise RuntimeError(f"lockstep: the released code left {len(replay.levels)} level and "
                                   f"{len(replay.noise)} noise draws of ramac's unused")
            out[name] = {key: values[0] for key, values in losses.items()}
        nets, control_nets = networks(released), networks(control)
        gaps = {name: relative_gap(pairs) for name, pairs in nets.items()}
        control_gaps = {name: relative_gap(pairs, [theirs for _, theirs, _ in control_nets[name]])
                        for name, pairs in nets.items()}
        ours = {"critic_loss": float(metrics["train/critic/loss"]), "bc_loss": float(metrics["train/actor/bc_loss"]),
                "actor_loss": float(metrics["train/actor/loss"]),
                "cvar_val": float(metrics["train/actor/risk"]) if "train/actor/risk" in metrics else None,
                "risk_weight": float(metrics["train/actor/risk_weight"])}
        records.append({"iteration": start + len(records), "ramac": ours, "released": out["released"],
                        "control": out["control"], "gap_ramac_released": gaps, "gap_control_released": control_gaps})
        if len(records) % 25 == 1 or len(records) == args.iterations:
            r = records[-1]
            print(f"iteration {r['iteration']}: actor loss ramac {ours['actor_loss']:.5f} released "
                  f"{out['released']['actor_loss']:.5f} | parameter gap ramac-released "
                  + " ".join(f"{k} {v:.1e}" for k, v in gaps.items()) + " | control-released "
                  + " ".join(f"{k} {v:.1e}" for k, v in control_gaps.items()), flush=True)
        return metrics

    model.update = lockstep
    if not released_pairing:
        print("note: the run uses the standard quantile pairing; the released code always pairs its own way, so the "
              "critics are expected to differ from the first iteration", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp,
                             max_steps=start + args.iterations, log_every_n_steps=50)
        trainer.fit(model, datamodule=data, ckpt_path=ckpt)
    result = {"config": os.path.relpath(args.config, ROOT), "start": start,
              "iterations": len(records), "quantile_pairing": hp.quantile_pairing, "threads": args.threads,
              "records": records}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + ".tmp", "w") as handle:
        json.dump(compact(result), handle, separators=(",", ":"))
    os.replace(args.out + ".tmp", args.out)
    print(f"wrote {args.out} and {figure(args.out)}")


if __name__ == "__main__":
    main()
