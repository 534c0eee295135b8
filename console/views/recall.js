// Recall rules: pins, blocks and schedules of a line's creatives (per placement, in a time window), the map
// from user features to tags, and each strategy's quota; saved whole against the version read.
import { api, ApiError, reasonOf } from "../api.js";
import { errorBox, h, replace, toast } from "../dom.js";
import { allCreatives } from "./creatives.js";
import { lineForm, linePath, pickLine } from "./line_form.js";

const KINDS = [
  ["pins", "pin"],
  ["blocks", "block"],
  ["schedules", "schedule"],
];

export async function recallView(root, params) {
  const line = params.business_line || "";
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  replace(root, h("h1", {}, "Recall rules"), lineForm("recall", line, "Open a line's recall rules"), body);
  if (!line) {
    replace(body, pickLine("recall rules"));
    return;
  }
  let rules, creatives, placements;
  try {
    [rules, creatives, placements] = await Promise.all([
      api("GET", linePath("/v1/recall-rules", line)),
      allCreatives(line),
      api("GET", "/v1/placements"),
    ]);
  } catch (error) {
    replace(body, errorBox(`Could not read the recall rules: ${reasonOf(error)}`));
    return;
  }
  replace(body, rulesEditor(line, rules, creatives, Object.keys(placements)));
}

function rulesEditor(line, rules, creatives, placements) {
  let version = rules.version;
  const ruleRows = h("tbody", {});
  const featureRows = h("tbody", {});
  const caption = h("caption", {});
  const message = h("div", { "aria-live": "polite" });
  const quota = (name, value) =>
    h("span", { class: "field" }, h("label", { for: `quota-${name}` }, `${name} quota`), h("input", { id: `quota-${name}`, name, type: "number", min: 0, max: 1000, value, required: true }));
  const quotaFields = h("div", { class: "filters" });
  const quotas = h("fieldset", { class: "quotas" }, h("legend", {}, "Candidates each strategy may add (the business line fills the rest)"), quotaFields);
  const fill = (r) => {
    replace(ruleRows);
    replace(featureRows);
    for (const [key, kind] of KINDS) for (const rule of r[key]) ruleRows.append(ruleRow(ruleRows, kind, rule, creatives, placements));
    for (const mapping of r.feature_tags) featureRows.append(featureRow(featureRows, mapping));
    replace(quotaFields, quota("tag", r.quotas.tag), quota("hot", r.quotas.hot));
    caption.textContent = `${ruleRows.children.length} rule(s), version ${r.version}` + (r.updated_by ? `, saved by ${r.updated_by} at ${r.updated_at}` : "");
  };
  fill(rules);
  const save = h("button", { type: "submit" }, "Save rules");
  const form = h(
    "form",
    {
      class: "editor",
      "aria-label": "Recall rules",
      onsubmit: async (event) => {
        event.preventDefault();
        const change = { expected_version: version, pins: [], blocks: [], schedules: [], feature_tags: [], quotas: {} };
        for (const row of ruleRows.children) {
          const kind = row.querySelector("select[name=kind]").value;
          const rule = { creative_id: row.querySelector("select[name=creative]").value };
          const chosen = [...row.querySelectorAll("input[name=placement]:checked")].map((c) => c.value);
          if (chosen.length) rule.placements = chosen;
          const starts = row.querySelector("input[name=starts_at]").value;
          const ends = row.querySelector("input[name=ends_at]").value;
          if (starts) rule.starts_at = new Date(starts).toISOString();
          if (ends) rule.ends_at = new Date(ends).toISOString();
          change[`${kind}s`].push(rule);
        }
        for (const row of featureRows.children) {
          const value = (name) => row.querySelector(`input[name=${name}]`).value.trim();
          if (!value("feature")) continue;
          change.feature_tags.push({
            feature: value("feature"),
            value: value("value"),
            tags: value("tags").split(",").map((t) => t.trim()).filter(Boolean),
          });
        }
        for (const input of quotas.querySelectorAll("input")) change.quotas[input.name] = Number(input.value);
        save.disabled = true;
        replace(message);
        try {
          const stored = await api("PUT", linePath("/v1/recall-rules", line), { body: change });
          version = stored.version;
          fill(stored);
          toast(`Recall rules saved (version ${stored.version}); select applies them within seconds.`);
        } catch (error) {
          const stale = error instanceof ApiError && error.status === 409;
          replace(message, errorBox(`Not saved: ${reasonOf(error)}${stale ? " Reload the page to see the current rules." : ""}`));
        } finally {
          save.disabled = false;
        }
      },
    },
    h("h2", {}, "Pins, blocks and schedules"),
    h(
      "p",
      { class: "muted" },
      "A pin makes a creative a candidate first, a block keeps it out, a schedule limits it to its windows. No placement ticked: every placement. Times are in this browser's time zone; empty: unbounded.",
    ),
    creatives.length
      ? null
      : h("p", { class: "muted" }, "This line has no creatives yet: they are composed from admitted images and copy."),
    h(
      "table",
      { class: "rules" },
      caption,
      h("thead", {}, h("tr", {}, ["Rule", "Creative", "Placements", "Starts", "Ends", ""].map((t) => h("th", { scope: "col" }, t)))),
      ruleRows,
    ),
    h(
      "div",
      { class: "actions" },
      KINDS.map(([, kind]) =>
        h(
          "button",
          {
            type: "button",
            class: "secondary",
            disabled: !creatives.length,
            onclick: () => ruleRows.append(ruleRow(ruleRows, kind, { creative_id: creatives[0].creative_id }, creatives, placements)),
          },
          `Add ${kind}`,
        ),
      ),
    ),
    h("h2", {}, "User features mapped to tags"),
    h("p", { class: "muted" }, "Users whose feature equals the value are shown creatives with these tags (the tag strategy), e.g. segment = runner → iab:483."),
    h(
      "table",
      { class: "feature-tags" },
      h("thead", {}, h("tr", {}, ["Feature", "Value", "Tags (comma-separated)", ""].map((t) => h("th", { scope: "col" }, t)))),
      featureRows,
    ),
    h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: () => featureRows.append(featureRow(featureRows, { feature: "", value: "", tags: [] })) }, "Add mapping")),
    h("h2", {}, "Quotas"),
    quotas,
    h("div", { class: "actions" }, save),
    message,
  );
  return form;
}

function ruleRow(rows, kind, rule, creatives, placements) {
  const n = rows.children.length + 1;
  const known = creatives.some((c) => c.creative_id === rule.creative_id);
  const creativeOptions = [
    ...creatives.map((c) => h("option", { value: c.creative_id, selected: c.creative_id === rule.creative_id }, `${c.headline} (${c.status}, ${c.creative_id})`)),
    known ? null : h("option", { value: rule.creative_id, selected: true }, `${rule.creative_id} (not a creative of this line)`),
  ];
  const chosen = new Set(rule.placements || []);
  const row = h(
    "tr",
    { class: "rule" },
    h(
      "td",
      {},
      h("select", { name: "kind", "aria-label": `Rule ${n} kind` }, KINDS.map(([, k]) => h("option", { value: k, selected: k === kind }, k))),
    ),
    h("td", {}, h("select", { name: "creative", "aria-label": `Rule ${n} creative` }, creativeOptions)),
    h(
      "td",
      {},
      h(
        "fieldset",
        { class: "placements" },
        h("legend", { class: "visually-hidden" }, `Rule ${n} placements`),
        placements.map((p) => h("label", {}, h("input", { type: "checkbox", name: "placement", value: p, checked: chosen.has(p) }), ` ${p} `)),
      ),
    ),
    h("td", {}, h("input", { type: "datetime-local", name: "starts_at", value: local(rule.starts_at), "aria-label": `Rule ${n} starts` })),
    h("td", {}, h("input", { type: "datetime-local", name: "ends_at", value: local(rule.ends_at), "aria-label": `Rule ${n} ends` })),
    h("td", {}, h("button", { type: "button", class: "link", "aria-label": `Remove rule ${n}`, onclick: () => row.remove() }, "×")),
  );
  return row;
}

function featureRow(rows, mapping) {
  const n = rows.children.length + 1;
  const row = h(
    "tr",
    {},
    h("td", {}, h("input", { name: "feature", value: mapping.feature, placeholder: "e.g. segment", "aria-label": `Mapping ${n} feature` })),
    h("td", {}, h("input", { name: "value", value: mapping.value, placeholder: "e.g. runner", "aria-label": `Mapping ${n} value` })),
    h("td", {}, h("input", { name: "tags", value: mapping.tags.join(", "), placeholder: "e.g. iab:483", "aria-label": `Mapping ${n} tags` })),
    h("td", {}, h("button", { type: "button", class: "link", "aria-label": `Remove mapping ${n}`, onclick: () => row.remove() }, "×")),
  );
  return row;
}

// An API time (ISO, UTC) as a datetime-local value in this browser's time zone.
function local(iso) {
  if (!iso) return "";
  const at = new Date(iso);
  const pad = (v) => String(v).padStart(2, "0");
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
}
