"""The ranges a domain's and a certificate's values must fall in, checked once for every dialect.

A value out of range is the caller's mistake, named by its field, never a database overflow or
an absurd date stored as if it were one (docs/decisions.md, "Out-of-range values").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from nichandle.db.base import utcnow
from nichandle.errors import ErrorCollector

# renewal_price_minor is an INTEGER column: 32 bits on PostgreSQL (SQLite would take more, but
# both databases must accept the same values).
MAX_PRICE_MINOR = 2**31 - 1
MAX_PRICE = Decimal(MAX_PRICE_MINOR).scaleb(-2)  # 21474836.47
_CENT = Decimal("0.01")

# Nothing a registrar holds expired before the first domains were registered (March 1985), and
# no registry sells a term longer than ten years (ICANN's maximum): a day beyond that allows
# for the zone the date was written in.
EARLIEST_EXPIRY = datetime(1985, 1, 1, tzinfo=UTC)
MAX_EXPIRY_AHEAD = timedelta(days=3653 + 1)


def price_minor(value: object, errors: ErrorCollector, field: str = "renewal_price") -> int | None:
    """An amount with at most two decimals -> minor units; None (and an error) if not one."""
    if value is None:
        return None
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        errors.add(field, "invalid", "must be a number")
        return None
    if not price.is_finite() or price < 0:
        errors.add(field, "invalid", "must be a non-negative amount with 2 decimals")
        return None
    # Checked before quantize, which cannot even represent 1e86 to the cent.
    if price > MAX_PRICE:
        errors.add(field, "invalid", f"must be at most {MAX_PRICE}")
        return None
    if price != price.quantize(_CENT):
        errors.add(field, "invalid", "must be a non-negative amount with 2 decimals")
        return None
    return int(price * 100)


def expiry(value: datetime, errors: ErrorCollector, field: str = "expires_at") -> datetime | None:
    """An expiry moment in UTC; None (and an error) without a zone or outside the range."""
    if value.tzinfo is None:
        errors.add(field, "invalid", "needs a time zone, e.g. 2027-01-31T00:00:00Z")
        return None
    latest = utcnow() + MAX_EXPIRY_AHEAD
    out_of_range = (
        f"must be between {EARLIEST_EXPIRY:%Y-%m-%d} and {latest:%Y-%m-%d} "
        "(at most ten years from now)"
    )
    try:
        moment = value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-23:59 is past the last representable year
        errors.add(field, "invalid", out_of_range)
        return None
    if not EARLIEST_EXPIRY <= moment <= latest:
        errors.add(field, "invalid", out_of_range)
        return None
    return moment
