"""Domain errors -> this dialect's envelope: placeholder until the dialect lands."""

from nichandle.dialects.native.errors import render

__all__ = ["render"]
