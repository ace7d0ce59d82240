"""Every registered target is documented for its users: a README section under "## Targets" or a docs page.

Why: a target added to the registry renders at once (``--target all``), so an admin meets its output before
anyone wrote down how it lands on a host and what it cannot do; this keeps the two from drifting apart.
"""

from __future__ import annotations

from mtaharden.target_names import TARGET_NAMES
from tests.conftest import REPO


def test_every_target_has_a_readme_section_or_a_docs_page() -> None:
    readme = (REPO / "README.md").read_text()
    targets = readme[readme.index("\n## Targets\n"):readme.index("\n## The relay probe\n")]
    undocumented = [name for name in TARGET_NAMES
                    if f" (`out/{name}/`)\n" not in targets and not (REPO / "docs" / f"{name}.md").is_file()]
    assert undocumented == []

