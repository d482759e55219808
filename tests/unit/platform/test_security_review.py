"""Security review as tests: template.yaml's IAM, storage and API, and each handler's tenancy.

The checks live in :mod:`tests.support.security_review` (test support, one module per
concern); each test here runs one of them against the real template (no findings) and
against a synthetic bad template or module (flagged), so none of them can pass by checking
nothing.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stack import DEFAULT_TEMPLATE, StackContext, Template, load_yaml
from tests.support.security_review import (
    NEEDS,
    NO_TENANT_DATA,
    SAM_POLICY_TEMPLATES,
    SHARED_DATA_ROUTES,
    WRITE_ACTIONS,
    Finding,
    api_findings,
    cache_findings,
    function_grants,
    iam_findings,
    least_privilege_findings,
    least_privilege_table,
    storage_findings,
    tenant_findings,
    tenant_findings_for_module,
)

READ_ONLY_FUNCTIONS = (
    "RunsFunction",
    "ReportLinksFunction",
    "MarketDataFunction",
    "ApiDocsFunction",
)
CRUD_FUNCTIONS = ("PortfoliosFunction",)


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return load_yaml(DEFAULT_TEMPLATE)


@pytest.fixture(scope="module")
def template(doc: dict[str, Any]) -> Template:
    return Template(doc)


def _mutated(doc: dict[str, Any], change: Any) -> Template:
    bad = copy.deepcopy(doc)
    change(bad["Resources"])
    return Template(bad)


def _explain(findings: list[Finding]) -> str:
    return "\n".join(str(f) for f in findings)


def _rules(findings: list[Finding], resource: str) -> set[str]:
    return {f.rule for f in findings if f.resource == resource}


# ---------------------------------------------------------------------------- IAM
def test_no_wildcards_or_sensitive_actions_in_any_function_role(template: Template) -> None:
    findings = iam_findings(template)
    assert not findings, _explain(findings)


def test_every_function_is_reviewed_with_its_sam_templates_expanded(template: Template) -> None:
    functions = [s.logical_id for s in template.functions()]
    assert set(functions) == set(NEEDS), "every function needs a declared access map"
    grants, unread = function_grants(template, "PortfoliosFunction")
    assert not unread
    actions = {a for g in grants if g.source == "DynamoDBCrudPolicy" for a in g.actions}
    assert {"dynamodb:PutItem", "dynamodb:Scan", "dynamodb:ConditionCheckItem"} <= actions
    resources = {r for g in grants if g.source == "DynamoDBCrudPolicy" for r in g.resources}
    assert "arn:aws:dynamodb:us-east-1:123456789012:table/stratigos-local-portfolios" in resources


def test_policies_grant_exactly_what_each_handler_needs(template: Template) -> None:
    findings = least_privilege_findings(template)
    assert not findings, _explain(findings)


def test_read_only_functions_have_no_write_and_crud_functions_no_s3(template: Template) -> None:
    for function in READ_ONLY_FUNCTIONS:
        grants, _ = function_grants(template, function)
        writes = {a for g in grants if g.source != "EventInvokeConfig" for a in g.actions}
        assert not writes & set(WRITE_ACTIONS), (function, writes & set(WRITE_ACTIONS))
    for function in CRUD_FUNCTIONS:
        grants, _ = function_grants(template, function)
        s3 = {a for g in grants for a in g.actions if a.startswith("s3:")}
        assert not s3, (function, s3)


@pytest.mark.parametrize(
    ("statement", "rule"),
    [
        (
            {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::x/a/*"},
            "iam-action-wildcard",
        ),
        (
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::x/a/*"},
            "iam-action-wildcard",
        ),
        ({"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}, "iam-resource-star"),
        (
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::1:role/r"},
            "iam-sensitive",
        ),
        (
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": {"Fn::Sub": "${DataBucket.Arn}/*"},
            },
            "iam-s3-prefix",
        ),
        (
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": {"Fn::GetAtt": ["DataBucket", "Arn"]},
            },
            "iam-s3-list",
        ),
        (
            {
                "Effect": "Allow",
                "Action": "dynamodb:Query",
                "Resource": {"Fn::Sub": "arn:aws:dynamodb:us-east-1:123456789012:table/*"},
            },
            "iam-dynamodb-table",
        ),
        (
            {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"},
            "iam-resource-star",
        ),
    ],
)
def test_iam_check_flags_a_bad_statement(
    doc: dict[str, Any], statement: dict[str, Any], rule: str
) -> None:
    def add(resources: dict[str, Any]) -> None:
        resources["RunsFunction"]["Properties"]["Policies"].append({"Statement": [statement]})

    findings = iam_findings(_mutated(doc, add))
    assert rule in _rules(findings, "RunsFunction"), _explain(findings)


def test_iam_check_flags_broad_sam_templates_and_managed_policies(doc: dict[str, Any]) -> None:
    def add(resources: dict[str, Any]) -> None:
        policies = resources["RunsFunction"]["Properties"]["Policies"]
        policies.append({"S3CrudPolicy": {"BucketName": {"Ref": "DataBucket"}}})
        policies.append("AmazonS3FullAccess")
        policies.append({"SomeNewPolicyTemplate": {}})

    findings = iam_findings(_mutated(doc, add))
    rules = _rules(findings, "RunsFunction")
    # S3CrudPolicy: the whole bucket, unconditioned ListBucket and PutObjectAcl.
    assert {"iam-s3-prefix", "iam-s3-list", "iam-sensitive"} <= rules, _explain(findings)
    assert {"iam-managed-policy", "iam-unknown-template"} <= rules


def test_least_privilege_check_flags_extra_and_missing_access(doc: dict[str, Any]) -> None:
    def change(resources: dict[str, Any]) -> None:
        runs = resources["RunsFunction"]["Properties"]["Policies"]
        runs.append({"DynamoDBCrudPolicy": {"TableName": {"Ref": "RunsTable"}}})
        render = resources["RenderFunction"]["Properties"]["Policies"]
        render[:] = [p for p in render if "Statement" not in p]

    findings = least_privilege_findings(_mutated(doc, change))
    messages = {f.resource: [] for f in findings}
    for f in findings:
        messages[f.resource].append(f.message)
    assert "grants table RunsTable (rw) beyond its needs" in messages["RunsFunction"]
    assert "lacks s3 reports/* (rw) its code uses" in messages["RenderFunction"]


def test_sam_policy_templates_are_awss_definitions() -> None:
    # Spot checks against policy_templates.json: the expansion must not under-report.
    read = SAM_POLICY_TEMPLATES["DynamoDBReadPolicy"][0][0]
    assert "dynamodb:Scan" in read
    assert "dynamodb:PutItem" not in read
    crud = SAM_POLICY_TEMPLATES["S3CrudPolicy"][0][0]
    assert {"s3:PutObjectAcl", "s3:PutLifecycleConfiguration", "s3:DeleteObject"} <= set(crud)


# ---------------------------------------------------------------------------- storage, API
def test_buckets_tables_queues_and_logs_are_encrypted_private_and_kept(template: Template) -> None:
    findings = storage_findings(template)
    assert not findings, _explain(findings)
    buckets = template.resources_of("AWS::S3::Bucket")
    assert {"DataBucket", "AthenaResultsBucket"} <= set(buckets)


@pytest.mark.parametrize(
    ("change", "resource", "rule"),
    [
        (
            lambda r: r["DataBucket"]["Properties"].pop("BucketEncryption"),
            "DataBucket",
            "s3-encryption",
        ),
        (
            lambda r: r["AthenaResultsBucket"]["Properties"][
                "PublicAccessBlockConfiguration"
            ].update(RestrictPublicBuckets=False),
            "AthenaResultsBucket",
            "s3-public",
        ),
        (lambda r: r["DataBucket"]["Properties"].pop("OwnershipControls"), "DataBucket", "s3-acl"),
        (lambda r: r.pop("AthenaResultsBucketPolicy"), "AthenaResultsBucket", "s3-tls"),
        (
            lambda r: r["DataBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0].update(
                Resource=[{"Fn::GetAtt": ["DataBucket", "Arn"]}]
            ),
            "DataBucket",
            "s3-tls",
        ),
        (
            lambda r: r["DataBucket"]["Properties"].update(AccessControl="PublicRead"),
            "DataBucket",
            "s3-public",
        ),
        (
            lambda r: r["RunsTable"]["Properties"].pop("SSESpecification"),
            "RunsTable",
            "dynamodb-sse",
        ),
        (
            lambda r: r["TickerIndexTable"]["Properties"].pop("PointInTimeRecoverySpecification"),
            "TickerIndexTable",
            "dynamodb-pitr",
        ),
        (
            lambda r: r["DeadLetterQueue"]["Properties"].pop("SqsManagedSseEnabled"),
            "DeadLetterQueue",
            "sqs-sse",
        ),
        (
            lambda r: r["RunsLogGroup"]["Properties"].pop("RetentionInDays"),
            "RunsLogGroup",
            "logs-retention",
        ),
        (lambda r: r.pop("RenderLogGroup"), "RenderFunction", "logs-retention"),
    ],
)
def test_storage_check_flags_a_weakened_resource(
    doc: dict[str, Any], change: Any, resource: str, rule: str
) -> None:
    findings = storage_findings(_mutated(doc, change))
    assert rule in _rules(findings, resource), _explain(findings)


def test_every_route_needs_an_api_key_and_cors_is_not_open_with_credentials(
    template: Template, doc: dict[str, Any]
) -> None:
    assert not api_findings(template), _explain(api_findings(template))

    def open_route(resources: dict[str, Any]) -> None:
        event = resources["RunsFunction"]["Properties"]["Events"]["GetRun"]["Properties"]
        event["Auth"] = {"ApiKeyRequired": False}
        api = resources["StratigosApi"]["Properties"]
        api["Cors"] = {"AllowOrigin": "'*'", "AllowCredentials": True}

    findings = api_findings(_mutated(doc, open_route))
    assert "api-key" in _rules(findings, "RunsFunction"), _explain(findings)
    assert "api-cors" in _rules(findings, "StratigosApi"), _explain(findings)


# ---------------------------------------------------------------------------- tenancy
def test_every_function_takes_its_tenant_from_the_key_or_the_event(template: Template) -> None:
    findings = tenant_findings(template)
    assert not findings, _explain(findings)
    # Only functions that serve no tenant's data are exempt from resolving one.
    assert set(NO_TENANT_DATA) == {"ApiDocsFunction", "IngestFunction", "ReturnsFunction"}


_GOOD_API = """
app = rest_resolver()

def _repository() -> PortfolioRepository:
    return PortfolioRepository("t", "i")

@app.get("/portfolios/<pid>")
def get_portfolio(pid):
    tenant = request_tenant(app)
    return _repository().get(tenant, pid)
"""


def test_tenant_check_accepts_a_route_that_uses_the_keys_tenant() -> None:
    assert not tenant_findings_for_module("Fn", "good.py", _GOOD_API, api=True)


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        # The tenant from the query string: a caller picks whose data to read.
        (
            _GOOD_API.replace(
                "tenant = request_tenant(app)",
                'tenant = app.current_event.get_query_string_value("tenant")',
            ),
            "tenant-route",
        ),
        (
            _GOOD_API.replace(
                "_repository().get(tenant, pid)", "_repository().get(body.tenant, pid)"
            ),
            "tenant-source",
        ),
        # A repository held in a name, fed a request field.
        (
            _GOOD_API.replace(
                "return _repository().get(tenant, pid)",
                "runs = RunRepository('r')\n    return runs.get(pid, pid)",
            ),
            "tenant-source",
        ),
        # A report key built for another tenant.
        (
            _GOOD_API.replace(
                "return _repository().get(tenant, pid)",
                "return report_prefix(app.current_event.headers['x-tenant'], 'runs', pid)",
            ),
            "tenant-source",
        ),
        # A route that reads across tenants.
        (
            _GOOD_API.replace("_repository().get(tenant, pid)", "_repository().all_keys()"),
            "tenant-cross",
        ),
        # A helper with a tenant parameter, called with something else.
        (
            _GOOD_API
            + """
def _load(config, tenant, pid):
    return RunRepository(config).get(tenant, pid)

@app.get("/runs/<pid>")
def get_run(pid):
    request_tenant(app)
    return _load("c", pid, pid)
""",
            "tenant-source",
        ),
    ],
)
def test_tenant_check_flags_a_tenant_not_from_the_key(source: str, rule: str) -> None:
    findings = tenant_findings_for_module("Fn", "bad.py", source, api=True)
    assert rule in {f.rule for f in findings}, _explain(findings)


_GOOD_CONSUMER = """
@event_source(data_class=EventBridgeEvent)
def render(event, context):
    tenant, run_id = str(event.detail["tenant"]), str(event.detail["runId"])
    run = RunRepository("t").get(tenant, run_id)
    return report_prefix(tenant, "runs", run.id)
"""


def test_tenant_check_for_event_consumers() -> None:
    assert not tenant_findings_for_module("Fn", "good.py", _GOOD_CONSUMER, api=False)
    # Not decorated as an event consumer: the event is not a trusted source.
    undecorated = _GOOD_CONSUMER.replace("@event_source(data_class=EventBridgeEvent)\n", "")
    findings = tenant_findings_for_module("Fn", "bad.py", undecorated, api=False)
    assert "tenant-source" in {f.rule for f in findings}, _explain(findings)
    # Listed as touching no tenant data, yet it does.
    findings = tenant_findings_for_module(
        "Fn", "bad.py", _GOOD_CONSUMER, api=False, no_tenant_data=True
    )
    assert "tenant-allow-list" in {f.rule for f in findings}, _explain(findings)


def test_least_privilege_table_is_generated_from_the_template(template: Template) -> None:
    table = least_privilege_table(template)
    rows = table.splitlines()[2:]
    assert {row.split("|")[1].strip() for row in rows} == set(NEEDS) - {"ApiDocsFunction"}
    assert "s3:GetObject | s3:::stratigos-local-data-123456789012-us-east-1/reports/*" in table
    assert "| * |" not in table  # SAM's managed policies are listed apart, in docs/SECURITY.md


# ---------------------------------------------------------------------------- response cache
def _settings(resources: dict[str, Any]) -> list[dict[str, Any]]:
    settings: list[dict[str, Any]] = resources["StratigosApi"]["Properties"]["MethodSettings"]
    return settings


def _setting(resources: dict[str, Any], path: str) -> dict[str, Any]:
    (setting,) = [s for s in _settings(resources) if s["ResourcePath"] == path]
    return setting


_CACHE_ON = {"Fn::If": ["ApiCacheOn", True, False]}


def test_only_shared_market_data_is_cached_encrypted_and_per_key(template: Template) -> None:
    assert not cache_findings(template), _explain(cache_findings(template))
    # The same template deployed with the cache on: still clean (the check reads both
    # branches of every !If, so it does not depend on the parameters).
    on = Template(template.doc, StackContext(parameters={"ApiCacheEnabled": "true"}))
    assert not cache_findings(on), _explain(cache_findings(on))
    assert {(r.method, r.path) for r in on.cached_routes()} == set(SHARED_DATA_ROUTES)


@pytest.mark.parametrize(
    ("change", "resource", "rule"),
    [
        # A tenant route cached when the switch is on (off by default: still flagged).
        (
            lambda r: _settings(r).append(
                {
                    "ResourcePath": "/~1portfolios~1{id}",
                    "HttpMethod": "GET",
                    "CachingEnabled": _CACHE_ON,
                    "CacheDataEncrypted": True,
                }
            ),
            "StratigosApi",
            "api-cache-tenant-route",
        ),
        # An override for a tenant GET that leaves CachingEnabled unset.
        (
            lambda r: _settings(r).append(
                {"ResourcePath": "/~1runs~1{id}", "HttpMethod": "GET", "ThrottlingRateLimit": 5}
            ),
            "StratigosApi",
            "api-cache-tenant-route",
        ),
        # The stage-wide default caching every GET.
        (
            lambda r: _setting(r, "/*").update(CachingEnabled=_CACHE_ON),
            "StratigosApi",
            "api-cache-tenant-route",
        ),
        (
            lambda r: _setting(r, "/*").pop("CachingEnabled"),
            "StratigosApi",
            "api-cache-default",
        ),
        (
            lambda r: _setting(r, "/~1market-data~1prices").pop("CacheDataEncrypted"),
            "StratigosApi",
            "api-cache-encryption",
        ),
        (
            lambda r: _setting(r, "/~1market-data~1returns").update(CacheDataEncrypted=_CACHE_ON),
            "StratigosApi",
            "api-cache-encryption",
        ),
        # A path written unencoded names no route: the cache would not be where it seems.
        (
            lambda r: _setting(r, "/~1market-data~1prices").update(
                ResourcePath="/market-data/prices"
            ),
            "StratigosApi",
            "api-cache-route",
        ),
        # One cache for every key: the function's key check and its refusals are shared.
        (
            lambda r: r["MarketDataFunction"]["Properties"]["Events"]["GetPrices"]["Properties"][
                "RequestParameters"
            ].pop(0),
            "MarketDataFunction",
            "api-cache-key",
        ),
    ],
)
def test_cache_check_flags_a_cached_tenant_route_or_a_weakened_cache(
    doc: dict[str, Any], change: Any, resource: str, rule: str
) -> None:
    findings = cache_findings(_mutated(doc, change))
    assert rule in _rules(findings, resource), _explain(findings)


def test_cache_check_flags_a_tenant_route_cached_only_under_some_parameters(
    doc: dict[str, Any],
) -> None:
    def cache_portfolios(resources: dict[str, Any]) -> None:
        _settings(resources).append(
            {"ResourcePath": "/~1portfolios", "HttpMethod": "GET", "CachingEnabled": _CACHE_ON}
        )

    bad = _mutated(doc, cache_portfolios)
    # As resolved with the defaults nothing is cached, yet the template is refused.
    assert bad.cached_routes() == []
    assert "api-cache-tenant-route" in _rules(cache_findings(bad), "StratigosApi")
    on = Template(bad.doc, StackContext(parameters={"ApiCacheEnabled": "true"}))
    assert ("GET", "/portfolios") in {(r.method, r.path) for r in on.cached_routes()}


# ---------------------------------------------------------------------------- routes bound by name
_BOUND_API = """
app = rest_resolver()

@bind(app, "GetPortfolio")
def get_portfolio(pid):
    tenant = request_tenant(app)
    return _repository().get(tenant, pid)

def _submit(kind):
    tenant = request_tenant(app)
    return RunRepository("r").create(tenant, kind)

def _submitter(kind):
    return lambda: _submit(kind)

for _route in routes_of("Fn"):
    bind(app, _route.name)(_submitter(_route.run_type))
"""


def test_tenant_check_reads_routes_registered_with_core_routes_bind() -> None:
    assert not tenant_findings_for_module("Fn", "good.py", _BOUND_API, api=True)
    keyless = _BOUND_API.replace(
        "    tenant = request_tenant(app)\n    return Run", "    tenant = 't'\n    return Run"
    )
    findings = tenant_findings_for_module("Fn", "bad.py", keyless, api=True)
    assert "tenant-route" in {f.rule for f in findings}, _explain(findings)
