"""E-mail over SMTP: STARTTLS or TLS, authentication, one connection kept open per thread.

Every message carries an id header naming it (``X-Patron-Message``, and a ``Message-ID`` made
from its key) and, when a bounce address is set, goes out with a VERP envelope sender, so a
bounce is matched back to its message. Marketing mail carries the one-click unsubscribe
headers of RFC 8058 (``List-Unsubscribe`` and ``List-Unsubscribe-Post``).
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
import time
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, getaddresses, parseaddr
from pathlib import Path
from urllib.parse import quote

from patron.core.clock import utcnow
from patron.core.settings import Settings
from patron.engagement.channels.base import (
    EmailBody,
    Handover,
    Outcome,
    Outgoing,
    SendResult,
    clip,
    take_over,
)
from patron.engagement.tokens import bounce_address, message_token

ID_HEADER = "X-Patron-Message"
_QUEUED_AS = re.compile(r"queued as\s+<?([A-Za-z0-9._@-]+)>?", re.IGNORECASE)
_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b")
# After this long unused, a kept connection is checked with NOOP before it carries a message.
_IDLE_CHECK_S = 10.0


def build_message(message: Outgoing, settings: Settings) -> EmailMessage:
    """The MIME message: text and (when given) HTML alternatives, the id headers, and for
    marketing mail the unsubscribe headers."""
    body = message.body
    if not isinstance(body, EmailBody):
        raise TypeError("an e-mail needs an EmailBody")
    sender = _from_address(settings)
    mime = EmailMessage(policy=SMTP_POLICY)
    mime["From"] = sender
    mime["To"] = message.to
    mime["Subject"] = body.subject
    mime["Date"] = format_datetime(utcnow())
    mime["Message-ID"] = f"<{message.key}@{sender.domain or 'localhost'}>"
    token = message_token(message.message_id)
    mime[ID_HEADER] = token
    if message.marketing:
        links = [f"<{settings.public_url.rstrip('/')}/u/{token}>"]
        if settings.unsubscribe_mailto:
            subject = quote(f"unsubscribe {token}")
            links.append(f"<mailto:{settings.unsubscribe_mailto}?subject={subject}>")
        mime["List-Unsubscribe"] = ", ".join(links)
        mime["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mime.set_content(body.text)
    if body.html:
        mime.add_alternative(body.html, subtype="html")
    return mime


def _from_address(settings: Settings) -> Address:
    name, addr = parseaddr(settings.email_from)
    if "@" not in addr:
        raise ValueError(f"PATRON_EMAIL_FROM: {settings.email_from!r} has no address")
    user, _, domain = addr.rpartition("@")
    return Address(display_name=name, username=user, domain=domain)


def envelope_sender(message_id: int, settings: Settings) -> str:
    if settings.email_bounce_address:
        return bounce_address(settings.email_bounce_address, message_id)
    return _from_address(settings).addr_spec


def classify_reply(code: int, text: str) -> Outcome:
    """An SMTP reply code (and its enhanced status, RFC 3463) as an outcome."""
    enhanced = _ENHANCED.match(text)
    subject = (int(enhanced.group(2)), int(enhanced.group(3))) if enhanced else None
    if 200 <= code < 300:
        return Outcome.SENT
    if 400 <= code < 500:
        # 4.7.x: policy — most often "too many messages / connections, slow down".
        return Outcome.RATE_LIMITED if subject and subject[0] == 7 else Outcome.RETRY
    if code in (530, 534, 535, 538):
        return Outcome.ACCOUNT
    if subject is not None and subject[0] == 1:  # 5.1.x: a bad mailbox or domain
        return Outcome.INVALID_RECIPIENT
    if code in (550, 551, 553) and (subject is None or subject[0] == 2):
        return Outcome.INVALID_RECIPIENT
    return Outcome.REJECTED


class _Smtp(smtplib.SMTP):
    last_used: float = 0.0


class SmtpAdapter:
    provider = "smtp"
    channel = "email"
    idempotent = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._conn: _Smtp | None = None

    # ---------------------------------------------------------------- connection

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        ca_file: Path | None = self.settings.smtp_ca_file
        if ca_file is not None:
            context.load_verify_locations(cafile=str(ca_file))
        return context

    def _connect(self) -> _Smtp:
        s = self.settings
        if s.smtp_security == "tls":
            conn: _Smtp = _SmtpSsl(timeout=s.smtp_timeout_s, context=self._tls_context())
        else:
            conn = _Smtp(timeout=s.smtp_timeout_s)
        conn._host = s.smtp_host  # type: ignore[attr-defined]  # the name TLS checks the certificate against
        conn.connect(s.smtp_host, s.smtp_port)
        _no_delay(conn)
        conn.ehlo()
        if s.smtp_security == "starttls":
            conn.starttls(context=self._tls_context())
            conn.ehlo()
        if s.smtp_username:
            password = s.smtp_password.get_secret_value() if s.smtp_password else ""
            conn.login(s.smtp_username, password)
        return conn

    def _connection(self) -> _Smtp:
        conn = self._conn
        if conn is not None and time.monotonic() - conn.last_used > _IDLE_CHECK_S:
            try:
                alive = conn.noop()[0] == 250
            except (smtplib.SMTPException, OSError):
                alive = False
            if not alive:
                self.close()
                conn = None
        if conn is None:
            conn = self._conn = self._connect()
        return conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    # ---------------------------------------------------------------- sending

    def send(self, message: Outgoing, handover: Handover) -> SendResult:
        data = build_message(message, self.settings).as_bytes()
        try:
            conn = self._connection()
        except smtplib.SMTPAuthenticationError as exc:
            self._drop()
            return SendResult(Outcome.ACCOUNT, str(exc.smtp_code), _words(exc.smtp_error))
        except smtplib.SMTPResponseException as exc:
            self._drop()
            text = _words(exc.smtp_error)
            return SendResult(classify_reply(exc.smtp_code, text), str(exc.smtp_code), text)
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            self._drop()
            return SendResult(Outcome.RETRY, "connect", clip(f"{type(exc).__name__}: {exc}"))
        try:
            return self._transaction(conn, message, data, handover)
        finally:
            if self._conn is not None:
                self._conn.last_used = time.monotonic()

    def _transaction(
        self, conn: _Smtp, message: Outgoing, data: bytes, handover: Handover
    ) -> SendResult:
        try:
            for command, argument in (
                ("mail", envelope_sender(message.message_id, self.settings)),
                ("rcpt", message.to),
            ):
                code, reply = getattr(conn, command)(argument)
                if code != 250:
                    return self._refused(conn, code, reply)
            conn.putcmd("data")
            code, reply = conn.getreply()
            if code != 354:
                return self._refused(conn, code, reply)
            conn.send(_dot_stuffed(data))
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            return SendResult(Outcome.RETRY, "network", clip(f"{type(exc).__name__}: {exc}"))
        try:
            take_over(handover)
        except BaseException:
            self._drop()  # the server never sees the end of DATA and keeps nothing
            raise
        try:
            conn.send(b".\r\n")
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            return SendResult(Outcome.RETRY, "network", clip(f"{type(exc).__name__}: {exc}"))
        try:
            code, reply = conn.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            return SendResult(Outcome.UNCONFIRMED, "no_reply", clip(f"{type(exc).__name__}: {exc}"))
        text = _words(reply)
        outcome = classify_reply(code, text)
        if outcome is Outcome.SENT:
            found = _QUEUED_AS.search(text)
            return SendResult(
                Outcome.SENT, str(code), clip(text), found.group(1) if found else None
            )
        return SendResult(outcome, str(code), clip(text))

    def _refused(self, conn: _Smtp, code: int, reply: bytes) -> SendResult:
        text = _words(reply)
        try:
            conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()
        if code == -1:  # the server closed the connection
            self._drop()
            return SendResult(Outcome.RETRY, "network", clip(text))
        return SendResult(classify_reply(code, text), str(code), clip(text))


class _SmtpSsl(smtplib.SMTP_SSL, _Smtp):
    pass


def _no_delay(conn: smtplib.SMTP) -> None:
    """Send small writes at once: the end of DATA goes out alone after the hand-over, and
    Nagle's algorithm would hold it until the server acknowledged the body (up to 40 ms)."""
    if conn.sock is not None:
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _words(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _dot_stuffed(data: bytes) -> bytes:
    """The DATA section up to, not including, its closing ``.`` line (RFC 5321 4.5.2)."""
    data = re.sub(rb"(?m)^\.", b"..", re.sub(rb"\r?\n", b"\r\n", data))
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def recipients(header_value: str) -> list[str]:
    return [addr for _, addr in getaddresses([header_value]) if addr]
