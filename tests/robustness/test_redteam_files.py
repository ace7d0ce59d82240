"""Red team: files, folders and flags as an attacker would hand them to the CLI.

Every file-taking option (policy files, list files, probe -i, --auth-password-file, probe --policy,
diff-policy) is given a FIFO, a socket, a folder, a device, a /proc file, a link out of the policy's
tree and an oversized file: each must be refused at once (FIFOs must not hang: every command runs
under a timeout) with exit 2, a located message, nothing written, and never the planted secret.
Review folders holding links are reported as links, never followed or printed; the writer never
moves or deletes what it did not write and is all-or-nothing across targets whatever the umask; and
``--set`` problems are located in the argument, for every kind of error an override can have.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from mtaharden.render import write_outputs
from tests.conftest import EXAMPLE_POLICY
from tests.probe.fakes import FakeSmtp, open_rcpt
from tests.probe.test_confirm import Serve, confirm_probe
from tests.robustness.test_atomic_output import example_outputs
from tests.unit.test_bad_policies import mtaharden_command
from tests.unit.test_cli import tree

pytestmark = pytest.mark.timeout(120)

SECRET = "s3cr3t-CI-TOKEN-7f3a"
POLICY = "version: 1\nrole: mx\nhostname: mx.example.org\ndomains: {local: [example.org]}\n"
ENV = {**os.environ, "DEPLOY_TOKEN": SECRET}  # what /proc/self/environ of the command holds


def run(*args: str, cwd: Path | None = None, umask: int = -1) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*mtaharden_command(), *args], cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=30, check=False, umask=umask)


def refused(result: subprocess.CompletedProcess[str], located: str, *, code: int = 2) -> None:
    """Exit ``code``, the message starts (or, for click's own errors, holds) ``located``, no secret, no trace."""
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output, output
    assert SECRET not in output, output
    assert located in output, output


# --- the hostile files ---------------------------------------------------------------------------


def fifo(folder: Path) -> Path:
    os.mkfifo(folder / "hostile")
    return folder / "hostile"


def unix_socket(folder: Path) -> Path:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "hostile"))
    return folder / "hostile"


def link_to_fifo(folder: Path) -> Path:
    os.mkfifo(folder / "pipe")
    (folder / "hostile").symlink_to(folder / "pipe")
    return folder / "hostile"


def oversized(limit: int) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        with open(folder / "hostile", "wb") as handle:  # sparse: no disk, no time
            handle.write(f"# {SECRET}\n".encode())
            handle.truncate(limit + 1)
        return folder / "hostile"

    return make


def fixed(path: str) -> Callable[[Path], Path]:
    return lambda _folder: Path(path)


FILE_KINDS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "fifo": (fifo, "is a FIFO (named pipe), not a regular file"),
    "socket": (unix_socket, "is a socket, not a regular file"),
    "link-to-fifo": (link_to_fifo, "is a FIFO (named pipe), not a regular file"),
    "dev-zero": (fixed("/dev/zero"), "is a character device, not a regular file"),
    "proc-environ": (fixed("/proc/self/environ"), "is a /proc or /sys file"),
}


# --- policy files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [*FILE_KINDS, "oversized"])
def test_a_hostile_policy_file_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    make, reason = FILE_KINDS.get(kind, (oversized(16 * 2**20), "is larger than 16 MiB"))
    path = make(tmp_path)
    out = tmp_path / "out"
    result = run("render", str(path), "--out", str(out))
    refused(result, f"{path}:1:1: cannot read the policy: it {reason}")
    assert result.stderr.startswith(f"{path}:1:1: ")
    assert not out.exists()


@pytest.mark.parametrize("command", ["validate", "explain", "diff-policy"])
def test_every_command_that_loads_a_policy_refuses_a_fifo(tmp_path: Path, command: str) -> None:
    path = fifo(tmp_path)
    args = [str(EXAMPLE_POLICY), str(path)] if command == "diff-policy" else [str(path)]
    refused(run(command, *args), f"{path}:1:1: cannot read the policy: it is a FIFO")


def test_a_folder_as_policy_is_refused(tmp_path: Path) -> None:
    refused(run("validate", str(tmp_path)), "is a directory")


def test_a_policy_linked_out_of_its_folder_is_not_read(tmp_path: Path) -> None:
    """A pull request that turns policy.yml into a link to a secret must not have CI echo the secret."""
    (tmp_path / "conf").mkdir()
    policy = tmp_path / "conf" / "policy.yml"
    policy.symlink_to(secret_elsewhere(tmp_path))
    refused(run("validate", str(policy)), f"{policy}:1:1: cannot read the policy: it lies outside")
    inside = tmp_path / "conf" / "v2.yml"
    inside.write_text(POLICY)
    (tmp_path / "conf" / "current.yml").symlink_to("v2.yml")
    assert run("validate", str(tmp_path / "conf" / "current.yml")).returncode == 0
    assert run("validate", str(policy), "--lists-root", str(tmp_path)).returncode == 2  # read, but no policy


# --- list files ------------------------------------------------------------------------------------


def with_list(folder: Path, name: str) -> Path:
    (folder / "conf").mkdir(exist_ok=True)
    policy = folder / "conf" / "policy.yml"
    policy.write_text(POLICY + f"access:\n  clients:\n    - {{file: '{name}', action: reject}}\n")
    return policy


def secret_elsewhere(folder: Path) -> Path:
    (folder / "elsewhere").mkdir(exist_ok=True)
    secret = folder / "elsewhere" / "shadow"
    secret.write_text(f"root:$6${SECRET}$hash:19000:0:99999:7:::\nDEPLOY_TOKEN={SECRET}\n")
    return secret


@pytest.mark.parametrize("kind", [*FILE_KINDS, "oversized", "folder"])
def test_a_hostile_list_file_is_refused_at_its_policy_line(tmp_path: Path, kind: str) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    if kind == "folder":
        (conf / "hostile").mkdir()
        target, reason = conf / "hostile", "is a folder, not a regular file"
    else:
        make, reason = FILE_KINDS.get(kind, (oversized(256 * 2**20), "is larger than 256 MiB"))
        target = make(conf)
    policy = with_list(tmp_path, str(target))
    out = tmp_path / "out"
    result = run("render", str(policy), "--out", str(out), "--lists-root", "/")  # the tree is no excuse
    refused(result, f"cannot read list file {target}: it {reason}")
    assert result.stderr.startswith(f"{policy}:7:14: access.clients.0.file: "), result.stderr
    assert not out.exists()


@pytest.mark.parametrize("name", ["/etc/shadow", "/proc/self/environ", "../elsewhere/shadow", "link.txt",
                                  "sub/../../elsewhere/shadow"])
def test_a_list_file_outside_the_policy_tree_is_refused_unless_the_command_line_names_its_root(
        tmp_path: Path, name: str) -> None:
    secret = secret_elsewhere(tmp_path)
    policy = with_list(tmp_path, name)
    (tmp_path / "conf" / "link.txt").symlink_to(secret)
    result = run("validate", str(policy))
    refused(result, "lies outside")
    assert result.stderr.startswith(f"{policy}:7:14: access.clients.0.file: cannot read list file ")
    assert "--lists-root" in result.stderr and str(secret) not in result.stderr.replace(f"{tmp_path}/conf/..", "")


@pytest.mark.parametrize("name", ["../elsewhere/shadow", "link.txt"])
def test_a_file_that_is_not_a_list_never_reaches_the_output(tmp_path: Path, name: str) -> None:
    """Read because --lists-root allows it: each bad line is named by number, never quoted."""
    secret = secret_elsewhere(tmp_path)
    policy = with_list(tmp_path, name)
    (tmp_path / "conf" / "link.txt").symlink_to(secret)
    result = run("validate", str(policy), "--lists-root", str(tmp_path))
    refused(result, ":1:1: access.clients.0.file: this line is not one IP address or CIDR network")
    assert ":2:1: access.clients.0.file: this line is not" in result.stderr


def test_proc_files_are_refused_even_inside_the_named_root(tmp_path: Path) -> None:
    policy = with_list(tmp_path, "environ")
    (tmp_path / "conf" / "environ").symlink_to("/proc/self/environ")
    refused(run("validate", str(policy), "--lists-root", "/"), "is a /proc or /sys file")


def test_a_bad_entry_of_a_genuine_list_is_located_without_its_text(tmp_path: Path) -> None:
    policy = with_list(tmp_path, "block.txt")
    (tmp_path / "conf" / "block.txt").write_text(f"192.0.2.1\n  {SECRET}\n10.0.0.1/8\n")
    result = run("validate", str(policy))
    refused(result, f"{tmp_path / 'conf' / 'block.txt'}:2:3: access.clients.0.file: this line is not")
    assert "did you mean 10.0.0.0/8?" in result.stderr  # a network re-emitted from its parsed form only


# --- probe inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [*FILE_KINDS, "oversized"])
def test_a_hostile_probe_input_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    make, reason = FILE_KINDS.get(kind, (oversized(64 * 2**20), "is larger than 64 MiB"))
    path = make(tmp_path)
    refused(run("probe", "-i", str(path)), f"cannot read {path}: it {reason}")


@pytest.mark.parametrize("kind", [*FILE_KINDS, "oversized"])
def test_a_hostile_password_file_is_refused_before_any_connection(tmp_path: Path, kind: str) -> None:
    make, reason = FILE_KINDS.get(kind, (oversized(4096), "is larger than 4 KiB"))
    path = make(tmp_path)
    result = run("probe", "127.0.0.1:1", "--auth-user", "alice", "--auth-password-file", str(path))
    refused(result, f"cannot read the password file: it {reason}")


@pytest.mark.parametrize("kind", ["fifo", "socket", "dev-zero"])
def test_a_junit_path_that_is_no_regular_file_is_refused_before_probing(tmp_path: Path, kind: str) -> None:
    make, reason = FILE_KINDS[kind]
    path = make(tmp_path)
    refused(run("probe", "127.0.0.1:1", "--junit", str(path)), f"cannot write {path}: it {reason}")


def test_a_bad_line_of_a_probe_input_is_named_not_quoted(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text(f"127.0.0.1:25\nexport TOKEN={SECRET}\n")
    refused(run("probe", "-i", str(hosts)), f"{hosts}:2:1: this line is not HOST[:PORT]")


def test_probe_policy_fifo_is_refused(tmp_path: Path) -> None:
    path = fifo(tmp_path)
    refused(run("probe", "127.0.0.1:1", "--policy", str(path)), f"{path}:1:1: cannot read the policy: it is a FIFO")


def test_confirm_sends_no_message_to_an_ip_literal(serve: Serve) -> None:
    server = serve(FakeSmtp(rcpt=open_rcpt))
    result = confirm_probe(server, forward=False, confirm_wait=0.2)
    literal = [case for case in result.cases if not case.case.confirmable]
    assert len(literal) == 2 and all(case.data_reply is None for case in literal)
    for index, command in enumerate(server.commands):
        if command == "DATA":
            assert "192.0.2.1" not in server.commands[index - 1] and "IPv6:" not in server.commands[index - 1]


# --- review folders --------------------------------------------------------------------------------


@pytest.fixture
def committed(tmp_path: Path) -> Path:
    """A committed output folder (as render writes it) and a secret beside it that links may point to."""
    out = tmp_path / "committed"
    result = run("render", str(EXAMPLE_POLICY), "--target", "postfix", "--out", str(out))
    assert result.returncode == 0, result.stderr
    secret_elsewhere(tmp_path)
    return out


def plant(committed: Path, where: str, how: str) -> Path:
    """Replace ``committed/where`` by a link to the secret (or a folder link, or a FIFO)."""
    path = committed / where
    if path.is_dir():
        path.rename(path.with_name(path.name + ".real"))
    else:
        path.unlink()
    if how == "fifo":
        os.mkfifo(path)
    else:
        target = committed.parent / "elsewhere"
        path.symlink_to(target / "shadow" if how == "file-link" else target)
    return path


REVIEW_CASES = [("postfix/main.cf", "file-link", "is a symbolic link, not a regular file"),
                ("postfix/main.cf", "fifo", "is a FIFO (named pipe), not a regular file"),
                ("postfix", "folder-link", "is a symbolic link, not a folder"),
                ("postfix/sasl", "folder-link", "is a symbolic link")]


@pytest.mark.parametrize(("where", "how", "note"), REVIEW_CASES)
def test_render_check_reports_links_as_links(committed: Path, where: str, how: str, note: str) -> None:
    path = plant(committed, where, how)
    result = run("render", str(EXAMPLE_POLICY), "--target", "postfix", "--check", str(committed))
    refused(result, f"{path}: {note}", code=1)
    assert "elsewhere" not in result.stdout + result.stderr, "never what a link points to"


@pytest.mark.parametrize(("where", "how", "note"), REVIEW_CASES)
def test_diff_against_reports_links_as_links(committed: Path, where: str, how: str, note: str) -> None:
    path = plant(committed, where, how)
    result = run("diff", str(EXAMPLE_POLICY), "--target", "postfix", "--against", str(committed))
    refused(result, f"{path if where != 'postfix/sasl' else committed / 'postfix/sasl/smtpd.conf'}: ", code=1)
    assert note.split(",")[0].removeprefix("is ") in result.stdout
    assert "elsewhere" not in result.stdout + result.stderr


# --- the writer ------------------------------------------------------------------------------------


def users_file(out: Path) -> None:
    out.mkdir()
    (out / "postfix").write_text(f"my own notes {SECRET}\n")


def users_folder(out: Path) -> None:
    (out / "postfix").mkdir(parents=True)
    (out / "postfix" / "main.cf").write_text("# my hand-written main.cf\n")


def extra_file_in_a_render(out: Path) -> None:
    write_outputs(out, {"postfix": example_outputs()["postfix"]})
    (out / "postfix" / "notes.txt").write_text("mine\n")


def users_link(out: Path) -> None:
    out.mkdir()
    (out.parent / "real").mkdir()
    (out.parent / "real" / "keep").write_text("keep\n")
    (out / "postfix").symlink_to(out.parent / "real")


@pytest.mark.parametrize("make", [users_file, users_folder, extra_file_in_a_render, users_link],
                         ids=lambda make: make.__name__)
def test_render_never_moves_or_deletes_what_it_did_not_write(tmp_path: Path, make: Callable[[Path], None]) -> None:
    out = tmp_path / "out"
    make(out)
    before, outside = tree(out), tree(tmp_path / "real") if (tmp_path / "real").exists() else {}
    result = run("render", str(EXAMPLE_POLICY), "--target", "postfix", "--out", str(out))
    refused(result, "that mtaharden did not write")
    assert "(fix: move it elsewhere, or choose another --out folder" in result.stderr
    assert tree(out) == before, "nothing moved, deleted or left behind"
    assert (tree(tmp_path / "real") if outside else {}) == outside


def test_a_swap_failing_on_the_last_target_keeps_every_previous_folder(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = example_outputs()
    write_outputs(tmp_path, outputs)
    before = tree(tmp_path)
    last = list(outputs)[-1]
    rename = Path.rename

    def failing(self: Path, target: str | os.PathLike[str]) -> Path:
        if Path(target) == tmp_path / last and self.parent != tmp_path:
            raise OSError(28, "No space left on device")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", failing)
    with pytest.raises(OSError, match="No space"):
        write_outputs(tmp_path, outputs)
    monkeypatch.undo()
    assert tree(tmp_path) == before, "the targets swapped in before the failure were put back"


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_created_folders_are_0755_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    out = tmp_path / "a" / "b" / "out"
    result = run("render", str(EXAMPLE_POLICY), "--out", str(out), umask=umask)
    assert result.returncode == 0, result.stderr
    for folder in [tmp_path / "a", tmp_path / "a" / "b", out, *(p for p in out.rglob("*") if p.is_dir())]:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755, folder
    for path in out.rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) in (0o644, 0o755), path


# --- --set -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("setting", "located"), [
    ("hostname=[a", "--set hostname:1:12: YAML: "),                                   # bad YAML flow
    ("hostnme=mx.example.org", "--set hostnme:1:1: hostnme: unknown key 'hostnme'"),   # unknown key
    ("smtp.nested.deep=1", "--set smtp.nested.deep:1:6: smtp.nested: unknown key"),   # unknown key on the way
    ("smtp.max_message_size=lots", "--set smtp.max_message_size:1:23: smtp.max_message_size: "),  # bad value
    ("hostname=[a, b]", "--set hostname:1:10: hostname: "),                            # wrong type
    ("hostname.x=1", "--set hostname.x:1:1: hostname: "),                              # a mapping for text
    ("networks.trusted=[192.0.2.0/24, 10.0.0.1/8]", "--set networks.trusted:1:33: networks.trusted.1: "),
    ("networks.trusted=[0.0.0.0/0]", "--set networks.trusted:1:19: networks.trusted.0: "),  # a rule
    ("hostname", "--set hostname:1:1: 'hostname' is not KEY=VALUE"),                  # no '='
    ("hostname=mx\u2028.example.org", "--set hostname:1:12: character U+2028"),        # hidden character
    ("hostname=mx.example.org\n%YAML 1.1", "--set hostname:2:1: YAML directives"),      # a directive
])
def test_set_errors_are_located_in_the_argument(tmp_path: Path, setting: str, located: str) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text(POLICY)
    out = tmp_path / "out"
    result = run("render", str(policy), "--out", str(out), "--set", setting)
    refused(result, located)
    assert result.stderr.startswith(located), result.stderr
    assert str(policy) not in result.stderr and not out.exists()
