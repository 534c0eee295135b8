"""The REST API: who may call which route, and how the prod stage is protected and observed."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from infra import constants
from infra.catalog import FUNCTIONS, ApiRoute
from infra.constructs.api import racing_clients

from .conftest import ApiMethod, Resources, of_type, ref_of

ROUTES = [trigger for spec in FUNCTIONS for trigger in spec.triggers if isinstance(trigger, ApiRoute)]


def _method_for(route: ApiRoute, api_methods: list[ApiMethod]) -> ApiMethod:
    (method,) = [m for m in api_methods if (m.http_method, m.path) == (route.method, route.path)]
    return method


def test_racing_routes_require_an_api_key(api_methods: list[ApiMethod]) -> None:
    # Given the routes the catalog puts behind API keys (select, feedback)
    racing_routes = [route for route in ROUTES if route.auth == "api_key"]
    assert racing_routes
    for route in racing_routes:
        properties = _method_for(route, api_methods).properties
        # Then API Gateway rejects calls without a valid key
        assert properties["ApiKeyRequired"] is True, route
        assert properties["AuthorizationType"] == "NONE", route


def test_operator_routes_require_a_console_sign_in(
    api_methods: list[ApiMethod], resources: Resources
) -> None:
    # (Until the console, operator routes took IAM signatures; they now take the user pool's ID tokens.)
    (authorizer_id,) = of_type(resources, "AWS::ApiGateway::Authorizer")
    authorizer = resources[authorizer_id]["Properties"]
    (pool_id,) = of_type(resources, "AWS::Cognito::UserPool")
    assert authorizer["Type"] == "COGNITO_USER_POOLS"
    assert authorizer["ProviderARNs"] == [{"Fn::GetAtt": [pool_id, "Arn"]}]
    operator_routes = [route for route in ROUTES if route.auth == "operator"]
    assert operator_routes
    for route in operator_routes:
        properties = _method_for(route, api_methods).properties
        # Then API Gateway rejects calls without an operator's valid ID token from the console's user pool
        assert properties["AuthorizationType"] == "COGNITO_USER_POOLS", route
        assert properties["AuthorizerId"] == {"Ref": authorizer_id}, route
        assert properties.get("ApiKeyRequired") in (None, False), route


def test_every_method_validates_requests(api_methods: list[ApiMethod], resources: Resources) -> None:
    (validator_id,) = of_type(resources, "AWS::ApiGateway::RequestValidator")
    validator = resources[validator_id]["Properties"]
    assert validator["ValidateRequestBody"] is True and validator["ValidateRequestParameters"] is True
    for method in api_methods:
        # Then each method goes through the validator
        assert method.properties["RequestValidatorId"] == {"Ref": validator_id}, method.path
        # And its path parameters are declared required
        for part in method.path.split("/"):
            if part.startswith("{"):
                assert (
                    method.properties["RequestParameters"][f"method.request.path.{part.strip('{}')}"] is True
                )


def test_prod_stage_logs_traces_measures_and_throttles(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": constants.API_STAGE_NAME,
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
            "TracingEnabled": True,
            "MethodSettings": [
                Match.object_like(
                    {
                        "HttpMethod": "*",
                        "ResourcePath": "/*",
                        "LoggingLevel": "ERROR",
                        "DataTraceEnabled": False,
                        "MetricsEnabled": True,
                        "ThrottlingRateLimit": constants.API_STAGE_RATE_LIMIT,
                        "ThrottlingBurstLimit": constants.API_STAGE_BURST_LIMIT,
                    }
                )
            ],
        },
    )


def test_access_logs_go_to_a_log_group_with_retention(resources: Resources) -> None:
    (stage,) = of_type(resources, "AWS::ApiGateway::Stage").values()
    destination = str(stage["Properties"]["AccessLogSetting"]["DestinationArn"])
    log_groups = [
        logical_id
        for logical_id in of_type(resources, "AWS::Logs::LogGroup")
        if f"'{logical_id}'" in destination
    ]
    assert len(log_groups) == 1
    assert resources[log_groups[0]]["Properties"]["RetentionInDays"] == 30


def test_api_key_is_throttled_by_a_usage_plan_on_the_prod_stage(
    resources: Resources, outputs: dict, template: Template
) -> None:
    # Given the racing API key (its id is a stack output)
    api_key_id = ref_of(outputs["ApiKeyId"])
    (plan_key,) = [
        key["Properties"]
        for key in of_type(resources, "AWS::ApiGateway::UsagePlanKey").values()
        if key["Properties"]["KeyId"] == {"Ref": api_key_id}
    ]
    plan = resources[plan_key["UsagePlanId"]["Ref"]]["Properties"]
    (stage_id,) = of_type(resources, "AWS::ApiGateway::Stage")
    # Then the key belongs to a usage plan that throttles it and applies to the prod stage
    assert plan["Throttle"] == {
        "RateLimit": constants.API_KEY_RATE_LIMIT,
        "BurstLimit": constants.API_KEY_BURST_LIMIT,
    }
    assert [api_stage["Stage"] for api_stage in plan["ApiStages"]] == [{"Ref": stage_id}]


def test_api_is_rest_v1_only(resources: Resources) -> None:
    # The local runtime (moto) serves API Gateway v1 only.
    assert not [r for r in resources.values() if r["Type"].startswith("AWS::ApiGatewayV2::")]
    assert len(of_type(resources, "AWS::ApiGateway::RestApi")) == 1


def test_stack_outputs_name_what_clients_and_the_local_runtime_need(outputs: dict) -> None:
    expected = {
        "ApiUrl",
        "ApiKeyId",
        "UploadsBucketName",
        "AssetsBucketName",
        "MaterialsTableName",
        "CreativesTableName",
        "ImpressionsTableName",
        "IdempotencyTableName",
        "UploadEventsQueueUrl",
        "UploadEventsDlqUrl",
    }
    assert expected <= outputs.keys()


def test_racing_clients_are_named_by_slugs_from_the_command_line_or_cdk_json() -> None:
    assert racing_clients(None) == [] and racing_clients("") == []
    assert racing_clients("web, app-ios") == ["web", "app-ios"]
    assert racing_clients(["Web"]) == ["web"]
    with pytest.raises(ValueError):
        racing_clients("web;drop")
