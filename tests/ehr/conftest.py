"""Fixtures for the EHR link tests: the FHIR R4 JSON schema, real clinic server processes.

Helpers live in ehr_support.py (a uniquely named module: every test folder has a conftest)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ehr_support import FAST_EHR, ServerProcess, ensure_fhir_schema


@pytest.fixture(scope="session")
def fhir_schema() -> Path:
    """Return the path of the official FHIR R4 JSON schema."""
    return ensure_fhir_schema()


@pytest.fixture
def clinic_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start real clinic server processes with EHR settings (stopped after the test)."""
    started: list[ServerProcess] = []

    def make(**settings: str) -> ServerProcess:
        proc = ServerProcess(tmp_path / f"clinic-{len(started)}", **{**FAST_EHR, **settings})
        proc.migrate()
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.close()
