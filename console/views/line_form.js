// The business-line picker the per-line views share: the line lives in the URL's hash, like every filter.
import { emptyState, h } from "../dom.js";

export function lineForm(view, line, label) {
  const form = h(
    "form",
    {
      class: "filters",
      "aria-label": label,
      onsubmit: (event) => {
        event.preventDefault();
        const value = String(new FormData(form).get("business_line") || "").trim();
        window.location.hash = value ? `#/${view}?business_line=${encodeURIComponent(value)}` : `#/${view}`;
      },
    },
    h("label", { for: `${view}-line` }, "Business line"),
    h("input", { id: `${view}-line`, name: "business_line", value: line, placeholder: "e.g. food", required: true }),
    h("button", { type: "submit" }, "Open"),
  );
  return form;
}

export function pickLine(what) {
  return emptyState("Pick a business line.", `Type the business line whose ${what} you want to see, then Open.`);
}

export function linePath(prefix, line) {
  return `${prefix}/${encodeURIComponent(line)}`;
}
