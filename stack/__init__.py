"""The template model (resources, functions, routes, rules) that local/ and layers/ both read.

``template.yaml`` as data, with CloudFormation intrinsics resolved for a stack context.
This room may import the standard library and PyYAML only: the local stack (``local/``)
and the Lambda build (``layers/``) both depend on it, and it depends on neither. It is
never deployed to Lambda.
"""

from __future__ import annotations

from stack._template import (
    DEFAULT_TEMPLATE,
    FunctionSpec,
    MethodSettingSpec,
    RouteSpec,
    RuleSpec,
    StackContext,
    Template,
    TemplateError,
    load_yaml,
    request_parameters,
    resource_path,
)

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
