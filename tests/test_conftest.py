"""The test-wide fixtures of tests/conftest.py do what they promise."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = (Path(__file__).with_name("conftest.py")).read_text(encoding="utf-8")


@pytest.mark.logs_errors  # the inner run (in this process) logs them
def test_an_envls_error_log_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST.replace('pytest_plugins = ["pytester"]', ""))
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nmarkers =\n    logs_errors: on purpose\n")
    pytester.makepyfile("""
        import logging
        import pytest

        def test_logs_an_error():
            logging.getLogger("envls.somewhere").error("boom")

        @pytest.mark.logs_errors
        def test_says_it_logs_an_error():
            logging.getLogger("envls.somewhere").error("boom")

        def test_other_loggers_and_warnings_pass():
            logging.getLogger("pygls").error("not ours")
            logging.getLogger("envls").warning("a warning")
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*envls logged 1 ERROR record(s), the first from envls.somewhere: boom*"])
