"""tests/packages/ (what scripts/bootstrap.sh installs) names only registered targets, so the script needs none."""

from __future__ import annotations

import subprocess

from mtaharden.target_names import TARGET_NAMES
from tests.conftest import REPO

PACKAGES = REPO / "tests" / "packages"
KINDS = {".txt", ".unpack", ".debconf"}


def test_every_package_file_is_common_or_a_registered_targets() -> None:
    files = [path for path in PACKAGES.iterdir() if path.name != "README.md"]
    assert {path.suffix for path in files} <= KINDS
    assert {path.stem for path in files} - {"common"} <= set(TARGET_NAMES)
    assert (PACKAGES / "common.txt").is_file()


def test_bootstrap_names_no_target_and_lists_the_files_packages() -> None:
    script = (REPO / "scripts" / "bootstrap.sh").read_text()
    for name in TARGET_NAMES:
        assert f"{name}-" not in script and f"({name}" not in script and f" {name} " not in script, name
    listing = subprocess.run(
        ["bash", "-c", 'source <(sed -n "/^listed()/,/^}/p" scripts/bootstrap.sh); listed tests/packages/*.txt'],
        cwd=REPO, capture_output=True, text=True, timeout=30, check=True).stdout.split()
    assert "postfix-pcre" in listing and "ucspi-tcp" in listing and "mmdebstrap" in listing
    assert not [word for word in listing if word.startswith("#") or not word.strip()]
