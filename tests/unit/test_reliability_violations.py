"""The reliability run's verdict (`reliability.run.violations`) on figures made up to break one rule each."""

import copy

import pytest
from reliability.run import violations

REPORT = {
    "fuzz_5xx": 0,
    "schema_violations": 0,
    "events_lost": 0,
    "concurrent_feedback_sent": 10,
    "concurrent_feedback_counted": 10,
    "selects_sent": 20,
    "impressions_counted": 20,
}
DETAILS = {
    "load": {"counted_true": 10, "impressions_logged": 20},
    "late_answers": {
        "selects_answered": 8,
        "impressions_counted": 10,
        "impressions_logged": 10,
        "late_answers": 2,
    },
    "faults": {"dead_lettered": 1, "dead_lettered_then_redriven": 1, "doomed_logged": 1},
    "sizes": {"doomed_uploads": 1},
}


def test_figures_that_keep_every_rule_have_no_violation():
    assert violations(REPORT, DETAILS) == []


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (("late_answers", "late_answers"), 0, "no select answer came late"),
        (("late_answers", "impressions_logged"), 0, "no select of the late-answer run was answered"),
        (("late_answers", "selects_answered"), 0, "no select of the late-answer run was answered"),
        (("late_answers", "impressions_counted"), 11, "counted twice or not logged"),
        (("load", "counted_true"), 11, "a duplicate click was answered counted"),
        (("faults", "doomed_logged"), 0, "has no log line naming it"),
    ],
)
def test_each_broken_rule_is_named(path, value, reason):
    details = copy.deepcopy(DETAILS)
    details[path[0]][path[1]] = value
    assert any(reason in found for found in violations(REPORT, details))
