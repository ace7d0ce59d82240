"""The mtaharden.mail collection as a user gets it: built, installed from its tarball, checked on entry.

Real ansible-galaxy, ansible-playbook (-c local), ansible-doc and ansible-lint; the real mtaharden CLI.
Every failing run here must stop on the controller before a byte is written on the host: the test
points every host folder of the role into the test's own folder and checks none of them appears.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mtaharden.target_names import TARGET_NAMES
from tests.ansible.playbook import BIN, PlayResult, run_role
from tests.conftest import EXAMPLE_POLICY, REPO

SOURCE = REPO / "ansible_collections" / "mtaharden" / "mail"
VERSION = yaml.safe_load((SOURCE / "galaxy.yml").read_text())["version"]
EXAMPLES = REPO / "examples" / "ansible"
# What may ship: the metadata, the docs, and the roles' standard folders. Nothing else (no caches,
# no lint state, no earlier tarballs, no editor backups).
MEMBER = re.compile(r"(MANIFEST\.json|FILES\.json|README\.md|CHANGELOG\.md|meta|meta/runtime\.yml|roles"
                    r"|roles/[a-z]+|roles/[a-z]+/(defaults|meta|tasks|templates|files|vars|handlers)"
                    r"|roles/[a-z]+/(defaults|meta|tasks|vars|handlers)/[a-z_]+\.yml"
                    r"|roles/[a-z]+/templates/[a-z0-9_.-]+\.j2|roles/[a-z]+/files/[a-z0-9_-]+)")
# Targets the CLI renders that no role of the collection deploys yet.
UNDEPLOYED = tuple(t for t in TARGET_NAMES if not (SOURCE / "roles" / t).is_dir())
JUNK = re.compile(r"(^|/)(__pycache__|\.ansible|\.cache|tests/output)(/|$)|\.(pyc|retry|swp|tar\.gz)$|~$")


def environment(base: Path, collections: Path) -> dict[str, str]:
    """Ansible sees the collection in ``collections`` only (the checkout is on sys.path too)."""
    home = base / "ansible-home"
    return {**os.environ, "ANSIBLE_HOME": str(home), "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
            "ANSIBLE_COLLECTIONS_PATH": str(collections), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "0",
            "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "NO_COLOR": "1"}


def tool(name: str, *args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / name), *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=300, check=False)


def host_folders(base: Path) -> dict[str, Any]:
    """Every folder the flow writes on the host, inside ``base``."""
    return {"mtaharden_helper_dir": str(base / "host" / "libexec"),
            "mtaharden_stage_root": str(base / "host" / "stage"),
            "mtaharden_backup_root": str(base / "host" / "backups"),
            "postfix_config_dir": str(base / "host" / "postfix"), "postfix_install_packages": False}


def apply_postfix(base: Path, *extra: str, collections: Path = REPO, **variables: Any) -> PlayResult:
    """Apply the postfix role; it must fail before the host is touched."""
    result = run_role(base, "postfix", {"mtaharden_policy": str(EXAMPLE_POLICY), **host_folders(base), **variables},
                      *extra, collections=collections)
    assert result.returncode != 0, result.output[-3000:]
    assert not (base / "host").exists(), "a failed entry check wrote on the host"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[str]]]:
    """The collection built into a temp folder and installed from that tarball into a fresh one."""
    base = tmp_path_factory.mktemp("collection")
    fresh = base / "fresh"
    env = environment(base, fresh)
    built = tool("ansible-galaxy", "collection", "build", str(SOURCE), "--output-path", str(base / "dist"), env=env)
    assert built.returncode == 0, built.stdout + built.stderr
    tarball = base / "dist" / f"mtaharden-mail-{VERSION}.tar.gz"
    with tarfile.open(tarball) as archive:
        members = archive.getnames()
    done = tool("ansible-galaxy", "collection", "install", str(tarball), "-p", str(fresh), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    yield fresh, members


def test_tarball_holds_the_roles_and_no_build_junk(installed: tuple[Path, list[str]]) -> None:
    _, members = installed
    listing = "\n".join(members)
    assert not [m for m in members if JUNK.search(m)], listing
    assert [m for m in members if not MEMBER.fullmatch(m)] == [], listing
    for role in sorted(path.name for path in (REPO / "ansible_collections/mtaharden/mail/roles").iterdir()):
        assert f"roles/{role}/tasks/main.yml" in members and f"roles/{role}/meta/argument_specs.yml" in members
    assert "roles/mtaharden/tasks/controller.yml" in members and "MANIFEST.json" in members
    assert "galaxy.yml" not in members  # ansible-galaxy turns it into MANIFEST.json


def test_installed_copy_documents_its_entry_points(installed: tuple[Path, list[str]], tmp_path: Path) -> None:
    fresh, _ = installed
    doc = tool("ansible-doc", "-t", "role", "mtaharden.mail.postfix", env=environment(tmp_path, fresh))
    assert doc.returncode == 0, doc.stderr
    assert f"({fresh}/ansible_collections/mtaharden/mail)" in doc.stdout, doc.stdout[:500]
    assert re.search(r"ENTRY POINT: \*?main\*? - Harden Postfix", doc.stdout), doc.stdout[:500]
    assert re.search(r"mtaharden_policy\s", doc.stdout) and re.search(r"postfix_install_packages\s", doc.stdout)


def test_installed_copy_runs_and_checks_the_cli_against_its_manifest(installed: tuple[Path, list[str]],
                                                                    tmp_path: Path) -> None:
    """From the fresh folder: the argument spec and the CLI check pass (the version comes from the
    installed MANIFEST.json), and the play goes on to render, which fails on the missing policy file."""
    fresh, _ = installed
    result = run_role(tmp_path, "postfix", {"mtaharden_policy": str(tmp_path / "missing.yml"),
                                            **host_folders(tmp_path)}, collections=fresh)
    assert result.returncode != 0
    check = result.output.split("Fail unless the CLI is installed at the collection's version")[1].split("TASK [")[0]
    assert "ok: [localhost]" in check, check
    assert "missing.yml:1:1: cannot read the policy" in result.output, result.output[-3000:]
    assert f"Origin: {fresh}/ansible_collections/mtaharden/mail/roles/mtaharden/tasks/main.yml" in result.output


def test_installed_copy_refuses_a_string_where_a_list_is_expected(installed: tuple[Path, list[str]],
                                                                 tmp_path: Path) -> None:
    fresh, _ = installed
    result = apply_postfix(tmp_path, collections=fresh, mtaharden_probe_endpoints="a,b")
    assert "mtaharden_probe_endpoints: a list is expected, got a string" in result.output
    assert "fix: write a YAML list" in result.output


def test_the_flow_refuses_a_target_the_cli_does_not_render(tmp_path: Path) -> None:
    """The flow's targets are the CLI's (`mtaharden targets`), checked before any role of the target is read."""
    result = run_role(tmp_path, "mtaharden", {"mtaharden_policy": str(EXAMPLE_POLICY), "mtaharden_target": "exim4",
                                              **host_folders(tmp_path)})
    assert result.returncode != 0
    assert ("mtaharden_target exim4 is not a target of the mtaharden CLI (fix: include an MTA role of this "
            f"collection, which sets it; the CLI renders {', '.join(TARGET_NAMES)})") \
        in " ".join(result.output.split()), result.output[-3000:]
    assert not (tmp_path / "host").exists()


def test_the_verify_role_refuses_a_target_without_a_queue_proof_on_the_host(tmp_path: Path) -> None:
    """From the host itself (here localhost probes localhost) the verify role asks `mtaharden targets --queue-proof`:
    Exchange is a target of the CLI but has no queue proof, so the role stops before any probe runs."""
    from mtaharden.probe.proof import MTAS

    result = run_role(tmp_path, "verify", {"mtaharden_policy": str(EXAMPLE_POLICY), "verify_target": "exchange",
                                           "verify_probe_endpoints": ["127.0.0.1:25"]})
    assert result.returncode != 0
    proven = ", ".join(name for name in TARGET_NAMES if name in MTAS)
    assert (f"verify_target exchange: the probe on localhost reads the queue of {proven} only (fix: set "
            "verify_target to the host's MTA, or probe from outside the trusted networks (verify_probe_from: "
            "localhost))") in " ".join(result.output.split()), result.output[-3000:]
    assert "Probe with the queue proof" not in result.output


@pytest.mark.parametrize("target", UNDEPLOYED)
def test_the_flow_refuses_a_rendered_target_that_has_no_role(tmp_path: Path, target: str) -> None:
    """A registered target without an MTA role (Exchange) stops on the controller, naming the
    missing role, instead of failing on a file lookup of a role that does not exist."""
    result = run_role(tmp_path, "mtaharden", {"mtaharden_policy": str(EXAMPLE_POLICY), "mtaharden_target": target,
                                              **host_folders(tmp_path)})
    assert result.returncode != 0
    assert (f"mtaharden_target {target}: the CLI renders it, but this collection has no role mtaharden.mail.{target}"
            f" to deploy it (fix: render it with `mtaharden render POLICY --target {target}` and install "
            f"out/{target}/ as README.md's Targets section describes)") \
        in " ".join(result.output.split()), result.output[-3000:]
    assert "Check that every list input" not in result.output  # stopped before the role's specs are read
    assert not (tmp_path / "host").exists()


@pytest.mark.parametrize(("variables", "message"), [
    ({"mtaharden_backups_keep": "three"},
     "argument 'mtaharden_backups_keep' is of type str and we were unable to convert to int"),
    ({"postfix_install_packages": "perhaps"},
     "argument 'postfix_install_packages' is of type str and we were unable to convert to bool"),
    ({"mtaharden_verify": "perhaps"},
     "argument 'mtaharden_verify' is of type str and we were unable to convert to bool"),
])
def test_argument_spec_refuses_a_wrong_type_before_the_host_is_touched(tmp_path: Path, variables: dict[str, Any],
                                                                       message: str) -> None:
    result = apply_postfix(tmp_path, **variables)
    assert "Validating arguments against arg spec 'main'" in result.output
    assert message in result.output, result.output[-3000:]


def test_argument_spec_requires_the_policy(tmp_path: Path) -> None:
    result = run_role(tmp_path, "postfix", host_folders(tmp_path))
    assert result.returncode != 0
    assert "missing required arguments: mtaharden_policy" in result.output, result.output[-3000:]
    assert not (tmp_path / "host").exists()


@pytest.mark.parametrize("name", ["mtaharden_probe_endpoints", "mtaharden_set", "mtaharden_probe_args",
                                  "postfix_packages"])
def test_a_string_where_a_list_is_expected_stops_on_the_controller(tmp_path: Path, name: str) -> None:
    variables: dict[str, Any] = {name: "a,b"}
    result = apply_postfix(tmp_path, **variables)
    assert f"{name}: a list is expected, got a string" in result.output, result.output[-3000:]
    failed = next(line for line in result.output.splitlines() if line.startswith(f"failed: [localhost] (item={name})"))
    assert "a,b" not in failed  # the message names the input and its kind, never its value


def test_the_sendmail_role_checks_its_own_list_inputs_too(tmp_path: Path) -> None:
    """The check reads the including role's spec as well (replace_mta: this machine has Postfix, and
    with the packages off nothing is replaced)."""
    result = run_role(tmp_path, "sendmail", {"mtaharden_policy": str(EXAMPLE_POLICY), **host_folders(tmp_path),
                                             "sendmail_settings_dir": str(tmp_path / "host" / "mail"),
                                             "sendmail_install_packages": False, "mtaharden_replace_mta": True,
                                             "sendmail_packages": "sendmail-bin,m4"})
    assert result.returncode != 0
    assert "sendmail_packages: a list is expected, got a string" in result.output, result.output[-3000:]
    assert not (tmp_path / "host").exists()


@pytest.mark.parametrize("extra", [(), ("--check", "--diff", "--tags", "mtaharden_verify")])
def test_missing_cli_stops_with_an_install_hint(tmp_path: Path, extra: tuple[str, ...]) -> None:
    """Also in check mode and under any tag: the entry checks are tagged always."""
    result = apply_postfix(tmp_path, *extra, mtaharden_command="mtaharden-not-installed")
    assert ("the mtaharden CLI is not installed on the controller: 'mtaharden-not-installed' is not on its PATH "
            "(No such file or directory)") in result.output, result.output[-3000:]
    assert f"pipx install 'mtaharden=={VERSION}'" in result.output
    assert f"pip install 'mtaharden=={VERSION}' in a virtualenv" in result.output


def test_cli_of_another_version_stops_with_an_install_hint(tmp_path: Path) -> None:
    """A copy of the collection that says it is 9.9.9, against the real CLI of this checkout."""
    other = tmp_path / "other"
    shutil.copytree(SOURCE, other / "ansible_collections" / "mtaharden" / "mail")
    galaxy = other / "ansible_collections" / "mtaharden" / "mail" / "galaxy.yml"
    galaxy.write_text(galaxy.read_text().replace(f"version: {VERSION}\n", "version: 9.9.9\n"))
    result = apply_postfix(tmp_path, collections=other)
    assert (f"the mtaharden CLI on the controller is version {VERSION} ('{BIN / 'mtaharden'}'), but this "
            "collection (mtaharden.mail) is version 9.9.9: they must match") in " ".join(result.output.split())
    assert "pipx install 'mtaharden==9.9.9'" in result.output


def test_example_playbooks_pass_syntax_check_and_lint(tmp_path: Path) -> None:
    env = environment(tmp_path, REPO)
    playbooks = sorted(EXAMPLES.glob("*.yml"))
    assert {p.name for p in playbooks} >= {"site.yml", "postfix.yml", "sendmail.yml", "qmail.yml"}
    for playbook in playbooks:
        syntax = tool("ansible-playbook", "--syntax-check", "-i", "inventory.ini", playbook.name, env=env, cwd=EXAMPLES)
        assert syntax.returncode == 0, playbook.name + syntax.stdout + syntax.stderr
    lint = tool("ansible-lint", "--profile", "production", "--offline", *[p.name for p in playbooks], env=env,
                cwd=EXAMPLES)
    assert lint.returncode == 0, lint.stdout[-3000:] + lint.stderr[-2000:]


def test_roles_pass_ansible_lint_production_profile() -> None:
    lint = shutil.which("ansible-lint", path=str(BIN))
    assert lint, "ansible-lint is a test dependency"
    collection = REPO / "ansible_collections" / "mtaharden" / "mail"
    result = subprocess.run([lint, "--profile", "production", "--offline", "."], cwd=collection,
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
