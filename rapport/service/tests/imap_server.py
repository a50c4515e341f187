"""A real IMAP server for the tests: Debian's dovecot with a throwaway configuration
(a non-root port, a passwd-file of users, maildirs under a temporary folder).

`make imap-server` (run by `make test` and so by .ci/run) installs dovecot-imapd when it
is missing."""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USERS = 500


@dataclass
class ImapServer:
    host: str
    port: int
    root: Path
    used: int = 0

    def user(self) -> str:
        """A fresh account with an empty maildir (created up front: dovecot notices a
        changed passwd-file by its modification time, too coarse for fast tests)."""
        self.used += 1
        if self.used > USERS:
            raise RuntimeError("Out of test IMAP accounts: raise imap_server.USERS.")
        return f"agent{self.used}"

    def client(self, user: str, password: str = "secret") -> imaplib.IMAP4:
        conn = imaplib.IMAP4(self.host, self.port, timeout=10)
        conn.login(user, password)
        return conn

    def deliver(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        conn = self.client(user)
        try:
            if folder != "INBOX":
                conn.create(f'"{folder}"')
            conn.append(f'"{folder}"', None, None, raw)
        finally:
            conn.logout()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(root: Path, port: int) -> str:
    if os.geteuid() == 0:
        # Dovecot refuses to serve mail as root: mail belongs to nobody, logins run as
        # the package's unprivileged users.
        mail_user = pwd.getpwnam("nobody")
        login_user, internal_user = "dovenull", "dovecot"
    else:
        mail_user = pwd.getpwuid(os.geteuid())
        login_user = internal_user = mail_user.pw_name
    for sub in ("mail", "run", "state"):
        (root / sub).mkdir()
    os.chown(root / "mail", mail_user.pw_uid, mail_user.pw_gid)
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = {mail_user.pw_uid}
last_valid_uid = {mail_user.pw_uid}
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


def start() -> Iterator[ImapServer]:
    if not os.path.exists(DOVECOT):
        raise RuntimeError("dovecot is not installed: run `make imap-server`.")
    root = Path(tempfile.mkdtemp(prefix="rapport-imap-"))
    root.chmod(0o755)
    port = _free_port()
    (root / "dovecot.conf").write_text(_config(root, port), encoding="utf-8")
    users = "".join(f"agent{i}:{{PLAIN}}secret::::::\n" for i in range(1, USERS + 1))
    (root / "passwd").write_text(users, encoding="utf-8")
    (root / "passwd").chmod(0o644)
    process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                err = process.stderr.read().decode() if process.stderr else ""
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                process.kill()
                raise RuntimeError(f"dovecot did not start: {err} {log}") from None
            time.sleep(0.1)
    try:
        yield ImapServer(host="127.0.0.1", port=port, root=root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(root, ignore_errors=True)
