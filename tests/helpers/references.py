"""Reference implementations loaded from their own files, for the cross-check tests and the side-by-side
benchmarks (bench/compare_codac.py). Only the imports that need a legacy stack are stubbed; their code runs as
written except where a docstring says otherwise."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path


def load_codac(root: str | os.PathLike, agent: bool = False) -> dict[str, types.ModuleType]:
    """CODAC's modules on CPU: ``wandb`` stubbed, and ``QuantileMlp``'s hard-coded ``.to('cuda')`` of its cosine
    basis removed from the source before it runs (the only change). With ``agent``, also ``distributional/codac.py``
    with ``distributional.util`` (gym-era helpers) stubbed by a ``LinearSchedule`` that is only built, never called
    at CODAC's defaults (``risk_linear="false"``)."""
    sys.modules.setdefault("wandb", types.ModuleType("wandb"))
    util = types.ModuleType("distributional.util")
    util.LinearSchedule = lambda *args, **kwargs: None
    sys.modules["distributional.util"] = util
    root = Path(root)
    for package in ("distributional", "sac"):
        module = types.ModuleType(package)
        module.__path__ = [str(root / package)]
        sys.modules[package] = module
    loaded = {}
    names = ["distributional.rlkit_pytorch_utils", "distributional.risks", "distributional.networks", "sac.model",
             "distributional.dsac"] + (["distributional.codac"] if agent else [])
    for name in names:
        path = root / Path(*name.split(".")).with_suffix(".py")
        source = path.read_text().replace(".to('cuda')", "")
        if name == "distributional.dsac":  # only its loss function: the agent class imports gym-era utilities
            source = source[:source.index("class DSAC")]
        module = types.ModuleType(name)
        module.__file__ = str(path)
        sys.modules[name] = module
        exec(compile(source, str(path), "exec"), module.__dict__)
        loaded[name] = module
    loaded["distributional.rlkit_pytorch_utils"].set_gpu_mode(False)  # ptu's tensors on the CPU
    return loaded
