"""One message to one SMTP server: NICHANDLE_SMTP_URL (``smtp://user:pass@host:port``,
``smtps://`` for TLS from the start, ``?starttls=true`` to upgrade), or the log without one."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from enum import StrEnum
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from nichandle.settings import Settings

logger = logging.getLogger("nichandle.mail")

TIMEOUT_SECONDS = 30.0
PERMANENT = 500  # SMTP reply codes 5xx: refused for good; 4xx: try again later


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    text: str
    html: str
    link: str  # what the log shows when there is no SMTP server


class Result(StrEnum):
    SENT = "sent"
    LOGGED = "logged"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class Outcome:
    result: Result
    error: str | None = None


@dataclass(frozen=True)
class SmtpServer:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool

    @classmethod
    def parse(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("NICHANDLE_SMTP_URL must be smtp://host:port or smtps://host:port")
        options = parse_qs(parts.query)
        start_tls = options.get("starttls", ["false"])[0].lower() in ("1", "true", "yes")
        use_tls = parts.scheme == "smtps"
        return cls(
            hostname=parts.hostname,
            port=parts.port or (465 if use_tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=use_tls,
            start_tls=start_tls,
        )


class Mailer:
    def __init__(self, settings: Settings) -> None:
        url = settings.smtp_url.get_secret_value() if settings.smtp_url else None
        self.server = SmtpServer.parse(url) if url else None
        self.sender = settings.mail_from

    async def send(self, message: Message) -> Outcome:
        """Sends it; a 5xx answer is PERMANENT, a 4xx or no answer TEMPORARY."""
        if self.server is None:
            # `make run`: a person verifies by copying the link from the log.
            logger.warning(
                "no NICHANDLE_SMTP_URL: mail to %s not sent (%s); link: %s",
                message.to,
                message.subject,
                message.link,
            )
            return Outcome(Result.LOGGED)
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail.set_content(message.text)
        mail.add_alternative(message.html, subtype="html")
        server = self.server
        try:
            await aiosmtplib.send(
                mail,
                hostname=server.hostname,
                port=server.port,
                username=server.username,
                password=server.password,
                use_tls=server.use_tls,
                start_tls=server.start_tls,
                timeout=TIMEOUT_SECONDS,
            )
        except aiosmtplib.SMTPRecipientsRefused as refused:
            codes = [r.code for r in refused.recipients]
            text = "; ".join(f"{r.code} {r.message}" for r in refused.recipients)
            permanent = all(code >= PERMANENT for code in codes)
            return Outcome(Result.PERMANENT if permanent else Result.TEMPORARY, text)
        except aiosmtplib.SMTPResponseException as answered:
            result = Result.PERMANENT if answered.code >= PERMANENT else Result.TEMPORARY
            return Outcome(result, f"{answered.code} {answered.message}")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as failed:
            return Outcome(Result.TEMPORARY, f"{type(failed).__name__}: {failed}")
        return Outcome(Result.SENT)
