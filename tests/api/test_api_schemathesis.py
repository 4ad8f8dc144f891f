"""Schemathesis over the OpenAPI document: no input, valid or not, gets a 5xx.

Runs every operation with an admin key (so the handlers, not only the key check, see the
generated input) for a bounded number of examples, in positive and negative modes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from apisupport import Api, build_api
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from pledge.config import Settings
from pledge.store.db import Store
from pledge.store.migrations import upgrade


@pytest.fixture(scope="module")
def fuzzed_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("schemathesis")
    store = Store(Settings(data_dir=tmp / "data"))
    upgrade(store)
    try:
        yield from build_api(store, tmp)
    finally:
        store.dispose()


MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
EXAMPLES = 25


def _fuzz(operation: Any, mode: GenerationMode, auth: dict[str, str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    def run(case: Any) -> None:
        headers = {**(case.headers or {}), **auth}
        response = case.call(headers=headers)
        where = f"{case.method} {case.formatted_path} ({mode.value})"
        assert response.status_code < 500, f"{where}: {response.text}"
        case.validate_response(response, checks=[not_a_server_error])

    try:
        run()
    except Unsatisfiable:
        # Nothing to make invalid (no parameters, no body): nothing to test.
        assert mode is GenerationMode.NEGATIVE, operation.label


def test_no_server_errors(fuzzed_api: Api) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_api.app)
    auth = fuzzed_api.auth("admin")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:
        for mode in MODES:
            _fuzz(operation, mode, auth)
