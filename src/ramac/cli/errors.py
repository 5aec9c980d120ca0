"""One-line errors for the ``ramac`` command: jsonargparse messages condensed, named files checked up front."""

from __future__ import annotations

import os

import yaml

from ramac.callbacks.checkpoint import read_checkpoint

_STRUCTURE = ("Does not validate against any of the Union subtypes", "Subtypes:", "Errors:", "Given value",
              "Expected a <class 'NoneType'>")


def one_line(message: str) -> str:
    """The essence of a (jsonargparse) error message on one line: the full option key and the innermost reason.

    jsonargparse nests its reasons: ``Parser key "model": ... Problem with given class_path 'C': ... Parser
    key "risk_weight": Expected a <class 'float'>. Got value: abc``. This keeps the key path
    (``model.init_args.risk_weight``) and the first line that is a reason, not structure.
    """
    keys: list[str] = []
    reasons: list[str] = []
    in_class = False  # after "Problem with given class_path": the next key is one of its init_args
    for raw in message.splitlines():
        line = raw.strip().removeprefix("- ").strip()
        if not line or line.startswith(_STRUCTURE):
            continue
        if line.startswith("Parser key "):
            key, _, rest = line.removeprefix("Parser key ").partition(":")
            keys += ["init_args", key.strip('"')] if in_class and not reasons else [key.strip('"')]
            in_class, line = False, rest.strip()
        elif line.startswith("Problem with given class_path"):
            in_class = not reasons
            continue
        if line:
            reasons.append(line)
    if not reasons:
        return " ".join(message.split())
    if in_class and keys:  # the class itself was the problem: a bad class_path or an unknown init arg
        keys.append("init_args" if reasons[0].startswith("Option '") else "class_path")
    key = ".".join(keys)
    return f"--{key}: {reasons[0]}" if key else reasons[0]


def _option_values(argv: list[str], *names: str) -> list[str]:
    """Values of ``--name VALUE`` and ``--name=VALUE`` in ``argv``."""
    values = []
    for index, arg in enumerate(argv):
        if arg in names and index + 1 < len(argv):
            values.append(argv[index + 1])
        elif arg.partition("=")[0] in names and "=" in arg:
            values.append(arg.partition("=")[2])
    return values


def check_named_files(argv: list[str], checkpoints: bool = True) -> None:
    """Refuse a ``--config`` that is missing or not YAML and (``checkpoints``) a ``--ckpt_path`` that is not a
    ramac checkpoint, naming the option and the file (jsonargparse and ``torch.load`` name neither), before
    any work starts."""
    for path in _option_values(argv, "--config", "-c"):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"--config {path}: no such file")
        try:
            with open(path) as handle:
                yaml.safe_load(handle)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]
            raise ValueError(f"--config {path}: not valid YAML ({problem}{where})") from err
    for path in _option_values(argv, "--ckpt_path") if checkpoints else []:
        if path not in ("last", "best", "hpc", "registry"):  # Lightning's names for checkpoints it finds
            read_checkpoint(path)
