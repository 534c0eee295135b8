// Generated copy: the lines generate_copy wrote for a business line (uploads named generated-<window>.txt),
// what admission made of each, and whether the line sends them to the review queue first.
import { api, reasonOf } from "../api.js";
import { barChart } from "../charts.js";
import { emptyState, errorBox, h, replace } from "../dom.js";
import { lineForm, linePath, pickLine } from "./line_form.js";

const MAX_MATERIALS = 2000;

export async function generationView(root, params) {
  const line = params.business_line || "";
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  replace(root, h("h1", {}, "Generation"), lineForm("generation", line, "Open a line's generated copy"), body);
  if (!line) {
    replace(body, pickLine("generated copy"));
    return;
  }
  let generated, policy;
  try {
    [generated, policy] = await Promise.all([
      generatedCopy(line),
      api("GET", linePath("/v1/quality-policy", line)).catch(() => null),
    ]);
  } catch (error) {
    replace(body, errorBox(`Could not list materials: ${reasonOf(error)}`));
    return;
  }
  const reviewed = policy && policy.effective && policy.effective.review_generated_copy;
  const reviewLink = h("a", { href: `#/review?business_line=${encodeURIComponent(line)}&kind=copy` }, "review queue");
  const policyNote = h(
    "p",
    { class: "policy" },
    reviewed
      ? ["This line's quality policy sends generated copy to the ", reviewLink, " (reason generated_copy_review) until an operator admits or rejects it."]
      : ["Generated copy of this line is admitted like uploaded copy (its quality policy does not ask for review: set review_generated_copy). Anything admission is unsure of waits in the ", reviewLink, "."],
  );
  if (!generated.length) {
    replace(
      body,
      policyNote,
      emptyState(
        "No generated copy for this line yet.",
        "generate_copy writes up to 8 lines every 6 hours for lines with admitted copy (locally: `creative local fire generate_copy`).",
      ),
    );
    return;
  }
  const byStatus = {};
  for (const m of generated) byStatus[m.status] = (byStatus[m.status] || 0) + 1;
  replace(
    body,
    policyNote,
    barChart(Object.entries(byStatus).map(([label, value]) => ({ label, value })), { title: "Generated copy by status" }),
    h(
      "table",
      { class: "generated" },
      h("caption", {}, `${generated.length} generated line(s), newest first`),
      h("thead", {}, h("tr", {}, ["Copy", "Status", "Reasons", "Window file"].map((t) => h("th", { scope: "col" }, t)))),
      h(
        "tbody",
        {},
        generated.map((m) =>
          h(
            "tr",
            { dataset: { materialId: m.material_id } },
            h("td", {}, m.text || "—"),
            h("td", {}, h("span", { class: `status status-${m.status}` }, m.status)),
            h("td", {}, m.reasons.length ? m.reasons.map((r) => h("div", {}, h("code", {}, r.code), ` ${r.detail}`)) : h("span", { class: "muted" }, "none")),
            h("td", { class: "key" }, m.source.key, m.source.line ? ` (line ${m.source.line})` : ""),
          ),
        ),
      ),
    ),
  );
}

// The materials API has no source filter: the line's pages are read and generated copy picked out.
async function generatedCopy(line) {
  const found = [];
  let token = null;
  let read = 0;
  do {
    const page = await api("GET", "/v1/materials", { query: { business_line: line, limit: 200, next_token: token } });
    read += page.items.length;
    found.push(...page.items.filter((m) => m.kind === "copy" && m.source && m.source.key.includes("/generated-")));
    token = page.next_token;
  } while (token && read < MAX_MATERIALS);
  return found.sort((a, b) => String(b.created_at || "").localeCompare(String(a.created_at || "")));
}
