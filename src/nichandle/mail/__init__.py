"""Sending mail over SMTP (aiosmtplib), or to the log when no server is configured."""
