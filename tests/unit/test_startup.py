"""Start-up stays cheap: each command imports only what it uses (issue 25). Not timed: bench/startup.py times it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mtaharden.target_names import TARGET_NAMES
from mtaharden.targets.base import registered

HEAVY = ("pydantic", "jinja2", "aiosmtpd", "rich", "ruamel", "asyncio")


def _loaded_after(code: str) -> set[str]:
    """The top-level packages in sys.modules after ``code`` runs in a fresh interpreter."""
    script = f"import sys\n{code}\nimport json; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_importing_the_cli_loads_no_heavy_package() -> None:
    assert _loaded_after("import mtaharden.cli") & set(HEAVY) == set()


def test_version_loads_no_heavy_package() -> None:
    code = "from mtaharden.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n    pass"
    assert _loaded_after(code) & set(HEAVY) == set()


def test_probe_without_policy_loads_neither_the_policy_model_nor_the_canary() -> None:
    code = ("from mtaharden.cli import main\ntry:\n    main(['probe', '127.0.0.1:1', '--format', 'json', "
            "'--timeout', '1'])\nexcept SystemExit:\n    pass\nimport sys\nassert 'mtaharden.policy.model' not in "
            "sys.modules, 'policy model loaded'")
    loaded = _loaded_after(code)
    assert "aiosmtpd" not in loaded and "jinja2" not in loaded and "ruamel" not in loaded
    assert "pydantic" not in loaded  # the option values are judged by mtaharden.probe.wire
    assert "asyncio" in loaded  # the probe did run


@pytest.mark.parametrize("module", ["mtaharden.probe", "mtaharden.policy"])
def test_package_names_load_on_first_use(module: str) -> None:
    """The packages' public names still resolve (PEP 562), and an unknown one is an AttributeError."""
    package = __import__(module, fromlist=["__all__"])
    for name in package.__all__:
        assert getattr(package, name) is not None
    with pytest.raises(AttributeError):
        package.no_such_name  # noqa: B018


def test_target_names_are_the_registry() -> None:
    assert tuple(registered()) == TARGET_NAMES
