"""DynamoDB table definition, read from ``template.yaml``.

The table's key schema (attribute definitions, primary key, GSIs, TTL attribute)
is declared exactly once, in the SAM template that deploys it. Local development
and tests (moto, DynamoDB Local) need to create the *same* table, so instead of
repeating the schema in Python, this module reads it from the template. That way
the deployed table and the local one cannot drift apart.

Only the standard library and PyYAML are used. PyYAML is imported lazily so that
importing this module never fails in the Lambda runtime, where neither PyYAML nor
``template.yaml`` is shipped (the deployed function gets its table name from the
``TABLE_NAME`` environment variable and never needs to create the table).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

__all__ = [
    "DEFAULT_TEMPLATE_PATH",
    "TABLE_LOGICAL_ID",
    "TTL_ATTRIBUTE",
    "create_table_kwargs",
    "load_template",
    "table_properties",
    "ttl_attribute",
]

#: ``template.yaml`` at the repository root, i.e. next to the ``infra`` package.
DEFAULT_TEMPLATE_PATH: Path = Path(__file__).resolve().parent.parent / "template.yaml"

#: Logical id of the table resource in the template.
TABLE_LOGICAL_ID = "Table"

# Properties of AWS::DynamoDB::Table that map 1:1 onto ``CreateTable`` parameters.
# Everything else (PointInTimeRecoverySpecification, TimeToLiveSpecification, Tags,
# DeletionProtectionEnabled, ...) is CloudFormation-only or needs a separate API
# call, so it is dropped.
_CREATE_TABLE_PROPERTIES = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "BillingMode",
    "ProvisionedThroughput",
)

# Per-index keys accepted by ``CreateTable`` (CloudFormation also allows e.g.
# ContributorInsightsSpecification, which the API does not).
_INDEX_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")

if TYPE_CHECKING:
    #: Name of the TTL attribute (lazily read from the template, see ``__getattr__``).
    TTL_ATTRIBUTE: str


def _cfn_loader() -> type:
    """Build a YAML SafeLoader subclass that tolerates CloudFormation short tags.

    Why: ``yaml.safe_load`` rejects ``!Ref``, ``!Sub``, ``!GetAtt`` and friends.
    We only need the literal table properties, so any ``!Tag`` node is simply
    constructed as its raw value (scalar, list or mapping) without the tag.
    """
    import yaml  # lazy: PyYAML is a dev/local dependency, not a runtime one

    class CfnSafeLoader(yaml.SafeLoader):
        """SafeLoader that returns the raw value of any ``!Tag`` node."""

    def _construct_tagged(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        raise yaml.constructor.ConstructorError(  # pragma: no cover - exhaustive above
            None, None, f"unsupported node {node!r}", node.start_mark
        )

    CfnSafeLoader.add_multi_constructor("!", _construct_tagged)
    return CfnSafeLoader


def load_template(path: str | Path | None = None) -> dict[str, Any]:
    """Load the SAM template as a plain dict.

    Why: it is the single source of truth for the table schema. ``path`` defaults
    to ``template.yaml`` at the repository root (next to the ``infra`` package).
    CloudFormation short tags are accepted and replaced by their raw node values.
    """
    import yaml

    template_path = Path(path) if path is not None else DEFAULT_TEMPLATE_PATH
    with template_path.open(encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=_cfn_loader())  # noqa: S506 - SafeLoader subclass
    if not isinstance(data, dict):
        raise ValueError(f"{template_path} is not a YAML mapping")
    return data


def table_properties(template: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the ``Properties`` of the table resource in ``template``.

    Why: both the CreateTable kwargs and the TTL attribute come from here. The
    resource is looked up by its logical id (``Table``); if that id is missing but
    the template has exactly one ``AWS::DynamoDB::Table``, that one is used.
    """
    tpl = template if template is not None else load_template()
    resources: dict[str, Any] = tpl.get("Resources") or {}
    resource = resources.get(TABLE_LOGICAL_ID)
    if resource is None or resource.get("Type") != "AWS::DynamoDB::Table":
        tables = [r for r in resources.values() if r.get("Type") == "AWS::DynamoDB::Table"]
        if len(tables) != 1:
            raise LookupError(
                f"expected resource {TABLE_LOGICAL_ID!r} (or exactly one "
                f"AWS::DynamoDB::Table) in the template, found {len(tables)} tables"
            )
        resource = tables[0]
    return resource.get("Properties") or {}


def create_table_kwargs(table_name: str, template: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return kwargs for ``boto3.client("dynamodb").create_table(**kwargs)``.

    Why: local tables (moto, DynamoDB Local) must match the deployed one, so the
    schema is copied from the template's table resource rather than restated.
    CloudFormation-only properties are dropped; the result is a deep copy, so
    callers may mutate it freely.
    """
    props = table_properties(template)
    kwargs: dict[str, Any] = {"TableName": table_name}
    for key in _CREATE_TABLE_PROPERTIES:
        if key in props:
            kwargs[key] = copy.deepcopy(props[key])
    for index_key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if index_key in kwargs:
            kwargs[index_key] = [
                {k: v for k, v in index.items() if k in _INDEX_KEYS} for index in kwargs[index_key]
            ]
    if "BillingMode" not in kwargs:
        # CloudFormation defaults to PROVISIONED, which needs ProvisionedThroughput.
        if "ProvisionedThroughput" not in kwargs:
            raise ValueError("the table resource declares neither BillingMode nor throughput")
        kwargs["BillingMode"] = "PROVISIONED"
    return kwargs


def ttl_attribute(template: dict[str, Any] | None = None) -> str:
    """Return the table's TTL attribute name (``TimeToLiveSpecification``).

    Why: code that writes expiring items must use the attribute DynamoDB actually
    expires on; reading it from the template keeps the two in sync.
    """
    spec = table_properties(template).get("TimeToLiveSpecification") or {}
    name = spec.get("AttributeName")
    if not isinstance(name, str) or not name:
        raise LookupError("the table resource has no TimeToLiveSpecification.AttributeName")
    return name


_lazy_cache: dict[str, str] = {}


def __getattr__(name: str) -> str:
    """Resolve ``TTL_ATTRIBUTE`` lazily (PEP 562).

    Why: reading it at import time would make importing this module require
    PyYAML and ``template.yaml``, which the Lambda package does not contain.
    """
    if name == "TTL_ATTRIBUTE":
        if name not in _lazy_cache:
            _lazy_cache[name] = ttl_attribute()
        return _lazy_cache[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
