"""DNSimple's rate limit headers: the token's quota announced on every /v2 response.

The official client reads ``X-RateLimit-Limit``, ``-Remaining`` and ``-Reset`` (integers) from
every successful response and crashes without them, so this middleware wraps everything under
the prefix (errors, 404, 405, 413, 500 included) and adds them. The quota itself is counted by
the authentication dependency (dialects/deps.py), once per authenticated request in any
dialect; a response no authentication counted (401, 404 of an unknown route) shows the
presented token's quota as it stands, without counting.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nichandle.accounts.tokens import hash_secret
from nichandle.dialects.deps import QUOTA_STATE, bearer_secret
from nichandle.dialects.dnsimple import errors
from nichandle.dialects.ratelimit import RATE_LIMIT_HEADERS, Quota, TokenQuota


class DnsimpleRateLimit:
    """ASGI middleware for the /v2 prefix: adds the X-RateLimit headers to every response,
    including the 500 it renders for unexpected errors (Starlette's own 500 would be plain text
    and come from outside this middleware)."""

    def __init__(self, app: ASGIApp, *, quota: TokenQuota, prefix: str = "/v2") -> None:
        self.app = app
        self.prefix = prefix
        self.quota = quota

    def _applies(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    async def _quota_of(self, scope: Scope) -> Quota:
        counted = scope["state"].get(QUOTA_STATE)
        if isinstance(counted, Quota):
            return counted
        secret = bearer_secret(Headers(scope=scope).get("authorization"))
        return await self.quota.peek(hash_secret(secret) if secret else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._applies(scope["path"]):
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})  # shared with request.state, where the quota is left
        started = False

        async def send_with_quota(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                quota = await self._quota_of(scope)
                kept = [
                    (k, v) for k, v in message.get("headers", []) if k not in RATE_LIMIT_HEADERS
                ]
                message = {**message, "headers": [*kept, *quota.headers()]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_quota)
        except Exception:
            if started:
                raise
            await errors.server_error()(scope, receive, send_with_quota)
            raise  # still logged by the server; the client already has its JSON 500
