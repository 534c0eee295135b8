// Views of capabilities the API does not have yet: a clearly marked empty state, never a fake screen.
import { h, replace } from "../dom.js";

export function notBuiltView(title, why) {
  return (root) =>
    replace(
      root,
      h("h1", {}, title),
      h(
        "div",
        { class: "empty not-built" },
        h("p", { class: "empty-title" }, "Not built yet"),
        h("p", {}, why),
        h("p", {}, "This view fills in when the API serves it; nothing here is simulated."),
      ),
    );
}
