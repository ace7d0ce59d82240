"""The ``mtaharden`` command. Exit codes: 0 ok, 1 findings, 2 bad input or usage.

Each command imports what it uses when it runs (the policy model, jinja2, rich, the probe), so that
``mtaharden --version`` starts like a system tool; tests/unit/test_startup.py guards it.
"""

from __future__ import annotations

import atexit
import functools
import gc
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, NoReturn

import click
from click.core import ParameterSource

from . import __version__
from .target_names import TARGET_NAMES

if TYPE_CHECKING:
    from rich.console import Console

    from .policy import Policy
    from .render import RenderedFile
    from .review.terminal import ColorChoice
    from .targets.base import Plan, Target

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2


@functools.cache
def _console(stderr: bool) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True, emoji=False)  # ":100:" is a line, not 💯


def err_console() -> Console:
    return _console(True)


def out_console() -> Console:
    return _console(False)


def fail(message: str) -> NoReturn:
    """Print an error for the user and exit with the bad-input code."""
    err_console().print(message, markup=False)
    sys.exit(EXIT_BAD_INPUT)


def load_or_fail(path: str, overrides: tuple[str, ...] = (), lists_root: str | None = None) -> Policy:
    """The policy at ``path`` (with ``--set`` overrides), or every located problem printed and exit 2."""
    from .policy import PolicyError, load_policy

    try:
        return load_policy(path, overrides, lists_root)
    except PolicyError as exc:
        fail(str(exc))


def _targets(choice: str) -> list[Target]:
    from .targets.base import registered, registered_target

    if choice == "all":
        return list(registered().values())
    chosen = registered_target(choice)
    if chosen is None:
        fail(f"unknown target {choice!r} (fix: choose one of {', '.join(TARGET_NAMES)} or all)")
    return [chosen]


set_option = click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE",
    help="override a policy value (dotted key, YAML value), e.g. --set hostname=mx2.example.org; repeatable")
lists_root_option = click.option(
    "--lists-root", metavar="DIR", type=click.Path(exists=True, file_okay=False),
    help="folder tree the policy's list files may lie in (default: the policy file's folder)")
color_option = click.option(
    "--color", "color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
    help="colour RISKY changes and unsupported elements: auto = on a terminal unless NO_COLOR is set")
target_option = click.option("--target", "-t", default="all", show_default=True,
                             help=f"target to use: {', '.join(TARGET_NAMES)} or all")


class _Commands(click.Group):
    """The command group. Commands with heavy imports of their own (asyncio, ssl, DNS, HTTP clients) live in
    their own modules, named here, and are imported only when asked for."""

    lazy: ClassVar[dict[str, str]] = {
        "probe": "mtaharden.probe.cli:probe",
        "clients": "mtaharden.clients.cli:clients",
        "trace": "mtaharden.trace.cli:trace",
        "dns": "mtaharden.dns.cli:dns",
        "blocklist": "mtaharden.blocklist.cli:blocklist",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = self.lazy.get(cmd_name)
        if where is None:
            return super().get_command(ctx, cmd_name)
        from importlib import import_module

        module, _, attribute = where.partition(":")
        command: click.Command = getattr(import_module(module), attribute)
        return command


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mtaharden")
def main() -> None:
    """One mail hardening policy, rendered into native MTA configs and proven with a relay probe."""
    # At exit the interpreter's last garbage collections walk every object pydantic, typing and rich built
    # (30-40 ms, a fifth of a probe's start); frozen objects are skipped and the process's end frees them.
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)


@main.command()
@click.argument("policy", type=click.Path(dir_okay=False))
@set_option
@lists_root_option
def validate(policy: str, overrides: tuple[str, ...], lists_root: str | None) -> None:
    """Check POLICY and report every problem with file:line:col and a fix.

    Warnings (exit 0) name entries another entry makes moot: a relay domain a local .domain entry
    swallows, a rule an earlier rule of its list always decides first."""
    from .policy.warnings import located

    loaded = load_or_fail(policy, overrides, lists_root)
    for warning in located(policy, loaded):
        err_console().print(f"warning: {warning}", markup=False)
    out_console().print(
        f"{policy}: valid (role {loaded.role}, {len(loaded.domains.local)} local and "
        f"{len(loaded.domains.relay)} relay domains, {len(loaded.networks.trusted)} trusted networks)",
        markup=False,
    )


@main.command()
@click.argument("policy", type=click.Path(dir_okay=False))
@target_option
@click.option("--out", "-o", "out_dir", default="out", show_default=True, type=click.Path(file_okay=False),
              help="output folder; one sub-folder per target")
@click.option("--check", "check_dir", metavar="DIR", type=click.Path(exists=True, file_okay=False),
              help="write nothing; exit 1 with a diff when DIR/<target>/ is not what POLICY renders now")
@set_option
@lists_root_option
def render(policy: str, target: str, out_dir: str, check_dir: str | None, overrides: tuple[str, ...],
           lists_root: str | None) -> None:
    """Render POLICY into native configuration under OUT/<target>/, then say on stderr, per target, what to do
    next (from its Plan): folders a fresh host needs, where each file goes, build, check, first start, reload."""
    out_given = click.get_current_context().get_parameter_source("out_dir") is not ParameterSource.DEFAULT
    if check_dir is not None and out_given:
        raise click.UsageError("--check writes nothing: give either --out or --check")
    from .render import OutputConflict, write_outputs

    plans: dict[str, Plan] = {}
    rendered = _render_targets(policy, load_or_fail(policy, overrides, lists_root), _targets(target), plans)
    if check_dir is not None:
        _check(policy, Path(check_dir), rendered)
    try:
        write_outputs(Path(out_dir), rendered)
    except OutputConflict as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write to {out_dir}: {exc} (fix: choose a writable --out folder)")
    for name, files in rendered.items():
        out_console().print(f"{name}: {len(files)} files in {Path(out_dir) / name}", markup=False)
    from .next_steps import next_steps

    for name, plan in plans.items():
        err_console().print("\n".join(next_steps(plan, str(Path(out_dir) / name))), markup=False)


def _render_targets(source: str, policy: Policy, targets: list[Target],
                    plans: dict[str, Plan] | None = None) -> dict[str, list[RenderedFile]]:
    """Each target's files as ``render`` writes them (all-or-nothing: any failure exits); each Plan into ``plans``."""
    from .render import RenderError, render_plan

    rendered: dict[str, list[RenderedFile]] = {}
    for chosen in targets:
        plan = _plan(chosen, policy)
        if plans is not None:
            plans[chosen.name] = plan
        try:
            rendered[chosen.name] = render_plan(plan, chosen)
        except (RenderError, ValueError) as exc:
            fail(f"{source}: {chosen.name}: {exc}")
    return rendered


def _check(source: str, folder: Path, rendered: dict[str, list[RenderedFile]]) -> NoReturn:
    """Like ``black --check``: a diff for each file that differs, and exit 1 if any does."""
    from .review.config_diff import check_tree

    differences = check_tree(folder, rendered)
    for text in differences:
        click.echo(text, nl=False)
    if differences:
        err_console().print(f"{len(differences)} file(s) in {folder} differ from what {source} renders (fix: render "
                          f"with --out {folder} and the same --target/--set, then commit the result)", markup=False)
        sys.exit(EXIT_FINDINGS)
    err_console().print(f"{folder}: up to date with {source} ({', '.join(rendered)})", markup=False)
    sys.exit(EXIT_OK)


def _plan(target: Target, policy: Policy) -> Plan:
    """The target's plan; refuse it when an element the policy sets cannot be enforced and is not waived,
    or when a value cannot be written in the target's syntax at all (exit 2, in the user's terms)."""
    from .render import RenderError

    try:
        plan = target.plan(policy)
    except RenderError as exc:
        fail(f"{target.name} cannot write this policy: {exc} (fix: change the value, or render other targets)")
    options = getattr(policy.targets, target.name)
    gaps = plan.unwaived_gaps(options.allow_unsupported)
    stated = [gap for gap in gaps if policy.states(gap.element)]
    if stated:
        lines = [f"  {gap.element}: {gap.detail}" for gap in stated]
        fail(f"{target.name} cannot enforce:\n" + "\n".join(lines) + "\n(fix: change the policy, or list these "
             f"elements under targets.{target.name}.allow_unsupported to accept them unenforced)")
    for gap in gaps:
        err_console().print(f"warning: {target.name} leaves the default {gap.element} unenforced: {gap.detail} "
                          "(see COVERAGE.md)", markup=False)
    return plan


@main.command()
@click.argument("policy", type=click.Path(dir_okay=False))
@target_option
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
@color_option
@set_option
@lists_root_option
def explain(policy: str, target: str, fmt: str, color: ColorChoice, overrides: tuple[str, ...],
            lists_root: str | None) -> None:
    """Show the relay stance and, per target, how each policy element is enforced, approximated or unsupported.

    Text is a table on a terminal and plain lines elsewhere (a file, a CI log): no cell is ever cut short."""
    from .review.report import explain_markdown
    from .review.stance import relay_stance
    from .review.terminal import console, print_explain

    loaded = load_or_fail(policy, overrides, lists_root)
    stance = relay_stance(loaded)
    plans = {chosen.name: chosen.plan(loaded) for chosen in _targets(target)}
    if fmt == "json":
        targets = {name: [vars(item) for item in plan.coverage] for name, plan in plans.items()}
        click.echo(json.dumps({"relay_stance": stance, "targets": targets}, indent=2, sort_keys=True))
        return
    if fmt == "markdown":
        click.echo(explain_markdown(policy, stance, {name: plan.coverage for name, plan in plans.items()}), nl=False)
        return
    print_explain(console(color), policy, stance, {name: plan.coverage for name, plan in plans.items()})


@main.command("plan")
@click.argument("policy", type=click.Path(dir_okay=False))
@click.option("--target", "-t", required=True, help=f"one of {', '.join(TARGET_NAMES)}")
@set_option
@lists_root_option
def plan_command(policy: str, target: str, overrides: tuple[str, ...], lists_root: str | None) -> None:
    """Print a target's Plan as JSON: files with modes, post-install steps by phase, reload or restart, and for a
    fresh host the folders to create and the first start (``service.start``).

    The Ansible roles run these steps; nothing about a target is written down twice."""
    loaded = load_or_fail(policy, overrides, lists_root)
    (chosen,) = _targets(target)
    plan = _plan(chosen, loaded)
    data = {
        "target": plan.target,
        "apply": plan.apply,
        "files": [{"path": f.path, "mode": f"{f.mode:04o}", "dest": f.dest} for f in plan.files],
        "steps": [{"phase": s.phase, "argv": list(s.argv), "why": s.why, "outputs": list(s.outputs)}
                  for s in plan.steps],
        "service": None if plan.service is None else {
            "running": list(plan.service.running), "start": [list(a) for a in plan.service.start],
            "stop": [list(a) for a in plan.service.stop], "restart_key": plan.service.restart_key},
        "preflight": [{"need": r.need, "args": list(r.args), "why": r.why} for r in plan.preflight],
        "folders": [{"path": f.path, "owner": f.owner, "group": f.group, "mode": f"{f.mode:04o}", "why": f.why}
                    for f in plan.folders],
    }
    click.echo(json.dumps(data, indent=2))


@main.command("targets")
@click.option("--queue-proof", is_flag=True,
              help="only the targets whose queue the probe can read (probe --proof queue --mta TARGET)")
def targets_command(queue_proof: bool) -> None:
    """Print the registered target names, one per line (the roles check theirs against it)."""
    proven: tuple[str, ...] = TARGET_NAMES
    if queue_proof:  # imported only when asked: the probe's modules are not needed to list targets
        from .probe.proof import MTAS

        proven = tuple(name for name in TARGET_NAMES if name in MTAS)
    for name in proven:
        click.echo(name)


@main.command()
def schema() -> None:
    """Print the JSON Schema of the policy (contract version 1)."""
    from .policy.model import Policy as PolicyModel

    click.echo(json.dumps(PolicyModel.model_json_schema(), indent=2, sort_keys=True))


@main.command("diff")
@click.argument("policy", type=click.Path(dir_okay=False))
@click.option("--against", required=True, metavar="DIR", type=click.Path(exists=True, file_okay=False),
              help="current configuration, laid out like render's output: DIR/postfix/main.cf, …")
@target_option
@set_option
@lists_root_option
def diff_command(policy: str, against: str, target: str, overrides: tuple[str, ...], lists_root: str | None) -> None:
    """Show, per target, what installing POLICY's output would change on a host whose config is in DIR.

    Postfix's main.cf is compared by meaning, as postconf reads it; other files as text. Targets
    without a folder in DIR are skipped. Exit 1 when anything would change."""
    from .review.config_diff import ConfigSyntaxError, host_diff

    loaded = load_or_fail(policy, overrides, lists_root)
    root = Path(against)
    chosen = [t for t in _targets(target) if (root / t.name).is_dir() or (root / t.name).is_symlink()]
    if not chosen:
        fail(f"{root} holds no configuration for {target} (fix: lay it out like render's output, "
             "e.g. DIR/postfix/main.cf)")
    for skipped in sorted({t.name for t in _targets(target)} - {t.name for t in chosen}):
        err_console().print(f"{skipped}: no {root / skipped}, skipped", markup=False)
    changed = False
    for name, files in _render_targets(policy, loaded, chosen).items():
        try:
            differences = host_diff(root / name, name, files)
        except ConfigSyntaxError as exc:
            fail(f"{exc} (fix: correct the file; its MTA would refuse it too)")
        click.echo(f"# {name}: {len(differences)} file(s) would change" if differences else f"# {name}: no change")
        for text in differences:
            click.echo(text, nl=False)
        changed = changed or bool(differences)
    sys.exit(EXIT_FINDINGS if changed else EXIT_OK)


@main.command("diff-policy")
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
@color_option
@lists_root_option
def diff_policy(old: str, new: str, fmt: str, color: ColorChoice, lists_root: str | None) -> None:
    """Explain the change from policy OLD to NEW in words; exit 1 when a change is risky.

    Risky: a trusted network added or widened, wide networks allowed, AUTH turned on or accepted
    without TLS, a relay domain added, a DNSBL dropped, VRFY/EXPN re-enabled, a limit raised, an
    allow_unsupported waiver added. CI can require a second approval on exit 1."""
    from .review.policy_diff import diff_policies
    from .review.report import PolicyChange, change_json, change_markdown, change_text
    from .review.stance import relay_stance

    before, after = load_or_fail(old, lists_root=lists_root), load_or_fail(new, lists_root=lists_root)
    report = PolicyChange(old, new, relay_stance(before), relay_stance(after), diff_policies(before, after))
    if fmt == "text":
        from .review.terminal import console, print_change

        print_change(console(color), change_text(report))
    else:
        click.echo((change_markdown if fmt == "markdown" else change_json)(report), nl=False)
    sys.exit(EXIT_FINDINGS if report.risky else EXIT_OK)


@main.command("test")
@click.argument("policy", type=click.Path(dir_okay=False))
@click.option("--cases", "cases_file", metavar="FILE", type=click.Path(dir_okay=False),
              help="YAML file of transactions with expected outcomes (for CI): exit 1 when one differs")
@click.option("--client", metavar="IP", help="the client's address")
@click.option("--helo", default="client.example", show_default=True, help="the HELO/EHLO name")
@click.option("--from", "sender", default="", metavar="ADDRESS", help="envelope sender (default: <>)")
@click.option("--to", "recipients", multiple=True, metavar="ADDRESS", help="a recipient; repeatable")
@click.option("--tls", is_flag=True, help="the client used STARTTLS")
@click.option("--auth", metavar="USER", help="the client authenticated as USER")
@click.option("--header", "headers", multiple=True, metavar="'NAME: VALUE'", help="a header line; repeatable")
@click.option("--size", type=click.IntRange(min=0), default=0, help="message size in bytes")
@click.option("--mail-size", type=click.IntRange(min=0), metavar="N", help="the SIZE=N the client declares at MAIL")
@click.option("--port", type=click.IntRange(1, 65535), default=25, show_default=True,
              help="the port the client connects to (the role decides which are open)")
@click.option("--listed", multiple=True, metavar="ZONE[=ANSWER]",
              help="the client is listed at ZONE (answer 127.0.0.2 unless given); repeatable")
@click.option("--spf", default="none", show_default=True, metavar="RESULT",
              help="the SPF result of the sender's domain (of the HELO name for <>): none, neutral, pass, fail, "
                   "softfail, temperror or permerror")
@click.option("--dmarc", default="none", show_default=True, metavar="RESULT",
              help="the From: domain's DMARC result: none (it publishes no record), pass or fail")
@click.option("--dmarc-policy", default="none", show_default=True, metavar="POLICY",
              help="what the From: domain's DMARC record asks for failing mail (p=): none, quarantine or reject")
@click.option("--bare-newlines", is_flag=True, help="a line of the message ends in a bare LF or CR")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@set_option
@lists_root_option
def test_command(policy: str, cases_file: str | None, client: str | None, helo: str, sender: str,
                 recipients: tuple[str, ...], tls: bool, auth: str | None, headers: tuple[str, ...], size: int,
                 mail_size: int | None, port: int, listed: tuple[str, ...], spf: str, dmarc: str, dmarc_policy: str,
                 bare_newlines: bool, fmt: str, overrides: tuple[str, ...], lists_root: str | None) -> None:
    """What POLICY requires for one transaction, stage by stage, and which element decides (or check --cases)."""
    from .policy import PolicyError, cases
    from .policy.evaluate import evaluate

    loaded = load_or_fail(policy, overrides, lists_root)
    try:
        if cases_file is not None:
            matched, text = cases.report(loaded, cases.load_cases(cases_file))
            out_console().print(text, markup=False)
            sys.exit(EXIT_OK if matched else EXIT_FINDINGS)
        if client is None:
            fail("--client is required (fix: give --client IP, or --cases FILE)")
        case = cases.command_line_case({"client": client, "helo": helo, "from": sender, "to": list(recipients),
                                        "tls": tls, "auth": auth, "headers": list(headers), "size": size,
                                        "mail_size": mail_size, "port": port, "listed": list(listed), "spf": spf,
                                        "dmarc": dmarc, "dmarc_policy": dmarc_policy,
                                        "bare_newlines": bare_newlines})
    except PolicyError as exc:
        fail(str(exc))
    outcome = evaluate(loaded, case.transaction())
    out_console().print(cases.outcome_json(outcome) if fmt == "json" else cases.outcome_text(outcome), markup=False)

