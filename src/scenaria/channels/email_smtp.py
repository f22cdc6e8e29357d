"""The email channel: sends the Email node's outbox rows over real SMTP.

Each subscription resource names its SMTP server (host, port, TLS mode) and
credentials; the password is read from the environment variable the resource
names and is never logged nor kept in a reply. One connection per resource is
kept open and reused across messages; it is dropped after any error.

SMTP 4xx replies, connection failures and timeouts are retried by the
deliverer (a failure to connect or to get the greeting is an
``UnreachableError``, which the resource's circuit breaker counts); 5xx replies
(a mailbox that does not exist, a refused sender) fail the message for good.
The resource's ``timeout_seconds`` (10 s by default) bounds the connection, the
greeting and each command.

A recipient whose domain is not ASCII is sent IDNA-encoded; one whose local part
is not ASCII (``bü@example.com``) goes with SMTPUTF8 when the server offers it,
and fails for good, saying so, when it does not.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from typing import Any

from scenaria.channels.email_message import build_message, message_id, to_bytes, wire_address
from scenaria.channels.resources import EmailResource
from scenaria.channels.tracking import Links
from scenaria.engine.delivery import DeliveryResult, OutboundMessage
from scenaria.errors import (
    InvalidInput,
    PermanentDeliveryError,
    RetryableDeliveryError,
    UnreachableError,
)

CHANNEL = "email"


class SmtpChannel:
    name = CHANNEL
    resumes_task = False

    def __init__(
        self, resources: Mapping[str, EmailResource], public_url: str, secret: bytes
    ) -> None:
        self.resources = dict(resources)
        self.public_url = public_url
        self.secret = secret
        self._connections: dict[str, smtplib.SMTP] = {}

    def send(self, message: OutboundMessage) -> DeliveryResult:
        payload = message.payload
        name = str(payload.get("resource") or "default")
        resource = self.resources.get(name)
        if resource is None:
            raise PermanentDeliveryError(f"no email resource named '{name}'")
        to = str(payload.get("to") or "")
        if not to:
            raise PermanentDeliveryError("the message has no recipient")
        links = Links(self.public_url, self.secret, message.key)
        try:
            to, utf8 = wire_address(to)
            mime = build_message(message.key, payload, resource, links, to)
            data = to_bytes(mime, utf8=utf8)
        except (ValueError, TypeError, KeyError, UnicodeError) as exc:
            raise PermanentDeliveryError(f"the message cannot be formed: {exc}") from exc
        self._send(name, resource, to, data, utf8)
        return DeliveryResult(
            {
                "message_id": message_id(message.key),
                "smtp": f"{resource.smtp_host}:{resource.smtp_port}",
            }
        )

    def _send(self, name: str, resource: EmailResource, to: str, data: bytes, utf8: bool) -> None:
        reused = name in self._connections
        try:
            connection = self._open(name, resource)
            try:
                refused = _transmit(connection, resource, to, data, utf8)
            except smtplib.SMTPServerDisconnected:
                if not reused:
                    raise
                # The kept connection went stale (the server's idle timeout): once more, fresh.
                self._drop(name)
                connection = self._open(name, resource)
                refused = _transmit(connection, resource, to, data, utf8)
        except (UnreachableError, PermanentDeliveryError):
            self._drop(name)
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            self._drop(name)
            code, reply = next(iter(exc.recipients.values()), (0, b""))
            raise _reply_error(f"recipient {to} refused", code, reply) from exc
        except smtplib.SMTPResponseException as exc:
            self._drop(name)
            raise _reply_error(
                "SMTP server refused the message", exc.smtp_code, exc.smtp_error
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._drop(name)
            # SMTPException derives from OSError: a protocol failure is not a network one.
            protocol = isinstance(exc, smtplib.SMTPException) and not isinstance(
                exc, smtplib.SMTPServerDisconnected
            )
            what = "failed" if protocol else "unreachable"
            raise RetryableDeliveryError(
                f"SMTP {resource.smtp_host}:{resource.smtp_port} {what}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if refused:  # only possible with several recipients; kept for completeness
            code, reply = next(iter(refused.values()))
            raise _reply_error(f"recipient {to} refused", code, reply)

    def _open(self, name: str, resource: EmailResource) -> smtplib.SMTP:
        """The resource's connection; UnreachableError if it cannot be had."""
        try:
            return self._connection(name, resource)
        except smtplib.SMTPResponseException:
            raise  # the server answered: a reply, not a connection failure
        except (smtplib.SMTPException, OSError) as exc:
            raise UnreachableError(
                f"SMTP {resource.smtp_host}:{resource.smtp_port} unreachable: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def _connection(self, name: str, resource: EmailResource) -> smtplib.SMTP:
        connection = self._connections.get(name)
        if connection is not None:
            return connection
        host, port, timeout = resource.smtp_host, resource.smtp_port, resource.timeout_seconds
        if resource.tls == "ssl":
            connection = smtplib.SMTP_SSL(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            connection = smtplib.SMTP(host, port, timeout=timeout)
        try:
            if resource.tls == "starttls":
                connection.starttls(context=ssl.create_default_context())
                connection.ehlo()
            if resource.username:
                try:
                    password = resource.password()
                except InvalidInput as exc:
                    raise smtplib.SMTPException(str(exc)) from None
                connection.login(resource.username, password.get_secret_value() if password else "")
        except BaseException:
            _quit(connection)
            raise
        self._connections[name] = connection
        return connection

    def _drop(self, name: str) -> None:
        connection = self._connections.pop(name, None)
        if connection is not None:
            _quit(connection)

    def close(self) -> None:
        for name in list(self._connections):
            self._drop(name)


def _transmit(
    connection: smtplib.SMTP, resource: EmailResource, to: str, data: bytes, utf8: bool
) -> dict[str, tuple[int, bytes]]:
    options: list[str] = []
    if utf8:
        connection.ehlo_or_helo_if_needed()
        if not connection.has_extn("smtputf8"):
            raise PermanentDeliveryError(
                f"recipient {to} is not an ASCII address, and the SMTP server "
                f"{resource.smtp_host}:{resource.smtp_port} does not offer SMTPUTF8"
            )
        options.append("SMTPUTF8")
        if connection.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
    return connection.sendmail(resource.sender_address, [to], data, mail_options=options)


def _quit(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        connection.close()


def _reply_error(what: str, code: int, reply: bytes | str) -> Exception:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    reason = f"{what}: {code} {text}".strip()
    response: dict[str, Any] = {"smtp_code": code, "smtp_reply": text}
    if 500 <= code < 600:
        return PermanentDeliveryError(reason, response)
    return RetryableDeliveryError(reason, response)
