"""Checkpoint-selection protocols (issue 28, item 3): which evaluation point each rule picks, and its re-evaluation.

A run evaluated during training (``eval.json``'s history) can be reported at its **last** checkpoint (ramac's
default: no selection on the evaluation environment) or at the checkpoint a rule picks:

- ``best_return``: the highest evaluated return mean (the released code's ``--save_best_model`` with
  ``selection_metric eval_return``, research note ``paper-notes.md``);
- ``best_cvar``: the highest evaluated CVaR₀.₁;
- ``lowest_bc_loss``: the lowest behaviour-cloning loss, ``train/actor/bc_loss`` of ``metrics.csv`` averaged over the
  ``BC_WINDOW`` iterations up to the evaluation point (no evaluation environment needed; runs that do not log a BC
  loss have no such rule).

A figure chosen as the maximum of many noisy evaluations is optimistic (the winner's curse; research note
``science-followups.md`` §1.2). So every chosen checkpoint (``checkpoints/eval-<iteration>.ckpt``, kept by
``RolloutEvaluation(keep_checkpoints=True)``) is **re-evaluated on fresh episodes** (other reset seeds, 100 by
default), and ``selection.json`` records per rule the chosen iteration, the reported figures (those of the evaluation
that chose it, from its first ``selection_episodes`` episodes: 10 emulates the released protocol) and the
re-evaluated ones. ``ramac select RUN...`` writes it; ``ramac report`` tabulates reported, re-evaluated and the gap.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any

from ramac.experiments.runs import CVAR_ALPHA, ReportError, lower_tail_mean

RULES = ("last", "best_return", "best_cvar", "lowest_bc_loss")
BC_WINDOW = 1000  # iterations of logged BC loss averaged up to an evaluation point (20 rows at log_every_n_steps 50)
BC_KEY = "train/actor/bc_loss"
FRESH_SEED = 2_000_000  # first reset seed of the re-evaluation (training evaluations start at 1 000 000)
SELECTION_FILE = "selection.json"


@dataclass(frozen=True)
class Choice:
    """The evaluation point a rule picks and the figures it reports there."""

    rule: str
    iteration: int
    reported_mean: float
    reported_cvar: float
    criterion: float  # the value the rule optimised (return mean, CVaR₀.₁ or mean BC loss)


def choose(history: list[dict[str, Any]], bc_trace: list[tuple[int, float]] | None = None,
           selection_episodes: int | None = None, alpha: float = CVAR_ALPHA) -> dict[str, Choice]:
    """Each rule's choice among the evaluations of ``history`` (``eval.json``'s entries, each with ``iteration`` and
    ``returns``). Figures come from each evaluation's first ``selection_episodes`` returns (all when ``None``); ties
    go to the earliest evaluation. ``bc_trace``: ``(iteration, BC loss)`` rows; ``lowest_bc_loss`` considers the
    evaluation points with at least one row in ``(iteration − BC_WINDOW, iteration]``."""
    if not history:
        raise ReportError("no evaluation to choose from")
    figures = []
    for entry in history:
        returns = entry.get("returns")
        if not returns:
            raise ReportError(f"evaluation at iteration {entry.get('iteration')} kept no per-episode returns")
        used = returns[:selection_episodes] if selection_episodes else returns
        mean = sum(used) / len(used)
        figures.append((int(entry["iteration"]), mean, lower_tail_mean(used, alpha)))
    out = {"last": Choice("last", figures[-1][0], figures[-1][1], figures[-1][2], figures[-1][1])}
    best = max(range(len(figures)), key=lambda i: (figures[i][1], -i))
    out["best_return"] = Choice("best_return", *figures[best], figures[best][1])
    best = max(range(len(figures)), key=lambda i: (figures[i][2], -i))
    out["best_cvar"] = Choice("best_cvar", *figures[best], figures[best][2])
    if bc_trace:
        losses = {}
        for i, (iteration, _, _) in enumerate(figures):
            window = [loss for step, loss in bc_trace if iteration - BC_WINDOW < step <= iteration]
            if window:
                losses[i] = sum(window) / len(window)
        if losses:
            best = min(losses, key=lambda i: (losses[i], i))
            out["lowest_bc_loss"] = Choice("lowest_bc_loss", *figures[best], losses[best])
    return out


def kept_checkpoint(folder: str, iteration: int) -> str:
    """The weights a run evaluated at ``iteration`` (``RolloutEvaluation(keep_checkpoints=True)``)."""
    path = os.path.join(folder, "checkpoints", f"eval-{iteration:08d}.ckpt")
    if not os.path.isfile(path):
        raise ReportError(f"{folder}: no {os.path.relpath(path, folder)}; rerun with evaluation keep_checkpoints: "
                          "true (a sweep's evaluation section) to keep the weights of each evaluation point")
    return path


def write_selection(folder: str, choices: dict[str, Choice], reevaluated: dict[int, dict[str, float]],
                    meta: dict[str, Any]) -> str:
    """``selection.json``: per rule the choice and the re-evaluated figures of its checkpoint."""
    rules = {}
    for rule, choice in choices.items():
        again = reevaluated[choice.iteration]
        rules[rule] = {**asdict(choice), "reevaluated_mean": again["mean"], "reevaluated_cvar": again["cvar"]}
    path = os.path.join(folder, SELECTION_FILE)
    temporary = f"{path}.tmp"
    with open(temporary, "w") as handle:
        json.dump({"meta": meta, "rules": rules}, handle, indent=1)
    os.replace(temporary, path)
    return path


def read_selection(folder: str) -> dict[str, dict[str, Any]] | None:
    """The rules of a run's ``selection.json``, or ``None`` when it has none."""
    path = os.path.join(folder, SELECTION_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as handle:
            return json.load(handle)["rules"]
    except (OSError, KeyError, json.JSONDecodeError) as error:
        raise ReportError(f"{path}: unreadable ({type(error).__name__}: {error})") from None
