"""Delivery channels behind one interface: email over SMTP, SMS through an HTTP gateway, and
signed webhooks to integrated agency apps. (The in-app inbox needs no delivery: a message is in
it as soon as it is recorded.)

Each send carries the message ID as its idempotency key (the email's Message-ID, the SMS
gateway's ``reference``, the webhook's ``X-Lapor-Delivery``), so a retry after a crash can be
recognised by the receiving side. A channel raises ``PermanentFailure`` when retrying cannot
help (the address is refused) and ``TemporaryFailure`` otherwise.
"""

import email.policy
import json
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

import aiosmtplib
import httpx

from services.notify.signing import signed_headers


@dataclass(frozen=True)
class Outgoing:
    """A rendered message ready for its channel."""

    message_id: str
    complaint_id: str
    recipient: str
    address: str | None
    template: str
    subject: str
    body: str
    digest_of: int = 1


class DeliveryFailure(Exception):
    """The channel did not accept the message; ``reason`` has no personal data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:500]


class TemporaryFailure(DeliveryFailure):
    """Worth another attempt later (timeouts, 5xx, 429, connection refused)."""


class PermanentFailure(DeliveryFailure):
    """Another attempt would fail the same way (bad address, 4xx, no endpoint configured)."""


class Channel(Protocol):
    """Something that delivers a message or says why not."""

    name: str

    async def send(self, message: Outgoing) -> None:
        """Deliver, or raise a ``DeliveryFailure``."""
        ...


# Headers folded only past RFC 5322's hard limit: at 78 characters the library folded a long
# subject before its first word, and mail clients showed it starting with a space.
EMAIL_POLICY = email.policy.SMTP.clone(max_line_length=998)


def compose_email(message: Outgoing, *, sender: str) -> EmailMessage:
    """The email of one outgoing message."""
    composed = EmailMessage(policy=EMAIL_POLICY)
    composed["From"] = sender
    composed["To"] = message.address or ""
    composed["Subject"] = message.subject
    composed["Date"] = formatdate(localtime=False)
    # Stable across retries: mail systems recognise a resent copy by it.
    composed["Message-ID"] = email_message_id(message.message_id)
    composed["X-Lapor-Complaint"] = message.complaint_id
    composed.set_content(message.body)
    return composed


class SmtpChannel:
    """Email through an SMTP server (STARTTLS and login when configured)."""

    name = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None,
        password: str | None,
        starttls: bool,
        timeout: float,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout

    async def send(self, message: Outgoing) -> None:
        if not message.address:
            raise PermanentFailure("no email address")
        email = compose_email(message, sender=self._sender)
        try:
            await aiosmtplib.send(
                email,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                start_tls=self._starttls,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise PermanentFailure("the mail server refused the recipient") from exc
        except aiosmtplib.SMTPResponseException as exc:
            failure = PermanentFailure if 500 <= exc.code < 600 else TemporaryFailure
            raise failure(f"SMTP {exc.code}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TemporaryFailure(f"SMTP unavailable: {type(exc).__name__}") from exc


def email_message_id(message_id: str) -> str:
    """The Message-ID header of a message (a dot-atom: the key's colons become dots)."""
    return f"<{message_id.replace(':', '.')}@lapor.go.id>"


class SmsGatewayChannel:
    """SMS through an HTTP gateway: ``POST {url}`` with JSON ``{to, text, reference}``."""

    name = "sms"

    def __init__(self, *, url: str, token: str | None, client: httpx.AsyncClient) -> None:
        self._url = url
        self._token = token
        self._client = client

    async def send(self, message: Outgoing) -> None:
        if not message.address:
            raise PermanentFailure("no phone number")
        headers = {"Idempotency-Key": message.message_id}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        payload = {
            "to": message.address,
            "text": f"{message.subject}\n{message.body}",
            "reference": message.message_id,
        }
        await _post(self._client, self._url, json.dumps(payload).encode(), headers, "SMS gateway")


class WebhookChannel:
    """Signed HTTP POSTs to the endpoint each integrated agency registered."""

    name = "webhook"

    def __init__(self, *, endpoints: "WebhookDirectory", client: httpx.AsyncClient) -> None:
        self._endpoints = endpoints
        self._client = client

    async def send(self, message: Outgoing) -> None:
        agency_id = message.recipient.removeprefix("agency:")
        endpoint = await self._endpoints.endpoint(agency_id)
        if endpoint is None:
            raise PermanentFailure(f"no webhook registered for {agency_id}")
        url, secret = endpoint
        body = json.dumps(
            {
                "delivery_id": message.message_id,
                "complaint_id": message.complaint_id,
                "template": message.template,
                "subject": message.subject,
                "body": message.body,
            },
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            **signed_headers(
                secret, timestamp=int(time.time()), delivery_id=message.message_id, body=body
            ),
        }
        await _post(self._client, url, body, headers, "webhook receiver")


class WebhookDirectory(Protocol):
    """Where an agency's webhook goes and the secret it is signed with."""

    async def endpoint(self, agency_id: str) -> tuple[str, str] | None:
        """``(url, secret)``, or None when the agency registered none."""
        ...


async def _post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], what: str
) -> None:
    try:
        response = await client.post(
            url, content=body, headers={"Content-Type": "application/json", **headers}
        )
    except httpx.HTTPError as exc:
        raise TemporaryFailure(f"{what} unreachable: {type(exc).__name__}") from exc
    if response.is_success:
        return
    status = response.status_code
    if status in (408, 425, 429) or status >= 500:
        raise TemporaryFailure(f"{what} answered {status}")
    raise PermanentFailure(f"{what} refused it with {status}")
