"""The REST API (API Gateway v1) in front of the racing and operator functions.

Racing routes (`api_key`) are called server to server by ad placements: an API key bound to a throttled
usage plan. Operator routes (`operator`) take the ID token of an operator signed in to the console's
Cognito user pool (infra.constructs.console). v1 rather than HTTP API
(v2): usage plans and API keys exist only in v1, and the local runtime (moto) only serves v1.
"""

from __future__ import annotations

import re

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra import constants
from infra.catalog import SERVICE_NAME, ApiRoute

PATH_PARAMETER = re.compile(r"{(\w+)}")


RACING_CLIENTS_CONTEXT = "creative:racingClients"
# `-c creative:waf=true`: a WAFv2 web ACL in front of the stage (per-IP rate limit, AWS managed rules).
WAF_CONTEXT = "creative:waf"
# Racing calls come server to server: one ad server's address may carry the whole stage's traffic, so one
# address is blocked only past what the stage itself would serve in the rule's 5-minute window.
WAF_REQUESTS_PER_5_MIN_PER_IP = constants.API_STAGE_RATE_LIMIT * 300


def racing_clients(value: object) -> list[str]:
    """The client names a deploy asks keys for: a comma-separated string (command line) or a list."""
    names = value.split(",") if isinstance(value, str) else list(value or [])
    clients = [str(n).strip().lower() for n in names if str(n).strip()]
    for client in clients:
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", client):
            raise ValueError(f"racing client names are lowercase slugs, got {client!r}")
    return clients


class CreativeApi(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        access_logs = logs.LogGroup(self, "AccessLogs", retention=constants.API_LOG_RETENTION)
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"{SERVICE_NAME}-api",
            description="Creative Engine: creative selection, click feedback and operator reads/edits.",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Execution logging (below) needs the account-level API Gateway CloudWatch role.
            cloud_watch_role=True,
            deploy_options=apigw.StageOptions(
                stage_name=constants.API_STAGE_NAME,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                # Request/response bodies stay out of the logs: they carry advertiser content.
                data_trace_enabled=False,
                tracing_enabled=True,
                metrics_enabled=True,
                throttling_rate_limit=constants.API_STAGE_RATE_LIMIT,
                throttling_burst_limit=constants.API_STAGE_BURST_LIMIT,
            ),
        )
        self.stage = self.rest_api.deployment_stage
        self.request_validator = self.rest_api.add_request_validator(
            "RequestValidator", validate_request_body=True, validate_request_parameters=True
        )
        self.api_key = self.rest_api.add_api_key("RacingApiKey", description="Key of the racing routes.")
        racing_plan = self.rest_api.add_usage_plan(
            "RacingUsagePlan",
            description="Throttle per racing API key.",
            throttle=apigw.ThrottleSettings(
                rate_limit=constants.API_KEY_RATE_LIMIT, burst_limit=constants.API_KEY_BURST_LIMIT
            ),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.rest_api, stage=self.stage)],
        )
        racing_plan.add_api_key(self.api_key)
        # One key per further consumer (`-c creative:racingClients=web,app`), each revocable on its own; an
        # impression belongs to the key that asked for it, and only that key may report on it.
        self.client_keys: dict[str, apigw.IApiKey] = {}
        for client in racing_clients(self.node.try_get_context(RACING_CLIENTS_CONTEXT)):
            key = self.rest_api.add_api_key(
                f"RacingApiKey{client.title().replace('-', '')}",
                description=f"Racing routes, for the {client} client.",
            )
            racing_plan.add_api_key(key)
            self.client_keys[client] = key
        # Set by the stack once the console's user pool exists: operator routes take its ID tokens.
        self.operator_authorizer: apigw.IAuthorizer | None = None
        self.web_acl = (
            self._web_acl() if str(self.node.try_get_context(WAF_CONTEXT)).lower() == "true" else None
        )
        self._acknowledge_nag_findings()

    @property
    def url(self) -> str:
        return self.rest_api.url

    def add_route(self, function: lambda_.IFunction, route: ApiRoute) -> apigw.Method:
        resource = self.rest_api.root.resource_for_path(route.path)
        path_parameters = PATH_PARAMETER.findall(route.path)
        method = resource.add_method(
            route.method,
            # Proxy integration; the console's test-invoke gets no permission on the function.
            apigw.LambdaIntegration(function, proxy=True, allow_test_invoke=False),
            api_key_required=route.auth == "api_key",
            **self._operator_auth(route),
            request_validator=self.request_validator,
            request_parameters={f"method.request.path.{name}": True for name in path_parameters} or None,
        )
        if route.auth == "api_key":
            Validations.of(method).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-COG4",
                    reason=(
                        f"{route.method} {route.path} is a racing route called server to server: machine "
                        "clients authenticate with an API key bound to a usage plan, not a user pool."
                    ),
                )
            )
            Validations.of(method).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-APIG4",
                    reason=(
                        f"{route.method} {route.path} is a racing route called server to server by ad "
                        "placements: it requires an API key (ApiKeyRequired) bound to a throttled usage "
                        "plan instead of an authorizer."
                    ),
                )
            )
        return method

    def _operator_auth(self, route: ApiRoute) -> dict:
        """Operator routes: the console's Cognito authorizer (IAM signatures where a stack has no console)."""
        if route.auth != "operator":
            return {"authorization_type": apigw.AuthorizationType.NONE}
        if self.operator_authorizer is None:
            return {"authorization_type": apigw.AuthorizationType.IAM}
        return {
            "authorization_type": apigw.AuthorizationType.COGNITO,
            "authorizer": self.operator_authorizer,
        }

    def _web_acl(self) -> wafv2.CfnWebACL:
        """Blocks an address past the rate limit and requests AWS's common and known-bad-input rules
        catch, before they reach API Gateway's key check or a function."""

        def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
            )

        def managed(priority: int, name: str) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=name
                    )
                ),
                visibility_config=visibility(name),
            )

        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility(f"{SERVICE_NAME}-api"),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="RatePerAddress",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=WAF_REQUESTS_PER_5_MIN_PER_IP, aggregate_key_type="IP"
                        )
                    ),
                    visibility_config=visibility("RatePerAddress"),
                ),
                managed(1, "AWSManagedRulesCommonRuleSet"),
                managed(2, "AWSManagedRulesKnownBadInputsRuleSet"),
            ],
        )
        wafv2.CfnWebACLAssociation(
            self, "WebAclAssociation", resource_arn=self.stage.stage_arn, web_acl_arn=acl.attr_arn
        )
        return acl

    def _acknowledge_nag_findings(self) -> None:
        cloud_watch_role = self.rest_api.node.find_child("CloudWatchRole")
        Validations.of(cloud_watch_role).acknowledge(
            Acknowledgment(
                id=(
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AmazonAPIGatewayPushToCloudWatchLogs]"
                ),
                reason=(
                    "The account-level API Gateway CloudWatch role (needed for execution logging) uses "
                    "AmazonAPIGatewayPushToCloudWatchLogs, the policy AWS maintains for exactly this role; "
                    "it is API Gateway's role, not a function's."
                ),
            )
        )
        if self.web_acl is None:
            Validations.of(self.stage).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-APIG3",
                    reason=(
                        "No WAFv2 web ACL in the self-hosted default (it costs a monthly fee per ACL and "
                        "rule): racing traffic is throttled per API key by the usage plan and operator "
                        "routes are IAM-signed. A deployment facing the open internet deploys with "
                        "`-c creative:waf=true` (per-address rate limit, AWS managed rules)."
                    ),
                )
            )
