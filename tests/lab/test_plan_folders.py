"""A Plan's fresh-host folders are the ones Debian's packages make, with their owner, group and mode.

``plan`` tells a fresh host which folders to create before the first start; if a folder's owner or mode
were wrong there, the MTA would refuse to start or run with a queue others may read. Each stock root is
the truth: the folder is stat'ed in it, names resolved through the root's own passwd and group files.
Nothing runs, so this costs a stat per folder once the roots are cached.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from mtaharden.policy import load_policy
from mtaharden.targets.base import registered
from tests.conftest import EXAMPLE_POLICY
from tests.lab.kind import registered_kinds
from tests.lab.roots import stock_root

KINDS = ("postfix", "sendmail", "exim", "qmail")


def names(root: Path, table: str) -> dict[int, str]:
    """The root's own ids: ``etc/passwd`` or ``etc/group`` as {id: name}."""
    lines = (root / "etc" / table).read_text().splitlines()
    return {int(fields[2]): fields[0] for fields in (line.split(":") for line in lines if line.count(":") >= 3)}


@pytest.mark.parametrize("kind_name", KINDS)
def test_plan_folders_match_the_stock_root(kind_name: str) -> None:
    kind = registered_kinds()[kind_name]
    root = stock_root(kind)
    plan = registered()[kind.target].plan(load_policy(EXAMPLE_POLICY))
    assert plan.folders, f"{kind_name}: a fresh host needs its folders"
    users, groups = names(root, "passwd"), names(root, "group")
    for folder in plan.folders:
        assert folder.owner in users.values() and (not folder.group or folder.group in groups.values()), folder
        where = root / folder.path.lstrip("/")
        if not where.exists():  # no package makes it (qmail-smtpd's multilog folder): the plan must
            assert where.parent.is_dir(), folder.path
            continue
        found = where.stat()
        assert stat.S_ISDIR(found.st_mode), folder.path
        assert users[found.st_uid] == folder.owner, folder.path
        if folder.group:
            assert groups[found.st_gid] == folder.group, folder.path
        if (kind_name, folder.path) != ("postfix", "/var/lib/postfix"):  # postfix-files(5): 0700; the package
            assert stat.S_IMODE(found.st_mode) == folder.mode, (folder.path, oct(found.st_mode))  # leaves 0755
