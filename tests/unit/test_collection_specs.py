"""The collection's metadata agrees with itself: one version, and argument specs that cover every knob.

The roles' defaults are what runs; meta/argument_specs.yml is what `ansible-doc` shows and what Ansible
validates. These tests keep the two in step, so a knob added to defaults or read by a task without a
spec entry fails here rather than going undocumented and unchecked.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

import mtaharden
from mtaharden.target_names import TARGET_NAMES
from tests.conftest import REPO

COLLECTION = REPO / "ansible_collections" / "mtaharden" / "mail"
ROLES = tuple(sorted(path.name for path in (COLLECTION / "roles").iterdir() if path.is_dir()))
MTA_ROLES = tuple(role for role in ROLES if role in TARGET_NAMES)  # a role named after a target deploys it
# Set by the MTA role that includes the shared flow: not the user's to set on an MTA role.
FLOW_INTERNAL = {"mtaharden_target", "mtaharden_target_set", "mtaharden_stage_paths", "mtaharden_conflicts"}
TAG_LISTS = re.compile(r"tags:\s*\[[^\]]*\]")


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def options(role: str) -> dict[str, dict[str, Any]]:
    spec: dict[str, dict[str, Any]] = load(COLLECTION / "roles" / role / "meta" / "argument_specs.yml")[
        "argument_specs"]["main"]["options"]
    return spec


def defined_in_tasks(node: Any) -> set[str]:
    """Names a role defines for itself: registered results, set_fact keys and task or block vars."""
    names: set[str] = set()
    if isinstance(node, list):
        for item in node:
            names |= defined_in_tasks(item)
    elif isinstance(node, dict):
        if isinstance(node.get("register"), str):
            names.add(node["register"])
        for key in ("vars", "ansible.builtin.set_fact", "set_fact"):
            if isinstance(node.get(key), dict):
                names |= set(node[key])
        for value in node.values():
            names |= defined_in_tasks(value)
    return names


def test_pyproject_galaxy_and_package_versions_are_one_number() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    galaxy = load(COLLECTION / "galaxy.yml")["version"]
    assert pyproject == galaxy == mtaharden.__version__, (pyproject, galaxy, mtaharden.__version__)


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_a_spec_option_with_the_same_default(role: str) -> None:
    defaults = load(COLLECTION / "roles" / role / "defaults" / "main.yml")
    spec = options(role)
    for name, value in defaults.items():
        assert name in spec, f"{role}/defaults/main.yml: {name} has no entry in meta/argument_specs.yml"
        if spec[name].get("required"):
            continue
        if "{{" in str(value):  # Ansible templates the spec itself: a templated default is described instead
            assert "default" not in spec[name] and "default" in " ".join(spec[name]["description"]).lower(), name
            continue
        assert spec[name].get("default") == value, f"{role}: {name} default differs between defaults and spec"
    if role in MTA_ROLES:  # the shared options' defaults are the flow's (it is included with them)
        defaults = {**load(COLLECTION / "roles" / "mtaharden" / "defaults" / "main.yml"), **defaults}
    for name, option in spec.items():
        assert option.get("required") or name in defaults, f"{role}: spec option {name} has no default in defaults"
        assert option.get("required") or "{{" in str(defaults[name]) or option.get("default") == defaults[name], name


@pytest.mark.parametrize("role", ROLES)
def test_every_option_is_typed_and_described(role: str) -> None:
    for name, option in options(role).items():
        assert option.get("type") in {"str", "path", "bool", "int", "list", "dict"}, (role, name)
        assert option.get("description") and all(isinstance(line, str) for line in option["description"]), name
        if option["type"] == "list":
            assert option.get("elements"), f"{role}: {name} is a list without elements"
        assert not (option.get("required") and "default" in option), f"{role}: {name} is required with a default"


@pytest.mark.parametrize("role", ROLES)
def test_every_variable_the_role_reads_is_in_its_spec(role: str) -> None:
    prefix = "mtaharden" if role == "mtaharden" else role
    folder = COLLECTION / "roles" / role
    sources = [*folder.glob("tasks/*.yml"), *folder.glob("templates/*.j2"), folder / "defaults" / "main.yml"]
    read = {name for path in sources
            for name in re.findall(rf"\b{prefix}_[a-z0-9_]+", TAG_LISTS.sub("", path.read_text()))}
    defined = {name for path in folder.glob("tasks/*.yml") for name in defined_in_tasks(load(path))}
    missing = sorted(read - defined - set(options(role)))
    assert not missing, f"{role} reads {missing} without a meta/argument_specs.yml entry"


@pytest.mark.parametrize("role", MTA_ROLES)
def test_mta_roles_document_the_shared_options_as_the_flow_does(role: str) -> None:
    shared = {name: option for name, option in options("mtaharden").items() if name not in FLOW_INTERNAL}
    mine = {name: option for name, option in options(role).items() if name.startswith("mtaharden_")}
    assert mine == shared


def test_the_roles_are_the_flow_verify_and_one_per_deployable_target() -> None:
    assert MTA_ROLES and set(ROLES) - set(MTA_ROLES) == {"mtaharden", "verify"}, "a role neither a target's nor shared"


def test_the_flow_takes_its_targets_from_the_cli() -> None:
    """No list of targets in the flow: it asks ``mtaharden targets`` and refuses any other name."""
    assert "choices" not in options("mtaharden")["mtaharden_target"]
    controller = load(COLLECTION / "roles" / "mtaharden" / "tasks" / "controller.yml")
    (ask,) = [task for task in controller if task.get("register") == "mtaharden_cli_targets"]
    assert ask["ansible.builtin.command"]["argv"] == ["{{ mtaharden_command }}", "targets"]
    (check,) = [task for task in controller if "mtaharden_cli_targets" in str(task.get("ansible.builtin.assert"))]
    assert check["ansible.builtin.assert"]["that"] == "mtaharden_target in mtaharden_cli_targets.stdout_lines"
    reads_role = next(task for task in controller if "query('ansible.builtin.file'" in str(task))  # the target's specs
    assert controller.index(check) < controller.index(reads_role)


def test_the_flow_refuses_a_rendered_target_without_a_role_before_reading_the_role() -> None:
    """Exchange is registered but has no role: the flow names the missing role."""
    controller = load(COLLECTION / "roles" / "mtaharden" / "tasks" / "controller.yml")
    asserts = [task for task in controller if "ansible.builtin.assert" in task]
    (cli,) = [task for task in asserts if "mtaharden_cli_targets" in str(task["ansible.builtin.assert"]["that"])]
    (has_role,) = [task for task in asserts if "is file" in str(task["ansible.builtin.assert"]["that"])]
    assert has_role["ansible.builtin.assert"]["that"] == (
        "(role_path ~ '/../' ~ mtaharden_target ~ '/meta/argument_specs.yml') is file")
    assert "no role mtaharden.mail.{{ mtaharden_target }}" in has_role["ansible.builtin.assert"]["fail_msg"]
    reads_role = next(task for task in controller if "query('ansible.builtin.file'" in str(task))
    assert controller.index(cli) < controller.index(has_role) < controller.index(reads_role)
    # tests/ansible/test_collection.py runs the refusal on every registered target without a role: keep one
    assert set(TARGET_NAMES) - set(MTA_ROLES), "no target without a role left: give that test a made-up target"


def test_the_verify_role_takes_its_targets_from_the_cli() -> None:
    """No list of targets in the verify role: it asks the probe's CLI on the vantage, and from the host itself
    only the targets with a queue proof (``mtaharden targets --queue-proof``)."""
    tasks = load(COLLECTION / "roles" / "verify" / "tasks" / "main.yml")
    (ask,) = [task for task in tasks if task.get("register") == "verify_cli_targets"]
    assert ask["ansible.builtin.command"]["argv"] == (
        "{{ [verify_command, 'targets'] + (['--queue-proof'] if verify_probe_from == inventory_hostname else []) }}")
    assert ask["delegate_to"] == "{{ verify_probe_from }}"
    (check,) = [task for task in tasks if "verify_cli_targets" in str(task.get("ansible.builtin.assert"))]
    assert check["ansible.builtin.assert"]["that"] == "verify_target in verify_cli_targets.stdout_lines"
    probes = [task for task in tasks if "'probe'" in str(task)]
    assert probes and all(tasks.index(check) < tasks.index(task) for task in probes)
    assert not re.search(r"'(postfix|sendmail|qmail|exim|opensmtpd)'", (COLLECTION / "roles" / "verify" / "tasks" /
                                                                       "main.yml").read_text())


def test_the_cli_lists_the_targets_with_a_queue_proof() -> None:
    from mtaharden.probe.proof import MTAS

    result = subprocess.run([sys.executable, "-m", "mtaharden", "targets", "--queue-proof"], cwd=REPO,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [name for name in TARGET_NAMES if name in MTAS]
    assert {"exim", "opensmtpd"} <= set(result.stdout.split()) and "exchange" not in result.stdout


def test_every_mta_role_refuses_every_other_roles_mta() -> None:
    """Debian's MTA packages all provide mail-transport-agent and conflict: each role's *_conflicts names the
    first package every other role installs (qmail installs none), so no role replaces another by surprise."""
    defaults = {role: load(COLLECTION / "roles" / role / "defaults" / "main.yml") for role in MTA_ROLES}
    installs = {role: values[f"{role}_packages"][0] for role, values in defaults.items()
                if f"{role}_packages" in values}
    assert {"postfix", "sendmail", "exim", "opensmtpd"} <= set(installs)
    for role, values in defaults.items():
        missing = sorted(package for other, package in installs.items()
                         if other != role and package not in values[f"{role}_conflicts"])
        assert not missing, f"{role}_conflicts lacks {missing}"
        assert installs.get(role) not in values[f"{role}_conflicts"], f"{role} refuses its own package"


DOCS = (REPO / "README.md", COLLECTION / "README.md")


def test_docs_name_every_tag_the_roles_use() -> None:
    used = {tag for path in COLLECTION.glob("roles/*/tasks/*.yml")
            for tags in TAG_LISTS.findall(path.read_text()) for tag in re.findall(r"mtaharden_[a-z]+", tags)}
    assert used == {"mtaharden_render", "mtaharden_stage", "mtaharden_swap", "mtaharden_verify"}
    for doc in DOCS:
        missing = sorted(tag for tag in used if f"`{tag}`" not in doc.read_text())
        assert not missing, f"{doc.name} does not document the tags {missing}"


def test_docs_install_the_cli_and_the_collection_of_this_version() -> None:
    version = load(COLLECTION / "galaxy.yml")["version"]
    for doc in DOCS:
        text = doc.read_text()
        assert set(re.findall(r"mtaharden==([0-9][^'\s]*)'", text)) == {version}, doc
        assert set(re.findall(r"mtaharden-mail-([0-9][^\s]*?)\.tar\.gz", text)) == {version}, doc
        assert "ansible-core>=2.16" in text and "sendmail_install_packages" in text and "--check --diff" in text
