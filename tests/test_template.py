"""Offline checks of the SAM template (template.yaml) and infra/table_definition.py.

No Docker and no AWS access: the template is translated with aws-sam-translator
using an in-memory managed-policy map (no IAM ListPolicies call), linted with the
cfn-lint Python API, and the table schema is exercised against moto.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.api import ManualArgs, lint
from moto import mock_aws
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from infra import table_definition
from infra.table_definition import create_table_kwargs, load_template, ttl_attribute

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"
REGION = "us-east-1"

# The public API surface; template.yaml and the FastAPI app must both match it.
EXPECTED_ROUTES = {
    ("POST", "/v1/agents"),
    ("GET", "/v1/agents"),
    ("GET", "/v1/agents/{agent_id}"),
    ("PATCH", "/v1/agents/{agent_id}"),
    ("DELETE", "/v1/agents/{agent_id}"),
    ("GET", "/v1/agents/{agent_id}/groups"),
    ("POST", "/v1/agents/{agent_id}/messages"),
    ("GET", "/v1/agents/{agent_id}/messages"),
    ("POST", "/v1/agents/{agent_id}/messages/stream"),
    ("POST", "/v1/agents/{agent_id}/messages/async"),
    ("POST", "/v1/agents/{agent_id}/messages/cancel"),
    ("PATCH", "/v1/agents/{agent_id}/core-memory/blocks/attach/{block_id}"),
    ("POST", "/v1/blocks"),
    ("GET", "/v1/blocks"),
    ("GET", "/v1/blocks/{block_id}"),
    ("PATCH", "/v1/blocks/{block_id}"),
    ("DELETE", "/v1/blocks/{block_id}"),
    ("POST", "/v1/groups"),
    ("GET", "/v1/groups"),
    ("GET", "/v1/groups/count"),
    ("GET", "/v1/groups/{group_id}"),
    ("PATCH", "/v1/groups/{group_id}"),
    ("DELETE", "/v1/groups/{group_id}"),
    ("PATCH", "/v1/groups/{group_id}/blocks/attach/{block_id}"),
    ("PATCH", "/v1/groups/{group_id}/blocks/detach/{block_id}"),
    ("POST", "/v1/groups/{group_id}/messages"),
    ("POST", "/v1/groups/{group_id}/messages/stream"),
    ("POST", "/v1/groups/{group_id}/messages/async"),
    ("POST", "/v1/groups/{group_id}/messages/cancel"),
    ("GET", "/v1/groups/{group_id}/messages"),
    ("PATCH", "/v1/groups/{group_id}/messages/{message_id}"),
    ("PATCH", "/v1/groups/{group_id}/reset-messages"),
    ("GET", "/v1/runs/{run_id}"),
    ("DELETE", "/v1/runs/{run_id}"),
    ("GET", "/v1/runs/{run_id}/messages"),
    ("GET", "/v1/runs"),
    ("GET", "/v1/runs/active"),
    ("GET", "/v1/runs/{run_id}/usage"),
    ("POST", "/v1/runs/{run_id}/stream"),
    ("GET", "/v1/health"),
}

TABLE_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
}
TABLE_RESOURCES = [
    {"Fn::GetAtt": ["Table", "Arn"]},
    {"Fn::Sub": "${Table.Arn}/index/*"},
]


class OfflineManagedPolicyLoader(ManagedPolicyLoader):
    """Managed-policy loader that never calls IAM.

    samtranslator only consults this map to resolve managed policies referenced
    *by name* in `Policies`; the template uses none, so a tiny static map suffices.
    """

    POLICIES = {
        name: f"arn:aws:iam::aws:policy/{path}{name}"
        for path, name in [
            ("service-role/", "AWSLambdaBasicExecutionRole"),
            ("", "AWSXrayWriteOnlyAccess"),
        ]
    }

    def __init__(self) -> None:
        super().__init__(iam_client=None)  # type: ignore[arg-type]  # never used

    def load(self) -> dict[str, str]:
        return dict(self.POLICIES)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", autouse=True)
def _offline_aws_env() -> Iterator[None]:
    """Fake region/credentials so nothing can reach a real AWS account."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_SESSION_TOKEN", "testing")
        mp.delenv("AWS_PROFILE", raising=False)
        yield


@pytest.fixture(scope="module")
def template_text() -> str:
    return TEMPLATE_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def sam_template(template_text: str) -> dict[str, Any]:
    """The SAM template with intrinsics decoded as CloudFormation dicts."""
    return yaml_parse(template_text)


@pytest.fixture(scope="module")
def translated(sam_template: dict[str, Any], _offline_aws_env: None) -> dict[str, Any]:
    """The template as CloudFormation would see it after `sam package` + transform.

    The transform only accepts S3 code locations; `sam package` would upload the
    local `CodeUri: .` first, so substitute a placeholder S3 URI as it would.
    """
    tpl = copy.deepcopy(sam_template)
    for name, res in tpl["Resources"].items():
        if res["Type"] == "AWS::Serverless::Function":
            res["Properties"]["CodeUri"] = f"s3://placeholder-bucket/{name}.zip"
    return transform(tpl, {}, OfflineManagedPolicyLoader())


def _lint(text: str) -> tuple[list[Any], list[Any]]:
    """Run cfn-lint; return (errors, non-errors). Non-errors are printed."""
    matches = lint(text, config=ManualArgs(regions=[REGION]))
    errors = [m for m in matches if m.rule.id.startswith("E")]
    others = [m for m in matches if not m.rule.id.startswith("E")]
    for match in others:
        print(f"cfn-lint {match.rule.id}: {match.message} ({match.path})")
    return errors, others


def _resources_of_type(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


# --------------------------------------------------------------------------- translation / lint


def test_sam_translation_succeeds_and_lints_clean(translated: dict[str, Any]) -> None:
    assert "Transform" not in translated
    types = {r["Type"] for r in translated["Resources"].values()}
    assert {
        "AWS::Lambda::Function",
        "AWS::IAM::Role",
        "AWS::ApiGateway::RestApi",
        "AWS::ApiGateway::Deployment",
        "AWS::ApiGateway::Stage",
        "AWS::DynamoDB::Table",
    } <= types
    assert not any(t.startswith("AWS::Serverless::") for t in types)

    errors, _ = _lint(json.dumps(translated))
    assert errors == [], "\n".join(str(e) for e in errors)


def test_sam_template_lints_clean(template_text: str) -> None:
    errors, _ = _lint(template_text)
    assert errors == [], "\n".join(str(e) for e in errors)


def test_function_configuration(translated: dict[str, Any]) -> None:
    functions = _resources_of_type(translated, "AWS::Lambda::Function")
    assert list(functions) == ["ApiFunction"]
    props = functions["ApiFunction"]["Properties"]
    assert props["Handler"] == "handler.lambda_entry.handler"
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["MemorySize"] == 1024
    assert props["Timeout"] == 120
    assert "TracingConfig" not in props
    env = props["Environment"]["Variables"]
    assert env["TABLE_NAME"] == {"Ref": "Table"}
    assert env["POWERTOOLS_SERVICE_NAME"] == "letta-groups"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "LettaGroups"
    assert env["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}
    assert env["DEFAULT_MODEL"] == {"Ref": "DefaultModel"}
    assert env["API_KEYS"] == {"Ref": "ApiKeys"}


def test_parameters_and_outputs(sam_template: dict[str, Any]) -> None:
    params = sam_template["Parameters"]
    assert params["StageName"]["Default"] == "prod"
    assert params["LogLevel"]["Default"] == "INFO"
    assert params["DefaultModel"]["Default"] == "offline/default"
    assert params["ApiKeys"]["Default"] == ""
    assert params["ApiKeys"]["NoEcho"] is True
    outputs = sam_template["Outputs"]
    assert set(outputs) == {"ApiUrl", "TableName", "FunctionName"}
    assert outputs["ApiUrl"]["Value"] == {
        "Fn::Sub": "https://${RestApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${StageName}"
    }
    assert sam_template["Resources"]["ApiFunction"]["Metadata"]["BuildMethod"] == "makefile"
    assert sam_template["Resources"]["Table"]["DeletionPolicy"] == "Retain"
    assert sam_template["Resources"]["Table"]["UpdateReplacePolicy"] == "Retain"


# --------------------------------------------------------------------------- IAM


def test_function_policy_is_least_privilege_on_table(translated: dict[str, Any]) -> None:
    roles = _resources_of_type(translated, "AWS::IAM::Role")
    assert list(roles) == ["ApiFunctionRole"]
    role = roles["ApiFunctionRole"]["Properties"]
    # No standalone policies that could widen the role.
    assert not _resources_of_type(translated, "AWS::IAM::Policy")
    assert not _resources_of_type(translated, "AWS::IAM::ManagedPolicy")

    # Only the CloudWatch Logs basic execution role is attached as a managed policy.
    managed = [json.dumps(arn) for arn in role.get("ManagedPolicyArns", [])]
    assert len(managed) == 1
    assert "service-role/AWSLambdaBasicExecutionRole" in managed[0]

    statements = [
        stmt for policy in role["Policies"] for stmt in policy["PolicyDocument"]["Statement"]
    ]
    by_sid = {_statement(stmt)["Sid"]: _statement(stmt) for stmt in statements}
    assert set(by_sid) == {"TableItemAccess", "BedrockConverse", "ProviderKeys"}
    for stmt in by_sid.values():
        assert stmt["Effect"] == "Allow"
        assert "NotAction" not in stmt and "NotResource" not in stmt
        assert "*" not in stmt["Resource"]
        assert all(isinstance(r, dict) for r in stmt["Resource"]), stmt  # no literal ARNs
    table = by_sid["TableItemAccess"]
    assert table["Resource"] == TABLE_RESOURCES
    assert set(table["Action"]) == TABLE_ACTIONS
    assert by_sid["BedrockConverse"]["Action"] == ["bedrock:InvokeModel"]
    assert all("bedrock:" in json.dumps(r) for r in by_sid["BedrockConverse"]["Resource"])
    assert by_sid["ProviderKeys"]["Action"] == ["secretsmanager:GetSecretValue"]
    assert by_sid["ProviderKeys"]["Resource"] == [{"Ref": "ProviderSecretArn"}]
    # The secret statement exists only when a secret is configured.
    conditional = [s for s in statements if "Fn::If" in s]
    assert len(conditional) == 1 and conditional[0]["Fn::If"][0] == "HasProviderSecret"


def _statement(stmt: dict[str, Any]) -> dict[str, Any]:
    """A statement, or the true branch of a conditional one."""
    return stmt["Fn::If"][1] if "Fn::If" in stmt else stmt


# --------------------------------------------------------------------------- routes


def _template_routes(sam_template: dict[str, Any]) -> set[tuple[str, str]]:
    events = sam_template["Resources"]["ApiFunction"]["Properties"]["Events"]
    routes: set[tuple[str, str]] = set()
    for name, event in events.items():
        assert event["Type"] == "Api", name
        props = event["Properties"]
        assert props["RestApiId"] == {"Ref": "RestApi"}, name
        path = props["Path"]
        assert path == "/" or not path.endswith("/"), f"{name}: drop the trailing slash"
        routes.add((props["Method"].upper(), path))
    assert len(routes) == len(events), "duplicate route in template"
    return routes


def test_template_routes_match_spec(sam_template: dict[str, Any]) -> None:
    assert _template_routes(sam_template) == EXPECTED_ROUTES


def test_rest_api_configuration(sam_template: dict[str, Any], translated: dict[str, Any]) -> None:
    api = sam_template["Resources"]["RestApi"]
    assert api["Type"] == "AWS::Serverless::Api"
    assert api["Properties"]["StageName"] == {"Ref": "StageName"}
    assert api["Properties"]["EndpointConfiguration"] == {"Type": "REGIONAL"}
    rest_apis = _resources_of_type(translated, "AWS::ApiGateway::RestApi")
    assert list(rest_apis) == ["RestApi"]
    assert rest_apis["RestApi"]["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    # Only the parameterised stage (no implicit "Stage" stage).
    assert len(_resources_of_type(translated, "AWS::ApiGateway::Stage")) == 1


def _api_routes(routes: Sequence[Any]) -> Iterator[tuple[Any, str, set[str]]]:
    """Yield (original route, full path, methods) for every route of the app.

    Recent FastAPI releases keep included routers as lazy `_IncludedRouter`
    entries in `app.routes` instead of copying their APIRoutes up; the public
    `fastapi.routing.iter_route_contexts` flattens them (with prefixes applied).
    Older releases have the flat APIRoutes directly in `app.routes`.
    """
    import fastapi.routing

    iter_route_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if iter_route_contexts is None:
        for route in routes:
            yield route, getattr(route, "path", ""), set(getattr(route, "methods", None) or ())
        return
    for ctx in iter_route_contexts(routes):
        yield ctx.original_route, ctx.path or "", set(ctx.methods or ())


def test_template_routes_match_app(sam_template: dict[str, Any]) -> None:
    from fastapi.routing import APIRoute

    from handler.app import create_app

    app = create_app()
    app_routes = {
        (method.upper(), path.rstrip("/") or "/")
        for route, path, methods in _api_routes(app.routes)
        if isinstance(route, APIRoute)
        for method in methods
        if method.upper() not in {"HEAD", "OPTIONS"}
    }
    template_routes = _template_routes(sam_template)
    assert app_routes == template_routes, (
        f"only in app: {sorted(app_routes - template_routes)}; "
        f"only in template: {sorted(template_routes - app_routes)}"
    )


# --------------------------------------------------------------------------- table definition


def test_load_template_tolerates_short_tags() -> None:
    tpl = load_template()
    env = tpl["Globals"]["Function"]["Environment"]["Variables"]
    assert env["TABLE_NAME"] == "Table"  # !Ref Table -> raw scalar
    policy = tpl["Resources"]["ApiFunction"]["Properties"]["Policies"][0]
    assert policy["Statement"][0]["Resource"] == ["Table.Arn", "${Table.Arn}/index/*"]
    assert load_template(TEMPLATE_PATH) == tpl


def test_create_table_kwargs_shape() -> None:
    kwargs = create_table_kwargs("letta-test")
    assert set(kwargs) == {
        "TableName",
        "AttributeDefinitions",
        "KeySchema",
        "GlobalSecondaryIndexes",
        "BillingMode",
    }
    assert kwargs["TableName"] == "letta-test"
    assert kwargs["BillingMode"] == "PAY_PER_REQUEST"
    assert kwargs["KeySchema"] == [
        {"AttributeName": "PK", "KeyType": "HASH"},
        {"AttributeName": "SK", "KeyType": "RANGE"},
    ]
    assert {(a["AttributeName"], a["AttributeType"]) for a in kwargs["AttributeDefinitions"]} == {
        ("PK", "S"),
        ("SK", "S"),
        ("GSI1PK", "S"),
        ("GSI1SK", "S"),
    }
    (gsi,) = kwargs["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "GSI1"
    assert gsi["Projection"] == {"ProjectionType": "ALL"}
    # Returned data is a copy: mutating it must not affect the next call.
    kwargs["KeySchema"].clear()
    assert create_table_kwargs("x")["KeySchema"]


def test_ttl_attribute() -> None:
    assert ttl_attribute() == "expires_at"
    assert table_definition.TTL_ATTRIBUTE == "expires_at"
    with pytest.raises(AttributeError):
        _ = table_definition.NOT_A_THING  # type: ignore[attr-defined]


def test_table_kwargs_work_in_moto() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(**create_table_kwargs("letta-groups-test"))
        client.update_time_to_live(
            TableName="letta-groups-test",
            TimeToLiveSpecification={"AttributeName": ttl_attribute(), "Enabled": True},
        )
        desc = client.describe_table(TableName="letta-groups-test")["Table"]
        assert desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert [i["IndexName"] for i in desc["GlobalSecondaryIndexes"]] == ["GSI1"]

        table = boto3.resource("dynamodb", region_name=REGION).Table("letta-groups-test")
        table.put_item(
            Item={
                "PK": "GROUP#g1",
                "SK": "META",
                "GSI1PK": "TYPE#group",
                "GSI1SK": "2024-01-01T00:00:00Z#g1",
                "name": "g1",
            }
        )
        table.put_item(Item={"PK": "GROUP#g2", "SK": "META", "name": "g2"})  # not in GSI1
        resp = table.query(
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk AND begins_with(GSI1SK, :p)",
            ExpressionAttributeValues={":pk": "TYPE#group", ":p": "2024-"},
        )
        assert [item["name"] for item in resp["Items"]] == ["g1"]
        main = table.query(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": "GROUP#g2"},
        )
        assert main["Count"] == 1
