// Asset labels: PENDING / LEARNING / LOW / GOOD / BEST per creative, image, headline, phrase and cta of a
// line, against the other assets of the same slot, with the why, the rate's interval and fatigue.
import { api, reasonOf } from "../api.js";
import { intervalChart } from "../charts.js";
import { emptyState, errorBox, h, percent, replace } from "../dom.js";
import { lineForm, linePath, pickLine } from "./line_form.js";

const SLOT_ORDER = ["creative", "image", "headline", "phrase", "cta"];
const LABEL_ORDER = ["BEST", "GOOD", "LOW", "LEARNING", "PENDING"];

export async function labelsView(root, params) {
  const line = params.business_line || "";
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  replace(root, h("h1", {}, "Asset labels"), lineForm("labels", line, "Open a line's labels"), body);
  if (!line) {
    replace(body, pickLine("asset labels"));
    return;
  }
  let page;
  try {
    page = await api("GET", linePath("/v1/asset-labels", line));
  } catch (error) {
    replace(body, errorBox(`Could not read the labels: ${reasonOf(error)}`));
    return;
  }
  if (!page.items.length) {
    replace(
      body,
      emptyState(
        "No assets to label yet.",
        "Labels cover the line's active creatives, their images and headlines and its phrases: upload images and copy, or add phrases.",
      ),
    );
    return;
  }
  const slots = [...new Set(page.items.map((i) => i.slot))].sort((a, b) => slotRank(a) - slotRank(b));
  replace(
    body,
    h(
      "p",
      { class: "muted" },
      `Objective: ${page.objective}. Each asset is compared with the others of its slot in this line; rates are posterior means of the recent (decayed) rate with their 95% interval.`,
    ),
    slots.map((slot) => slotSection(slot, page.items.filter((i) => i.slot === slot))),
  );
}

function slotRank(slot) {
  const i = SLOT_ORDER.indexOf(slot);
  return i < 0 ? SLOT_ORDER.length : i;
}

function slotSection(slot, items) {
  const sorted = [...items].sort(
    (a, b) => LABEL_ORDER.indexOf(a.label) - LABEL_ORDER.indexOf(b.label) || (a.rank ?? 1e9) - (b.rank ?? 1e9) || b.impressions - a.impressions,
  );
  const counts = LABEL_ORDER.map((label) => [label, items.filter((i) => i.label === label).length]).filter(([, n]) => n);
  const rated = sorted.filter((i) => i.interval95 && i.impressions > 0);
  return h(
    "section",
    { class: "slot-labels", dataset: { slot } },
    h("h2", {}, `${slot} (${items.length})`),
    h("p", { class: "label-counts" }, counts.map(([label, n]) => [h("span", { class: `label label-${label}` }, label), ` ×${n} `])),
    rated.length
      ? intervalChart(
          rated.slice(0, 15).map((i) => ({ label: i.name, mean: i.rate, low: i.interval95[0], high: i.interval95[1] })),
          { title: `Recent rate of the ${slot} assets, with 95% intervals` },
        )
      : null,
    h(
      "table",
      { class: "labels" },
      h("caption", {}, `${items.length} ${slot} asset(s), best label first`),
      h(
        "thead",
        {},
        h("tr", {}, ["Asset", "Label", "Why", "Impressions", "Rate (95%)", "Rank", "Fatigued"].map((t) => h("th", { scope: "col" }, t))),
      ),
      h(
        "tbody",
        {},
        sorted.map((i) =>
          h(
            "tr",
            { dataset: { assetId: i.asset_id } },
            h("td", {}, i.name, i.tags && i.tags.length ? h("div", { class: "muted source" }, i.tags.join(", ")) : null),
            h("td", {}, h("span", { class: `label label-${i.label}` }, i.label)),
            h("td", { class: "why" }, i.why),
            h("td", { class: "num" }, Math.round(i.impressions)),
            h("td", { class: "num" }, i.rate === null ? "—" : `${percent(i.rate)} (${percent(i.interval95[0])}–${percent(i.interval95[1])})`),
            h("td", { class: "num" }, i.rank ? `${i.rank} of ${i.of}` : "—"),
            h("td", {}, i.fatigued ? h("span", { class: "fatigued" }, "fatigued") : "no"),
          ),
        ),
      ),
    ),
  );
}
