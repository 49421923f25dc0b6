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
    ("GET", "/v1/agents/{agent_id}/core-memory/blocks"),
    ("GET", "/v1/agents/{agent_id}/core-memory/blocks/{block_label}"),
    ("PATCH", "/v1/agents/{agent_id}/core-memory/blocks/{block_label}"),
    ("PATCH", "/v1/agents/{agent_id}/core-memory/blocks/detach/{block_id}"),
    ("POST", "/v1/blocks"),
    ("GET", "/v1/blocks"),
    ("GET", "/v1/blocks/{block_id}"),
    ("PATCH", "/v1/blocks/{block_id}"),
    ("DELETE", "/v1/blocks/{block_id}"),
    ("GET", "/v1/blocks/{block_id}/agents"),
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
    ("GET", "/v1/runs/{run_id}/steps"),
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


def _function(translated: dict[str, Any], name: str) -> dict[str, Any]:
    props: dict[str, Any] = translated["Resources"][name]["Properties"]
    return props


def test_function_configuration(translated: dict[str, Any]) -> None:
    functions = _resources_of_type(translated, "AWS::Lambda::Function")
    assert set(functions) == {"ApiFunction", "WorkerFunction", "StreamFunction"}
    for name, props in ((n, _function(translated, n)) for n in functions):
        assert props["Runtime"] == "python3.12", name
        assert props["Architectures"] == ["arm64"], name
        # X-Ray only with TracingEnabled=true (off by default: it slows cold starts).
        assert props["TracingConfig"] == {
            "Mode": {"Fn::If": ["TracingOn", "Active", "PassThrough"]}
        }, name
        assert props["LoggingConfig"] == {"LogGroup": {"Ref": f"{name}LogGroup"}}, name
        env = props["Environment"]["Variables"]
        assert env["TABLE_NAME"] == {"Ref": "Table"}
        assert env["POWERTOOLS_SERVICE_NAME"] == "letta-groups"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "LettaGroups"
        assert env["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}
        assert env["DEFAULT_MODEL"] == {"Ref": "DefaultModel"}
        # Runs go through the queue everywhere: Lambda freezes threads after a response.
        assert env["RUN_LAUNCHER"] == "sqs"
        assert env["RUN_QUEUE_URL"] == {"Ref": "RunQueue"}

    api = _function(translated, "ApiFunction")
    assert api["Handler"] == "handler.lambda_entry.handler"
    assert api["MemorySize"] == 1024
    assert api["Timeout"] == 120
    # No key in the environment: keys live hashed in the table; OpenApi says who else may call.
    assert api["Environment"]["Variables"]["OPEN_API"] == {"Ref": "OpenApi"}

    worker = _function(translated, "WorkerFunction")
    assert worker["Handler"] == "handler.worker_entry.handler"
    assert worker["MemorySize"] == 512
    assert worker["Timeout"] == 900  # Lambda's most
    assert "OPEN_API" not in worker["Environment"]["Variables"]  # it serves no requests

    stream = _function(translated, "StreamFunction")
    assert stream["Handler"] == "run.sh"  # executed by the adapter's bootstrap
    assert stream["MemorySize"] == 1024
    assert stream["Timeout"] == 900  # as long as API Gateway's streaming integration waits
    assert stream["Environment"]["Variables"]["OPEN_API"] == {"Ref": "OpenApi"}
    for props in (api, worker, stream):
        assert "API_KEYS" not in props["Environment"]["Variables"]


def test_stream_function_runs_behind_the_web_adapter_in_streaming_mode(
    translated: dict[str, Any],
) -> None:
    stream = _function(translated, "StreamFunction")
    assert stream["Layers"] == [
        {
            "Fn::Sub": "arn:aws:lambda:${AWS::Region}:753240598075:layer:"
            "LambdaAdapterLayerArm64:${WebAdapterLayerVersion}"
        }
    ]
    env = stream["Environment"]["Variables"]
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    # The port handler/stream_entry.py listens on, and a route that answers readiness.
    from handler.stream_entry import server_config

    assert server_config({"AWS_LWA_PORT": env["AWS_LWA_PORT"]}).port == 8080
    assert env["AWS_LWA_READINESS_CHECK_PATH"] == "/v1/health"
    assert ("GET", "/v1/health") in EXPECTED_ROUTES
    # `sam build` must ship the Handler script with StreamFunction's package.
    assert (ROOT / "run.sh").stat().st_mode & 0o111
    assert "build-StreamFunction" in (ROOT / "infra" / "sam-build.mk").read_text()


#: Variables the Lambda Web Adapter layer reads, not the app.
ADAPTER_VARIABLES = {"AWS_LAMBDA_EXEC_WRAPPER"}


@pytest.mark.parametrize("function", ["ApiFunction", "WorkerFunction", "StreamFunction"])
def test_function_environment_is_valid_settings(
    sam_template: dict[str, Any], function: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every variable the template sets is one Settings reads, with a value it accepts."""
    from infra.settings import Settings

    env = {
        **sam_template["Globals"]["Function"]["Environment"]["Variables"],
        **sam_template["Resources"][function]["Properties"]
        .get("Environment", {})
        .get("Variables", {}),
    }
    fields = {name.upper() for name in Settings.model_fields} | {"AWS_REGION"}
    unknown = {
        k
        for k in env
        if k not in fields
        and not k.startswith(("POWERTOOLS_", "AWS_LWA_"))
        and k not in ADAPTER_VARIABLES
    }
    assert not unknown, f"{function} sets variables Settings does not read: {unknown}"
    parameters = sam_template["Parameters"]
    for key, value in env.items():
        if isinstance(value, str):
            literal = value
        elif isinstance(value, dict) and value.get("Ref") in parameters:
            literal = str(parameters[value["Ref"]].get("Default", ""))  # the parameter's default
        else:
            literal = f"https://resolved-by-cfn/{key.lower()}"
        monkeypatch.setenv(key, literal)
    assert Settings().run_launcher == "sqs"


def test_parameters_and_outputs(sam_template: dict[str, Any]) -> None:
    params = sam_template["Parameters"]
    assert params["StageName"]["Default"] == "prod"
    assert params["LogLevel"]["Default"] == "INFO"
    assert params["LogRetentionDays"]["Default"] == 30
    assert params["DefaultModel"]["Default"] == "offline/default"
    # A deploy refuses requests until a key exists, unless the API is declared open.
    assert "ApiKeys" not in params  # no plaintext key in a parameter
    assert params["OpenApi"]["Default"] == "false"
    assert params["OpenApi"]["AllowedValues"] == ["true", "false"]
    assert params["BedrockModelIds"] == {
        "Type": "CommaDelimitedList",
        "Default": "",
        "Description": params["BedrockModelIds"]["Description"],
    }
    assert params["OpenAIBaseUrl"]["Default"] == "https://api.openai.com/v1"
    assert params["ProviderSecretArn"]["Default"] == ""
    assert params["ThrottlingRateLimit"]["Default"] == 50
    assert params["ThrottlingBurstLimit"]["Default"] == 100
    assert params["AlarmEmail"]["Default"] == ""
    outputs = sam_template["Outputs"]
    assert set(outputs) == {
        "ApiUrl",
        "TableName",
        "FunctionName",
        "StreamFunctionName",
        "WorkerFunctionName",
        "RunQueueUrl",
        "RunDeadLetterQueueUrl",
    }
    assert outputs["ApiUrl"]["Value"] == {
        "Fn::Sub": "https://${RestApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${StageName}"
    }
    assert params["WebAdapterLayerVersion"]["Default"] == 26
    for function in ("ApiFunction", "WorkerFunction", "StreamFunction"):
        assert sam_template["Resources"][function]["Metadata"]["BuildMethod"] == "makefile"


def test_snapstart_is_a_parameter_of_the_api_function(translated: dict[str, Any]) -> None:
    """Off by default; on, ApiFunction's published versions resume from a snapshot."""
    assert translated["Parameters"]["SnapStartEnabled"]["Default"] == "false"
    assert translated["Conditions"]["SnapStartOn"] == {
        "Fn::Equals": [{"Ref": "SnapStartEnabled"}, "true"]
    }
    props = _function(translated, "ApiFunction")
    assert props["Runtime"] >= "python3.12"  # SnapStart for Python starts at 3.12
    assert props["SnapStart"] == {
        "Fn::If": ["SnapStartOn", {"ApplyOn": "PublishedVersions"}, {"Ref": "AWS::NoValue"}]
    }
    alias = translated["Resources"]["ApiFunctionAliaslive"]
    assert alias["Type"] == "AWS::Lambda::Alias"
    assert alias["Properties"]["FunctionName"] == {"Ref": "ApiFunction"}


def test_the_table_outlives_the_stack(sam_template: dict[str, Any]) -> None:
    """`sam delete` keeps the data (README: Removing it); nothing else is retained."""
    table = sam_template["Resources"]["Table"]
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    retained = {
        name
        for name, res in sam_template["Resources"].items()
        if res.get("DeletionPolicy") == "Retain"
    }
    assert retained == {"Table"}


def test_logs_expire_and_belong_to_the_stack(translated: dict[str, Any]) -> None:
    groups = _resources_of_type(translated, "AWS::Logs::LogGroup")
    assert set(groups) == {
        "ApiFunctionLogGroup",
        "WorkerFunctionLogGroup",
        "StreamFunctionLogGroup",
    }
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert "DeletionPolicy" not in group


# --------------------------------------------------------------------------- IAM

QUEUE = [{"Fn::GetAtt": ["RunQueue", "Arn"]}]
SECRET = [{"Ref": "ProviderSecretArn"}]
BEDROCK = None  # an intrinsic of BedrockModelIds: see test_bedrock_covers_only_the_listed_models
CONDITIONS = {"HasProviderSecret", "HasBedrockModels"}
# Per role: each statement's actions and resources (None: checked separately).
EXPECTED_STATEMENTS: dict[str, dict[str, tuple[set[str], list[Any] | None]]] = {
    "ApiFunctionRole": {
        "TableItemAccess": (TABLE_ACTIONS, TABLE_RESOURCES),
        "RunQueueSend": ({"sqs:SendMessage"}, QUEUE),
        "BedrockConverse": ({"bedrock:InvokeModel"}, BEDROCK),
        "ProviderKeys": ({"secretsmanager:GetSecretValue"}, SECRET),
    },
    # The same app as ApiFunction, so the same grants.
    "StreamFunctionRole": {
        "TableItemAccess": (TABLE_ACTIONS, TABLE_RESOURCES),
        "RunQueueSend": ({"sqs:SendMessage"}, QUEUE),
        "BedrockConverse": ({"bedrock:InvokeModel"}, BEDROCK),
        "ProviderKeys": ({"secretsmanager:GetSecretValue"}, SECRET),
    },
    "WorkerFunctionRole": {
        "TableItemAccess": (TABLE_ACTIONS, TABLE_RESOURCES),
        "RunQueueConsume": (
            {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"},
            QUEUE,
        ),
        "RunQueueSend": ({"sqs:SendMessage"}, QUEUE),
        "BedrockConverse": ({"bedrock:InvokeModel"}, BEDROCK),
        "ProviderKeys": ({"secretsmanager:GetSecretValue"}, SECRET),
    },
}


def test_no_policy_can_widen_a_role(translated: dict[str, Any]) -> None:
    roles = _resources_of_type(translated, "AWS::IAM::Role")
    assert set(roles) == set(EXPECTED_STATEMENTS)
    assert not _resources_of_type(translated, "AWS::IAM::Policy")
    assert not _resources_of_type(translated, "AWS::IAM::ManagedPolicy")
    for role in roles.values():
        # Only CloudWatch Logs' basic execution role and X-Ray's write-only policy (which
        # tracing needs) are attached as managed policies (a SAM SQS event would add
        # AWSLambdaSQSQueueExecutionRole, on every queue).
        managed = [json.dumps(arn) for arn in role["Properties"].get("ManagedPolicyArns", [])]
        assert len(managed) == 2
        assert "service-role/AWSLambdaBasicExecutionRole" in managed[0]
        assert "AWSXrayWriteOnlyAccess" in managed[1]


@pytest.mark.parametrize("role_name", sorted(EXPECTED_STATEMENTS))
def test_function_policy_is_least_privilege(translated: dict[str, Any], role_name: str) -> None:
    role = translated["Resources"][role_name]["Properties"]
    statements = [
        stmt for policy in role["Policies"] for stmt in policy["PolicyDocument"]["Statement"]
    ]
    by_sid = {_statement(stmt)["Sid"]: _statement(stmt) for stmt in statements}
    expected = EXPECTED_STATEMENTS[role_name]
    assert set(by_sid) == set(expected)
    for sid, stmt in by_sid.items():
        assert stmt["Effect"] == "Allow"
        assert "NotAction" not in stmt and "NotResource" not in stmt
        assert "*" not in stmt["Resource"]
        actions, resources = expected[sid]
        assert set(stmt["Action"]) == actions, sid
        if resources is not None:
            assert all(isinstance(r, dict) for r in stmt["Resource"]), stmt  # no literal ARN
            assert stmt["Resource"] == resources, sid
    # The secret and Bedrock statements exist only when a secret or a model is configured.
    conditional = {s["Fn::If"][0]: s["Fn::If"][2] for s in statements if "Fn::If" in s}
    assert conditional == dict.fromkeys(CONDITIONS, {"Ref": "AWS::NoValue"})


def _resolve(value: Any, parameters: dict[str, Any]) -> Any:
    """Evaluate the intrinsics a policy's Resource may use, as CloudFormation would."""
    if isinstance(value, list):
        return [_resolve(item, parameters) for item in value]
    if not isinstance(value, dict):
        return value
    ((function, argument),) = value.items()
    if function == "Ref":
        return parameters[argument]
    if function == "Fn::Join":
        delimiter, items = argument
        return delimiter.join(_resolve(items, parameters))
    if function == "Fn::Split":
        delimiter, text = argument
        return _resolve(text, parameters).split(delimiter)
    raise AssertionError(f"unexpected intrinsic {function}")


@pytest.mark.parametrize("role_name", sorted(EXPECTED_STATEMENTS))
def test_bedrock_covers_only_the_listed_models(translated: dict[str, Any], role_name: str) -> None:
    """InvokeModel on exactly the ids BedrockModelIds lists, as foundation models and as
    inference profiles; no statement at all when it lists none."""
    role = translated["Resources"][role_name]["Properties"]
    (bedrock,) = [
        s["Fn::If"]
        for policy in role["Policies"]
        for s in policy["PolicyDocument"]["Statement"]
        if "Fn::If" in s and s["Fn::If"][0] == "HasBedrockModels"
    ]
    resource = bedrock[1]["Resource"]
    models = ["anthropic.claude-3-5-haiku-20241022-v1:0", "us.anthropic.claude-3-5-haiku-v1:0"]
    arns = _resolve(resource, {"BedrockModelIds": models})
    assert arns == [
        f"arn:*:bedrock:*::foundation-model/{models[0]}",
        f"arn:*:bedrock:*::foundation-model/{models[1]}",
        f"arn:*:bedrock:*:*:inference-profile/{models[0]}",
        f"arn:*:bedrock:*:*:inference-profile/{models[1]}",
    ]
    one = _resolve(resource, {"BedrockModelIds": ["amazon.nova-lite-v1:0"]})
    assert [arn.rsplit("/", 1)[1] for arn in one] == ["amazon.nova-lite-v1:0"] * 2
    # The condition that drops the statement holds exactly when no model is listed.
    condition = translated["Conditions"]["HasBedrockModels"]["Fn::Not"][0]["Fn::Equals"]
    for listed, has in (([""], False), (models, True)):
        joined = _resolve(condition[0], {"BedrockModelIds": listed})
        assert (joined != condition[1]) is has


def _statement(stmt: dict[str, Any]) -> dict[str, Any]:
    """A statement, or the true branch of a conditional one."""
    return stmt["Fn::If"][1] if "Fn::If" in stmt else stmt


# --------------------------------------------------------------------------- routes


STREAM_ROUTES = {
    ("POST", "/v1/groups/{group_id}/messages/stream"),
    ("POST", "/v1/agents/{agent_id}/messages/stream"),
    ("POST", "/v1/runs/{run_id}/stream"),
}
STREAM_URI = {
    "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2021-11-15/"
    "functions/${StreamFunction.Arn}/response-streaming-invocations"
}


def _buffered_routes(sam_template: dict[str, Any]) -> set[tuple[str, str]]:
    """ApiFunction's `Type: Api` events: the routes served buffered, through Mangum."""
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


def _definition_routes(sam_template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """The routes declared in RestApi's DefinitionBody, with their integrations."""
    paths = sam_template["Resources"]["RestApi"]["Properties"]["DefinitionBody"]["paths"]
    return {
        (method.upper(), path): operation["x-amazon-apigateway-integration"]
        for path, operations in paths.items()
        for method, operation in operations.items()
    }


def _template_routes(sam_template: dict[str, Any]) -> set[tuple[str, str]]:
    buffered = _buffered_routes(sam_template)
    defined = set(_definition_routes(sam_template))
    assert not buffered & defined, f"declared twice: {sorted(buffered & defined)}"
    return buffered | defined


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
    # The name is the ApiName dimension Api5xxAlarm watches.
    assert rest_apis["RestApi"]["Properties"]["Name"] == {"Ref": "AWS::StackName"}


def test_stage_throttling_comes_from_parameters(translated: dict[str, Any]) -> None:
    (stage,) = _resources_of_type(translated, "AWS::ApiGateway::Stage").values()
    assert stage["Properties"]["MethodSettings"] == [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
            "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
        }
    ]


def test_stream_routes_stream_from_the_stream_function(
    sam_template: dict[str, Any], translated: dict[str, Any]
) -> None:
    """API Gateway REST response streaming: InvokeWithResponseStream, STREAM, up to 15 min."""
    assert set(_definition_routes(sam_template)) == STREAM_ROUTES
    assert sam_template["Resources"]["RestApi"]["Properties"]["MergeDefinitions"] is True
    paths = translated["Resources"]["RestApi"]["Properties"]["Body"]["paths"]
    for method, path in STREAM_ROUTES:
        integration = paths[path][method.lower()]["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy", path
        assert integration["httpMethod"] == "POST", path
        assert integration["uri"] == STREAM_URI, path
        assert integration["responseTransferMode"] == "STREAM", path
        assert 29_000 < integration["timeoutInMillis"] <= 900_000, path
    # SAM grants API Gateway ApiFunction for its events only; StreamFunction's is explicit.
    permission = translated["Resources"]["StreamFunctionApiPermission"]
    assert permission["Type"] == "AWS::Lambda::Permission"
    props = permission["Properties"]
    assert props["Action"] == "lambda:InvokeFunction"
    assert props["FunctionName"] == {"Ref": "StreamFunction"}
    assert props["Principal"] == "apigateway.amazonaws.com"
    pattern = props["SourceArn"]["Fn::Sub"].rsplit("${RestApi}", 1)[1]
    assert pattern == "/*/POST/v1/*/stream"
    assert all(m == "POST" and p.endswith("/stream") for m, p in STREAM_ROUTES)


def test_buffered_routes_still_go_to_the_api_function(
    sam_template: dict[str, Any], translated: dict[str, Any]
) -> None:
    buffered = _buffered_routes(sam_template)
    assert buffered == EXPECTED_ROUTES - STREAM_ROUTES
    paths = translated["Resources"]["RestApi"]["Properties"]["Body"]["paths"]
    translated_routes = {
        (method.upper(), path) for path, operations in paths.items() for method in operations
    }
    assert translated_routes == EXPECTED_ROUTES  # SAM merged the events into the definition
    for method, path in buffered:
        integration = paths[path][method.lower()]["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy", path
        # The published alias (AutoPublishAlias, for SnapStart), never $LATEST.
        assert "${ApiFunctionAliaslive}" in integration["uri"]["Fn::Sub"], path
        assert "/2015-03-31/" in integration["uri"]["Fn::Sub"], path
        assert integration.get("responseTransferMode", "BUFFERED") == "BUFFERED", path


@pytest.mark.parametrize(
    ("kind", "status"), [("INTEGRATION_TIMEOUT", "504"), ("DEFAULT_5XX", None)]
)
def test_gateway_errors_are_json_that_names_the_long_send_routes(
    translated: dict[str, Any], kind: str, status: str | None
) -> None:
    body = translated["Resources"]["RestApi"]["Properties"]["Body"]
    response = body["x-amazon-apigateway-gateway-responses"][kind]
    assert response.get("statusCode") == status  # DEFAULT_5XX keeps each error's own
    assert response["responseParameters"] == {
        "gatewayresponse.header.x-should-retry": "'false'",
        "gatewayresponse.header.Content-Type": "'application/json'",
    }
    (content_type, template), *others = response["responseTemplates"].items()
    assert content_type == "application/json" and not others
    detail = json.loads(template)["detail"]  # $context variables sit inside JSON strings
    assert "POST .../messages/stream (up to 15 min)" in detail
    assert "POST .../messages/async (any length" in detail


def test_gateway_4xx_answers_are_detail_json_and_a_throttle_says_when_to_retry(
    translated: dict[str, Any],
) -> None:
    """SPEC §1: errors are `{"detail": ...}`, the gateway's own 4xx (403, 413, 429) too."""
    responses = translated["Resources"]["RestApi"]["Properties"]["Body"][
        "x-amazon-apigateway-gateway-responses"
    ]
    default = responses["DEFAULT_4XX"]
    assert "statusCode" not in default  # each 4xx keeps its own status
    template = default["responseTemplates"]["application/json"]
    filled = template.replace("$context.error.messageString", json.dumps("Forbidden"))
    assert json.loads(filled.replace("$context.requestId", "r-1")) == {
        "detail": "Forbidden",
        "request_id": "r-1",
    }
    throttled = responses["THROTTLED"]
    assert throttled["statusCode"] == "429"
    assert throttled["responseParameters"]["gatewayresponse.header.Retry-After"] == "'1'"
    assert "x-should-retry" not in json.dumps(throttled) + json.dumps(default)
    assert "Retry after" in json.loads(throttled["responseTemplates"]["application/json"])["detail"]


# --------------------------------------------------------------------------- background runs


def test_run_queue_redrives_to_a_dead_letter_queue(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    queue = resources["RunQueue"]["Properties"]
    dlq = resources["RunDeadLetterQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["RunDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,  # AWS: at least 5, as throttled deliveries count too
    }
    worker_timeout = _function(translated, "WorkerFunction")["Timeout"]
    # AWS: at least 6x the function timeout, or a run's message may come back mid-run.
    assert queue["VisibilityTimeout"] >= 6 * worker_timeout
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    # A message expires on its first enqueue time, so the DLQ must keep it longer.
    assert queue.get("MessageRetentionPeriod", 4 * 24 * 3600) < dlq["MessageRetentionPeriod"]
    assert queue["SqsManagedSseEnabled"] is dlq["SqsManagedSseEnabled"] is True


def test_worker_consumes_the_run_queue_with_partial_batch_responses(
    translated: dict[str, Any],
) -> None:
    mappings = _resources_of_type(translated, "AWS::Lambda::EventSourceMapping")
    assert list(mappings) == ["WorkerEventSourceMapping"]
    props = mappings["WorkerEventSourceMapping"]["Properties"]
    assert props["FunctionName"] == {"Ref": "WorkerFunction"}
    assert props["EventSourceArn"] == {"Fn::GetAtt": ["RunQueue", "Arn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BatchSize"] == 1


ALARMS = {
    "RunDeadLetterAlarm": (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["RunDeadLetterQueue", "QueueName"]}}],
    ),
    "Api5xxAlarm": (
        "AWS/ApiGateway",
        "5XXError",
        [
            {"Name": "ApiName", "Value": {"Ref": "AWS::StackName"}},
            {"Name": "Stage", "Value": {"Ref": "StageName"}},
        ],
    ),
    "ApiFunctionThrottleAlarm": (
        "AWS/Lambda",
        "Throttles",
        [{"Name": "FunctionName", "Value": {"Ref": "ApiFunction"}}],
    ),
    "StreamFunctionThrottleAlarm": (
        "AWS/Lambda",
        "Throttles",
        [{"Name": "FunctionName", "Value": {"Ref": "StreamFunction"}}],
    ),
    "WorkerFunctionThrottleAlarm": (
        "AWS/Lambda",
        "Throttles",
        [{"Name": "FunctionName", "Value": {"Ref": "WorkerFunction"}}],
    ),
    "WorkerErrorAlarm": (
        "AWS/Lambda",
        "Errors",
        [{"Name": "FunctionName", "Value": {"Ref": "WorkerFunction"}}],
    ),
}


def test_alarms_watch_what_the_readme_says(translated: dict[str, Any]) -> None:
    alarms = _resources_of_type(translated, "AWS::CloudWatch::Alarm")
    assert set(alarms) == set(ALARMS)
    for name, (namespace, metric, dimensions) in ALARMS.items():
        props = alarms[name]["Properties"]
        assert (props["Namespace"], props["MetricName"]) == (namespace, metric), name
        assert props["Dimensions"] == dimensions, name
        # Any occurrence in 5 minutes; no data (no traffic) is fine.
        assert props["Threshold"] == 0 and props["ComparisonOperator"] == "GreaterThanThreshold"
        assert props["TreatMissingData"] == "notBreaching"
        # Told to the AlarmEmail topic, when there is one.
        assert props["AlarmActions"] == {
            "Fn::If": ["HasAlarmEmail", [{"Ref": "AlarmTopic"}], {"Ref": "AWS::NoValue"}]
        }
    topic = translated["Resources"]["AlarmTopic"]
    assert topic["Condition"] == "HasAlarmEmail"
    assert topic["Properties"]["Subscription"] == [
        {"Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}
    ]


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
