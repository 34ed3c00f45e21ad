"""DNSimple API v2 (/v2): placeholder until the dialect lands."""

from fastapi import APIRouter

router = APIRouter(prefix="/v2", tags=["dnsimple"])
