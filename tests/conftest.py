"""Test-wide setup: no test reaches beyond loopback.

Channel checks are off by default (ENVLS_CHANNEL_CHECKS=0, inherited by every server and CLI
process a test starts); the channel tests turn them on against the loopback channel server,
with their own CONDARC and cache folder.
"""

from __future__ import annotations

import os

os.environ["ENVLS_CHANNEL_CHECKS"] = "0"
os.environ.pop("CONDARC", None)

pytest_plugins = ["pytester"]  # tests/test_conftest.py checks the fixtures below


import logging  # noqa: E402

import pytest  # noqa: E402


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def _no_envls_errors(request: pytest.FixtureRequest) -> object:
    """A test fails when envls logs an ERROR (a failing feature logs one and keeps serving: tests must see
    it); a test that provokes one on purpose says so with `@pytest.mark.logs_errors`."""
    handler = _Errors()
    logger = logging.getLogger("envls")
    logger.addHandler(handler)
    yield
    logger.removeHandler(handler)
    if handler.records and request.node.get_closest_marker("logs_errors") is None:
        first = handler.records[0]
        pytest.fail(f"envls logged {len(handler.records)} ERROR record(s), the first from {first.name}: "
                    f"{first.getMessage()}", pytrace=False)
