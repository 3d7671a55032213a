"""Worker of ``test_engine_crash_loop.py``: ``autopilot run`` in forked children, killed -9.

Run as ``python engine_worker.py ENV_FILE FOLDER_FILE ERROR_FILE``. A fork server
(:mod:`tests.fork_server`): it imports the command line and everything a walk imports,
loads the families' compiled kernels (no thread is started, so forking stays safe), prints
``ready``, and forks a child per ``fork`` line. A child runs exactly the command a user
runs, ``autopilot run --init`` of the small walk on the state folder named in FOLDER_FILE,
and exits with its code when the walk is done, unless it is killed first.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fork_server import serve_forks
from tests.walks import walk_argv

WORKER_PATH = Path(__file__).resolve()
START, END = "2022-06-01", "2022-07-15"  # 7 weekly cycles, two trainings


def _warm() -> None:
    """Import what a walk imports and load the serial kernels, before any fork."""
    import numpy as np

    import autopilot.engine  # noqa: F401 - the whole stack: pandas, scikit-learn, skfolio
    from autopilot.strategies import kernels

    close = np.full((4, 2), 10.0)
    kernels.momentum_weights(close, 1, 0, False)
    kernels.crossover_weights(close, 1, 2, False)
    kernels.breakout_weights(close, 2, 1.0, False)
    kernels.low_volatility_weights(close, 2, 0.3)


def _child(env: str, folder_file: str) -> None:
    from autopilot import cli

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # stdout is the fork server's protocol
    state = Path(Path(folder_file).read_text())
    code = cli.main(walk_argv(Path(env), state, START, END, "--init"))
    os._exit(0 if code == 0 else 10 + code)


def main(argv: list[str]) -> int:
    env, folder_file, error_file = argv
    _warm()
    return serve_forks(lambda: _child(env, folder_file), error_file)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
