"""Make the zoo datasets at their default size and seed 0 (generation 2) and publish their data checksums in
``src/ramac/zoo/checksums.json``, the file ``ramac data make`` and ``ramac data verify`` compare with.

    python bench/zoo_checksums.py                      # all 12 (about 20 minutes on 2 cores); resumes
    python bench/zoo_checksums.py --only hopper-medium-expert

Each dataset is made with ``ramac.zoo.registry.make_dataset`` into the usual cache (``$RAMAC_DATA_DIR``), so
the studies find it there; its entry is written as soon as it is done. A dataset that is already published
with another checksum is an error, not an overwrite: delete its entry by hand if the policies changed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

from ramac.tasks import ENVS, ZOO_DATASETS
from ramac.zoo.checksums import CHECKSUMS_FILE
from ramac.zoo.datasets import dataset_checksum, read_arrays, read_provenance
from ramac.zoo.policy import GENERATION
from ramac.zoo.registry import make_dataset

ABOUT = ("Data checksums (ramac.zoo.datasets.dataset_checksum) of the zoo datasets at their default size and "
         "seed 0, generation 2, from the shipped policies (zoo_version); written by bench/zoo_checksums.py.")


def cpu_name() -> str:
    with open("/proc/cpuinfo") as handle:
        return next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")),
                    platform.processor())


def write(entries: list[dict]) -> None:
    tmp = CHECKSUMS_FILE.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"about": ABOUT, "datasets": entries}, indent=1) + "\n")
    os.replace(tmp, CHECKSUMS_FILE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", default=None, help="dataset names (default: all 12)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    names = args.only or [f"{env}-{dataset}" for env in ENVS for dataset in ZOO_DATASETS]
    entries = json.loads(CHECKSUMS_FILE.read_text())["datasets"] if CHECKSUMS_FILE.exists() else []
    for name in names:
        start = time.perf_counter()
        path = make_dataset(name, None, 0, workers=args.workers, generation=GENERATION)
        seconds = time.perf_counter() - start
        record = read_provenance(path)
        checksum = dataset_checksum(read_arrays(path))
        if checksum != record["sha256"]:
            raise SystemExit(f"{path}: its arrays do not match the checksum recorded when written (damaged)")
        entry = {"name": name, "env_id": record["env_id"], "dataset": record["dataset"],
                 "generation": int(record["generation"]), "seed": 0, "rows": int(record["size"]),
                 "zoo_version": record["zoo_version"], "sha256": checksum, "made_on": cpu_name(),
                 "seconds": round(seconds)}
        key = ("env_id", "dataset", "generation", "seed", "rows", "zoo_version")
        same = [e for e in entries if all(e[k] == entry[k] for k in key)]
        if same and same[0]["sha256"] != checksum:
            raise SystemExit(f"{name}: made {checksum[:12]}…, but {same[0]['sha256'][:12]}… is published for it")
        if not same:
            entries.append(entry)
            write(entries)
        print(f"{name}: {checksum} ({entry['rows']:,} rows, {seconds:.0f} s on {entry['made_on']})", flush=True)


if __name__ == "__main__":
    main()
