"""template.yaml's response cache and provisioned concurrency, through the template model.

The cache (``ApiCacheEnabled``) may hold the two market-data answers only, per API key and
query, encrypted, for their own TTLs; every other method is never cached. The CRUD functions
are published behind the alias ``live``, with provisioned concurrency only when
``CrudProvisionedConcurrency`` is above 0. Both are checked with the parameters' defaults
and with the overrides an operator would deploy with.
"""

from __future__ import annotations

from typing import Any

import pytest

from ingest.market_data import MarketDataQuery
from stack import (
    StackContext,
    Template,
    TemplateError,
    request_parameters,
    resource_path,
)

MARKET_DATA = {("GET", "/market-data/prices"), ("GET", "/market-data/returns")}
TTL_PARAMETERS = {
    "/market-data/prices": "PricesCacheTtlSeconds",
    "/market-data/returns": "ReturnsCacheTtlSeconds",
}
CRUD_FUNCTIONS = ("PortfoliosFunction", "RunsFunction", "ReportLinksFunction")
PER_KEY = "method.request.header.x-api-key"


def _template(**parameters: str) -> Template:
    return Template.load(context=StackContext(parameters=parameters))


@pytest.fixture(scope="module")
def cached() -> Template:
    return _template(ApiCacheEnabled="true")


def _parameter(template: Template, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = template.doc["Parameters"][name]
    return spec


# ---------------------------------------------------------------------------- cache
def test_the_cache_is_off_by_default_and_nothing_is_cached() -> None:
    template = _template()
    assert _parameter(template, "ApiCacheEnabled")["Default"] == "false"
    assert not template.cache_cluster_enabled()
    assert template.cached_routes() == []
    api = template.resolve(template.resources["StratigosApi"]["Properties"])
    assert api["CacheClusterEnabled"] is False
    assert "CacheClusterSize" not in api  # no size without a cluster
    assert all(s.caching_enabled is False for s in template.method_settings())


def test_with_the_cache_on_only_the_two_market_data_methods_are_cached(cached: Template) -> None:
    assert cached.cache_cluster_enabled()
    assert {(r.method, r.path) for r in cached.cached_routes()} == MARKET_DATA
    api = cached.resolve(cached.resources["StratigosApi"]["Properties"])
    assert api["CacheClusterSize"] == "0.5"
    assert _template(ApiCacheEnabled="true", ApiCacheSize="1.6").resolve(
        {"Ref": "ApiCacheSize"}
    ) == ("1.6")


def test_every_other_method_is_explicitly_never_cached(cached: Template) -> None:
    (default,) = [s for s in cached.method_settings() if s.is_default]
    # Explicitly false: with a cluster and no setting, API Gateway caches every GET method.
    assert default.caching_enabled is False
    others = [r for r in cached.routes() if (r.method, r.path) not in MARKET_DATA]
    assert len(others) >= 10
    for route in others:
        assert cached.method_setting(route) == default, (route.method, route.path)
        assert not route.cache_key_parameters, route.event


@pytest.mark.parametrize("path", sorted(TTL_PARAMETERS))
def test_each_market_data_method_has_its_own_ttl_and_is_encrypted(
    cached: Template, path: str
) -> None:
    (route,) = [r for r in cached.routes() if (r.method, r.path) == ("GET", path)]
    setting = cached.method_setting(route)
    assert setting is not None
    assert not setting.is_default
    assert setting.caching_enabled is True
    assert setting.cache_data_encrypted is True
    assert setting.cache_ttl_seconds == 300
    ttl = _parameter(cached, TTL_PARAMETERS[path])
    assert (ttl["Type"], ttl["Default"], ttl["MinValue"], ttl["MaxValue"]) == (
        "Number",
        300,
        0,
        3600,
    )
    custom = _template(ApiCacheEnabled="true", **{TTL_PARAMETERS[path]: "60"}).method_setting(route)
    assert custom is not None
    assert custom.cache_ttl_seconds == 60


def test_the_cache_key_is_the_callers_key_and_every_query_parameter(cached: Template) -> None:
    handled = set(MarketDataQuery.model_fields)  # what the handler reads (extra="forbid")
    assert handled == {"tickers", "start", "end", "frequency"}
    for route in cached.cached_routes():
        keys = set(route.cache_key_parameters)
        assert keys == {PER_KEY} | {f"method.request.querystring.{name}" for name in handled}
        event = cached.resources[route.function]["Properties"]["Events"][route.event]
        declared = request_parameters(event["Properties"]["RequestParameters"])
        required = {name for name, spec in declared.items() if spec["Required"]}
        optional = {
            name for name, field in MarketDataQuery.model_fields.items() if not field.is_required()
        }
        assert required == keys - {f"method.request.querystring.{name}" for name in optional}


def test_cache_parameters_constrain_the_deployable_values(cached: Template) -> None:
    assert _parameter(cached, "ApiCacheEnabled")["AllowedValues"] == ["true", "false"]
    sizes = _parameter(cached, "ApiCacheSize")
    assert sizes["Default"] == "0.5"
    assert sizes["AllowedValues"] == ["0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237"]


def test_resource_paths_and_request_parameters_are_read_as_api_gateway_reads_them() -> None:
    assert resource_path("/~1market-data~1prices") == "/market-data/prices"
    assert resource_path("/~1portfolios~1{id}~1runs") == "/portfolios/{id}/runs"
    assert resource_path("/*") == "/*"
    assert resource_path("/") == "/"
    assert resource_path("/~1a~0b") == "/a~b"
    assert request_parameters(
        ["method.request.header.h", {"method.request.querystring.q": {"Caching": True}}]
    ) == {
        "method.request.header.h": {"Required": False, "Caching": False},
        "method.request.querystring.q": {"Required": False, "Caching": True},
    }
    with pytest.raises(TemplateError):
        request_parameters([1])


# ---------------------------------------------------------------------- provisioned concurrency
def test_crud_functions_are_published_behind_the_alias_live() -> None:
    template = _template()
    for logical, resource in template.resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        if logical in CRUD_FUNCTIONS:
            # Unconditional: SAM takes no !If on AutoPublishAlias; with it, SAM points the
            # API's integrations and invoke permissions at the alias.
            assert props["AutoPublishAlias"] == "live", logical
        else:
            assert "AutoPublishAlias" not in props, logical
            assert "ProvisionedConcurrencyConfig" not in props, logical


def test_provisioned_concurrency_follows_the_parameter() -> None:
    spec = _parameter(_template(), "CrudProvisionedConcurrency")
    assert (spec["Type"], spec["Default"], spec["MinValue"]) == ("Number", 0, 0)
    off = _template()
    assert off.conditions["HasCrudProvisionedConcurrency"] is False
    on = _template(CrudProvisionedConcurrency="3")
    assert on.conditions["HasCrudProvisionedConcurrency"] is True
    for logical in CRUD_FUNCTIONS:
        # The whole property is conditional: ProvisionedConcurrentExecutions 0 (or an
        # empty config) is refused by CloudFormation, so 0 means no config at all.
        raw = off.resources[logical]["Properties"]["ProvisionedConcurrencyConfig"]
        assert list(raw) == ["Fn::If"]
        assert "ProvisionedConcurrencyConfig" not in off.resolve(
            off.resources[logical]["Properties"]
        )
        assert on.resolve(on.resources[logical]["Properties"])["ProvisionedConcurrencyConfig"] == {
            "ProvisionedConcurrentExecutions": "3"
        }
