// Creatives with how they race: posterior CTR and its 95% interval, impressions, clicks; enable or disable.
import { api, reasonOf } from "../api.js";
import { intervalChart } from "../charts.js";
import { emptyState, errorBox, h, percent, replace, toast } from "../dom.js";

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
    creativeTable(ranked),
  );
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
