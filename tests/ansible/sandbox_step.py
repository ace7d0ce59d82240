"""Run one of the role's Postfix steps against a sandboxed copy of its config folder (the role's step prefix).

``sandbox_step.py LIVE RUN ARGV...``: the role installs into LIVE exactly what mtaharden renders. The
test's Postfix runs from RUN, a copy of LIVE plus what only a sandbox needs (private queue, data and
log, discard transports: :meth:`Postfix.sandbox`), which a policy may not set. Each step names its
config folder with ``-c``: LIVE is synced into RUN, any other (a staging folder) into a sandboxed
copy beside it, and the step runs there.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.realmta.harness import Postfix  # after the path: the role runs this file as a script


def sandboxed(config: Path, copy: Path) -> None:
    """``copy`` holds ``config``'s files (indexes built there earlier stay) with the sandbox settings."""
    shutil.copytree(config, copy, symlinks=True, dirs_exist_ok=True)
    Postfix(copy, 0).sandbox()


def main() -> None:
    live, run, argv = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
    config = Path(argv[argv.index("-c") + 1])
    copy = run if config == live else config.with_name(config.name + "-sandbox")
    sandboxed(config, copy)
    os.execvp(argv[0], [arg.replace(str(config), str(copy)) for arg in argv])


if __name__ == "__main__":
    main()
