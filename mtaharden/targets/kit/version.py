"""The check step that holds a deploy to the MTA version its render assumed (``targets.<t>.version``).

Why a step, not a render-time question: the render may run where the MTA is not installed; the host
that will run the files is the one to ask. The step asks the MTA itself, keeps the first dotted number
its answer names, and fails when that is older than the assumed version, before anything goes live.
"""

from __future__ import annotations

import shlex

from ...policy.options._version import dotted_version
from ..base import Step


def check_step(ask: str, pattern: str, assumed: str, knob: str) -> Step:
    """A check step: ``ask`` (a shell command) prints the version; ``pattern`` is a sed ``-n`` script that
    prints the dotted number from its output. ``assumed`` is a validated dotted version (so it is one
    shell word); ``knob`` is the policy path to change, named in the failure."""
    assumed = dotted_version(assumed)
    script = (f"v=$({ask} 2>&1 | sed -n {shlex.quote(pattern)} | head -n 1); "
              f'[ -n "$v" ] || {{ echo "error: cannot read the installed version from: {_quoted(ask)} '
              f'({knob} assumes {assumed})"; exit 1; }}; '
              f'printf "%s\\n%s\\n" {assumed} "$v" | sort -V -C || {{ echo "error: the installed version $v is '
              f'older than {assumed}, which the render assumed: set {knob}: $v and render again"; exit 1; }}')
    return Step(("sh", "-c", script), f"the installed version is at least {assumed} ({knob})", "check")


def _quoted(command: str) -> str:
    """``command`` for a message inside double quotes: no character the shell expands there."""
    return "".join(c for c in command if c not in '"$`\\')
