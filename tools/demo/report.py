"""`out/demo/report.html`: the demo's run as one static page, readable from disk without a server.

The charts are drawn by the console's own chart module (console/charts.js), inlined with the run's numbers,
so the report and the console draw alike; every chart's numbers are also in a table, for a reader without
JavaScript.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from infra.paths import CONSOLE_DIR

CHARTS_MODULE = CONSOLE_DIR / "charts.js"
# The per-asset labels, best first (creative.labels.AssetLabel).
LABELS = ("BEST", "GOOD", "LOW", "LEARNING", "PENDING")
# Selections per point of the over-time charts.
WINDOW = 200


def timeline(
    racer: list[float], uniform: list[float], oracle: list[float], window: int = WINDOW
) -> dict[str, list[list[float]]]:
    """Expected CTR of what was served, per window of selections, and cumulative regret against the best
    creative of each request's line (the oracle), for the racer and for uniform choice."""
    series: dict[str, list[list[float]]] = {
        "racer": [],
        "uniform": [],
        "regret_racer": [],
        "regret_uniform": [],
    }
    regret_racer = regret_uniform = 0.0
    for start in range(0, len(racer), window):
        end = min(start + window, len(racer))
        series["racer"].append([end, sum(racer[start:end]) / (end - start)])
        series["uniform"].append([end, sum(uniform[start:end]) / (end - start)])
        regret_racer += sum(o - r for o, r in zip(oracle[start:end], racer[start:end], strict=True))
        regret_uniform += sum(o - u for o, u in zip(oracle[start:end], uniform[start:end], strict=True))
        series["regret_racer"].append([end, regret_racer])
        series["regret_uniform"].append([end, regret_uniform])
    return series


def render(summary: dict[str, Any], series: dict[str, list[list[float]]]) -> str:
    tags: dict[str, int] = {}
    for line_tags in summary.get("top_tags_by_business_line", {}).values():
        for tag, count in line_tags.items():
            tags[tag] = tags.get(tag, 0) + count
    data = {
        "series": series,
        "rejections": summary.get("rejections_by_reason", {}),
        "reviews": summary.get("reviews_by_reason", {}),
        "tags": dict(sorted(tags.items(), key=lambda item: -item[1])[:15]),
        "recall": summary.get("recall_strategy_mix", {}),
    }
    generated = summary.get("generated_copy") or {}
    charts = re.sub(r"^export\s+", "", CHARTS_MODULE.read_text(), flags=re.MULTILINE)
    # "</" cannot appear inside a script element's text; JSON allows "<\/".
    payload = json.dumps(data).replace("</", "<\\/")
    return TEMPLATE.format(
        headline=_headline(summary),
        rejections=_table(("Reason", "Materials"), summary.get("rejections_by_reason", {}).items()),
        reviews=_table(("Reason", "Materials"), summary.get("reviews_by_reason", {}).items()),
        tags=_table(("Tag", "Admitted materials"), data["tags"].items()),
        lines=_table(
            ("Business line", "Selections", "E[CTR] racer", "E[CTR] uniform", "Best CTR", "Best share"),
            [
                (
                    line,
                    row["selections"],
                    f"{row['expected_ctr_racer']:.4f}",
                    f"{row['expected_ctr_uniform']:.4f}",
                    f"{row['best_ctr']:.4f}",
                    f"{row['best_creative_share']:.3f}",
                )
                for line, row in summary.get("by_business_line", {}).items()
            ],
        ),
        labels=_labels(summary.get("labels_by_asset", {})),
        recall=_table(("Recall strategy", "Candidates of served selections"), data["recall"].items()),
        generated=_table(
            ("Generated copy", ""),
            [
                ("Lines written", generated.get("lines", 0)),
                *((f"status {k}", v) for k, v in generated.get("by_status", {}).items()),
                *((f"reason {k}", v) for k, v in generated.get("reasons", {}).items()),
            ],
        ),
        generated_examples=_table(
            ("Examples (line: copy (status))",), ((e,) for e in generated.get("examples", []))
        ),
        window=WINDOW,
        data=payload,
        charts=charts,
    )


def write(path: Path, summary: dict[str, Any], series: dict[str, list[list[float]]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(summary, series))
    return path


def _headline(s: dict[str, Any]) -> str:
    facts = [
        (
            "Materials admitted / in review / rejected",
            f"{s['materials_admitted']} / {s['materials_in_review']} / {s['materials_rejected']}",
        ),
        ("Creatives", s["creatives"]),
        ("Selections / clicks", f"{s['selections']} / {s['clicks']}"),
        (
            "Expected CTR racer / uniform / best",
            f"{s['expected_ctr_racer']:.4f} / {s['expected_ctr_uniform']:.4f} / {s['expected_ctr_oracle']:.4f}",
        ),
        ("Realised CTR racer / uniform", f"{s['ctr_racer']:.4f} / {s['ctr_uniform']:.4f}"),
        (
            "Best creative share (second half)",
            f"{s['best_creative_share']:.3f} ({s['best_creative_share_second_half']:.3f})",
        ),
        ("Retraining", f"{s['retraining_outcome']}: {s['retraining_reason']}"),
    ]
    return _table(("", ""), facts, show_header=False)


def _labels(by_slot: dict[str, dict[str, int]]) -> str:
    """Per slot, how many assets carry each label; labels the run did not see are 0."""
    seen = [label for label in LABELS if any(label in counts for counts in by_slot.values())]
    extra = sorted({label for c in by_slot.values() for label in c} - set(LABELS))
    columns = [*seen, *extra]
    rows = [
        (slot, *(counts.get(label, 0) for label in columns), sum(counts.values()))
        for slot, counts in by_slot.items()
    ]
    return _table(("Slot", *columns, "Assets"), rows)


def _table(columns: tuple[str, ...], rows, *, show_header: bool = True) -> str:
    head = (
        "<tr>" + "".join(f"<th scope='col'>{html.escape(c)}</th>" for c in columns) + "</tr>"
        if show_header
        else ""
    )
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    if not body:
        body = f"<tr><td colspan='{len(columns)}' class='muted'>none in this run</td></tr>"
    return f"<table>{head}{body}</table>"


TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Creative Engine demo report</title>
<style>
body {{ font-family: system-ui, sans-serif; color: #1d2330; margin: 2rem; max-width: 980px; }}
table {{ border-collapse: collapse; margin: .5rem 0 1.5rem; }}
th, td {{ border-bottom: 1px solid #d7dce4; padding: .25rem .6rem; text-align: left; }}
.muted {{ color: #5b6475; }}
.empty {{ border: 1px dashed #d7dce4; padding: 1rem; background: #fafbfc; }}
.chart {{ max-width: 100%; height: auto; font-size: 11px; }}
.chart .grid {{ stroke: #e6e9ee; }}
figure {{ margin: 0 0 1.5rem; }}
</style>
</head>
<body>
<h1>Creative Engine demo report</h1>
<p class="muted">Written by <code>make demo</code> from its own run. Charts need JavaScript; every number is also in a table.</p>
{headline}
<h2>Expected CTR over time: the racer against uniform choice</h2>
<figure id="ctr"></figure>
<p class="muted">Each point: the mean hidden CTR of the creatives served in the last {window} selections.</p>
<h2>Cumulative regret against the best creative of each line</h2>
<figure id="regret"></figure>
{lines}
<h2>Rejections by reason</h2>
<figure id="rejections"></figure>
{rejections}
<h2>Sent to review, by reason</h2>
<figure id="reviews"></figure>
{reviews}
<h2>Most frequent tags of admitted materials</h2>
<figure id="tags"></figure>
{tags}
<h2>Labels by asset</h2>
<p class="muted">How many assets of each slot ended the run with each label (BEST / GOOD / LOW against the
others of their slot in their line; LEARNING: too little evidence; PENDING: never shown), over every line.</p>
{labels}
<h2>Recall strategies of the served selections</h2>
<figure id="recall"></figure>
{recall}
<h2>Generated copy</h2>
{generated}
{generated_examples}
<script type="application/json" id="data">{data}</script>
<script type="module">
{charts}
const data = JSON.parse(document.getElementById("data").textContent);
const put = (id, chart) => document.getElementById(id).append(chart);
put("ctr", lineChart([
  {{ name: "racer", points: data.series.racer }},
  {{ name: "uniform", points: data.series.uniform, dashed: true }},
], {{ title: "Expected CTR per window", xLabel: "selections", yLabel: "E[CTR]" }}));
put("regret", lineChart([
  {{ name: "racer", points: data.series.regret_racer }},
  {{ name: "uniform", points: data.series.regret_uniform, dashed: true }},
], {{ title: "Cumulative expected regret", xLabel: "selections", yLabel: "regret (clicks)" }}));
const bars = (values) => Object.entries(values).map(([label, value]) => ({{ label, value }}));
put("rejections", barChart(bars(data.rejections), {{ title: "Rejections by reason" }}));
put("reviews", barChart(bars(data.reviews), {{ title: "Reviews by reason" }}));
put("tags", barChart(bars(data.tags), {{ title: "Most frequent tags" }}));
put("recall", barChart(bars(data.recall), {{ title: "Recall strategies of the served selections" }}));
</script>
</body>
</html>
"""
