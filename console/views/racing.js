// Racing: each business line's objective and totals from the creatives' counters. Retraining runs and model
// versions are not exposed by the operator API yet: an empty state says so.
import { api, reasonOf } from "../api.js";
import { barChart } from "../charts.js";
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
    h(
      "div",
      { class: "empty not-built" },
      h("p", { class: "empty-title" }, "Not exposed by the API yet"),
      h("p", {}, "Hourly retraining (retrain_ctr) keeps its runs and the promoted model in the model registry; no operator route reads it yet."),
    ),
  );
}
