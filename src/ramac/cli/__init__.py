"""The ``ramac`` command: ``ramac fit|validate ...`` (:mod:`ramac.cli.fit`), ``ramac evaluate``
(:mod:`ramac.cli.evaluate`), ``ramac data ...`` (:mod:`ramac.cli.data`), ``ramac sweep`` (:mod:`ramac.cli.sweep`),
``ramac select`` (:mod:`ramac.cli.select`), ``ramac calibrate`` (:mod:`ramac.cli.calibrate`) and ``ramac report``
(:mod:`ramac.cli.report`); ``ramac --version`` prints ``ramac <version>``."""

from __future__ import annotations

import os
import sys
from argparse import ArgumentError

from ramac.cli.errors import check_named_files, one_line


def console() -> None:
    """The ``ramac`` console script: like :func:`main`, but bad input ends with a one-line error, not a traceback.

    Set ``RAMAC_TRACEBACK=1`` to see the traceback (and jsonargparse's full message).
    """
    try:
        if sys.argv[1:] == ["--version"]:  # answered here, without importing Lightning
            from ramac.version import __version__

            sys.stdout.write(f"ramac {__version__}\n")
        elif sys.argv[1:2] == ["data"]:
            from ramac.cli.data import main as data_main

            data_main(sys.argv[2:])
        elif sys.argv[1:2] == ["sweep"]:
            from ramac.cli.sweep import main as sweep_main

            sweep_main(sys.argv[2:])
        elif sys.argv[1:2] == ["calibrate"]:
            from ramac.cli.calibrate import main as calibrate_main

            check_named_files(sys.argv[2:], checkpoints=False)  # calibrate reads (and checks) it first
            calibrate_main(sys.argv[2:])
        elif sys.argv[1:2] == ["select"]:
            from ramac.cli.select import main as select_main

            select_main(sys.argv[2:])
        elif sys.argv[1:2] == ["report"]:
            from ramac.cli.report import main as report_main

            report_main(sys.argv[2:])
        elif sys.argv[1:2] == ["evaluate"]:
            from ramac.cli.evaluate import main as evaluate_main

            check_named_files(sys.argv[2:], checkpoints=False)  # evaluate reads (and checks) it first
            evaluate_main(sys.argv[2:])
        else:
            check_named_files(sys.argv[1:])
            from ramac.cli.fit import main

            main()
    except (ArgumentError, FileNotFoundError, PermissionError, KeyError, ValueError, TypeError, ImportError) as err:
        if os.environ.get("RAMAC_TRACEBACK"):
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        sys.stderr.write(f"ramac: error: {one_line(str(message))}\n")
        raise SystemExit(2) from None
