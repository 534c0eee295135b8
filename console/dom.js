// A tiny element builder: every string becomes a text node, so API data can never inject markup.
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

export function toast(message, kind = "info") {
  const box = document.getElementById("toast");
  box.className = kind;
  box.textContent = message;
}

// An empty state that says what to do next.
export function emptyState(title, next) {
  return h("div", { class: "empty" }, h("p", { class: "empty-title" }, title), h("p", {}, next));
}

export function errorBox(text) {
  return h("p", { class: "error", role: "alert" }, text);
}

export function percent(value, digits = 2) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(digits)}%`;
}
