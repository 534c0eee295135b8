"""The demo's static report: its over-time series and a page that carries the run's numbers safely."""

import json
import re

from demo import report

SUMMARY = {
    "materials_admitted": 20,
    "materials_in_review": 2,
    "materials_rejected": 9,
    "rejections_by_reason": {"too_many_pixels": 1, "copy_banned_claim": 3},
    "reviews_by_reason": {"copy_spam_like": 2},
    "top_tags_by_business_line": {"food": {"selling:gift (Gift)": 4}, "pets": {"selling:gift (Gift)": 1}},
    "creatives": 12,
    "selections": 4,
    "clicks": 1,
    "expected_ctr_racer": 0.05,
    "expected_ctr_uniform": 0.03,
    "expected_ctr_oracle": 0.06,
    "ctr_racer": 0.25,
    "ctr_uniform": 0.0,
    "best_creative_share": 0.5,
    "best_creative_share_second_half": 1.0,
    "retraining_outcome": "skipped",
    "retraining_reason": "insufficient_data </script><b>",
    "by_business_line": {
        "food": {
            "selections": 4,
            "expected_ctr_racer": 0.05,
            "expected_ctr_uniform": 0.03,
            "best_ctr": 0.06,
            "best_creative_share": 0.5,
        }
    },
}


def test_the_timeline_averages_each_window_and_accumulates_regret():
    series = report.timeline([0.1, 0.3, 0.2], [0.1, 0.1, 0.1], [0.3, 0.3, 0.3], window=2)
    assert series["racer"] == [[2, 0.2], [3, 0.2]]
    assert series["uniform"] == [[2, 0.1], [3, 0.1]]
    assert [round(y, 6) for _, y in series["regret_racer"]] == [0.2, 0.3]
    assert [round(y, 6) for _, y in series["regret_uniform"]] == [0.4, 0.6]


def test_the_page_carries_the_numbers_in_tables_and_escapes_what_the_run_wrote():
    page = report.render(SUMMARY, report.timeline([0.1, 0.3], [0.1, 0.1], [0.3, 0.3], window=1))
    # Then the tables hold the numbers, and text from the run cannot close a script or open a tag
    assert "<td>copy_banned_claim</td><td>3</td>" in page
    assert "insufficient_data &lt;/script&gt;&lt;b&gt;" in page
    data = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(data)["tags"] == {"selling:gift (Gift)": 5}
    # And the chart module is inlined, without its exports (an inline module exports to nobody)
    assert "function lineChart(" in page and "export function" not in page
    assert "Labels by asset" in page and "Not built yet" in page
