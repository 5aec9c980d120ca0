"""The published data checksums of the zoo datasets, and checking a dataset against them.

``checksums.json`` (shipped in the package, written by ``bench/zoo_checksums.py``) lists, for each zoo dataset
at its default size and seed 0, the :func:`ramac.zoo.datasets.dataset_checksum` of the file that generation 2
makes from the shipped policies (identified by their ``zoo_version``). Generation 1 has none: its output depends
on the CPU (README "Data").
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ramac.zoo.datasets import dataset_checksum, read_arrays, read_provenance

CHECKSUMS_FILE = Path(__file__).parent / "checksums.json"


@cache
def _entries() -> tuple[dict[str, Any], ...]:
    if not CHECKSUMS_FILE.exists():
        return ()
    return tuple(json.loads(CHECKSUMS_FILE.read_text())["datasets"])


def published_checksum(env_id: str, dataset: str, generation: int, seed: int, rows: int,
                       zoo_version: str) -> str | None:
    """The published checksum of that dataset, or ``None`` when none is published for it."""
    for entry in _entries():
        if (entry["env_id"], entry["dataset"], entry["generation"], entry["seed"], entry["rows"],
                entry["zoo_version"]) == (env_id, dataset, generation, seed, rows, zoo_version):
            return str(entry["sha256"])
    return None


@dataclass(frozen=True)
class Verdict:
    """A dataset's checksum against the one it recorded when written and the published one.

    ``ok``: no mismatch (a missing record or publication is not one); ``message``: one line for a person."""

    checksum: str
    recorded: str | None
    published: str | None
    message: str

    @property
    def ok(self) -> bool:
        return self.checksum == (self.recorded or self.checksum) == (self.published or self.checksum)


def judge(name: str, checksum: str, provenance: dict[str, Any], recorded: str | None = None) -> Verdict:
    """Compare ``checksum`` of the zoo dataset ``name`` (its ``provenance`` as written by
    :func:`ramac.zoo.registry.make_zoo_dataset`) with ``recorded`` and the published checksum."""
    generation = int(provenance.get("generation", 1))
    published = published_checksum(str(provenance.get("env_id")), str(provenance.get("dataset")), generation,
                                   int(provenance.get("seed", -1)), int(provenance.get("size", -1)),
                                   str(provenance.get("zoo_version")))
    short = checksum[:12]
    if recorded is not None and recorded != checksum:
        message = (f"{name}: data checksum {short}… differs from the {recorded[:12]}… recorded when the file was "
                   "written: the file is damaged; delete it and make it again")
    elif published is None:
        why = ("generation 1 depends on the CPU" if generation == 1 else
               "checksums are published for the default size and seed 0 of the shipped policies")
        message = f"{name}: data checksum {short}… (nothing published to compare with: {why})"
    elif published == checksum:
        message = f"{name}: data checksum {short}… matches the published checksum (generation {generation})"
    else:
        message = (f"{name}: data checksum {short}… DIFFERS from the published {published[:12]}… (generation "
                   f"{generation}): this machine's simulator arithmetic differs from the machines that published "
                   "it (README \"Data\"); runs on these data cannot be pooled with runs on the published ones")
    return Verdict(checksum, recorded, published, message)


def verify_file(path: str | os.PathLike[str]) -> Verdict:
    """Recompute a D4RL-layout file's data checksum and judge it (:func:`judge`); a file without zoo
    provenance gets its checksum and nothing to compare with."""
    checksum = dataset_checksum(read_arrays(path))
    provenance = read_provenance(path)
    if "zoo_version" not in provenance:
        return Verdict(checksum, None, None, f"{path}: data checksum {checksum[:12]}… (no zoo_version in its "
                                             "provenance: not from the zoo, or made before ramac recorded it; "
                                             "nothing published to compare with)")
    recorded = provenance.get("sha256")
    return judge(str(path), checksum, provenance, None if recorded is None else str(recorded))
