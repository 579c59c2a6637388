"""Local servers that speak the providers' protocols, for the channels' tests, the kill tests
and the dispatch bench: a real SMTP server (aiosmtpd, with STARTTLS and AUTH), and HTTP
servers (a thread each, on a free port) that take Aliyun's, Tencent's and WeChat's requests
and a Standard Webhooks endpoint's. Each checks the request's signature as the provider
would, answers in the provider's format, records what it accepted, and can be told to answer
with one of the provider's error codes.

A request cut short (its client killed before the last byte) is dropped, as a real server
drops it: nothing is recorded.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import itertools
import json
import socket
import ssl
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage, Message
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self, cast
from urllib.parse import parse_qs, urlsplit

# ----------------------------------------------------------------------------- common


class Script:
    """Answers to give instead of success: per recipient, a list used up one request at a
    time, or one code for every request (``always``)."""

    def __init__(self) -> None:
        self._once: dict[str, list[Any]] = defaultdict(list)
        self._always: dict[str, Any] = {}
        self._lock = threading.Lock()

    def fail(self, recipient: str, *answers: Any) -> None:
        with self._lock:
            self._once[recipient].extend(answers)

    def always(self, recipient: str, answer: Any) -> None:
        with self._lock:
            self._always[recipient] = answer

    def next_for(self, recipient: str) -> Any | None:
        with self._lock:
            if self._once.get(recipient):
                return self._once[recipient].pop(0)
            return self._always.get(recipient)


class Recorder:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.requests = 0
        self.refused_signatures = 0
        self._lock = threading.Lock()

    def record(self, item: dict[str, Any]) -> None:
        with self._lock:
            self.received.append(item)

    def count(self) -> None:
        with self._lock:
            self.requests += 1

    def per_recipient(self) -> Counter[str]:
        with self._lock:
            return Counter(item["to"] for item in self.received)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class HttpStandIn(Recorder):
    """An HTTP server in a thread; subclasses answer ``handle(method, path, headers, body)``."""

    def __init__(self) -> None:
        super().__init__()
        self.script = Script()
        self.delay_s = 0.0  # the provider's latency, after it has the whole request
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # as servers do: no 40 ms stall per answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if len(body) < length:  # the client went away mid-request: drop it
                    self.close_connection = True
                    return
                stand_in.count()
                status, answer, extra = stand_in.handle(method, self.path, self.headers, body)
                if stand_in.delay_s:
                    time.sleep(stand_in.delay_s)
                data = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                self._serve("POST")

            def do_GET(self) -> None:
                self._serve("GET")

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def handle(
        self, method: str, path: str, headers: Message, body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ----------------------------------------------------------------------------- Aliyun


class AliyunStandIn(HttpStandIn):
    """Dysms ``SendSms`` (2017-05-25) under V3 signing (ACS3-HMAC-SHA256)."""

    key_id = "LTAI5tStandInKey"
    secret = "aliyun-stand-in-secret"

    def __init__(self) -> None:
        super().__init__()
        self._biz = itertools.count(1)

    def expected_authorization(self, headers: Message, body: bytes, query: str) -> str:
        auth = headers.get("Authorization", "")
        signed_names = auth.split("SignedHeaders=", 1)[-1].split(",", 1)[0].split(";")
        lower = {k.lower(): v for k, v in headers.items()}
        canonical_headers = "".join(f"{n}:{lower.get(n, '').strip()}\n" for n in signed_names)
        canonical = "\n".join(
            [
                "POST",
                "/",
                query,
                canonical_headers,
                ";".join(signed_names),
                hashlib.sha256(body).hexdigest(),
            ]
        )
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        to_sign = f"ACS3-HMAC-SHA256\n{digest}"
        signature = hmac.new(self.secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        return (
            f"ACS3-HMAC-SHA256 Credential={self.key_id},"
            f"SignedHeaders={';'.join(signed_names)},Signature={signature}"
        )

    def handle(
        self, method: str, path: str, headers: Message, body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        request_id = f"REQ-{next(self._biz)}"
        parts = urlsplit(path)
        auth = headers.get("Authorization", "")
        required = {
            "host",
            "x-acs-action",
            "x-acs-version",
            "x-acs-date",
            "x-acs-signature-nonce",
            "x-acs-content-sha256",
        }
        signed = set(auth.split("SignedHeaders=", 1)[-1].split(",", 1)[0].split(";"))
        if (
            not hmac.compare_digest(auth, self.expected_authorization(headers, body, parts.query))
            or not required <= signed
            or headers.get("x-acs-content-sha256") != hashlib.sha256(body).hexdigest()
        ):
            self.refused_signatures += 1
            return (
                400,
                {
                    "Code": "SignatureDoesNotMatch",
                    "Message": "Specified signature is not matched with our calculation.",
                    "RequestId": request_id,
                },
                {},
            )
        if headers.get("x-acs-action") != "SendSms" or headers.get("x-acs-version") != "2017-05-25":
            return 400, {"Code": "InvalidAction.NotFound", "RequestId": request_id}, {}
        form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        phone = form.get("PhoneNumbers", "")
        scripted = self.script.next_for(phone)
        if scripted is not None:
            status = 200 if not str(scripted).startswith(("Throttling", "isp.")) else 503
            return (
                status,
                {"Code": scripted, "Message": f"stand-in says {scripted}", "RequestId": request_id},
                {},
            )
        if not phone.isdigit():
            return (
                200,
                {
                    "Code": "isv.MOBILE_NUMBER_ILLEGAL",
                    "Message": "非法手机号",
                    "RequestId": request_id,
                },
                {},
            )
        biz = f"BIZ{next(self._biz):08d}"
        self.record(
            {
                "to": phone,
                "template": form.get("TemplateCode"),
                "params": json.loads(form.get("TemplateParam") or "{}"),
                "sign": form.get("SignName"),
                "out_id": form.get("OutId"),
                "biz_id": biz,
            }
        )
        return 200, {"Code": "OK", "Message": "OK", "BizId": biz, "RequestId": request_id}, {}


# ----------------------------------------------------------------------------- Tencent


class TencentStandIn(HttpStandIn):
    """SMS ``SendSms`` (2021-01-11) under TC3-HMAC-SHA256."""

    secret_id = "AKIDStandInSecretId"
    secret_key = "tencent-stand-in-secret-key"
    app_id = "1400000001"

    def __init__(self) -> None:
        super().__init__()
        self._serial = itertools.count(1)

    def _signature_ok(self, headers: Message, body: bytes) -> bool:
        auth = headers.get("Authorization", "")
        try:
            timestamp = int(headers.get("X-TC-Timestamp", ""))
        except ValueError:
            return False
        if abs(time.time() - timestamp) > 300:
            return False
        day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
        canonical = (
            f"POST\n/\n\ncontent-type:{headers.get('Content-Type')}\nhost:{headers.get('Host')}\n\n"
            f"content-type;host\n{hashlib.sha256(body).hexdigest()}"
        )
        scope = f"{day}/sms/tc3_request"
        to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"

        def mac(key: bytes, msg: str) -> bytes:
            return hmac.new(key, msg.encode(), hashlib.sha256).digest()

        key = mac(mac(mac(("TC3" + self.secret_key).encode(), day), "sms"), "tc3_request")
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        expected = (
            f"TC3-HMAC-SHA256 Credential={self.secret_id}/{scope}, "
            f"SignedHeaders=content-type;host, Signature={signature}"
        )
        return hmac.compare_digest(auth, expected)

    def handle(
        self, method: str, path: str, headers: Message, body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        request_id = f"tc-{next(self._serial)}"
        if not self._signature_ok(headers, body):
            self.refused_signatures += 1
            return (
                200,
                {
                    "Response": {
                        "Error": {
                            "Code": "AuthFailure.SignatureFailure",
                            "Message": "The provided credentials could not be validated.",
                        },
                        "RequestId": request_id,
                    }
                },
                {},
            )
        if headers.get("X-TC-Action") != "SendSms" or headers.get("X-TC-Version") != "2021-01-11":
            return (
                200,
                {
                    "Response": {
                        "Error": {"Code": "InvalidAction", "Message": "no such action"},
                        "RequestId": request_id,
                    }
                },
                {},
            )
        doc = json.loads(body)
        if doc.get("SmsSdkAppId") != self.app_id:
            return (
                200,
                {
                    "Response": {
                        "Error": {
                            "Code": "UnauthorizedOperation.SmsSdkAppIdVerifyFail",
                            "Message": "SmsSdkAppId verify fail",
                        },
                        "RequestId": request_id,
                    }
                },
                {},
            )
        phone = doc["PhoneNumberSet"][0]
        scripted = self.script.next_for(phone)
        if scripted is not None:
            if scripted.startswith(
                (
                    "RequestLimitExceeded",
                    "AuthFailure",
                    "InternalError",
                    "FailedOperation.TemplateIncorrectOrUnapproved",
                )
            ):
                return (
                    200,
                    {
                        "Response": {
                            "Error": {"Code": scripted, "Message": f"stand-in says {scripted}"},
                            "RequestId": request_id,
                        }
                    },
                    {},
                )
            status = {
                "SerialNo": "",
                "PhoneNumber": phone,
                "Fee": 0,
                "SessionContext": doc.get("SessionContext", ""),
                "Code": scripted,
                "Message": f"stand-in says {scripted}",
                "IsoCode": "CN",
            }
            return 200, {"Response": {"SendStatusSet": [status], "RequestId": request_id}}, {}
        serial = f"2433:{next(self._serial):012d}"
        self.record(
            {
                "to": phone,
                "template": doc.get("TemplateId"),
                "params": doc.get("TemplateParamSet"),
                "sign": doc.get("SignName"),
                "session": doc.get("SessionContext"),
            }
        )
        status = {
            "SerialNo": serial,
            "PhoneNumber": phone,
            "Fee": 1,
            "SessionContext": doc.get("SessionContext", ""),
            "Code": "Ok",
            "Message": "send success",
            "IsoCode": "CN",
        }
        return 200, {"Response": {"SendStatusSet": [status], "RequestId": request_id}}, {}


# ----------------------------------------------------------------------------- WeChat


class WechatStandIn(HttpStandIn):
    """``/cgi-bin/stable_token`` and the template and subscribe message APIs. One message per
    openid and ``client_msg_id`` within ten minutes, as WeChat does."""

    app_id = "wx1234567890abcdef"
    app_secret = "wechat-stand-in-secret"

    def __init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(1000)
        self.token: str | None = None
        self.token_fetches = 0
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}
        self._state = threading.Lock()

    def expire_token(self) -> None:
        """As if the token were replaced elsewhere: the next send with it gets 40001."""
        with self._state:
            self.token = None

    def handle(
        self, method: str, path: str, headers: Message, body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/cgi-bin/stable_token":
            doc = json.loads(body or b"{}")
            if doc.get("appid") != self.app_id:
                return 200, {"errcode": 40013, "errmsg": "invalid appid"}, {}
            if doc.get("secret") != self.app_secret:
                return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}, {}
            with self._state:
                self.token_fetches += 1
                if self.token is None or doc.get("force_refresh"):
                    self.token = f"TOKEN-{next(self._ids)}"
                token = self.token
            return 200, {"access_token": token, "expires_in": 7200}, {}
        if parts.path not in ("/cgi-bin/message/template/send", "/cgi-bin/message/subscribe/send"):
            return 404, {"errcode": 404, "errmsg": "no such api"}, {}
        with self._state:
            current = self.token
        if not current or query.get("access_token") != current:
            return (
                200,
                {
                    "errcode": 40001,
                    "errmsg": "invalid credential, access_token is invalid or not latest",
                },
                {},
            )
        doc = json.loads(body)
        openid = doc.get("touser", "")
        scripted = self.script.next_for(openid)
        if scripted is not None:
            return 200, {"errcode": scripted, "errmsg": f"stand-in says {scripted}"}, {}
        key = doc.get("client_msg_id")
        with self._state:
            if key and (openid, key) in self._seen:
                at, msgid = self._seen[(openid, key)]
                if time.monotonic() - at < 600:
                    return 200, {"errcode": 0, "errmsg": "ok", "msgid": msgid}, {}
            msgid = next(self._ids)
            if key:
                self._seen[(openid, key)] = (time.monotonic(), msgid)
        self.record(
            {
                "to": openid,
                "kind": "template" if "template" in parts.path else "subscribe",
                "template_id": doc.get("template_id"),
                "data": doc.get("data"),
                "client_msg_id": key,
                "url": doc.get("url"),
                "page": doc.get("page"),
            }
        )
        return 200, {"errcode": 0, "errmsg": "ok", "msgid": msgid}, {}


# ----------------------------------------------------------------------------- webhook


class WebhookStandIn(HttpStandIn):
    """An SMS gateway behind a Standard Webhooks endpoint: checks the signature (five
    minutes' tolerance), drops a repeated ``webhook-id``."""

    secret = "whsec_" + base64.b64encode(b"webhook-stand-in-secret-32bytes!").decode()

    def __init__(self) -> None:
        super().__init__()
        self._ids: set[str] = set()
        self._seen_lock = threading.Lock()

    def handle(
        self, method: str, path: str, headers: Message, body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        message_id = headers.get("webhook-id", "")
        timestamp = headers.get("webhook-timestamp", "0")
        key = base64.b64decode(self.secret.removeprefix("whsec_"))
        expected = base64.b64encode(
            hmac.digest(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256)
        ).decode()
        given = [s.split(",", 1)[-1] for s in headers.get("webhook-signature", "").split()]
        fresh = abs(time.time() - int(timestamp or 0)) <= 300
        if not fresh or not any(hmac.compare_digest(expected, g) for g in given):
            self.refused_signatures += 1
            return 401, {"message": "bad signature"}, {}
        doc = json.loads(body)
        scripted = self.script.next_for(doc.get("to", ""))
        if scripted is not None:
            status, extra = scripted if isinstance(scripted, tuple) else (scripted, {})
            answer = {"error": extra.pop("error")} if "error" in extra else {"message": "stand-in"}
            return status, answer, extra
        with self._seen_lock:
            repeat = message_id in self._ids
            self._ids.add(message_id)
        if not repeat:
            self.record(
                {
                    "to": doc["to"],
                    "text": doc["text"],
                    "id": message_id,
                    "params": doc.get("params"),
                }
            )
        return 202, {"id": f"gw-{message_id}"}, {}


# ----------------------------------------------------------------------------- SMTP


@dataclass
class Delivered:
    mail_from: str
    to: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return cast(EmailMessage, message_from_bytes(self.data, policy=default_policy))


@dataclass
class SmtpStandIn(Recorder):
    """aiosmtpd on a free port, STARTTLS required, AUTH required (``user``/``password``),
    answering "250 2.0.0 Ok: queued as <id>" like Postfix."""

    tls_dir: Path = field(default_factory=Path)
    user: str = "patron"
    password: str = "smtp-stand-in-password"

    def __post_init__(self) -> None:
        Recorder.__init__(self)
        self.script = Script()  # answers to DATA, per recipient
        self.rcpt_script = Script()  # answers to RCPT TO
        self.delay_s = 0.0  # before answering the end of DATA (the message is kept already)
        self.delivered: list[Delivered] = []
        self.ca_file, context = _tls(self.tls_dir)
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        stand_in = self
        counter = itertools.count(1)

        class Handler:
            async def handle_RCPT(
                self, server: Any, session: Any, envelope: Any, address: str, options: Any
            ) -> str:
                scripted = stand_in.rcpt_script.next_for(address)
                if scripted is not None:
                    return str(scripted)
                envelope.rcpt_tos.append(address)
                return "250 2.1.5 Ok"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                stand_in.count()
                for address in envelope.rcpt_tos:
                    scripted = stand_in.script.next_for(address)
                    if scripted is not None:
                        return str(scripted)
                queue_id = f"4F{next(counter):08X}"
                item = Delivered(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
                with stand_in._lock:
                    stand_in.delivered.append(item)
                for address in envelope.rcpt_tos:
                    stand_in.record({"to": address, "queue_id": queue_id})
                if stand_in.delay_s:
                    await asyncio.sleep(stand_in.delay_s)
                return f"250 2.0.0 Ok: queued as {queue_id}"

        def authenticate(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (
                data.login.decode() == stand_in.user and data.password.decode() == stand_in.password
            )
            # handled=False: aiosmtpd answers a failure with 535 itself
            return AuthResult(success=ok, handled=ok)

        self.port = free_port()
        self.controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context,
            require_starttls=True,
            authenticator=authenticate,
            auth_required=True,
            auth_require_tls=True,
        )

    def start(self) -> Self:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tls(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1 and localhost; returns the file to trust."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "patron stand-in")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "smtp.crt", folder / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return cert_file, context


# ----------------------------------------------------------------------------- wiring


@dataclass
class StandIns:
    smtp: SmtpStandIn
    aliyun: AliyunStandIn
    tencent: TencentStandIn
    wechat: WechatStandIn
    webhook: WebhookStandIn

    def env(
        self, *, sms: str = "aliyun", email: str = "smtp", wechat: str = "wechat"
    ) -> dict[str, str]:
        """PATRON_* settings that send every channel to these stand-ins."""
        return {
            "PATRON_EMAIL_CHANNEL": email,
            "PATRON_SMS_CHANNEL": sms,
            "PATRON_WECHAT_CHANNEL": wechat,
            "PATRON_SMTP_HOST": "127.0.0.1",
            "PATRON_SMTP_PORT": str(self.smtp.port),
            "PATRON_SMTP_SECURITY": "starttls",
            "PATRON_SMTP_USERNAME": self.smtp.user,
            "PATRON_SMTP_PASSWORD": self.smtp.password,
            "PATRON_SMTP_CA_FILE": str(self.smtp.ca_file),
            "PATRON_EMAIL_FROM": "上海南京路店 <news@shop.example.cn>",
            "PATRON_EMAIL_BOUNCE_ADDRESS": "bounces@shop.example.cn",
            "PATRON_UNSUBSCRIBE_MAILTO": "unsubscribe@shop.example.cn",
            "PATRON_PUBLIC_URL": "https://crm.shop.example.cn",
            "PATRON_ALIYUN_SMS_ENDPOINT": self.aliyun.url,
            "PATRON_ALIYUN_ACCESS_KEY_ID": self.aliyun.key_id,
            "PATRON_ALIYUN_ACCESS_KEY_SECRET": self.aliyun.secret,
            "PATRON_ALIYUN_SMS_SIGN_NAME": "南京路店",
            "PATRON_TENCENT_SMS_ENDPOINT": self.tencent.url,
            "PATRON_TENCENT_SECRET_ID": self.tencent.secret_id,
            "PATRON_TENCENT_SECRET_KEY": self.tencent.secret_key,
            "PATRON_TENCENT_SMS_APP_ID": self.tencent.app_id,
            "PATRON_TENCENT_SMS_SIGN_NAME": "南京路店",
            "PATRON_SMS_WEBHOOK_URL": f"{self.webhook.url}/sms",
            "PATRON_SMS_WEBHOOK_SECRET": self.webhook.secret,
            "PATRON_WECHAT_API_BASE": self.wechat.url,
            "PATRON_WECHAT_APP_ID": self.wechat.app_id,
            "PATRON_WECHAT_APP_SECRET": self.wechat.app_secret,
        }


@contextmanager
def stand_ins(folder: Path) -> Iterator[StandIns]:
    servers = StandIns(
        smtp=SmtpStandIn(tls_dir=folder / "tls").start(),
        aliyun=AliyunStandIn().start(),
        tencent=TencentStandIn().start(),
        wechat=WechatStandIn().start(),
        webhook=WebhookStandIn().start(),
    )
    try:
        yield servers
    finally:
        for server in (
            servers.smtp,
            servers.aliyun,
            servers.tencent,
            servers.wechat,
            servers.webhook,
        ):
            server.stop()
