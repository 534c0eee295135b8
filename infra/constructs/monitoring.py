"""Alarms that mean someone should look: dead letters, function errors, API 5xx. All notify one topic."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CfnCondition, CfnParameter, Fn, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import constants

AT_LEAST_ONE = {
    "threshold": 1,
    "evaluation_periods": 1,
    "comparison_operator": cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    # No data means nothing failed.
    "treat_missing_data": cloudwatch.TreatMissingData.NOT_BREACHING,
}


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.IFunction],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        rest_api: apigw.RestApi,
    ) -> None:
        super().__init__(scope, construct_id)
        # Not KMS-encrypted: CloudWatch alarms cannot publish to a topic under the AWS-managed SNS key.
        self.alarm_topic = sns.Topic(
            self, "AlarmTopic", display_name="Creative Engine alarms", enforce_ssl=True
        )
        notify = cloudwatch_actions.SnsAction(self.alarm_topic)
        self._subscribe_email(self.alarm_topic)

        # (construct id, metric, description): each alarms on one event in ALARM_PERIOD.
        watched: list[tuple[str, cloudwatch.IMetric, str]] = [
            (
                f"{name}DeadLetters",
                queue.metric_approximate_number_of_messages_visible(statistic=cloudwatch.Stats.MAXIMUM),
                f"Messages are waiting in the {name} dead-letter queue.",
            )
            for name, queue in dead_letter_queues.items()
        ]
        watched += [
            (
                f"{name}Errors",
                function.metric_errors(statistic=cloudwatch.Stats.SUM),
                f"The {name} function raised errors.",
            )
            for name, function in functions.items()
        ]
        watched.append(
            (
                "ApiServerErrors",
                rest_api.metric_server_error(statistic=cloudwatch.Stats.SUM),
                "The REST API answered 5xx.",
            )
        )
        for construct_id, metric, description in watched:
            alarm = metric.with_(period=constants.ALARM_PERIOD).create_alarm(
                self, construct_id, alarm_description=description, **AT_LEAST_ONE
            )
            alarm.add_alarm_action(notify)

    def _subscribe_email(self, topic: sns.Topic) -> None:
        """`cdk deploy --parameters AlarmEmail=ops@example.com` subscribes that address (SNS mails it a
        confirmation link); left empty, no subscription is made and the topic is there for chat or paging
        integrations to subscribe to."""
        email = CfnParameter(
            Stack.of(self),
            "AlarmEmail",
            type="String",
            default="",
            allowed_pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$",
            description="An address that receives every alarm (empty: no email subscription).",
        )
        given = CfnCondition(
            self,
            "AlarmEmailGiven",
            expression=Fn.condition_not(Fn.condition_equals(email.value_as_string, "")),
        )
        subscription = sns.CfnSubscription(
            self,
            "AlarmEmailSubscription",
            topic_arn=topic.topic_arn,
            protocol="email",
            endpoint=email.value_as_string,
        )
        subscription.cfn_options.condition = given
