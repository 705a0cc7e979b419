"""The OpenAPI document against the daemon's real answers, over loopback.

Schemathesis draws requests for every operation from the document; each answer's status must
be one the document lists for that operation, and its body must match the schema given there.
The same requests go without a token and with a token of a role that may not, so that 401 and
403 are compared too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from tests.adapters.daemons import ADMIN, ADVISOR, ADVISOR_ID, Daemon, running

EXAMPLES = 8
"""Drawn per operation: enough to reach its 2xx, 400 and 404 answers, quick on two cores."""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    yield from running(tmp_path_factory.mktemp("daemon"))


@pytest.fixture(scope="module")
def document(daemon: Daemon) -> dict[str, Any]:
    answer = httpx.get(daemon.url + "/schema/openapi.json", timeout=10)
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation


def test_every_route_documents_its_errors_with_the_error_body(document: dict[str, Any]) -> None:
    error = {"$ref": "#/components/schemas/ErrorOut"}
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        assert {"400", "401", "403", "500", "503"} <= responses.keys(), (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)
        for status, response in responses.items():
            if int(status) >= 400:
                assert response["content"]["application/json"]["schema"] == error, (path, status)
    # The framework's own error body is not what the API answers: it is nowhere.
    schemas = document["components"]["schemas"].values()
    assert not any("extra" in schema.get("properties", {}) for schema in schemas)


def test_a_submission_documents_both_created_and_already_known(document: dict[str, Any]) -> None:
    responses = document["paths"]["/v1/interactions"]["post"]["responses"]
    assert {"200", "201"} <= responses.keys()


def test_the_advisor_state_schema_offers_only_the_states_the_route_accepts(
    daemon: Daemon, document: dict[str, Any]
) -> None:
    body = document["paths"]["/v1/advisors/{advisor_id}/state"]["put"]["requestBody"]
    reference = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    offered = document["components"]["schemas"][reference]["properties"]["state"]["enum"]
    assert sorted(offered) == ["available", "not_ready", "offline"]
    with daemon.client(ADVISOR) as client:
        for state in offered:
            answer = client.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": state})
            assert answer.status_code == 200, answer.text
        refused = client.put(f"/v1/advisors/{ADVISOR_ID}/state", json={"state": "wrap_up"})
    assert refused.status_code == 400
    assert refused.json()["field"] == "state"


def test_the_schema_page_loads_nothing_from_elsewhere(daemon: Daemon) -> None:
    page = httpx.get(daemon.url + "/schema", timeout=10)
    assert page.status_code == 200
    assert "http://" not in page.text
    assert "https://" not in page.text
    assert 'href="/schema/openapi.json"' in page.text
    for linked in ("/schema/openapi.json", "/schema/openapi.yaml"):
        assert httpx.get(daemon.url + linked, timeout=10).status_code == 200


def test_every_answer_is_one_the_document_gives(daemon: Daemon) -> None:
    schema = schemathesis.openapi.from_url(daemon.url + "/schema/openapi.json")
    checks = [status_code_conformance, response_schema_conformance]
    callers = [{"Authorization": f"Bearer {ADMIN}"}, {}, {"Authorization": f"Bearer {ADVISOR}"}]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(1 for _ in _operations(schema.raw_schema))

    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def answers_as_documented(case: Any) -> None:
            for headers in callers:
                case.call_and_validate(base_url=daemon.url, headers=headers, checks=checks)

        answers_as_documented()
