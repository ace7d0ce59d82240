"""A short setup guide per client (Thunderbird, Outlook, Apple Mail, Foxmail), from the one account decision.

Each guide names the fields as that client's account dialog does (Foxmail's in its Chinese interface),
and the values to enter; the files the other modules write are how those clients find them by themselves.
"""

from __future__ import annotations

from collections.abc import Callable

from ..render import HEADER_TEXT
from .account import Account, Server

_SECURITY = {"tls": "SSL/TLS", "starttls": "STARTTLS"}
_AUTH = {"password-encrypted": "Encrypted password", "password-cleartext": "Normal password"}


def _user(account: Account) -> str:
    return "your full address (user@" + account.domain + ")" if account.username == "address" \
        else "the part of your address before @"


def _rows(servers: tuple[Server, ...], label: Callable[[Server], str]) -> list[str]:
    return [f"| {label(s)} | `{s.host}` | {s.port} | {_SECURITY[s.security]} |" for s in servers]


def _table(account: Account, label: Callable[[Server], str]) -> list[str]:
    return ["| server | host | port | security |", "|---|---|---|---|",
            *_rows(account.incoming, label), *_rows(account.outgoing, label)]


def thunderbird(account: Account) -> str:
    auth = ", then ".join(_AUTH[a] for a in account.outgoing[0].auth)
    return "\n".join([
        f"# Thunderbird: {account.display_name}", "",
        "Account Settings → Account Actions → Add Mail Account: enter your name, address and password. "
        f"Thunderbird fetches `https://autoconfig.{account.domain}/mail/config-v1.1.xml` (publish "
        "`autoconfig/mail/config-v1.1.xml` there) and fills in everything. To enter it by hand "
        "(Configure manually):", "",
        *_table(account, lambda s: "Incoming " + s.protocol.upper() if s.protocol != "smtp" else "Outgoing SMTP"),
        "", f"Authentication method: {auth}. Username: {_user(account)}. Never choose "
        "Connection security \"None\": the server refuses to log in without TLS.", ""])


def outlook(account: Account) -> str:
    return "\n".join([
        f"# Outlook: {account.display_name}", "",
        "File → Add Account: enter your address. Outlook asks "
        f"`https://autodiscover.{account.domain}/autodiscover/autodiscover.xml` (publish "
        "`autodiscover/autodiscover.xml` there, answering POST as well as GET). By hand (Advanced options → "
        "Let me set up my account manually → IMAP or POP):", "",
        *_table(account, lambda s: s.protocol.upper()), "",
        f"Encryption method: SSL/TLS for implicit TLS, STARTTLS otherwise. User name: {_user(account)}. "
        "Leave \"Require logon using Secure Password Authentication (SPA)\" off.", ""])


def apple_mail(account: Account) -> str:
    return "\n".join([
        f"# Apple Mail (macOS, iOS): {account.display_name}", "",
        f"Open `{account.domain}.mobileconfig` (sign it first; an unsigned profile shows as unverified) and "
        "install it in System Settings → Privacy & Security → Profiles (iOS: Settings → Profile Downloaded); "
        "Mail asks for your user name and password. By hand (Mail → Add Account → Other Mail Account):", "",
        *_table(account, lambda s: "Incoming" if s.protocol != "smtp" else "Outgoing"), "",
        f"User name: {_user(account)}. Mail uses TLS on every server here (Use TLS/SSL on).", ""])


def foxmail(account: Account) -> str:
    kind = {"imap": "IMAP", "pop3": "POP3"}
    rows = [f"| {kind[s.protocol]}服务器 | `{s.host}` | {s.port} | "
            f"{'SSL' if s.security == 'tls' else 'STARTTLS'} |" for s in account.incoming]
    rows += [f"| SMTP服务器 | `{s.host}` | {s.port} | {'SSL' if s.security == 'tls' else 'STARTTLS'} |"
             for s in account.outgoing]
    return "\n".join([
        f"# Foxmail: {account.display_name}", "",
        "Foxmail (7.2, Chinese interface) has no autoconfig: 新建账号 (new account) → 手动设置 (manual set-up). "
        f"接收服务器类型 (incoming server type): {kind[account.incoming[0].protocol]}; 邮件账号 (account): "
        f"{_user(account)}; 密码 (password): yours.", "",
        "| 字段 (field) | host | 端口 (port) | security |", "|---|---|---|---|", *rows, "",
        "Tick SSL for the implicit-TLS ports (465, 993, 995); for 587 or 143 leave SSL off and turn on "
        "STARTTLS (服务器支持时使用 STARTTLS) instead. Never leave both off: the server refuses to log in "
        "without TLS.", ""])


GUIDES: dict[str, Callable[[Account], str]] = {"thunderbird": thunderbird, "outlook": outlook,
                                               "apple-mail": apple_mail, "foxmail": foxmail}


def guide(name: str, account: Account) -> str:
    return f"<!-- {HEADER_TEXT} -->\n" + GUIDES[name](account)
