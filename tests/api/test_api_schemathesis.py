"""Schemathesis over the OpenAPI document: no input, valid or not, gets a 5xx, and every
answer conforms to the document: its status is declared, its content type and body match the
declared ones (problem documents included), and a 405's `Allow` lists the path's methods.

Runs every operation with an admin key (so the handlers, not only the key check, see the
generated input) for a bounded number of examples, in positive and negative modes; the whole
run stays under about a minute.
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
from schemathesis.checks import (
    allow_header_conformance,
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

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
EXAMPLES = 8  # with the conformance checks, about a minute on a quiet machine
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    allow_header_conformance,
]


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
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        # Nothing to make invalid (no parameters, no body): nothing to test.
        assert mode is GenerationMode.NEGATIVE, operation.label


def test_no_server_errors_and_every_answer_conforms(fuzzed_api: Api) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_api.app)
    auth = fuzzed_api.auth("admin")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:
        for mode in MODES:
            _fuzz(operation, mode, auth)
