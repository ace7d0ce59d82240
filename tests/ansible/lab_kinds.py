"""Stock lab hosts as Ansible manages them: the lab's kinds plus python3, which Ansible's modules need."""

from __future__ import annotations

from typing import ClassVar

from tests.lab.postfix import PostfixKind


class AnsiblePostfixKind(PostfixKind):
    """Debian's Postfix host with python3 (any host Ansible manages has it); installed, never started."""

    name = "ansiblepostfix"  # not "postfix-…": rebuilding the postfix root removes every "postfix-*" folder
    packages: ClassVar[tuple[str, ...]] = (*PostfixKind.packages, "python3")
