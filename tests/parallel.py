"""How the suite spreads over pytest-xdist workers: the default worker count, and groups that keep a shared
fixture's tests on one worker.

Why groups: a module- or class-scoped fixture with a teardown holds something expensive or stateful (a lab
host, a running MTA, a built collection), and its tests may build on each other's effects in file order (the
Ansible lab plays first run, rerun, rollback on one host). Under plain ``--dist load`` two workers would each
start their own copy and see half of the sequence. So every test that uses such a fixture belongs to a group
named after the fixture's module (and class) and the parameters it was started with, and a group goes whole,
in file order, to one worker; different kinds' hosts (and every test without such a fixture) still spread.

Why not xdist's own ``xdist_group`` marks: xdist 3.8 sends a mark's group to the controller by appending
``@group`` to the test's node id, and pytest 9.2 derives node ids from a structured id that change does not
touch, so the groups silently vanish (pytest-xdist issue 1386). Here each worker writes the group of every
test into a file the controller named (after collection, so any id xdist itself changed is the one used), and
the controller's scheduler, xdist's loadscope scheduler with that lookup, reads it. An explicit
``xdist_group`` mark still names its test's group.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from xdist.workermanage import WorkerController

WORKERS = 2  # CI's two cores; most lab time is waiting on daemons, so two workers nearly halve it
BROAD_SCOPES = ("module", "class")  # session-scoped fixtures are per worker anyway, so they need no group
GROUPS = "mtaharden_groups"  # the workerinput key: the file a worker writes its groups to
_LABEL = re.compile(r"[\w.-]+")  # a parameter shown by value in a group name
_FOLDER = pytest.StashKey[Path]()


def default_workers(config: pytest.Config) -> None:
    """Run on WORKERS workers with ``--dist loadgroup`` unless the command line says how to run: ``-n N`` (groups
    still kept), ``-n 0`` or ``-p no:xdist`` (serial, in one process), ``--dist``/``--tx`` of its own, or a
    debugger (``--pdb``, ``--trace``: only the in-process run can stop at a prompt).

    A crashed worker is not replaced (``--max-worker-restart 0``): xdist 3.8's loadscope scheduler loses track
    of a replacement (INTERNALERROR, or a run that hangs: pytest-xdist issues 1189, 1323, 1371), so the crash
    is reported as the failure of the test it ran and the run stops, failed."""
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return
    option = config.option
    if option.tx or option.dist != "no" or getattr(option, "distload", False):
        return
    if option.numprocesses is None:
        if option.usepdb or option.trace or option.collectonly:
            return
        option.numprocesses = WORKERS
    option.dist = "loadgroup"
    if option.maxworkerrestart is None:
        option.maxworkerrestart = "0"


def tell_worker(node: WorkerController) -> None:
    """Name the file a starting worker writes its groups to (one folder per run, removed by :func:`forget`)."""
    if node.config.option.dist == "loadgroup":
        node.workerinput[GROUPS] = str(_folder(node.config) / f"{node.gateway.id}.json")


def _folder(config: pytest.Config) -> Path:
    if _FOLDER not in config.stash:
        config.stash[_FOLDER] = Path(tempfile.mkdtemp(prefix="mtaharden-xdist-groups-"))
    return config.stash[_FOLDER]


def forget(config: pytest.Config) -> None:
    if _FOLDER in config.stash:
        shutil.rmtree(config.stash[_FOLDER], ignore_errors=True)


def write_groups(session: pytest.Session) -> None:
    """On a worker of a grouped run, write node id -> group for every test that has one."""
    target = getattr(session.config, "workerinput", {}).get(GROUPS)
    if not target:
        return
    groups = {item.nodeid: group for item in session.items if (group := group_of(item)) is not None}
    partial = Path(f"{target}.tmp")
    partial.write_text(json.dumps(groups))
    os.replace(partial, target)


def make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist's loadscope scheduler with the workers' groups as scopes (every other test is a scope of its own)."""
    if config.option.dist != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    folder = _folder(config)

    class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist ships no type information
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # first asked once every worker has collected (and so written its file)
                self.groups = {}
                for written in sorted(folder.glob("*.json")):
                    self.groups.update(json.loads(written.read_text()))
            return self.groups.get(nodeid, nodeid)

    return GroupScheduling(config, log)


def group_of(item: pytest.Item) -> str | None:
    """The group of a test: its explicit ``xdist_group`` mark, else :func:`fixture_group`."""
    mark = item.get_closest_marker("xdist_group")
    if mark is not None:
        return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
    return fixture_group(item)


def fixture_group(item: pytest.Item) -> str | None:
    """The group of a test that uses a module- or class-scoped fixture with a teardown: the fixture's scope
    (module, or module::class) and the parameters of the broad fixtures it was started with; None otherwise."""
    if not isinstance(item, pytest.Function):
        return None
    held = False
    scope_node = ""
    params: list[str] = []
    callspec = getattr(item, "callspec", None)
    for name in item.fixturenames:
        definitions = item._fixtureinfo.name2fixturedefs.get(name)
        if not definitions or definitions[-1].scope not in BROAD_SCOPES:
            continue
        definition = definitions[-1]
        held = held or inspect.isgeneratorfunction(definition.func)
        if definition.scope == "class" and item.cls is not None:
            scope_node = item.cls.__qualname__
        if callspec is not None and name in callspec.params:
            params.append(f"{name}={_label(callspec.params[name], callspec.indices[name])}")
    if not held:
        return None
    module = item.nodeid.split("::", 1)[0]
    return "::".join(filter(None, (module, scope_node, ",".join(sorted(params)))))


def _label(value: object, index: int) -> str:
    """A parameter by its value when that reads well in a group name, else by its index."""
    text = str(value)
    return text if isinstance(value, str | int) and _LABEL.fullmatch(text) else str(index)
