"""The reference documents the contract tests check against: shared/reference beside the
repository (DNSimple's fixtures and OpenAPI, name.com's OpenAPI; see their SOURCE.md), or
NICHANDLE_REFERENCE_DIR. Missing, they fail the suite in CI and skip it elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fresh_database import IN_CI

REPO = Path(__file__).resolve().parents[1]
REFERENCE = Path(os.environ.get("NICHANDLE_REFERENCE_DIR", REPO.parent / "shared" / "reference"))


def reference_path(relative: str) -> Path:
    path = REFERENCE / relative
    if not path.exists():
        message = f"reference file {path} not found (set NICHANDLE_REFERENCE_DIR)"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: the contract tests must run)")
        pytest.skip(message)
    return path
