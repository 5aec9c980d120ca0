"""The actor's gradients at the switch: how large and how consistent the BC and risk terms' are (issue 28).

    python bench/switch_gradients.py --config RUN/config.yaml --checkpoint SWITCH.ckpt --batches 16

From a RADAC run's state (a checkpoint; weights are enough), for ``--batches`` batches of the run's size drawn from
its data with a seeded generator, the gradient with respect to the actor's parameters of each term of RADAC's actor
loss (``RADAC.update``, step 5), computed apart:

- ``bc``: the denoising BC loss (``bc_weight · L_BC``);
- ``raw risk``: ``−w · risk`` with the run's risk weight ``w`` (the released code's term);
- ``normalised risk``: ``−risk / mean_b |risk_b|`` (``normalize_risk``, weight 1).

For each it prints the mean gradient norm over the batches and the mean cosine between the gradients of two different
batches (near 0: the batches pull in unrelated directions and Adam's steps mostly cancel; near 1: every batch pulls
the same way and Adam's steps add up), and the cosine between the BC and risk gradients of the same batch. The critic
and the noise are the run's; nothing is trained.
"""

from __future__ import annotations

import argparse
import itertools

import torch


def flat_grad(loss: torch.Tensor, params: list[torch.Tensor], retain: bool = False) -> torch.Tensor:
    grads = torch.autograd.grad(loss, params, allow_unused=True, retain_graph=retain)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params,
                                                                                                strict=True)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--batches", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from ramac.callbacks.checkpoint import read_checkpoint
    from ramac.cli.compose import config_without_fit_keys
    from ramac.cli.fit import build_cli
    from ramac.learners.distributional import sample_levels
    from ramac.objectives.risk import risk_scale, risk_value

    cli = build_cli(["--config", config_without_fit_keys(args.config), "--trainer.logger", "false"], run=False)
    model, data = cli.model, cli.datamodule
    state = read_checkpoint(args.checkpoint)
    model.load_state_dict(state["state_dict"])
    hp = model.hparams
    sampler = data.make_sampler(torch.device("cpu"))
    generator = torch.Generator().manual_seed(args.seed)
    params = [p for p in model.actor.parameters() if p.requires_grad]
    terms: dict[str, list[torch.Tensor]] = {"bc": [], "raw risk": [], "normalised risk": []}
    for _ in range(args.batches):
        batch = sampler.sample(generator)
        obs = batch.observations
        _, _, risk_taus = sample_levels(generator, obs.device, hp.n_quantiles, model.n_target_quantiles,
                                        model.n_risk_quantiles, hp.distortion, hp.cvar_alpha, hp.distortion_param)
        noise = model.actor.sample_noise(obs.shape[0], generator, obs.device)
        terms["bc"].append(flat_grad(hp.bc_weight * model.actor.bc_loss(obs, batch.actions, generator), params))
        quantiles = model.critic(obs, model.actor.actions_from_noise(obs, noise), risk_taus,
                                 detach_params=True).float()  # [E, B, K]
        risk = risk_value(quantiles)
        terms["raw risk"].append(flat_grad(-hp.risk_weight * risk, params, retain=True))
        terms["normalised risk"].append(flat_grad(-risk / risk_scale(quantiles), params))

    def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
        return float(torch.nn.functional.cosine_similarity(a, b, dim=0))

    print(f"{args.checkpoint}: iteration {state['ramac']['iteration']}, {args.batches} batches of "
          f"{data.batch_size}, risk weight {hp.risk_weight}")
    print("| term | gradient norm (mean) | cosine between batches (mean) | cosine with the BC gradient (mean) |")
    print("|---|---|---|---|")
    for name, grads in terms.items():
        norm = sum(float(g.norm()) for g in grads) / len(grads)
        between = [cosine(a, b) for a, b in itertools.combinations(grads, 2)]
        with_bc = [cosine(g, b) for g, b in zip(grads, terms["bc"], strict=True)]
        print(f"| {name} | {norm:.4g} | {sum(between) / len(between):.3f} | "
              f"{'—' if name == 'bc' else f'{sum(with_bc) / len(with_bc):.3f}'} |")


if __name__ == "__main__":
    main()
