// Racing: each business line's objective and totals from the creatives' counters; the CTR model select
// serves and the retraining runs with their off-policy evaluation.
import { api, reasonOf } from "../api.js";
import { barChart, lineChart } from "../charts.js";
import { emptyState, errorBox, h, percent, replace } from "../dom.js";
import { allCreatives } from "./creatives.js";

export async function racingView(root) {
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
  if (!models.runs.length) {
    return [
      active,
      emptyState("No retraining run yet.", "Retraining runs hourly; locally `creative local fire retrain_ctr` runs it now."),
    ];
  }
  const judged = [...models.runs].reverse().filter((r) => r.champion_value !== null && r.challenger_value !== null);
  return [
    active,
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
