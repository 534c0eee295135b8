// Racing: each business line's objective and totals from the creatives' counters, its CTR over time against
// the uniform policy's (estimated off-policy) with the model versions serving; the CTR model select serves and
// the retraining runs with their off-policy evaluation.
import { api, reasonOf } from "../api.js";
import { barChart, lineChart } from "../charts.js";
import { emptyState, errorBox, h, percent, replace } from "../dom.js";
import { allCreatives } from "./creatives.js";
import { HOUR_CHOICES, hourLabel, hoursOf, timelinePath } from "./timeline.js";

export async function racingView(root, params = {}) {
  const hours = hoursOf(params.hours);
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  replace(root, h("h1", {}, "Racing"), body);
  let items;
  try {
    items = await allCreatives("");
  } catch (error) {
    replace(body, errorBox(`Could not read racing stats: ${reasonOf(error)}`));
    return;
  }
  const lines = new Map();
  for (const c of items) {
    const line = lines.get(c.business_line) || { impressions: 0, clicks: 0, creatives: 0, active: 0, bestCtr: 0 };
    line.impressions += c.impressions;
    line.clicks += c.clicks;
    line.creatives += 1;
    line.active += c.status === "ACTIVE" ? 1 : 0;
    line.bestCtr = Math.max(line.bestCtr, c.posterior_mean);
    lines.set(c.business_line, line);
  }
  const objectives = await Promise.all(
    [...lines.keys()].map((line) =>
      api("GET", `/v1/racing-objective/${encodeURIComponent(line)}`)
        .then((o) => o.objective)
        .catch(() => "unknown"),
    ),
  );
  replace(
    body,
    lines.size
      ? [
          h(
            "table",
            { class: "racing" },
            h("caption", {}, "Business lines as the racer sees them"),
            h("thead", {}, h("tr", {}, ["Line", "Objective", "Creatives (active)", "Impressions", "Clicks", "CTR", "Best posterior"].map((t) => h("th", { scope: "col" }, t)))),
            h(
              "tbody",
              {},
              [...lines.entries()].map(([name, l], i) =>
                h(
                  "tr",
                  {},
                  h("td", {}, name),
                  h("td", {}, objectives[i]),
                  h("td", { class: "num" }, `${l.creatives} (${l.active})`),
                  h("td", { class: "num" }, l.impressions),
                  h("td", { class: "num" }, l.clicks),
                  h("td", { class: "num" }, percent(l.impressions ? l.clicks / l.impressions : null)),
                  h("td", { class: "num" }, percent(l.bestCtr)),
                ),
              ),
            ),
          ),
          h("h2", {}, "Impressions by business line"),
          barChart([...lines.entries()].map(([name, l]) => ({ label: name, value: l.impressions })), { title: "Impressions by business line" }),
          h("h2", {}, "CTR over time: the racer against uniform"),
          hoursForm(hours),
          h(
            "p",
            { class: "muted" },
            "Per hour (UTC): the racer's observed CTR, and an off-policy estimate of the CTR a uniform-random choice among the same candidates would have had (inverse propensity scoring over the logged propensities). The estimate is noisy at low traffic. A click counts in its impression's hour, so the latest hours fill in as clicks arrive.",
          ),
          await Promise.all([...lines.keys()].map((line) => lineTimeline(line, hours))),
        ]
      : emptyState("Nothing is racing yet.", "Admit images and copy, compose creatives, then call /v1/select."),
    h("h2", {}, "Retraining runs and the promoted model"),
    await modelsSection(),
  );
}

async function modelsSection() {
  let models;
  try {
    models = await api("GET", "/v1/racing-models", { query: { limit: 50 } });
  } catch (error) {
    return errorBox(`Could not read the retraining runs: ${reasonOf(error)}`);
  }
  const active = models.active
    ? h("p", { class: "active-model" }, "Select serves CTR model ", h("code", {}, models.active.version), ` (${models.active.bytes} bytes).`)
    : h("p", { class: "active-model" }, "Select serves the constant prior: no CTR model has been promoted yet.");
  const promotions = models.runs.filter((r) => r.outcome === "promoted" && r.challenger_version);
  const promoted = promotions.length
    ? h(
        "p",
        { class: "promotions" },
        "Promoted model over time (newest first): ",
        promotions.map((r, i) => [i ? "; " : "", h("code", {}, r.challenger_version), ` at ${r.finished_at} (replacing ${r.champion_version || "the constant prior"})`]),
        ".",
      )
    : h("p", { class: "promotions muted" }, "No run has promoted a model yet: select serves what it served before.");
  if (!models.runs.length) {
    return [
      active,
      emptyState("No retraining run yet.", "Retraining runs hourly; locally `creative local fire retrain_ctr` runs it now."),
    ];
  }
  const judged = [...models.runs].reverse().filter((r) => r.champion_value !== null && r.challenger_value !== null);
  return [
    active,
    promoted,
    judged.length
      ? lineChart(
          [
            { name: "champion", points: judged.map((r, i) => [i + 1, r.champion_value]) },
            { name: "challenger", points: judged.map((r, i) => [i + 1, r.challenger_value]), dashed: true },
          ],
          { title: "Off-policy value of champion and challenger per run", xLabel: "judged run", yLabel: "value" },
        )
      : null,
    h(
      "table",
      { class: "runs" },
      h("caption", {}, `${models.runs.length} latest retraining runs, newest first`),
      h("thead", {}, h("tr", {}, ["Started", "Outcome", "Why", "Rows (clicks)", "Champion", "Challenger", "P(win)"].map((t) => h("th", { scope: "col" }, t)))),
      h(
        "tbody",
        {},
        models.runs.map((r) =>
          h(
            "tr",
            {},
            h("td", {}, r.started_at),
            h("td", {}, h("code", {}, r.outcome)),
            h("td", {}, r.reason),
            h("td", { class: "num" }, `${r.training_rows} (${r.training_clicks})`),
            h("td", {}, r.champion_version || "prior", r.champion_value !== null ? ` ${r.champion_value.toFixed(4)}` : ""),
            h("td", {}, r.challenger_version || "—", r.challenger_value !== null ? ` ${r.challenger_value.toFixed(4)}` : ""),
            h("td", { class: "num" }, r.win_probability !== null ? r.win_probability.toFixed(2) : "—"),
          ),
        ),
      ),
    ),
  ];
}

function hoursForm(hours) {
  const form = h(
    "form",
    {
      class: "filters",
      "aria-label": "Timeline window",
      onsubmit: (event) => {
        event.preventDefault();
        window.location.hash = `#/racing?hours=${new FormData(form).get("hours")}`;
      },
    },
    h("label", { for: "racing-hours" }, "Window"),
    h(
      "select",
      { id: "racing-hours", name: "hours" },
      HOUR_CHOICES.map(([value, text]) => h("option", { value, selected: value === hours }, text)),
    ),
    h("button", { type: "submit" }, "Show"),
  );
  return form;
}

// One business line's timeline: racer vs uniform per hour, the window's totals, the model versions serving.
async function lineTimeline(line, hours) {
  const section = (...children) => h("section", { class: "timeline", dataset: { businessLine: line } }, h("h3", {}, line), children);
  let timeline;
  try {
    timeline = await api("GET", timelinePath(line), { query: { hours } });
  } catch (error) {
    return section(errorBox(`Could not read the racing timeline of ${line}: ${reasonOf(error)}`));
  }
  const t = timeline.totals;
  if (!t.impressions) {
    return section(
      emptyState(
        `No impressions on ${line} in the last ${hours} hours.`,
        "Serve its creatives with POST /v1/select and report clicks to POST /v1/feedback: the chart fills in hour by hour.",
      ),
    );
  }
  const x = (hour) => Date.parse(hour.start) / 3600000;
  return section(
    h(
      "p",
      { class: "timeline-summary" },
      `Last ${hours} h: racer ${percent(t.ctr)} over ${t.impressions} impressions (${t.clicks} clicks); uniform ≈ ${percent(t.uniform_ctr_estimate)}`,
      t.uniform_stderr !== null ? ` ± ${percent(t.uniform_stderr)}` : "",
      " (an estimate).",
      t.floor_share !== null && t.floor_share !== undefined
        ? ` The exploration floor drew about ${percent(t.floor_share)} of the choices (uniformly: it earns what the uniform line estimates).`
        : "",
    ),
    timeline.truncated
      ? h(
          "p",
          { class: "warning", role: "status" },
          `Cut short (${timeline.truncated_by}) after ${timeline.impressions_read} impressions: hours before ${timeline.complete_from.slice(0, 16).replace("T", " ")} UTC are partial. Choose a shorter window.`,
        )
      : null,
    lineChart(
      [
        { name: "racer (observed CTR)", points: timeline.hourly.map((hr) => [x(hr), hr.ctr]) },
        { name: "uniform (IPS estimate)", points: timeline.hourly.map((hr) => [x(hr), hr.uniform_ctr_estimate]), dashed: true },
      ],
      {
        title: `CTR of ${line} per hour: the racer against the uniform policy (estimated)`,
        xLabel: "hour (UTC)",
        yLabel: "CTR",
        xFormat: (v) => hourLabel(v, hours),
        yFormat: (v) => percent(v, 1),
        dots: true,
      },
    ),
    modelVersions(timeline, hours),
  );
}

// The CTR model versions that scored the line's choices, hour by hour (a promotion shows as a hand-over).
function modelVersions(timeline, hours) {
  const versions = [...new Set(timeline.hourly.flatMap((hr) => Object.keys(hr.model_versions)))];
  const spans = versions.map((version) => {
    const served = timeline.hourly.filter((hr) => hr.model_versions[version]);
    const impressions = served.reduce((sum, hr) => sum + hr.model_versions[version], 0);
    return { version, impressions, first: served[0].start, last: served[served.length - 1].start };
  });
  spans.sort((a, b) => a.first.localeCompare(b.first));
  const label = (iso) => hourLabel(Date.parse(iso) / 3600000, hours);
  return [
    h(
      "p",
      { class: "model-versions" },
      "Model versions serving: ",
      spans.map((s, i) => [i ? "; " : "", h("code", {}, s.version), ` ${s.impressions} impressions, ${label(s.first)}–${label(s.last)}`]),
      ".",
    ),
    versions.length > 1
      ? lineChart(
          versions.map((version) => ({
            name: version,
            points: timeline.hourly.map((hr) => [Date.parse(hr.start) / 3600000, hr.impressions ? (hr.model_versions[version] || 0) / hr.impressions : null]),
          })),
          {
            title: `Share of ${timeline.business_line}'s impressions scored by each model version`,
            xLabel: "hour (UTC)",
            yLabel: "share",
            xFormat: (v) => hourLabel(v, hours),
            yFormat: (v) => percent(v, 0),
            height: 200,
            dots: true,
          },
        )
      : null,
  ];
}
