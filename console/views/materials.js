// Materials and the review queue: filters, thumbnails, reasons, tags with their source, decisions, tag edits.
import { api, reasonOf } from "../api.js";
import { emptyState, errorBox, h, replace, toast } from "../dom.js";

const STATUSES = ["ADMITTED", "NEEDS_REVIEW", "REJECTED"];
const PAGE = 100;

export async function materialsView(root, params, { title, path, fixedStatus = false }) {
  const filters = {
    business_line: params.business_line || "",
    kind: params.kind || "",
    status: params.status || "",
    tag: params.tag || "",
    reason: params.reason || "",
  };
  const list = h("div", { class: "materials", "aria-live": "polite" });
  const more = h("div", { class: "more" });
  const note = h("p", { class: "muted" }, "Business line and status are filtered by the API, a tag within a business line by the tag index (admitted materials); kind, reason and a tag without a line over the loaded pages (Load more searches further).");
  replace(root, h("h1", {}, title), filterForm(filters, fixedStatus, title, path), note, list, more);
  const vocabulary = loadVocabulary();
  await loadPage(list, more, filters, null, vocabulary, fixedStatus);
}

let vocabularyPromise = null;
function loadVocabulary() {
  // The tag names help an operator type a tag id; without them (tagger not deployed yet) free text works.
  vocabularyPromise ||= api("GET", "/v1/tags")
    .then((page) => page.items)
    .catch(() => {
      vocabularyPromise = null; // ask again next time
      return [];
    });
  return vocabularyPromise;
}

function filterForm(filters, fixedStatus, title, path) {
  const select = (name, label, options) =>
    h(
      "span",
      { class: "field" },
      h("label", { for: `filter-${name}` }, label),
      h(
        "select",
        { id: `filter-${name}`, name },
        h("option", { value: "" }, "any"),
        options.map((value) => h("option", { value, selected: filters[name] === value }, value)),
      ),
    );
  const text = (name, label, placeholder) =>
    h(
      "span",
      { class: "field" },
      h("label", { for: `filter-${name}` }, label),
      h("input", { id: `filter-${name}`, name, value: filters[name], placeholder }),
    );
  const form = h(
    "form",
    {
      class: "filters",
      "aria-label": `Filter ${title.toLowerCase()}`,
      onsubmit: (event) => {
        event.preventDefault();
        const data = Object.fromEntries([...new FormData(form)].filter(([, v]) => v));
        // Its own view's path, not the address bar's: a form still on screen after a link was clicked (the
        // router not yet run) would otherwise send its filters to the next view.
        window.location.hash = `${path}?${new URLSearchParams(data)}`;
      },
    },
    text("business_line", "Business line", "e.g. food"),
    select("kind", "Kind", ["image", "copy"]),
    fixedStatus ? null : select("status", "Status", STATUSES),
    text("tag", "Tag", "e.g. selling:gift"),
    text("reason", "Reason", "e.g. too_many_pixels"),
    h("button", { type: "submit" }, "Filter"),
  );
  return form;
}

async function loadPage(list, more, filters, nextToken, vocabulary, fixedStatus) {
  replace(more, h("p", { class: "muted" }, "Loading…"));
  let page;
  try {
    page = filters.tag && filters.business_line ? await taggedPage(filters, nextToken) : await api("GET", "/v1/materials", {
      query: {
        business_line: filters.business_line,
        status: filters.status,
        limit: PAGE,
        next_token: nextToken,
      },
    });
  } catch (error) {
    replace(more, errorBox(`Could not list materials: ${reasonOf(error)}`));
    return;
  }
  // Kind, tag and reason are filtered here, over the page the API returned.
  const shown = page.items.filter(
    (m) =>
      (!filters.kind || m.kind === filters.kind) &&
      (!filters.tag || m.tags.some((t) => t.tag === filters.tag)) &&
      (!filters.reason || m.reasons.some((r) => r.code === filters.reason)),
  );
  for (const material of shown) list.append(materialCard(material, vocabulary));
  replace(more);
  if (!list.children.length && !page.next_token) {
    list.append(
      fixedStatus
        ? emptyState("Nothing waits for review.", "Materials land here when a check is unsure; upload more or come back later.")
        : emptyState(
            "No materials match.",
            "Clear a filter, or upload images and copy from the Upload view (admission runs on each file).",
          ),
    );
  }
  if (page.next_token) {
    more.append(
      h(
        "button",
        { type: "button", onclick: () => loadPage(list, more, filters, page.next_token, vocabulary, fixedStatus) },
        "Load more",
      ),
    );
  }
}

// A tag within a business line is looked up in the tag index (what recall reads: admitted materials only),
// then each material is read whole.
async function taggedPage(filters, nextToken) {
  // ":" is safe in a path and tag ids have one ("iab:422"); API Gateway hands path parameters on undecoded.
  const tag = encodeURIComponent(filters.tag).replace(/%3A/gi, ":");
  const index = await api("GET", `/v1/tags/${tag}/materials`, {
    query: { business_line: filters.business_line, limit: 50, next_token: nextToken },
  });
  const items = await Promise.all(index.items.map((entry) => api("GET", `/v1/materials/${encodeURIComponent(entry.material_id)}`)));
  return { items: items.filter((m) => !filters.status || m.status === filters.status), next_token: index.next_token };
}

export function materialCard(material, vocabulary) {
  const card = h("article", { class: "material", dataset: { materialId: material.material_id } });
  fillCard(card, material, vocabulary);
  return card;
}

function fillCard(card, material, vocabulary) {
  const rerender = (updated) => fillCard(card, updated, vocabulary);
  replace(
    card,
    thumbnail(material),
    h(
      "div",
      { class: "material-body" },
      h(
        "header",
        {},
        h("span", { class: `status status-${material.status}` }, material.status),
        " ",
        h("strong", {}, material.kind || "unknown kind"),
        ` · ${material.business_line} / ${material.category}`,
      ),
      material.text ? h("blockquote", {}, material.text) : null,
      h("p", { class: "muted key" }, material.source.key, material.source.line ? ` (line ${material.source.line})` : ""),
      reasons(material),
      tags(material, vocabulary, rerender),
      decisionForm(material, rerender),
      history(material),
    ),
  );
}

function thumbnail(material) {
  if (material.kind !== "image") return h("div", { class: "thumb thumb-copy", "aria-hidden": "true" }, "Aa");
  const holder = h("div", { class: "thumb" }, h("span", { class: "muted" }, "…"));
  api("GET", `/v1/materials/${encodeURIComponent(material.material_id)}/image`)
    .then((image) =>
      replace(
        holder,
        h("img", {
          src: image.url,
          alt: `${material.category} image (${image.rendition})`,
          loading: "lazy",
          width: 120,
          height: 120,
        }),
      ),
    )
    .catch((error) => replace(holder, h("span", { class: "error" }, reasonOf(error))));
  return holder;
}

function reasons(material) {
  if (!material.reasons.length) {
    return h("p", { class: "muted" }, material.status === "ADMITTED" ? "Admitted: every check passed." : "No reasons recorded.");
  }
  return h(
    "ul",
    { class: "reasons", "aria-label": "Reasons" },
    material.reasons.map((reason) =>
      h(
        "li",
        { class: `reason verdict-${reason.verdict}` },
        h("code", {}, reason.code),
        ` ${reason.verdict === "review" ? "(review)" : "(reject)"}: ${reason.detail}`,
        reason.score !== null && reason.score !== undefined ? ` [score ${Number(reason.score).toFixed(3)}]` : "",
      ),
    ),
  );
}

function tags(material, vocabulary, rerender) {
  const listId = `tags-vocabulary-${material.material_id}`;
  const datalist = h("datalist", { id: listId });
  vocabulary.then((items) => datalist.append(...items.map((t) => h("option", { value: t.tag }, t.name))));
  const input = h("input", {
    name: "tag",
    list: listId,
    placeholder: "tag id, e.g. selling:gift",
    "aria-label": `Tag to add to ${material.material_id}`,
    required: true,
  });
  const change = async (body, button) => {
    button.disabled = true;
    try {
      rerender(await api("POST", `/v1/materials/${encodeURIComponent(material.material_id)}/tags`, { body }));
      toast("Tags saved.");
    } catch (error) {
      button.disabled = false;
      toast(`Tags not saved: ${reasonOf(error)}`, "error");
    }
  };
  return h(
    "div",
    { class: "tags" },
    material.tags.length
      ? h(
          "ul",
          { class: "tag-list", "aria-label": "Tags" },
          material.tags.map((tag) =>
            h(
              "li",
              { class: "tag", dataset: { tag: tag.tag } },
              h("span", {}, `${tag.name} `),
              h("code", {}, tag.tag),
              h("span", { class: "muted source" }, ` · ${tag.source}`),
              h(
                "button",
                {
                  type: "button",
                  class: "link",
                  "aria-label": `Remove tag ${tag.tag}`,
                  onclick: (event) => change({ remove: [tag.tag] }, event.currentTarget),
                },
                "×",
              ),
            ),
          ),
        )
      : h("p", { class: "muted" }, "No tags yet: tagging runs after admission, or add one here."),
    h(
      "form",
      {
        class: "add-tag",
        onsubmit: (event) => {
          event.preventDefault();
          change({ add: [input.value.trim()] }, event.submitter || event.currentTarget.querySelector("button"));
        },
      },
      input,
      datalist,
      h("button", { type: "submit" }, "Add tag"),
    ),
  );
}

function decisionForm(material, rerender) {
  if (!material.kind) return null;
  const comment = h("input", {
    name: "comment",
    maxlength: 500,
    placeholder: "why (kept in the audit trail)",
    "aria-label": `Comment on ${material.material_id}`,
    required: true,
  });
  const decide = async (decision, button) => {
    if (!comment.value.trim()) {
      comment.reportValidity();
      return;
    }
    button.disabled = true;
    try {
      const body = { decision, comment: comment.value.trim() };
      rerender(await api("POST", `/v1/materials/${encodeURIComponent(material.material_id)}/decision`, { body }));
      toast(decision === "admit" ? "Admitted." : "Rejected.");
    } catch (error) {
      button.disabled = false;
      toast(`Not saved: ${reasonOf(error)}`, "error");
    }
  };
  return h(
    "form",
    { class: "decision", onsubmit: (event) => event.preventDefault() },
    comment,
    material.status !== "ADMITTED"
      ? h("button", { type: "button", onclick: (e) => decide("admit", e.currentTarget) }, "Admit")
      : null,
    material.status !== "REJECTED"
      ? h("button", { type: "button", class: "danger", onclick: (e) => decide("reject", e.currentTarget) }, "Reject")
      : null,
  );
}

function history(material) {
  if (!material.decisions.length) return null;
  return h(
    "details",
    {},
    h("summary", {}, `${material.decisions.length} decision(s)`),
    h(
      "ul",
      {},
      material.decisions.map((d) => h("li", {}, `${d.at} ${d.by}: ${d.from_status} → ${d.to_status} — ${d.comment}`)),
    ),
  );
}
