"""A real IMAP server for tests: Debian's Dovecot on a free loopback port, everything in a temp dir.

Configuration, passwd-file, maildirs, run and state directories and the log live in one
directory of the server's own; the machine's ``/etc/dovecot`` is never read. IMAP only, plain
on ``port`` (TLS only when asked, below), LOGIN allowed without TLS (loopback), no delay after
a refused login.

Dovecot runs as whoever runs the tests. Unprivileged, its internal and login processes and the
mail all run as that same user. As root (CI), Dovecot refuses root for its login processes
and for mail access, so those run as ``nobody``/``nogroup`` and the directory is made traversable
for them.

TLS: given a certificate and its key (``certificates`` makes a test CA and a certificate for
127.0.0.1 and localhost with the ``openssl`` command), Dovecot also listens with implicit TLS on
``tls_port``; a client trusts that CA through ``SSL_CERT_FILE``.

XOAUTH2 works offline too: given the URL of an OAuth2 token introspection endpoint (RFC 7662;
``Introspection`` here is one, in a thread), Dovecot offers XOAUTH2 and OAUTHBEARER and asks
that endpoint whether a bearer token is active, and for whom.

Tests inject mail the way a mail server delivers it, with IMAP APPEND (stdlib ``imaplib``),
and read folders back the same way. ``set_uidvalidity`` uses ``doveadm`` with the server's
configuration to make a folder's UIDVALIDITY change, as after a mailbox is rebuilt.
"""

from __future__ import annotations

import grp
import imaplib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import msgspec

from tests.adapters.daemons import free_port

INSTALL = "install it: apt-get install dovecot-imapd (Debian)"
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])


def executable(name: str) -> str | None:
    return shutil.which(name, path=SEARCH_PATH)


def available() -> bool:
    return executable("dovecot") is not None and executable("doveadm") is not None


class Dovecot:
    """One Dovecot master process; ``start`` waits until the port answers an IMAP greeting."""

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        settings: str = "",
        oauth2_introspection: str | None = None,
        tls: Certificates | None = None,
    ) -> None:
        self.users = dict(users or {"agent": "secret"})
        self.settings = settings
        self.oauth2_introspection = oauth2_introspection
        self.directory = Path(tempfile.mkdtemp(prefix="aiguillage-dovecot-"))
        self.port = free_port()
        self.tls = tls
        self.tls_port = free_port() if tls else 0
        self.host = "127.0.0.1"
        self.config = self.directory / "dovecot.conf"
        self.log = self.directory / "dovecot.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._write()

    @property
    def user(self) -> str:
        return next(iter(self.users))

    @property
    def password(self) -> str:
        return self.users[self.user]

    def _write(self) -> None:
        internal, group = _process_identity()
        mail = pwd.getpwnam(internal)
        for name in ("run", "state", "mail", "home"):
            (self.directory / name).mkdir()
        if os.getuid() == 0:
            self.directory.chmod(0o755)
            for name in ("mail", "home"):
                os.chown(self.directory / name, mail.pw_uid, mail.pw_gid)
        users = self.directory / "users"
        users.write_text("".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in self.users.items()))
        settings = self.settings
        if self.oauth2_introspection is not None:
            oauth2 = self.directory / "oauth2.conf.ext"
            oauth2.write_text(OAUTH2.format(url=self.oauth2_introspection))
            oauth2.chmod(0o644)
            settings += OAUTH2_PASSDB.format(path=oauth2)
        self.config.write_text(
            CONFIG.format(
                directory=self.directory,
                port=self.port,
                internal=internal,
                group=group,
                uid=mail.pw_uid,
                gid=mail.pw_gid,
                settings=settings,
                tls_port=self.tls_port,
                ssl=_ssl_settings(self.tls),
            )
        )

    def start(self, timeout: float = 20.0) -> Dovecot:
        command = [executable("dovecot") or "dovecot", "-F", "-c", str(self.config)]
        with (self.directory / "stderr.log").open("ab") as stderr:
            self.process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log_tail()}")
            if self._greets():
                return self
            time.sleep(0.02)
        raise RuntimeError(f"dovecot did not greet: {self.log_tail()}")

    def _greets(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as connection:
                return connection.recv(256).startswith(b"* OK")
        except OSError:
            return False

    def log_tail(self) -> str:
        texts = [p.read_text()[-2000:] for p in (self.log, self.directory / "stderr.log")]
        return "\n".join(t for t in texts if t)

    def stop(self) -> None:
        """SIGTERM the master (it ends its children), then remove the directory."""
        self._signal(signal.SIGTERM)
        shutil.rmtree(self.directory, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL the master and its children at once; the directory stays for a restart."""
        self._signal(signal.SIGKILL)

    def _signal(self, number: signal.Signals) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, number)
            self.process.wait(timeout=10)
            _wait_gone(self.process.pid)

    def connect(self, user: str | None = None) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        name = user or self.user
        client.login(name, self.users[name])
        return client

    def append(
        self,
        raw: bytes,
        folder: str = "INBOX",
        internaldate: datetime | None = None,
        flags: str = "",
        user: str | None = None,
    ) -> int:
        """Deliver ``raw`` into ``folder`` with IMAP APPEND; the new message's UID."""
        client = self.connect(user)
        try:
            date = imaplib.Time2Internaldate(internaldate) if internaldate else None
            marks = f"({flags})" if flags else None
            status, data = client.append(_quoted(folder), marks, date, raw)
            _check(status, data)
            found = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
            if found is None:
                raise RuntimeError(f"no APPENDUID in {data!r}")
            return int(found.group(1))
        finally:
            client.logout()

    def uids(self, folder: str = "INBOX", user: str | None = None) -> list[int]:
        client = self.connect(user)
        try:
            _check(*client.select(_quoted(folder), readonly=True))
            status, data = client.uid("SEARCH", "ALL")
            _check(status, data)
            return [int(uid) for uid in (data[0] or b"").split()]
        finally:
            client.logout()

    def fetch(self, folder: str, uid: int, user: str | None = None) -> bytes:
        """The raw bytes of a message, read without setting ``\\Seen``."""
        client = self.connect(user)
        try:
            _check(*client.select(_quoted(folder), readonly=True))
            status, data = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
            _check(status, data)
            for item in data:
                if isinstance(item, tuple):
                    return bytes(item[1])
            raise KeyError(uid)
        finally:
            client.logout()

    def flags(self, folder: str, uid: int, user: str | None = None) -> set[str]:
        client = self.connect(user)
        try:
            _check(*client.select(_quoted(folder), readonly=True))
            status, data = client.uid("FETCH", str(uid), "(FLAGS)")
            _check(status, data)
            found = re.search(rb"FLAGS \(([^)]*)\)", data[0] or b"")
            return set(found.group(1).decode().split()) if found else set()
        finally:
            client.logout()

    def folders(self, user: str | None = None) -> list[str]:
        client = self.connect(user)
        try:
            status, data = client.list()
            _check(status, data)
            names = [_mailbox_name(line) for line in data if isinstance(line, bytes)]
            return sorted(names)
        finally:
            client.logout()

    def create(self, folder: str, user: str | None = None) -> None:
        client = self.connect(user)
        try:
            _check(*client.create(_quoted(folder)))
        finally:
            client.logout()

    def delete(self, folder: str, user: str | None = None) -> None:
        client = self.connect(user)
        try:
            _check(*client.delete(_quoted(folder)))
        finally:
            client.logout()

    def uidvalidity(self, folder: str = "INBOX", user: str | None = None) -> int:
        client = self.connect(user)
        try:
            status, data = client.status(_quoted(folder), "(UIDVALIDITY)")
            _check(status, data)
            found = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"")
            if found is None:
                raise RuntimeError(f"no UIDVALIDITY in {data!r}")
            return int(found.group(1))
        finally:
            client.logout()

    def set_uidvalidity(self, value: int, folder: str = "INBOX", user: str | None = None) -> None:
        """Give ``folder`` (INBOX too, which IMAP cannot delete) a new UIDVALIDITY."""
        command = [executable("doveadm") or "doveadm", "-c", str(self.config), "mailbox"]
        command += ["update", "-u", user or self.user, "--uid-validity", str(value), folder]
        subprocess.run(command, check=True, capture_output=True, timeout=30)


class Certificates(msgspec.Struct, frozen=True):
    """A test CA's certificate, and a server certificate it signed with the server's key."""

    ca: Path
    certificate: Path
    key: Path


def certificates(directory: Path) -> Certificates:
    """A new CA and a certificate for ``127.0.0.1`` and ``localhost``, valid two days."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    csr, certificate = directory / "server.csr", directory / "server.pem"
    key = directory / "server.key"
    extensions = directory / "server.ext"
    extensions.write_text(SERVER_EXTENSIONS)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        ca_key,
        "-out",
        ca,
        "-days",
        "2",
        "-subj",
        "/CN=Aiguillage test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    _openssl("req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    _openssl(
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        ca,
        "-CAkey",
        ca_key,
        "-CAcreateserial",
        "-out",
        certificate,
        "-days",
        "2",
        "-extfile",
        extensions,
    )
    key.chmod(0o644)  # read by Dovecot's unprivileged processes when the tests run as root
    return Certificates(ca, certificate, key)


def _openssl(*arguments: str | Path) -> None:
    command = [executable("openssl") or "openssl", *map(str, arguments)]
    subprocess.run(command, check=True, capture_output=True, timeout=60)


def _ssl_settings(tls: Certificates | None) -> str:
    if tls is None:
        return "ssl = no"
    return f"ssl = yes\nssl_cert = <{tls.certificate}\nssl_key = <{tls.key}"


class Introspection:
    """An OAuth2 token introspection endpoint: the tokens given are active, for their user."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self.tokens = dict(tokens)
        self.asked: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/introspect"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> Introspection:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                token = form.get(b"token", [b""])[0].decode()
                endpoint.asked.append(token)
                user = endpoint.tokens.get(token)
                answer = {"active": True, "username": user} if user else {"active": False}
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler


def _wait_gone(group: int, timeout: float = 10.0) -> None:
    """Wait until no process of ``group`` is left but zombies: the master's children (login,
    auth, imap) outlive it by a moment, and one still running holds the sockets of ``run/``, so
    that a Dovecot started then exits with "Dovecot is already running?"."""
    deadline = time.monotonic() + timeout
    while any(_group_of(stat) == group for stat in _live_stats()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes of dovecot's group {group} still run after {timeout} s")
        time.sleep(0.01)


def _live_stats() -> list[str]:
    """The ``/proc/<pid>/stat`` lines of the processes that are not zombies."""
    stats = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # ended meanwhile
            if stat.rsplit(")", 1)[1].split()[0] != "Z":
                stats.append(stat)
    return stats


def _group_of(stat: str) -> int:
    """The process group in a ``/proc/<pid>/stat`` line (after the name, which may hold spaces)."""
    return int(stat.rsplit(")", 1)[1].split()[2])


def _process_identity() -> tuple[str, str]:
    """The user and group Dovecot's unprivileged processes and the mail run as."""
    if os.getuid() == 0:
        return "nobody", grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name
    return pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _mailbox_name(line: bytes) -> str:
    name = line.decode().rsplit(' "', 1)[-1] if line.endswith(b'"') else line.decode().split()[-1]
    return name.strip('"')


def _check(status: str, data: Sequence[object]) -> None:
    if status != "OK":
        raise RuntimeError(f"IMAP said {status}: {data!r}")


CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {directory}/run
state_dir = {directory}/state
log_path = {directory}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {internal}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
mail_location = maildir:{directory}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {directory}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={directory}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0666
  }}
}}
{settings}
"""

OAUTH2 = """\
introspection_mode = post
introspection_url = {url}
username_attribute = username
active_attribute = active
active_value = true
"""

OAUTH2_PASSDB = """
auth_mechanisms = plain login xoauth2 oauthbearer
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {path}
}}
"""

SERVER_EXTENSIONS = """\
subjectAltName = IP:127.0.0.1, DNS:localhost
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""
