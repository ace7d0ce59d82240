"""``mtaharden clients POLICY --out DIR``: the client settings files, or a located refusal (exit 2)."""

from __future__ import annotations

from pathlib import Path

import click

from ..cli import fail, load_or_fail
from .account import ClientsRefused


def _files(policy_path: str) -> list[tuple[str, str]]:
    """The output files (path, text), or exit 2 naming where the policy would let a password go in clear."""
    from .account import account

    loaded = load_or_fail(policy_path)
    try:
        settings = account(loaded)
    except ClientsRefused as refused:
        fail(_located(policy_path, refused) + "\n(no client settings written: a client would send its password "
             "without TLS, or could not log in at all)")
    from .apple import profile
    from .guides import GUIDES, guide
    from .microsoft import autodiscover
    from .mozilla import autoconfig
    from .srv import records

    return [("autoconfig/mail/config-v1.1.xml", autoconfig(settings)),
            ("autodiscover/autodiscover.xml", autodiscover(settings)),
            (f"{settings.domain}.mobileconfig", profile(settings)),
            ("srv-records.zone", records(settings)),
            *((f"guides/{name}.md", guide(name, settings)) for name in GUIDES)]


def _located(policy_path: str, refused: ClientsRefused) -> str:
    """Each finding at its line and column in the policy file, as the loader reports its own problems."""
    from ..policy.errors import PolicyError
    from ..policy.load import locate_findings

    return str(PolicyError(locate_findings(policy_path, refused.findings)))


@click.command()
@click.argument("policy", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="folder to write clients/ into (replaced as a whole, like render's target folders)")
def clients(policy: str, out_dir: str) -> None:
    """Write mail-client settings: Mozilla autoconfig, Outlook Autodiscover, an Apple profile, SRV records, guides."""
    from ..render import OutputConflict, RenderedFile, write_outputs

    files = [RenderedFile(path, text, 0o644) for path, text in _files(policy)]
    try:
        write_outputs(Path(out_dir), {"clients": files})
    except OutputConflict as exc:
        fail(f"{exc} (fix: choose another --out folder)")
    click.echo(f"clients: {len(files)} files in {Path(out_dir) / 'clients'}")
