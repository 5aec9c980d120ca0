"""``ramac sweep SWEEP.yaml [--address ADDR] [--conf_dir DIR] [--num_cpus N] [--serial] [--only KEY=VALUE...]``: run a
sweep on Ray with a live view.

Rerunning the same command resumes the sweep (:mod:`ramac.experiments.engine`). ``--only`` runs a subset of its
cells, in the same folders (``--only algo=bc seed=1,2``: :meth:`~ramac.experiments.spec.Sweep.select`); its
``outcomes.json`` then lists those cells. Exit status 1 when a cell failed (each failure is printed with its log's
tail), 0 otherwise.
"""

from __future__ import annotations

import argparse
import os
import time

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from ramac.experiments.engine import CellOutcome, outcome_record, progress, run_sweep, write_atomic
from ramac.experiments.spec import Cell, Sweep, load_sweep


def _view(sweep: Sweep, cells: list[Cell], states: dict[str, CellOutcome | None], start: float) -> Group:
    running = [c for c in cells if states[c.label] is None and os.path.isfile(os.path.join(c.folder, "running.json"))]
    counts = {"done": 0, "skipped": 0, "failed": 0, "busy": 0}
    for outcome in states.values():
        if outcome is not None:
            counts[outcome.status] += 1
    queued = len(cells) - sum(counts.values()) - len(running)
    summary = Table.grid(padding=(0, 2))
    summary.add_row(f"[bold]{sweep.name}[/]", f"done {counts['done'] + counts['skipped']}"
                    f" ({counts['skipped']} before)", f"running {len(running)}", f"[red]failed {counts['failed']}[/]",
                    *([f"[yellow]run elsewhere {counts['busy']}[/]"] if counts["busy"] else []),
                    f"queued {queued}", f"{time.time() - start:.0f} s")
    table = Table("running cell", "iteration", "ETA", box=None)
    for cell in running:
        steps, total = progress(cell)
        try:
            began = os.path.getmtime(os.path.join(cell.folder, "running.json"))
        except OSError:
            began = time.time()
        elapsed = time.time() - began
        eta = f"{elapsed / steps * (total - steps):.0f} s" if total and steps else "—"
        table.add_row(cell.label, f"{steps:,}/{total:,}" if total else f"{steps:,}", eta)
    return Group(summary, table) if running else summary


def _where(serial: bool, address: str | None) -> str:
    return "one at a time, no Ray" if serial else f"Ray at {address}" if address else "embedded Ray"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="ramac sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep_file")
    parser.add_argument("--address", default=None, help="an existing Ray cluster (ray start --head prints it)")
    parser.add_argument("--conf_dir", default="conf")
    parser.add_argument("--num_cpus", type=int, default=None, help="CPUs of the embedded Ray (default: all)")
    parser.add_argument("--serial", action="store_true",
                        help="run the cells one after another without Ray (e.g. a second sweep beside a Ray sweep)")
    parser.add_argument("--only", nargs="+", default=[], metavar="KEY=VALUE",
                        help="run only the cells matching every filter (task, algo, seed or a grid key; "
                             "comma-separated values: --only algo=bc,cql seed=1)")
    args = parser.parse_args(argv)
    if args.serial and (args.address or args.num_cpus):
        parser.error("--serial runs the cells without Ray; --address and --num_cpus do not apply to it")
    sweep = load_sweep(args.sweep_file, args.conf_dir)
    cells = sweep.select(sweep.cells(), args.only) if args.only else sweep.cells()
    console = Console()
    console.print(f"sweep {sweep.name}: {len(cells)} runs in {sweep.folder}"
                  f"{' (--only ' + ' '.join(args.only) + ')' if args.only else ''} "
                  f"({sweep.cpus_per_run:g} CPU, {sweep.gpus_per_run:g} GPU each; "
                  f"{_where(args.serial, args.address)})")
    with Live(console=console, refresh_per_second=1, transient=False) as live:
        outcomes = run_sweep(sweep, args.conf_dir, args.address,
                             on_update=lambda states, start: live.update(_view(sweep, cells, states, start)),
                             num_cpus=args.num_cpus, serial=args.serial, cells=cells)
    console.line()
    os.makedirs(sweep.folder, exist_ok=True)
    write_atomic(os.path.join(sweep.folder, "outcomes.json"), outcome_record(outcomes))
    failed = [o for o in outcomes if o.status == "failed"]
    for outcome in failed:
        console.print(f"[red]failed[/] {outcome.label} ({outcome.folder}):\n{outcome.log_tail}", markup=True,
                      highlight=False)
    for outcome in (o for o in outcomes if o.status == "busy"):
        console.print(f"[yellow]run elsewhere[/] {outcome.label}: {outcome.log_tail}", markup=True, highlight=False)
    finished = sum(o.status in ("done", "skipped") for o in outcomes)
    console.print(f"{finished} of {len(outcomes)} runs finished; report: ramac report {sweep.folder}")
    if failed:
        raise SystemExit(1)
