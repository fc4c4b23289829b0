"""The unit tier: no broker and no storage. The session's storage server (``mongo_uri`` in
tests/conftest.py) is not started for it: a test here that reaches for storage fails at once
(``mongo_uri`` is None); its place is tests/store."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def mongo_uri():
    yield None
