// Phrase banks: a line's phrases with typed slots, edited whole and saved against the version read; a
// preview fills the saved phrases for a product the operator types and says why a phrase would not serve.
import { api, ApiError, reasonOf } from "../api.js";
import { emptyState, errorBox, h, replace, toast } from "../dom.js";
import { lineForm, linePath, pickLine } from "./line_form.js";

const SLOTS = ["phrase", "cta"];
const STATUSES = ["ACTIVE", "DISABLED"];
const PREVIEW_DELAY_MS = 250;

export async function phraseBanksView(root, params) {
  const line = params.business_line || "";
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  replace(root, h("h1", {}, "Phrase banks"), lineForm("phrase-banks", line, "Open a phrase bank"), body);
  if (!line) {
    replace(body, pickLine("phrase bank"));
    return;
  }
  let bank;
  try {
    bank = await api("GET", linePath("/v1/phrase-banks", line));
  } catch (error) {
    replace(body, errorBox(`Could not read the phrase bank: ${reasonOf(error)}`));
    return;
  }
  const placements = api("GET", "/v1/placements").catch(() => ({}));
  const preview = previewPanel(line);
  replace(body, bankEditor(line, bank, () => preview.refresh()), slotHelp(placements), preview.element);
  preview.refresh();
}

function slotHelp(placements) {
  const where = h("span", {});
  placements.then((specs) => {
    const uses = Object.entries(specs)
      .map(([name, spec]) => [name, (spec.slots || []).filter((s) => SLOTS.includes(s))])
      .filter(([, slots]) => slots.length)
      .map(([name, slots]) => `${name}: ${slots.join(", ")}`);
    if (uses.length) where.textContent = ` Placements with phrase slots: ${uses.join("; ")}.`;
  });
  return h(
    "p",
    { class: "muted" },
    "Typed slots a phrase may use: {price} {discount} {city} {deadline} {product}. A phrase whose slots a request cannot fill is not served for it.",
    where,
  );
}

function bankEditor(line, bank, saved) {
  let version = bank.version;
  const rows = h("tbody", {});
  const message = h("div", { "aria-live": "polite" });
  const caption = h("caption", {});
  const setCaption = (b) => {
    caption.textContent = `${b.phrases.length} phrase(s), version ${b.version}` + (b.updated_by ? `, saved by ${b.updated_by} at ${b.updated_at}` : "");
  };
  const addRow = (phrase = { slot: "phrase", text: "", status: "ACTIVE" }) => rows.append(phraseRow(rows, phrase));
  const fill = (b) => {
    replace(rows);
    b.phrases.forEach((p) => addRow(p));
    if (!b.phrases.length) addRow();
    setCaption(b);
  };
  fill(bank);
  const save = h("button", { type: "submit" }, "Save phrases");
  const form = h(
    "form",
    {
      class: "editor",
      "aria-label": "Phrases",
      onsubmit: async (event) => {
        event.preventDefault();
        const phrases = [...rows.children]
          .map((row) => ({
            slot: row.querySelector("select[name=slot]").value,
            text: row.querySelector("input[name=text]").value.trim(),
            status: row.querySelector("select[name=status]").value,
          }))
          .filter((p) => p.text);
        save.disabled = true;
        replace(message);
        try {
          const stored = await api("PUT", linePath("/v1/phrase-banks", line), { body: { expected_version: version, phrases } });
          version = stored.version;
          fill(stored);
          toast(`Phrases saved (version ${stored.version}); select uses them within seconds.`);
          saved();
        } catch (error) {
          const stale = error instanceof ApiError && error.status === 409;
          replace(message, errorBox(`Not saved: ${reasonOf(error)}${stale ? " Reload the page to see the current bank." : ""}`));
        } finally {
          save.disabled = false;
        }
      },
    },
    h(
      "table",
      { class: "phrases" },
      caption,
      h("thead", {}, h("tr", {}, ["Phrase", "Slot", "Status", ""].map((t) => h("th", { scope: "col" }, t)))),
      rows,
    ),
    h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: () => addRow() }, "Add phrase"), save),
    message,
  );
  return form;
}

function phraseRow(rows, phrase) {
  const label = (what) => `Phrase ${rows.children.length + 1} ${what}`;
  const select = (name, options, value) =>
    h("select", { name, "aria-label": label(name) }, options.map((o) => h("option", { value: o, selected: o === value }, o)));
  const row = h(
    "tr",
    { dataset: { phraseId: phrase.phrase_id || "" } },
    h("td", {}, h("input", { name: "text", value: phrase.text, maxlength: 200, size: 48, placeholder: "e.g. Only {price} in {city}", "aria-label": label("text") })),
    h("td", {}, select("slot", SLOTS, phrase.slot)),
    h("td", {}, select("status", STATUSES, phrase.status)),
    h("td", {}, h("button", { type: "button", class: "link", "aria-label": `Remove ${label("").trim()}`, onclick: () => row.remove() }, "×")),
  );
  return row;
}

function previewPanel(line) {
  const results = h("div", { class: "preview", "aria-live": "polite" });
  let timer = null;
  let asked = 0;
  const refresh = async () => {
    const product = productOf(form);
    const mine = ++asked; // answers to earlier keystrokes are dropped
    try {
      const page = await api("POST", `${linePath("/v1/phrase-banks", line)}/preview`, { body: { product } });
      if (mine === asked) replace(results, previewTable(page.items));
    } catch (error) {
      if (mine === asked) replace(results, errorBox(`No preview: ${reasonOf(error)}`));
    }
  };
  const form = productForm("Product to preview", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, PREVIEW_DELAY_MS);
  }, refresh);
  const element = h(
    "section",
    { "aria-labelledby": "preview-title" },
    h("h2", { id: "preview-title" }, "Preview for a product"),
    h("p", { class: "muted" }, "The saved phrases, filled as select would fill them for this product; save to preview edits."),
    form,
    results,
  );
  return { element, refresh };
}

// The product context the preview route takes, from a form of the preview's fields (blank fields left out).
// The sample product whose values fill phrase slots (both the phrase and the template previews): `changed`
// on every keystroke, `submitted` on Preview.
export function productForm(label, changed, submitted) {
  const field = (name, text, attributes = {}) =>
    h("span", { class: "field" }, h("label", { for: `preview-${name}` }, text), h("input", { id: `preview-${name}`, name, ...attributes }));
  return h(
    "form",
    {
      class: "filters",
      "aria-label": label,
      oninput: changed,
      onsubmit: (event) => {
        event.preventDefault();
        submitted();
      },
    },
    field("name", "Product name", { placeholder: "e.g. Trail shoes", maxlength: 80 }),
    field("price", "Price", { type: "number", min: 0, step: "any", placeholder: "e.g. 49.90" }),
    field("currency", "Currency", { value: "USD", maxlength: 3, size: 4 }),
    field("discount_percent", "Discount %", { type: "number", min: 0, max: 100, step: "any", placeholder: "e.g. 20" }),
    field("city", "City", { placeholder: "e.g. Lisbon", maxlength: 60 }),
    field("deadline", "Deadline", { type: "date" }),
    h("button", { type: "submit" }, "Preview"),
  );
}

export function productOf(form) {
  const data = Object.fromEntries([...new FormData(form)].filter(([, v]) => String(v).trim()));
  const product = {};
  if (data.name) product.name = data.name.trim();
  if (data.city) product.city = data.city.trim();
  if (data.deadline) product.deadline = data.deadline;
  if (data.currency) product.currency = data.currency.trim().toUpperCase();
  if (data.price) product.price = Number(data.price);
  if (data.discount_percent) product.discount_percent = Number(data.discount_percent);
  return product;
}

function previewTable(items) {
  if (!items.length) return emptyState("No phrases saved yet.", "Add a phrase above and save it; its preview shows here.");
  return h(
    "table",
    { class: "phrase-preview" },
    h("caption", {}, `${items.filter((i) => i.servable).length} of ${items.length} phrase(s) would serve for this product`),
    h("thead", {}, h("tr", {}, ["Slot", "Template", "Filled", "Serves"].map((t) => h("th", { scope: "col" }, t)))),
    h(
      "tbody",
      {},
      items.map((item) =>
        h(
          "tr",
          { dataset: { phraseId: item.phrase_id } },
          h("td", {}, item.slot),
          h("td", {}, h("code", {}, item.template)),
          h("td", { class: "filled" }, item.text === null ? h("span", { class: "muted" }, "—") : item.text),
          h("td", {}, item.servable ? h("span", { class: "serves yes" }, "yes") : h("span", { class: "serves no" }, `no: ${item.reason}`)),
        ),
      ),
    ),
  );
}
