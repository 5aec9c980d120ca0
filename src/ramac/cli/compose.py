"""Configs composed as task × algorithm (README "Configs").

``conf/tasks/<task>.yaml`` holds what belongs to the task (data, hazard, run length, evaluation), and
``conf/algos/<algo>.yaml`` the learner's ``class_path`` (its defaults are its signature);
``conf/algos/<algo>/<task>.yaml``, where it exists, holds that algorithm's published values for that task.
An algorithm listed in ``conf/algos/variants.yaml`` (``variant: base``, e.g. ``oraac_diffusion: oraac``) is its
base with something swapped: the base's per-task file comes first, so each per-task value is written once.
LightningCLI merges repeated ``--config`` files in order, so a run is

    ramac fit --config conf/tasks/T.yaml --config conf/algos/A.yaml [--config conf/algos/BASE/T.yaml]
              [--config conf/algos/A/T.yaml]

and two short forms expand to exactly that, followed by ``--trainer.default_root_dir runs/A/T`` unless the
command line sets it: ``--algo A --task T`` (files under ``--conf_dir``, default ``conf``), and a *compose file*,
a ``--config`` YAML holding only ``compose: {algo: A, task: T}`` (files next to it: ``conf/hopper.yaml``).
Options after the short form override the composed files, as after any ``--config``.

A run's saved ``config.yaml`` is also a config for the commands that rebuild the run (``ramac evaluate``,
``calibrate``, ``select``) once :func:`config_without_fit_keys` has dropped what only ``ramac fit`` takes.
"""

from __future__ import annotations

import os

import yaml


def _value(argv: list[str], index: int, option: str) -> tuple[str, int]:
    """Value of the option at ``argv[index]`` (``--opt VALUE`` or ``--opt=VALUE``) and the number of items used."""
    arg = argv[index]
    if "=" in arg:
        return arg.partition("=")[2], 1
    if index + 1 >= len(argv) or argv[index + 1].startswith("--"):
        raise ValueError(f"{option}: expected a value")
    return argv[index + 1], 2


VARIANTS_FILE = "variants.yaml"


def _bases(name: str, kind: str, conf_dir: str) -> list[str]:
    """The base of the algorithm or task ``name`` per ``conf/<kind>/variants.yaml`` (``kind``: ``algos`` or
    ``tasks``; empty when it has none)."""
    path = os.path.join(conf_dir, kind, VARIANTS_FILE)
    if not os.path.isfile(path):
        return []
    with open(path) as handle:
        variants = yaml.safe_load(handle) or {}
    if not isinstance(variants, dict) or not all(isinstance(v, str) for v in variants.values()):
        raise ValueError(f"{path}: expected 'variant: base' pairs of names")
    base = variants.get(name)
    if base is not None and not os.path.isfile(os.path.join(conf_dir, kind, f"{base}.yaml")):
        raise FileNotFoundError(f"{path}: {name}'s base {base!r} has no conf/{kind}/{base}.yaml")
    return [] if base is None else [base]


def composition(algo: str, task: str, conf_dir: str) -> list[str]:
    """The ``--config`` arguments of ``algo`` on ``task`` with the files under ``conf_dir``: the task's file (after
    its base's, for a task variant of ``conf/tasks/variants.yaml``), the algorithm's, then each (algorithm or its
    base) × (task's base or task) file that exists, bases first."""
    task_bases, algo_bases = _bases(task, "tasks", conf_dir), _bases(algo, "algos", conf_dir)
    files = [os.path.join(conf_dir, "tasks", f"{base}.yaml") for base in task_bases]
    for option, name, path in (("--task", task, os.path.join(conf_dir, "tasks", f"{task}.yaml")),
                               ("--algo", algo, os.path.join(conf_dir, "algos", f"{algo}.yaml"))):
        if not os.path.isfile(path):
            folder = os.path.dirname(path)
            known = sorted(f[:-5] for f in os.listdir(folder) if f.endswith(".yaml") and f != VARIANTS_FILE
                           ) if os.path.isdir(folder) else []
            raise FileNotFoundError(f"{option} {name}: no {path} (known: {', '.join(known) or 'none'})")
        files.append(path)
    for name in (*algo_bases, algo):
        for task_name in (*task_bases, task):
            override = os.path.join(conf_dir, "algos", name, f"{task_name}.yaml")
            if os.path.isfile(override):
                files.append(override)
    return [arg for path in files for arg in ("--config", path)]


def read_compose_file(path: str) -> tuple[str, str] | None:
    """``(algo, task)`` of a compose file, ``None`` for any other config file."""
    try:
        with open(path) as handle:
            content = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError):
        return None  # a missing or broken file is reported by the config checks, with its name
    if not isinstance(content, dict) or "compose" not in content:
        return None
    spec = content["compose"]
    if set(content) != {"compose"} or not isinstance(spec, dict) or set(spec) != {"algo", "task"}:
        raise ValueError(f"--config {path}: a compose file holds only 'compose: {{algo: NAME, task: NAME}}'")
    return str(spec["algo"]), str(spec["task"])


def expand(argv: list[str]) -> list[str]:
    """``argv`` with ``--algo/--task`` (and ``--conf_dir``) and compose files replaced by their composition."""
    out: list[str] = []
    given: dict[str, str] = {}
    at = None  # where --algo/--task expand
    runs: list[tuple[str, str]] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        option = arg.partition("=")[0]
        if option in ("--algo", "--task", "--conf_dir"):
            value, used = _value(argv, index, option)
            given[option] = value
            at = len(out) if at is None else at
            index += used
            continue
        if option in ("--config", "-c"):
            value, used = _value(argv, index, option)
            spec = read_compose_file(value)
            if spec is not None:
                out += composition(*spec, os.path.dirname(os.path.abspath(value)))
                runs.append(spec)
                index += used
                continue
        out.append(arg)
        index += 1
    if "--algo" in given or "--task" in given:
        if not ("--algo" in given and "--task" in given):
            raise ValueError("--algo and --task go together (e.g. --algo radac --task hopper-medium-expert)")
        spec = (given["--algo"], given["--task"])
        out[at:at] = composition(*spec, given.get("--conf_dir", "conf"))
        runs.append(spec)
    elif "--conf_dir" in given:
        raise ValueError("--conf_dir: only used with --algo and --task")
    if len(runs) > 1:
        raise ValueError(f"one composition per run, got {', '.join(f'{a} on {t}' for a, t in runs)}")
    if runs and not any(arg.partition("=")[0] == "--trainer.default_root_dir" for arg in argv):
        algo, task = runs[0]
        last_config = max(i for i, arg in enumerate(out) if arg in ("--config", "-c")) + 2
        out[last_config:last_config] = ["--trainer.default_root_dir", os.path.join("runs", algo, task)]
    return out


#: keys that ``ramac fit`` saves in a run's ``config.yaml`` beside the configuration but that only its ``fit``
#: subcommand takes; commands that rebuild a run from its own config (``ramac evaluate``, ``calibrate``, ``select``)
#: drop them from it.
FIT_ONLY_KEYS = ("ckpt_path", "weights_only")


def config_without_fit_keys(path: str) -> str:
    """What to pass as ``--config`` to rebuild a run from the config file ``path`` outside ``ramac fit``: ``path``
    itself, or, when its mapping has any of :data:`FIT_ONLY_KEYS`, the YAML text of the mapping without them
    (jsonargparse takes a config's text where it takes its path). An unreadable file is returned as it is, for the
    CLI to name in its own error."""
    try:
        with open(path) as handle:
            content = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError):
        return path
    if not isinstance(content, dict) or not any(key in content for key in FIT_ONLY_KEYS):
        return path
    return yaml.safe_dump({k: v for k, v in content.items() if k not in FIT_ONLY_KEYS}, sort_keys=False)
