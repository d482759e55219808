"""template.yaml as the one source of truth: handlers, routes, rules, names, layers."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from core.bus import DetailType, Source
from core.settings import Settings, env_name
from local.lambda_runtime import load_handler
from local.stack import local_environment, parse_keys
from stack import RouteSpec, StackContext, Template, TemplateError

ROOT = Path(__file__).resolve().parents[3]

# DESIGN.md's API table: the routes the template must declare.
DESIGN_ROUTES = {
    ("GET", "/portfolios"),
    ("POST", "/portfolios"),
    ("GET", "/portfolios/{id}"),
    ("PUT", "/portfolios/{id}"),
    ("DELETE", "/portfolios/{id}"),
    ("POST", "/portfolios/{id}/runs"),
    ("POST", "/optimization/risk-parity"),
    ("POST", "/optimization/hrp"),
    ("POST", "/optimization/efficient-frontier"),
    ("POST", "/optimization/cvar-frontier"),
    ("POST", "/optimization/min-cdar"),
    ("POST", "/monte-carlo/simulate"),
    ("POST", "/monte-carlo/analyze"),
    ("POST", "/backtests"),
    ("GET", "/runs/{id}"),
    ("GET", "/portfolios/{id}/runs"),
    ("GET", "/runs/{id}/report"),
    ("GET", "/portfolios/{id}/report"),
    ("GET", "/market-data/prices"),
    ("GET", "/market-data/returns"),
    ("GET", "/openapi.json"),
}

# DESIGN.md's Lambda classes: memory (MB) / timeout (s) per function.
DESIGN_CLASSES = {
    "PortfoliosFunction": (256, 30),
    "RunsFunction": (256, 30),
    "ReportLinksFunction": (256, 30),
    "MarketDataFunction": (512, 60),
    "OptimizationFunction": (1024, 120),
    "SimulationFunction": (1536, 300),
    "FanOutFunction": (1024, 120),
    "RunWorkerFunction": (1536, 300),
    # DESIGN.md says 1024 MB; a 1.25 M-row landing peaks near 0.9 GB (bench/ingest.py).
    "IngestFunction": (2048, 300),
    "ReturnsFunction": (2048, 300),
    "RenderFunction": (1536, 300),
}


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load()


def test_every_handler_imports_and_is_callable(template: Template) -> None:
    functions = template.functions()
    assert len(functions) >= 12
    for spec in functions:
        assert callable(load_handler(spec.handler)), spec.logical_id


def test_routes_are_designs_api_table(template: Template) -> None:
    routes = {(r.method, r.path) for r in template.routes()}
    assert routes == DESIGN_ROUTES
    keyless = {(r.method, r.path) for r in template.routes() if not r.api_key_required}
    assert keyless == {("GET", "/openapi.json")}


def test_function_classes_match_design(template: Template) -> None:
    for logical, (memory, timeout) in DESIGN_CLASSES.items():
        spec = template.function(logical)
        assert (spec.memory_mb, spec.timeout_s) == (memory, timeout), logical


def test_async_consumers_retry_and_dead_letter(template: Template) -> None:
    dlq_arn = template.get_att("DeadLetterQueue", "Arn")
    consumers = [spec for spec in template.functions() if spec.rules]
    assert {s.logical_id for s in consumers} == {
        "IngestFunction",
        "ReturnsFunction",
        "FanOutFunction",
        "RunWorkerFunction",
        "RenderFunction",
    }
    for spec in consumers:
        assert spec.on_failure_arn == dlq_arn
        assert spec.async_retry_attempts == 2
        for rule in spec.rules:
            assert rule.dead_letter_arn == dlq_arn


def test_every_published_event_has_a_consumer(template: Template) -> None:
    published = {
        (Source.INGEST, DetailType.PRICES_CURATED),
        (Source.INGEST, DetailType.MARKET_DATA_UPDATED),
        (Source.API, DetailType.RUN_REQUESTED),
        (Source.COMPUTE, DetailType.RUN_REQUESTED),
        (Source.COMPUTE, DetailType.RUN_COMPLETED),
    }
    bus = template.physical_name("EventBus")
    for source, detail_type in published:
        matching = [
            rule
            for rule in template.rules()
            if rule.pattern
            and rule.bus_name == bus
            and str(source) in rule.pattern["source"]
            and str(detail_type) in rule.pattern["detail-type"]
        ]
        assert matching, f"nothing consumes {source} {detail_type}"


def test_s3_rule_watches_raw_prices_of_the_data_bucket(template: Template) -> None:
    (rule,) = template.function("IngestFunction").rules
    assert rule.bus_name == "default"  # S3 sends to the default bus only
    assert rule.pattern == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [template.physical_name("DataBucket")]},
            "object": {"key": [{"prefix": "raw/prices/"}]},
        },
    }


def test_nightly_schedule(template: Template) -> None:
    (nightly,) = [r for r in template.rules() if r.kind == "Schedule"]
    assert nightly.event == "Nightly"
    assert nightly.function == "FanOutFunction"
    assert re.fullmatch(r"cron\(.+\)", nightly.schedule or "")


def test_intrinsics_resolve_for_a_stack() -> None:
    t = Template.load(context=StackContext(stack_name="acme-prod", region="eu-west-1"))
    assert t.physical_name("DataBucket") == "acme-prod-data-123456789012-eu-west-1"
    assert t.physical_name("LakeDatabase") == "acme_prod"  # !Join/!Split
    assert t.get_att("DeadLetterQueue", "Arn") == (
        "arn:aws:sqs:eu-west-1:123456789012:acme-prod-dead-letters"
    )
    assert t.ref("DeadLetterQueue").endswith("/123456789012/acme-prod-dead-letters")
    assert t.resolve({"Fn::Sub": "${DataBucket.Arn}/raw/*"}) == (
        "arn:aws:s3:::acme-prod-data-123456789012-eu-west-1/raw/*"
    )
    assert t.resolve({"Fn::Sub": ["${X}-${!Literal}", {"X": "a"}]}) == "a-${Literal}"
    assert t.conditions == {
        "HasAlarmEmail": False,
        "ApiCacheOn": False,
        "HasCrudProvisionedConcurrency": False,
    }
    with pytest.raises(TemplateError):
        t.resolve({"Fn::ImportValue": "x"})


def test_globals_environment_gives_every_setting(template: Template) -> None:
    env = local_environment(template, "http://127.0.0.1:1")
    settings = Settings.from_env(env)
    assert settings.bucket == template.physical_name("DataBucket")
    assert settings.glue_database == "stratigos_local"
    for spec in template.functions():
        for field in Settings.__dataclass_fields__:
            assert env_name(field) in spec.environment, (spec.logical_id, field)


def test_route_matching_prefers_literal_segments() -> None:
    param = RouteSpec("F", "E", "GET", "/portfolios/{id}", True)
    literal = RouteSpec("F", "E", "GET", "/portfolios/special", True)
    assert param.regex.match("/portfolios/p-1")
    assert not param.regex.match("/portfolios/p-1/runs")
    assert literal.specificity > param.specificity
    greedy = RouteSpec("F", "E", "GET", "/files/{proxy+}", True)
    assert greedy.regex.match("/files/a/b/c")


def test_local_keys_parsing() -> None:
    assert parse_keys(None) == {"dev-key": "demo"}
    assert parse_keys("k1:t1, k2:t2") == {"k1": "t1", "k2": "t2"}
    for bad in ("k1", "k1:", ":t1", "k1:t1,k1:t2"):
        with pytest.raises(ValueError, match=r"STRATIGOS_LOCAL_KEYS|two tenants"):
            parse_keys(bad)


def test_layer_requirements_match_pyproject_groups() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = project["optional-dependencies"]
    expected = {
        "core": [d for d in project["dependencies"] if not d.startswith("boto3")],
        "numeric": groups["numeric"],
        "arrow": groups["arrow"],
        "data": groups["data"],
        "viz": groups["viz"],
    }
    for layer, requirements in expected.items():
        lines = (ROOT / "layers" / layer / "requirements.txt").read_text().split()
        assert lines == requirements, layer


def test_template_declares_a_private_encrypted_tls_only_bucket(template: Template) -> None:
    bucket = template.resources_of("AWS::S3::Bucket")["DataBucket"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert bucket["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"]
    policy = template.resources_of("AWS::S3::BucketPolicy")["DataBucketPolicy"]
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
