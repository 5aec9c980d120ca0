"""Dataset statistics (printed at the start of a run and by ``ramac data info`` later)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ramac.data.transitions import Transitions


def episode_sums(values: np.ndarray, episode_ends: np.ndarray) -> np.ndarray:  # [R], [R] bool -> [episodes]
    """``Σ values`` over each complete episode (the rows up to and including each ``episode_ends`` flag)."""
    ends = np.flatnonzero(episode_ends)
    cumulative = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    starts = np.concatenate([[0], ends[:-1] + 1]) if ends.size else np.zeros(0, dtype=np.int64)
    return cumulative[ends + 1] - cumulative[starts]


def episode_returns(transitions: Transitions) -> tuple[np.ndarray, int]:
    """Undiscounted returns of the complete episodes, and the length of a trailing unfinished one."""
    ends = np.flatnonzero(transitions.episode_ends)
    trailing = len(transitions) - (int(ends[-1]) + 1 if ends.size else 0)
    return episode_sums(transitions.rewards, transitions.episode_ends), trailing


def dataset_statistics(transitions: Transitions, risky: np.ndarray | None = None,
                       penalised: np.ndarray | None = None) -> dict[str, Any]:
    returns, trailing = episode_returns(transitions)
    stats: dict[str, Any] = {
        "transitions": len(transitions),
        "episodes": int(returns.size),
        "unfinished_steps": trailing,
        "terminals": int(transitions.terminals.sum()),
        "return_mean": float(returns.mean()) if returns.size else float("nan"),
        "return_min": float(returns.min()) if returns.size else float("nan"),
        "return_max": float(returns.max()) if returns.size else float("nan"),
        "terminal_next_states": transitions.terminal_next,
    }
    if risky is not None and penalised is not None:
        stats["risky_share"] = float(np.mean(risky))
        stats["penalties"] = int(np.sum(penalised))
    return stats


def print_statistics(stats: dict[str, Any], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("statistic")
    table.add_column("value", justify="right")
    for key, value in stats.items():
        text = f"{value:,.2f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else str(value)
        table.add_row(key.replace("_", " "), text)
    Console().print(table)
