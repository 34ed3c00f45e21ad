"""name.com Core API v1 (/core/v1): placeholder until the dialect lands."""

from fastapi import APIRouter

router = APIRouter(prefix="/core/v1", tags=["namecom"])
