// The console's shell: configuration, sign-in, and a hash router over the views.
import { api, setApiBase, whenSignInRefused } from "./api.js";
import { session } from "./auth.js";
import { h, replace, toast } from "./dom.js";
import { creativesView } from "./views/creatives.js";
import { generationView } from "./views/generation.js";
import { labelsView } from "./views/labels.js";
import { materialsView } from "./views/materials.js";
import { phraseBanksView } from "./views/phrases.js";
import { racingView } from "./views/racing.js";
import { recallView } from "./views/recall.js";
import { templatesView } from "./views/templates.js";
import { uploadView } from "./views/upload.js";

const VIEWS = {
  materials: (root, params) => materialsView(root, params, { title: "Materials", path: "#/materials" }),
  review: (root, params) =>
    materialsView(root, { ...params, status: "NEEDS_REVIEW" }, { title: "Review queue", path: "#/review", fixedStatus: true }),
  upload: uploadView,
  creatives: creativesView,
  racing: racingView,
  recall: recallView,
  "phrase-banks": phraseBanksView,
  templates: templatesView,
  labels: labelsView,
  generation: generationView,
};

const view = () => document.getElementById("view");

async function start() {
  try {
    const config = await (await fetch("config.json", { cache: "no-store" })).json();
    setApiBase(config.api_base);
    session.config = config.auth || { mode: "key" };
  } catch (error) {
    replace(view(), h("p", { class: "error", role: "alert" }, `The console has no config.json: ${error}`));
    return;
  }
  whenSignInRefused(() => {
    keepDraft();
    session.signOut();
    route();
    toast("Your sign-in was refused or has expired: sign in again; what you typed is kept.", "error");
  });
  document.getElementById("sign-out").addEventListener("click", () => {
    session.signOut();
    route();
  });
  window.addEventListener("hashchange", route);
  route();
}

function parseHash() {
  const [path, query] = (window.location.hash.replace(/^#\/?/, "") || "materials").split("?");
  return { name: path || "materials", params: Object.fromEntries(new URLSearchParams(query || "")) };
}

function route() {
  const signedIn = session.signedIn();
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("sign-out").hidden = !signedIn;
  if (!signedIn) {
    signInView(view());
    return;
  }
  const { name, params } = parseHash();
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.getAttribute("href") === `#/${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const render = VIEWS[name] || VIEWS.materials;
  replace(view());
  render(view(), params);
}

function signInView(root) {
  const cognito = session.config.mode === "cognito";
  const message = h("p", { class: "error", role: "alert", hidden: true });
  const fields = cognito
    ? [
        h("label", { for: "username" }, "User name"),
        h("input", { id: "username", name: "username", autocomplete: "username", required: true }),
        h("label", { for: "password" }, "Password"),
        h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true }),
      ]
    : [
        h("label", { for: "operator-key" }, "Operator key"),
        h("input", { id: "operator-key", name: "key", type: "password", autocomplete: "off", required: true }),
        h("p", { class: "muted" }, "The key `make local` (or `creative local up`) printed as \u201coperator key\u201d."),
      ];
  const form = h(
    "form",
    {
      class: "sign-in",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = Object.fromEntries(new FormData(form));
        try {
          await session.signIn(data);
          // One cheap operator call proves the credential before any view shows data.
          await api("GET", "/v1/materials", { query: { limit: 1 }, checkingSignIn: true });
          toast("Signed in.");
          route();
          restoreDraft();
        } catch (error) {
          session.signOut();
          message.hidden = false;
          message.textContent = `Sign-in failed: ${error.message}`;
        }
      },
    },
    h("h1", {}, "Sign in"),
    fields,
    h("button", { type: "submit" }, "Sign in"),
    message,
  );
  replace(root, form);
}

// What an operator typed when their sign-in ran out: kept for this tab, put back once they sign in again.
const DRAFT_KEY = "creative-engine.draft";
const RESTORE_FOR_MS = 15000;

function fieldKey(field) {
  const owner = field.closest("[data-material-id], [data-creative-id]");
  const scope = owner ? owner.dataset.materialId || owner.dataset.creativeId : "";
  return `${scope}|${field.id || field.name || field.getAttribute("aria-label") || ""}`;
}

function keepDraft() {
  const fields = [...view().querySelectorAll("input, textarea, select")]
    .filter((f) => f.value && f.type !== "file" && f.type !== "password")
    .map((f) => [fieldKey(f), f.value]);
  if (fields.length) sessionStorage.setItem(DRAFT_KEY, JSON.stringify({ hash: window.location.hash, fields }));
}

function restoreDraft() {
  let draft;
  try {
    draft = JSON.parse(sessionStorage.getItem(DRAFT_KEY) || "null");
  } catch {
    draft = null;
  }
  sessionStorage.removeItem(DRAFT_KEY);
  if (!draft || draft.hash !== window.location.hash) return;
  const pending = new Map(draft.fields);
  // Views fill in as their data arrives: put each value back when its field appears.
  const fill = () => {
    for (const field of view().querySelectorAll("input, textarea, select")) {
      const key = fieldKey(field);
      if (pending.has(key) && !field.value) {
        field.value = pending.get(key);
        pending.delete(key);
      }
    }
    if (!pending.size) observer.disconnect();
  };
  const observer = new MutationObserver(fill);
  observer.observe(view(), { childList: true, subtree: true });
  setTimeout(() => observer.disconnect(), RESTORE_FOR_MS);
  fill();
}

start();
