"""What to do with a render's output, read off the target's Plan: `render` prints it so that a newcomer
need not look up ``plan`` or the README to learn where the files go and how the MTA picks them up.

Nothing here is written per target: the install destinations, folders, steps and service are the Plan's,
the very data the Ansible roles run.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from pathlib import PurePosixPath

from .targets.base import Folder, Plan, PlannedFile

LONG = 100  # a command longer than this is named by its reason; `mtaharden plan` prints it in full


def next_steps(plan: Plan, out: str) -> list[str]:
    """The summary's lines for one target whose files were written to ``out`` (its output folder)."""
    installed = [f for f in plan.files if f.dest is not None]
    if not installed:
        kept = " ".join(f.path for f in plan.files)
        return [f"next for {plan.target}: nothing to install; read and run by hand: {kept} (in {out})"]
    lines = [f"next for {plan.target} (files in {out}; `mtaharden plan --target {plan.target}` has it as JSON):"]
    if plan.folders:
        lines += _phase("fresh host, create the folders", [_folder(f) for f in plan.folders])
    lines += _phase("install", _install_groups(installed))
    for phase, title in (("build", "build"), ("check", "check (each must print nothing)")):
        lines += _phase(title, [_command(s.argv, s.why) for s in plan.steps if s.phase == phase])
    if plan.service is not None:
        lines += _phase("first start", [_command(argv, "") for argv in plan.service.start])
    verb = "restart" if plan.apply == "restart" else "reload"
    lines += _phase(f"when it runs, {verb}", [_command(s.argv, s.why) for s in plan.steps if s.phase == "apply"])
    return lines


def _phase(title: str, commands: list[str]) -> list[str]:
    return [f"  {title}:", *(f"    {command}" for command in commands)] if commands else []


def _folder(folder: Folder) -> str:
    group = ("-g", folder.group) if folder.group else ()
    return shlex.join(("install", "-d", "-o", folder.owner, *group, "-m", f"{folder.mode:04o}", folder.path))


def _install_groups(files: Iterable[PlannedFile]) -> list[str]:
    """Files by destination folder and mode, in plan order: ``main.cf master.cf → /etc/postfix/ (0644)``."""
    groups: dict[tuple[str, int], list[str]] = {}
    for planned in files:
        dest = PurePosixPath(planned.dest or "")
        groups.setdefault((str(dest.parent), planned.mode), []).append(
            planned.path if PurePosixPath(planned.path).name == dest.name else f"{planned.path} as {dest.name}")
    return [f"{' '.join(names)} → {folder}/ ({mode:04o})" for (folder, mode), names in groups.items()]


def _command(argv: tuple[str, ...], why: str) -> str:
    """The command as a shell line; a long one by its reason, or a long ``sh -c SCRIPT NAME ARGS`` by name."""
    text = shlex.join(argv)
    if len(text) <= LONG:
        return text
    if why:
        return f"[{why}]"
    if argv[:2] == ("sh", "-c") and len(argv) > 3:
        return shlex.join(("sh", "-c", "…", *argv[3:]))
    return text
