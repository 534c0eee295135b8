// Creatives with how they race: posterior CTR and its 95% interval, impressions, clicks; enable or disable;
// one creative's posterior CTR over time, with its 90% interval (GET /v1/racing-timeline).
import { api, reasonOf } from "../api.js";
import { intervalChart, lineChart } from "../charts.js";
import { emptyState, errorBox, h, percent, replace, toast } from "../dom.js";
import { HOUR_CHOICES, hourLabel, timelinePath } from "./timeline.js";

export async function creativesView(root, params) {
  const line = params.business_line || "";
  const form = h(
    "form",
    {
      class: "filters",
      "aria-label": "Filter creatives",
      onsubmit: (event) => {
        event.preventDefault();
        const value = new FormData(form).get("business_line");
        window.location.hash = value ? `#/creatives?business_line=${encodeURIComponent(value)}` : "#/creatives";
      },
    },
    h("label", { for: "creatives-line" }, "Business line"),
    h("input", { id: "creatives-line", name: "business_line", value: line, placeholder: "e.g. food" }),
    h("button", { type: "submit" }, "Filter"),
  );
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  replace(root, h("h1", {}, "Creatives"), form, body);
  let items;
  try {
    items = await allCreatives(line);
  } catch (error) {
    replace(body, errorBox(`Could not list creatives: ${reasonOf(error)}`));
    return;
  }
  if (!items.length) {
    replace(
      body,
      emptyState(
        "No creatives yet.",
        "Creatives are composed from admitted images and copy every 5 minutes (locally: `creative local fire compose_creatives`).",
      ),
    );
    return;
  }
  const ranked = [...items].sort((a, b) => b.posterior_mean - a.posterior_mean);
  replace(
    body,
    h("h2", {}, "Posterior CTR with its 95% interval"),
    intervalChart(
      ranked.slice(0, 20).map((c) => ({ label: c.headline, mean: c.posterior_mean, low: c.posterior_ci95[0], high: c.posterior_ci95[1] })),
      { title: "Posterior CTR of the 20 best creatives, with 95% intervals" },
    ),
    posteriorOverTime(ranked),
    creativeTable(ranked),
  );
}

// A chosen creative's posterior CTR hour by hour (cumulative over the window), with its 90% interval as a band.
function posteriorOverTime(items) {
  const chart = h(
    "div",
    { class: "posterior-over-time" },
    emptyState("Pick a creative to see its posterior CTR over time.", "Choose one and a window above, then Show over time."),
  );
  const form = h(
    "form",
    {
      class: "filters",
      "aria-label": "Posterior CTR over time",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = new FormData(form);
        const creative = items.find((c) => c.creative_id === data.get("creative_id"));
        const hours = String(data.get("hours"));
        const button = form.querySelector("button");
        button.disabled = true;
        replace(chart, h("p", { class: "muted" }, "Loading…"));
        try {
          const timeline = await api("GET", timelinePath(creative.business_line), {
            query: { hours, creative_id: creative.creative_id },
          });
          replace(chart, posteriorChart(creative, timeline, hours));
        } catch (error) {
          replace(chart, errorBox(`Could not read the timeline: ${reasonOf(error)}`));
        } finally {
          button.disabled = false;
        }
      },
    },
    h("label", { for: "posterior-creative" }, "Creative"),
    h(
      "select",
      { id: "posterior-creative", name: "creative_id" },
      items.map((c) => h("option", { value: c.creative_id }, `${c.headline} (${c.business_line}, ${c.creative_id})`)),
    ),
    h("label", { for: "posterior-hours" }, "Window"),
    h("select", { id: "posterior-hours", name: "hours" }, HOUR_CHOICES.map(([value, text]) => h("option", { value }, text))),
    h("button", { type: "submit" }, "Show over time"),
  );
  return [h("h2", {}, "Posterior CTR over time"), form, chart];
}

function posteriorChart(creative, timeline, hours) {
  const series = timeline.creatives[0];
  if (!series || !series.points.length) {
    return emptyState(
      `“${creative.headline}” had no impressions in the last ${hours} hours.`,
      "It is shown when select picks it: serve its line with POST /v1/select (and report clicks), or pick a longer window.",
    );
  }
  const x = (p) => Date.parse(p.hour) / 3600000;
  const last = series.points[series.points.length - 1];
  const level = Math.round(timeline.posterior_level * 100);
  return [
    h(
      "p",
      { class: "posterior-summary" },
      `${series.impressions} impressions and ${series.clicks} clicks in the window: posterior CTR ${percent(last.posterior_mean)} (${level}% interval ${percent(last.posterior_interval[0])}–${percent(last.posterior_interval[1])}), counted from the window's start.`,
    ),
    lineChart(
      [
        {
          name: `posterior mean, ${level}% interval`,
          points: series.points.map((p) => [x(p), p.posterior_mean]),
          band: series.points.map((p) => [x(p), p.posterior_interval[0], p.posterior_interval[1]]),
        },
      ],
      {
        title: `Posterior CTR of “${creative.headline}” per hour, with its ${level}% interval`,
        xLabel: "hour (UTC)",
        yLabel: "CTR",
        xFormat: (v) => hourLabel(v, hours),
        yFormat: (v) => percent(v, 1),
        dots: true,
        xDomain: [timeline.hourly[0], timeline.hourly[timeline.hourly.length - 1]].map((hr) => Date.parse(hr.start) / 3600000),
      },
    ),
  ];
}

export async function allCreatives(line) {
  const items = [];
  let token = null;
  do {
    const page = await api("GET", "/v1/creatives", { query: { business_line: line, limit: 200, next_token: token } });
    items.push(...page.items);
    token = page.next_token;
  } while (token && items.length < 1000);
  return items;
}

function creativeTable(items) {
  return h(
    "table",
    { class: "creatives" },
    h("caption", {}, `${items.length} creatives, best posterior first`),
    h(
      "thead",
      {},
      h("tr", {}, ["Image", "Headline", "Line", "Status", "Impressions", "Clicks", "CTR", "Posterior (95%)", ""].map((t) => h("th", { scope: "col" }, t))),
    ),
    h("tbody", {}, items.map((c) => creativeRow(c))),
  );
}

function creativeRow(creative) {
  const row = h("tr", { dataset: { creativeId: creative.creative_id } });
  const fill = (c) =>
    replace(
      row,
      h("td", {}, h("img", { src: c.image_url, alt: `image of ${c.headline}`, width: 64, height: 64, loading: "lazy" })),
      h("td", {}, c.headline),
      h("td", {}, `${c.business_line} / ${c.category}`),
      h("td", {}, h("span", { class: `status status-${c.status}` }, c.status)),
      h("td", { class: "num" }, c.impressions),
      h("td", { class: "num" }, c.clicks),
      h("td", { class: "num" }, percent(c.ctr)),
      h("td", { class: "num" }, `${percent(c.posterior_mean)} (${percent(c.posterior_ci95[0])}–${percent(c.posterior_ci95[1])})`),
      h(
        "td",
        {},
        h(
          "button",
          {
            type: "button",
            onclick: async (event) => {
              event.currentTarget.disabled = true;
              const status = c.status === "ACTIVE" ? "DISABLED" : "ACTIVE";
              try {
                fill(await api("PATCH", `/v1/creatives/${encodeURIComponent(c.creative_id)}`, { body: { status } }));
                toast(status === "ACTIVE" ? "Enabled." : "Disabled: select stops serving it within its cache period.");
              } catch (error) {
                toast(`Not changed: ${reasonOf(error)}`, "error");
                fill(c);
              }
            },
          },
          c.status === "ACTIVE" ? "Disable" : "Enable",
        ),
      ),
    );
  fill(creative);
  return row;
}
