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
    "labels_by_asset": {
        "creative": {"GOOD": 3, "LEARNING": 8, "BEST": 1},
        "phrase": {"PENDING": 2},
    },
    "recall_strategy_mix": {"business_line": 40, "hot": 12, "pin": 1},
    "generated_copy": {
        "run": {"written": 1},
        "lines": 3,
        "by_status": {"ADMITTED": 2, "NEEDS_REVIEW": 1},
        "reasons": {"generated_copy_review": 1},
        "examples": ["food: Fresh <i>bread</i> daily (ADMITTED)"],
    },
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
    assert "Not built yet" not in page


def test_the_labels_table_counts_each_slots_labels_best_first_with_zeros_where_none():
    page = report.render(SUMMARY, report.timeline([0.1], [0.1], [0.3], window=1))
    labels = re.search(r"<h2>Labels by asset</h2>.*?(<table>.*?</table>)", page, re.S).group(1)
    header = re.findall(r"<th scope='col'>(.*?)</th>", labels)
    assert header == ["Slot", "BEST", "GOOD", "LEARNING", "PENDING", "Assets"]
    assert "<td>creative</td><td>1</td><td>3</td><td>8</td><td>0</td><td>12</td>" in labels
    assert "<td>phrase</td><td>0</td><td>0</td><td>0</td><td>2</td><td>2</td>" in labels


def test_the_recall_mix_and_generated_copy_are_shown_with_their_counts():
    page = report.render(SUMMARY, report.timeline([0.1], [0.1], [0.3], window=1))
    data = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(data)["recall"] == {"business_line": 40, "hot": 12, "pin": 1}
    assert "<td>hot</td><td>12</td>" in page and '<figure id="recall">' in page
    assert "<td>Lines written</td><td>3</td>" in page
    assert "<td>status NEEDS_REVIEW</td><td>1</td>" in page
    assert "<td>reason generated_copy_review</td><td>1</td>" in page
    # generated text is the run's own output: escaped like everything else
    assert "Fresh &lt;i&gt;bread&lt;/i&gt; daily" in page


def test_a_summary_from_before_labels_renders_with_empty_sections():
    older = {
        k: v
        for k, v in SUMMARY.items()
        if k not in ("labels_by_asset", "recall_strategy_mix", "generated_copy")
    }
    page = report.render(older, report.timeline([0.1], [0.1], [0.3], window=1))
    assert page.count("none in this run") >= 3
