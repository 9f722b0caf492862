"""schemathesis against the server's OpenAPI document (bounded examples): whatever the generated input, the
server never answers 500 -- as an admin (who may reach every route) and anonymously, with inputs that follow
the schema (positive) and inputs that break it (negative).

The operations are read from the running server's /openapi.json and each is driven through its
Hypothesis strategy (schemathesis' ``APIOperation.as_strategy``), one test per operation."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from serverkit import LiveServer, make_world, server_settings


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    world = make_world(tmp_path_factory.mktemp("schema-world"))
    s = server_settings(tmp_path_factory.mktemp("schema-data"), world.registry, max_audio_bytes=2 * 1024 * 1024,
                        max_dataset_bytes=2 * 1024 * 1024)
    with LiveServer(s) as server:
        server.world = world
        server.schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
        yield server


def _operations(schema):
    out = []
    for result in schema.get_all_operations():
        out.append(result.ok())
    return out


def _drive(live, operation, *, mode: GenerationMode, headers: dict, examples: int) -> int:
    seen = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, phases=[Phase.explicit, Phase.generate], database=None,
              suppress_health_check=list(HealthCheck), derandomize=True)
    def run(case):
        response = case.call(base_url=live.url, headers=headers, timeout=60)
        seen.append(response.status_code)
        assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"

    try:
        run()
    except Unsatisfiable:  # nothing to break in an operation without parameters
        assert mode == GenerationMode.NEGATIVE
    return len(seen)


def test_no_server_errors(live):
    admin = {"Authorization": f"Bearer {live.world.tokens['admin']}"}
    operations = _operations(live.schema)
    assert len(operations) > 40
    calls = 0
    for op in operations:
        calls += _drive(live, op, mode=GenerationMode.POSITIVE, headers=admin, examples=4)
        calls += _drive(live, op, mode=GenerationMode.NEGATIVE, headers=admin, examples=2)
        calls += _drive(live, op, mode=GenerationMode.POSITIVE, headers={}, examples=1)
    assert calls > 150
