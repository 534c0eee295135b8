// Templates: how select fills a line's placements (race composed image × headline creatives, or every slot
// per element), saved against the version read; a preview shows what each placement's slots would be filled
// with for a product the operator types (phrase and CTA slots from the saved phrase bank).
import { api, ApiError, reasonOf } from "../api.js";
import { emptyState, errorBox, h, replace, toast } from "../dom.js";
import { lineForm, linePath, pickLine } from "./line_form.js";
import { productForm, productOf } from "./phrases.js";

const PREVIEW_DELAY_MS = 250;
const PHRASE_SLOTS = ["phrase", "cta"];
// What each mode means (creative.line_templates): the operator reads this before switching.
const MODES = [
  {
    value: "creatives",
    name: "Creatives",
    explanation:
      "The racer chooses among composed image × headline creatives, learning which creative works for which user and starting each from the CTR model's prior. Phrase and CTA slots are chosen per element.",
  },
  {
    value: "elements",
    name: "Elements",
    explanation:
      "Every slot (image, headline, phrase, CTA) is chosen on its own, per element, never enumerating combinations: select's cost grows with the number of elements, not their product. It learns each element's effect and its interactions with user features, but not which image works with which headline, and has no CTR-model prior.",
  },
];

export async function templatesView(root, params) {
  const line = params.business_line || "";
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  replace(root, h("h1", {}, "Templates"), lineForm("templates", line, "Open a line's template"), body);
  if (!line) {
    replace(body, pickLine("template"));
    return;
  }
  let template, placements;
  try {
    [template, placements] = await Promise.all([api("GET", linePath("/v1/templates", line)), api("GET", "/v1/placements")]);
  } catch (error) {
    replace(body, errorBox(`Could not read the template: ${reasonOf(error)}`));
    return;
  }
  const preview = slotPreview(line, placements);
  const editor = templateEditor(line, template, {
    picked: (mode) => preview.setMode(mode),
    reload: () => templatesView(root, params),
  });
  replace(body, editor, preview.element);
  preview.setMode(template.racing);
}

function templateEditor(line, template, { picked, reload }) {
  let version = template.version;
  const status = h("p", { class: "template-version" });
  const setStatus = (t) => {
    status.textContent =
      t.version === 0
        ? `Version 0: never saved; the line races ${t.racing} (the default).`
        : `Version ${t.version}, racing ${t.racing}, saved by ${t.updated_by || "—"} at ${t.updated_at || "—"}.`;
  };
  setStatus(template);
  const message = h("div", { "aria-live": "polite" });
  const choices = MODES.map((mode) =>
    h(
      "div",
      { class: "mode" },
      h("input", { type: "radio", id: `mode-${mode.value}`, name: "racing", value: mode.value, checked: mode.value === template.racing, "aria-describedby": `mode-${mode.value}-why` }),
      h("label", { for: `mode-${mode.value}` }, mode.name),
      h("p", { id: `mode-${mode.value}-why`, class: "muted" }, mode.explanation),
    ),
  );
  const save = h("button", { type: "submit" }, "Save template");
  const form = h(
    "form",
    {
      class: "editor",
      "aria-label": "Template",
      onchange: () => picked(new FormData(form).get("racing")),
      onsubmit: async (event) => {
        event.preventDefault();
        const racing = new FormData(form).get("racing");
        save.disabled = true; // a second click while this one is in flight does nothing
        replace(message);
        try {
          const stored = await api("PUT", linePath("/v1/templates", line), { body: { expected_version: version, racing } });
          version = stored.version;
          setStatus(stored);
          toast(`Template saved (version ${stored.version}): the line races ${stored.racing}; select uses it within seconds.`);
        } catch (error) {
          const stale = error instanceof ApiError && error.status === 409;
          replace(
            message,
            errorBox(`Not saved: ${reasonOf(error)}.${stale ? " Reload to see the current template, then switch again." : ""}`),
            stale ? h("button", { type: "button", class: "secondary", onclick: reload }, "Reload template") : null,
          );
        } finally {
          save.disabled = false;
        }
      },
    },
    status,
    h("fieldset", { class: "modes" }, h("legend", {}, "Racing mode"), choices),
    h("div", { class: "actions" }, save),
    message,
  );
  return form;
}

function slotPreview(line, placements) {
  let mode = "creatives";
  let phrases = null; // the saved bank's phrases filled for the product, or an error text
  const results = h("div", { class: "slot-preview", "aria-live": "polite" });
  const draw = () => replace(results, placementTables(placements, mode, phrases));
  let timer = null;
  let asked = 0;
  const refresh = async () => {
    const product = productOf(form);
    const mine = ++asked; // answers to earlier keystrokes are dropped
    try {
      const page = await api("POST", `${linePath("/v1/phrase-banks", line)}/preview`, { body: { product } });
      if (mine === asked) phrases = page.items;
    } catch (error) {
      if (mine === asked) phrases = `No preview of the phrases: ${reasonOf(error)}`;
    }
    if (mine === asked) draw();
  };
  const form = productForm("Sample product", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, PREVIEW_DELAY_MS);
  }, refresh);
  const element = h(
    "section",
    { "aria-labelledby": "slots-title" },
    h("h2", { id: "slots-title" }, "Placements and their slots"),
    h(
      "p",
      { class: "muted" },
      "What select would fill each slot with, under the racing mode picked above (saved or not) and for this sample product. Phrase and CTA slots come from the line's saved phrase bank: ",
      h("a", { href: `#/phrase-banks?business_line=${encodeURIComponent(line)}` }, "edit its phrases"),
      ".",
    ),
    form,
    results,
  );
  return {
    element,
    setMode: (picked) => {
      mode = picked || mode;
      draw();
      if (phrases === null) refresh();
    },
  };
}

function placementTables(placements, mode, phrases) {
  const entries = Object.entries(placements || {});
  if (!entries.length) return emptyState("No placements are declared.", "Placements are declared in creative/placements.py; each lists its slots.");
  const perCreative = mode === "creatives";
  const usesPhrases = entries.some(([, spec]) => (spec.slots || []).some((s) => PHRASE_SLOTS.includes(s)));
  return [
    typeof phrases === "string" ? errorBox(phrases) : null,
    usesPhrases && Array.isArray(phrases) && !phrases.length
      ? emptyState("The line's phrase bank is empty: its phrase and CTA slots stay empty.", "Write phrases in Phrase banks (the link above) and save them; they fill the slots here.")
      : null,
    entries.map(([name, spec]) =>
      h(
        "table",
        { class: "placement-slots", dataset: { placement: name } },
        h("caption", {}, `${name}: ${(spec.slots || []).join(", ")}`),
        h("thead", {}, h("tr", {}, ["Slot", "Filled with, for this product"].map((t) => h("th", { scope: "col" }, t)))),
        h(
          "tbody",
          {},
          (spec.slots || []).map((slot) => h("tr", { dataset: { slot } }, h("td", {}, slot), h("td", { class: "filled" }, filledWith(slot, perCreative, phrases)))),
        ),
      ),
    ),
  ];
}

function filledWith(slot, perCreative, phrases) {
  if (!PHRASE_SLOTS.includes(slot)) {
    return h(
      "span",
      { class: "muted" },
      perCreative
        ? `chosen per creative: the ${slot} of the composed image × headline creative the racer picks`
        : `chosen per element: one of the line's ${slot}s, raced on its own`,
    );
  }
  if (!Array.isArray(phrases)) return h("span", { class: "muted" }, "—");
  const ofSlot = phrases.filter((p) => p.slot === slot);
  const serving = ofSlot.filter((p) => p.servable);
  if (!serving.length) {
    const why = ofSlot.length ? `none of the bank's ${ofSlot.length} for this slot serves (${ofSlot[0].reason})` : "the bank has none for this slot";
    return h("span", { class: "serves no" }, `left empty: ${why}`);
  }
  return [
    h("span", { class: "muted" }, serving.length > 1 ? `chosen per element, one of these ${serving.length}:` : "chosen per element, from the bank:"),
    h("ul", { class: "filled-phrases" }, serving.map((p) => h("li", { dataset: { phraseId: p.phrase_id } }, p.text))),
    serving.length < ofSlot.length ? h("span", { class: "muted" }, `${ofSlot.length - serving.length} other(s) do not serve for this product.`) : null,
  ];
}
