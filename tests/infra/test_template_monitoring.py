"""Alarms: every dead-letter queue, function and the API's 5xx alarm on one topic, which has a way to reach a
person (an email parameter) as well as being there for chat or paging integrations."""

from typing import Any

from infra.catalog import FUNCTIONS
from tests.infra.conftest import Resources, of_type


def _topic_id(resources: Resources) -> str:
    (topic_id,) = of_type(resources, "AWS::SNS::Topic")
    return topic_id


def test_every_alarm_notifies_the_alarm_topic(resources: Resources) -> None:
    topic = {"Ref": _topic_id(resources)}
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    assert alarms
    assert all(alarm["Properties"]["AlarmActions"] == [topic] for alarm in alarms.values())


def test_every_function_and_dead_letter_queue_has_an_alarm(resources: Resources) -> None:
    alarms = of_type(resources, "AWS::CloudWatch::Alarm").values()
    function_alarms = [a for a in alarms if a["Properties"].get("MetricName") == "Errors"]
    dlq_alarms = [
        a for a in alarms if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
    ]
    assert len(function_alarms) >= len(FUNCTIONS)
    queues = of_type(resources, "AWS::SQS::Queue")
    dead_letter_targets = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    watched = {a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for a in dlq_alarms}
    assert dead_letter_targets <= watched


def test_the_alarm_topic_mails_the_address_given_at_deploy_time(template_json: dict[str, Any]) -> None:
    # Given the AlarmEmail parameter (empty by default)
    parameter = template_json["Parameters"]["AlarmEmail"]
    assert parameter["Default"] == ""
    # Then an email subscription to the alarm topic exists exactly when an address is given
    resources = template_json["Resources"]
    (subscription,) = of_type(resources, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert subscription["Properties"]["TopicArn"] == {"Ref": _topic_id(resources)}
    condition = template_json["Conditions"][subscription["Condition"]]
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}
