"""template.yaml as data: the resources, functions, routes and rules the local stack builds.

The local stack has no second list of resources: everything it creates is read from the
SAM template here, with CloudFormation intrinsics (``!Ref``, ``!Sub``, ``!GetAtt``,
``!Join``, ``!Split``, ``!Select``, ``!If`` and conditions) resolved for a local
account, region and stack name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "DEFAULT_TEMPLATE",
    "FunctionSpec",
    "MethodSettingSpec",
    "RouteSpec",
    "RuleSpec",
    "StackContext",
    "Template",
    "TemplateError",
    "load_yaml",
    "request_parameters",
    "resource_path",
]

DEFAULT_TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
NO_VALUE = object()


class TemplateError(ValueError):
    """The template uses something the local stack cannot resolve."""


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short-form tags into their long form."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML file into plain dicts (intrinsics in long form)."""
    with path.open(encoding="utf-8") as handle:
        # _CfnLoader is a SafeLoader (plus CloudFormation's short-form tags).
        doc = yaml.load(handle, Loader=_CfnLoader)  # nosec B506
    if not isinstance(doc, dict) or "Resources" not in doc:
        raise TemplateError(f"{path} is not a CloudFormation template")
    return doc


@dataclass(frozen=True)
class StackContext:
    """The pseudo parameters a deployment would give the template."""

    stack_name: str = "stratigos-local"
    account_id: str = "123456789012"
    region: str = "us-east-1"
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"
    parameters: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RouteSpec:
    """One API route: ``Events.<name>`` of ``Type: Api`` on a function."""

    function: str
    event: str
    method: str
    path: str
    api_key_required: bool
    # The event's RequestParameters marked ``Caching: true`` (API Gateway's cache key), e.g.
    # ``method.request.querystring.tickers``.
    cache_key_parameters: tuple[str, ...] = ()

    @property
    def regex(self) -> re.Pattern[str]:
        """Matches concrete paths; ``{name}`` is one segment, ``{name+}`` the rest."""
        pattern = re.sub(r"\{(\w+)\+\}", r"(?P<\1>.+)", self.path)
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        return re.compile(f"^{pattern}$")

    @property
    def specificity(self) -> tuple[int, int]:
        """API Gateway prefers literal segments over parameters."""
        segments = [s for s in self.path.split("/") if s]
        return (sum(1 for s in segments if not s.startswith("{")), len(segments))


def request_parameters(value: Any) -> dict[str, dict[str, Any]]:
    """An Api event's ``RequestParameters`` as ``{name: {"Required": …, "Caching": …}}``.

    SAM accepts each item as a bare name or as ``{name: {Required, Caching}}``; both
    default to false.
    """
    out: dict[str, dict[str, Any]] = {}
    for item in value or []:
        if isinstance(item, str):
            out[item] = {"Required": False, "Caching": False}
        elif isinstance(item, dict):
            for name, settings in item.items():
                out[str(name)] = {"Required": False, "Caching": False, **(settings or {})}
        else:
            raise TemplateError(f"RequestParameters item {item!r} is neither a name nor a map")
    return out


def resource_path(encoded: str) -> str:
    """A stage ``MethodSettings`` ``ResourcePath`` as a route path.

    CloudFormation writes ``/market-data/prices`` as ``/~1market-data~1prices`` (``~1`` is
    ``/``, ``~0`` is ``~``); ``/*`` (every resource) is kept as it is.
    """
    if encoded == "/*":
        return encoded
    inner = encoded[1:] if encoded.startswith("/") else encoded
    return inner.replace("~1", "/").replace("~0", "~") or "/"


def _flag(value: Any) -> bool | None:
    """A resolved boolean property (CloudFormation also takes "true"/"false")."""
    if value is None or isinstance(value, bool):
        return value
    return str(value).lower() == "true"


@dataclass(frozen=True)
class MethodSettingSpec:
    """One ``MethodSettings`` entry of the REST API's stage, intrinsics resolved.

    ``path`` is a route path (``/market-data/prices``) or ``/*`` with ``method`` ``*``:
    the stage-wide default that every other entry overrides for its own method.
    """

    path: str
    method: str
    caching_enabled: bool | None
    cache_ttl_seconds: int | None
    cache_data_encrypted: bool | None

    @property
    def is_default(self) -> bool:
        return self.path == "/*" and self.method == "*"


@dataclass(frozen=True)
class RuleSpec:
    """One EventBridge rule or schedule feeding a function (``EventBridgeRule``/``Schedule``)."""

    function: str
    event: str
    kind: str
    bus_name: str
    pattern: dict[str, Any] | None
    schedule: str | None
    retry_attempts: int
    max_event_age_seconds: int
    dead_letter_arn: str | None

    @property
    def rule_name(self) -> str:
        return f"{self.function}-{self.event}"


@dataclass(frozen=True)
class FunctionSpec:
    """One ``AWS::Serverless::Function`` with Globals applied and intrinsics resolved."""

    logical_id: str
    handler: str
    memory_mb: int
    timeout_s: int
    environment: dict[str, str]
    layers: tuple[str, ...]
    # The same layers as this template's logical ids (``!Ref CoreLayer``), or as given when
    # not a reference (an external layer's ARN).
    layer_ids: tuple[str, ...]
    async_retry_attempts: int
    async_max_event_age_seconds: int
    on_failure_arn: str | None
    routes: tuple[RouteSpec, ...]
    rules: tuple[RuleSpec, ...]
    # ``ReservedConcurrentExecutions``: at most this many environments at once (None: the
    # account's pool; the local runtime's default).
    reserved_concurrency: int | None = None

    @property
    def name(self) -> str:
        return self.logical_id


class Template:
    """A SAM template resolved for one stack context.

    Parameters
    ----------
    doc : dict
        The parsed template (see :func:`load_yaml`).
    context : StackContext
        Stack name, account, region and parameter overrides.
    """

    def __init__(self, doc: dict[str, Any], context: StackContext | None = None) -> None:
        self.doc = doc
        self.context = context or StackContext()
        self.resources: dict[str, dict[str, Any]] = doc["Resources"]
        self.parameters = self._parameter_values()
        self.conditions = {
            name: bool(self.resolve(expr)) for name, expr in doc.get("Conditions", {}).items()
        }

    @classmethod
    def load(cls, path: Path | None = None, context: StackContext | None = None) -> Template:
        return cls(load_yaml(path or DEFAULT_TEMPLATE), context)

    # ---------------------------------------------------------------- intrinsics
    def _parameter_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in self.doc.get("Parameters", {}).items():
            if name in self.context.parameters:
                values[name] = self.context.parameters[name]
            elif "Default" in spec:
                values[name] = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no default and no value")
        return values

    def _pseudo(self, name: str) -> Any:
        ctx = self.context
        pseudo: dict[str, Any] = {
            "AWS::StackName": ctx.stack_name,
            "AWS::AccountId": ctx.account_id,
            "AWS::Region": ctx.region,
            "AWS::Partition": ctx.partition,
            "AWS::URLSuffix": ctx.url_suffix,
            "AWS::NoValue": NO_VALUE,
            "AWS::StackId": (
                f"arn:{ctx.partition}:cloudformation:{ctx.region}:{ctx.account_id}"
                f":stack/{ctx.stack_name}/local"
            ),
        }
        if name not in pseudo:
            raise TemplateError(f"unknown pseudo parameter {name}")
        return pseudo[name]

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic function inside ``value``."""
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition":
                return self.conditions[arg]
            if key.startswith("Fn::"):
                return self._function(key[4:], arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _function(self, name: str, arg: Any) -> Any:
        if name == "GetAtt":
            logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.get_att(logical, attribute)
        if name == "Sub":
            if isinstance(arg, list):
                text, variables = arg[0], {k: self.resolve(v) for k, v in arg[1].items()}
            else:
                text, variables = arg, {}
            return self._sub(text, variables)
        if name == "Join":
            sep, items = arg
            return str(sep).join(str(i) for i in self.resolve(items))
        if name == "Split":
            sep, text = arg
            return str(self.resolve(text)).split(sep)
        if name == "Select":
            index, items = arg
            return self.resolve(items)[int(self.resolve(index))]
        if name == "If":
            condition, when_true, when_false = arg
            return self.resolve(when_true if self.conditions[condition] else when_false)
        if name == "Equals":
            left, right = (self.resolve(a) for a in arg)
            return str(left) == str(right)
        if name == "Not":
            return not self.resolve(arg[0])
        if name == "And":
            return all(self.resolve(a) for a in arg)
        if name == "Or":
            return any(self.resolve(a) for a in arg)
        raise TemplateError(f"Fn::{name} is not supported by the local stack")

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"
            if token in variables:
                return str(variables[token])
            if "." in token and token.split(".", 1)[0] in self.resources:
                logical, attribute = token.split(".", 1)
                return str(self.get_att(logical, attribute))
            return str(self.ref(token))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def ref(self, name: str) -> Any:
        """``Ref``: parameters, pseudo parameters, and each resource type's Ref value."""
        if name.startswith("AWS::"):
            return self._pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        if name not in self.resources:
            # SAM-generated resources (e.g. <Api>UsagePlan) exist only after the transform.
            return f"{self.context.stack_name}-{name}"
        resource = self.resources[name]
        kind = resource["Type"]
        props = resource.get("Properties", {})
        if kind == "AWS::SQS::Queue":
            return (
                f"https://sqs.{self.context.region}.{self.context.url_suffix}/"
                f"{self.context.account_id}/{self.physical_name(name)}"
            )
        if kind in ("AWS::SNS::Topic", "AWS::Serverless::LayerVersion"):
            return self.get_att(name, "Arn")
        if kind == "AWS::S3::BucketPolicy":
            return f"{self.context.stack_name}-{name}"
        del props
        return self.physical_name(name)

    def physical_name(self, logical_id: str) -> str:
        """The name a resource gets: its declared name, else a stack-derived one."""
        resource = self.resources[logical_id]
        props = resource.get("Properties", {})
        name_property = {
            "AWS::S3::Bucket": "BucketName",
            "AWS::DynamoDB::Table": "TableName",
            "AWS::Events::EventBus": "Name",
            "AWS::SQS::Queue": "QueueName",
            "AWS::Athena::WorkGroup": "Name",
            "AWS::SNS::Topic": "TopicName",
            "AWS::Logs::LogGroup": "LogGroupName",
            "AWS::Serverless::Function": "FunctionName",
            "AWS::Serverless::LayerVersion": "LayerName",
        }.get(resource["Type"])
        if resource["Type"] == "AWS::Glue::Database":
            return str(self.resolve(props["DatabaseInput"]["Name"]))
        if name_property and name_property in props:
            return str(self.resolve(props[name_property]))
        return f"{self.context.stack_name}-{logical_id}"

    def get_att(self, logical_id: str, attribute: str) -> Any:
        """``Fn::GetAtt`` for the attributes the template uses."""
        if logical_id not in self.resources:
            raise TemplateError(f"GetAtt of unknown resource {logical_id}")
        kind = self.resources[logical_id]["Type"]
        ctx = self.context
        name = self.physical_name(logical_id)
        arns = {
            "AWS::S3::Bucket": f"arn:{ctx.partition}:s3:::{name}",
            "AWS::DynamoDB::Table": (
                f"arn:{ctx.partition}:dynamodb:{ctx.region}:{ctx.account_id}:table/{name}"
            ),
            "AWS::SQS::Queue": f"arn:{ctx.partition}:sqs:{ctx.region}:{ctx.account_id}:{name}",
            "AWS::Events::EventBus": (
                f"arn:{ctx.partition}:events:{ctx.region}:{ctx.account_id}:event-bus/{name}"
            ),
            "AWS::SNS::Topic": f"arn:{ctx.partition}:sns:{ctx.region}:{ctx.account_id}:{name}",
            "AWS::Serverless::Function": (
                f"arn:{ctx.partition}:lambda:{ctx.region}:{ctx.account_id}:function:{name}"
            ),
            "AWS::Serverless::LayerVersion": (
                f"arn:{ctx.partition}:lambda:{ctx.region}:{ctx.account_id}:layer:{name}:1"
            ),
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        if attribute in ("QueueName", "Name", "BucketName"):
            return name
        raise TemplateError(f"GetAtt {logical_id}.{attribute} is not supported locally")

    # ---------------------------------------------------------------- typed views
    def resources_of(self, kind: str) -> dict[str, dict[str, Any]]:
        """``{logical id: resolved Properties}`` of every resource of one type."""
        return {
            logical: self.resolve(resource.get("Properties", {}))
            for logical, resource in self.resources.items()
            if resource["Type"] == kind and self.conditions.get(resource.get("Condition", ""), True)
        }

    def functions(self) -> list[FunctionSpec]:
        """Every function, with ``Globals.Function`` merged the way SAM merges it."""
        defaults = self.doc.get("Globals", {}).get("Function", {})
        specs = []
        for logical, resource in self.resources.items():
            if resource["Type"] != "AWS::Serverless::Function":
                continue
            props = resource.get("Properties", {})
            env = {
                **defaults.get("Environment", {}).get("Variables", {}),
                **props.get("Environment", {}).get("Variables", {}),
            }
            layers = [*defaults.get("Layers", []), *props.get("Layers", [])]
            invoke = props.get("EventInvokeConfig", {})
            on_failure = invoke.get("DestinationConfig", {}).get("OnFailure", {})
            routes, rules = self._function_events(logical, props.get("Events", {}))
            specs.append(
                FunctionSpec(
                    logical_id=logical,
                    handler=str(props.get("Handler", defaults.get("Handler", ""))),
                    memory_mb=int(props.get("MemorySize", defaults.get("MemorySize", 128))),
                    timeout_s=int(props.get("Timeout", defaults.get("Timeout", 3))),
                    environment={k: str(self.resolve(v)) for k, v in env.items()},
                    layers=tuple(str(self.resolve(layer)) for layer in layers),
                    layer_ids=tuple(
                        str(layer["Ref"])
                        if isinstance(layer, dict) and "Ref" in layer
                        else str(self.resolve(layer))
                        for layer in layers
                    ),
                    # Lambda's async defaults: 2 retries, 6 hours.
                    async_retry_attempts=int(invoke.get("MaximumRetryAttempts", 2)),
                    async_max_event_age_seconds=int(invoke.get("MaximumEventAgeInSeconds", 21600)),
                    on_failure_arn=(
                        str(self.resolve(on_failure["Destination"]))
                        if "Destination" in on_failure
                        else None
                    ),
                    routes=tuple(routes),
                    rules=tuple(rules),
                    reserved_concurrency=(
                        int(reserved)
                        if (
                            reserved := self.resolve(
                                props.get(
                                    "ReservedConcurrentExecutions",
                                    defaults.get("ReservedConcurrentExecutions"),
                                )
                            )
                        )
                        is not None
                        else None
                    ),
                )
            )
        return specs

    def _function_events(
        self, function: str, events: Mapping[str, Any]
    ) -> tuple[list[RouteSpec], list[RuleSpec]]:
        api_defaults = self._api_auth_defaults()
        routes: list[RouteSpec] = []
        rules: list[RuleSpec] = []
        for event_name, event in events.items():
            props = self.resolve(event.get("Properties", {}))
            kind = event["Type"]
            if kind == "Api":
                auth = props.get("Auth", {})
                parameters = request_parameters(props.get("RequestParameters"))
                routes.append(
                    RouteSpec(
                        function=function,
                        event=event_name,
                        method=str(props["Method"]).upper(),
                        path=str(props["Path"]),
                        api_key_required=bool(
                            auth.get("ApiKeyRequired", api_defaults.get("ApiKeyRequired", False))
                        ),
                        cache_key_parameters=tuple(
                            name
                            for name, settings in parameters.items()
                            if _flag(settings.get("Caching"))
                        ),
                    )
                )
            elif kind in ("EventBridgeRule", "Schedule"):
                retry = props.get("RetryPolicy", {})
                rules.append(
                    RuleSpec(
                        function=function,
                        event=event_name,
                        kind=kind,
                        bus_name=str(props.get("EventBusName", "default")),
                        pattern=props.get("Pattern"),
                        schedule=props.get("Schedule"),
                        # EventBridge's defaults: 185 attempts over 24 hours.
                        retry_attempts=int(retry.get("MaximumRetryAttempts", 185)),
                        max_event_age_seconds=int(retry.get("MaximumEventAgeInSeconds", 86400)),
                        dead_letter_arn=props.get("DeadLetterConfig", {}).get("Arn"),
                    )
                )
            else:
                raise TemplateError(f"{function}.{event_name}: event type {kind} not supported")
        return routes, rules

    def _api_auth_defaults(self) -> dict[str, Any]:
        for resource in self.resources.values():
            if resource["Type"] == "AWS::Serverless::Api":
                auth: dict[str, Any] = resource.get("Properties", {}).get("Auth", {})
                return auth
        return {}

    def shared_environment(self) -> dict[str, str]:
        """``Globals.Function.Environment.Variables``, resolved (what every function sees)."""
        variables = self.doc.get("Globals", {}).get("Function", {}).get("Environment", {})
        return {k: str(self.resolve(v)) for k, v in variables.get("Variables", {}).items()}

    def routes(self) -> list[RouteSpec]:
        return [route for fn in self.functions() for route in fn.routes]

    def rules(self) -> list[RuleSpec]:
        return [rule for fn in self.functions() for rule in fn.rules]

    def function(self, logical_id: str) -> FunctionSpec:
        for spec in self.functions():
            if spec.logical_id == logical_id:
                return spec
        raise KeyError(logical_id)

    def gateway_responses(self) -> dict[str, dict[str, Any]]:
        """The REST API's ``GatewayResponses`` (status and JSON body per response type)."""
        for resource in self.resources.values():
            if resource["Type"] == "AWS::Serverless::Api":
                responses: dict[str, dict[str, Any]] = self.resolve(
                    resource.get("Properties", {}).get("GatewayResponses", {})
                )
                return responses
        return {}

    def _rest_api_properties(self) -> dict[str, Any]:
        for resource in self.resources.values():
            if resource["Type"] == "AWS::Serverless::Api":
                properties: dict[str, Any] = resource.get("Properties", {})
                return properties
        return {}

    def cache_cluster_enabled(self) -> bool:
        """Whether the REST API's stage has a response cache (``CacheClusterEnabled``)."""
        return bool(_flag(self.resolve(self._rest_api_properties().get("CacheClusterEnabled"))))

    def method_settings(self) -> list[MethodSettingSpec]:
        """The REST API stage's ``MethodSettings``, in template order."""
        settings = self.resolve(self._rest_api_properties().get("MethodSettings", []))
        return [
            MethodSettingSpec(
                path=resource_path(str(entry.get("ResourcePath", ""))),
                method=str(entry.get("HttpMethod", "")).upper(),
                caching_enabled=_flag(entry.get("CachingEnabled")),
                cache_ttl_seconds=(
                    int(entry["CacheTtlInSeconds"]) if "CacheTtlInSeconds" in entry else None
                ),
                cache_data_encrypted=_flag(entry.get("CacheDataEncrypted")),
            )
            for entry in settings
        ]

    def method_setting(self, route: RouteSpec) -> MethodSettingSpec | None:
        """The entry API Gateway applies to one route's caching: its own, else the default."""
        settings = self.method_settings()
        for entry in settings:
            if (entry.method, entry.path) == (route.method, route.path):
                return entry
        return next((entry for entry in settings if entry.is_default), None)

    def cached_routes(self) -> list[RouteSpec]:
        """The routes whose answers the stage's cache serves, with this context's parameters.

        A route is cached when the stage has a cache and the setting that applies to it
        says so; with no such setting API Gateway caches GET methods only.
        """
        if not self.cache_cluster_enabled():
            return []
        cached = []
        for route in self.routes():
            entry = self.method_setting(route)
            enabled = entry.caching_enabled if entry else None
            if enabled or (enabled is None and route.method == "GET"):
                cached.append(route)
        return cached

    def stage_name(self) -> str:
        for resource in self.resources.values():
            if resource["Type"] == "AWS::Serverless::Api":
                return str(self.resolve(resource["Properties"].get("StageName", "Prod")))
        return "Prod"
