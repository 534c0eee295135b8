// Upload from the browser: the API signs a POST for one key under uploads/, the browser sends the file
// straight to S3 with progress, and admission runs on it as on any upload. The view then waits for it.
import { api, reasonOf } from "../api.js";
import { h, replace } from "../dom.js";
import { materialCard } from "./materials.js";

const TYPES = { ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".txt": "text/plain", ".jsonl": "application/jsonl" };
const WAIT_FOR_ADMISSION_S = 60;

export function uploadView(root, params) {
  const results = h("div", { class: "uploads", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "upload-form", onsubmit: (event) => submit(event, form, results) },
    h("label", { for: "upload-line" }, "Business line"),
    h("input", { id: "upload-line", name: "business_line", required: true, pattern: "[a-z0-9][a-z0-9_\\-]{0,62}", value: params.business_line || "" }),
    h("label", { for: "upload-category" }, "Category"),
    h("input", { id: "upload-category", name: "category", required: true, pattern: "[a-z0-9][a-z0-9_\\-]{0,62}" }),
    h("label", { for: "upload-files" }, "Files (PNG, JPEG, WebP images; .txt or .jsonl copy)"),
    h("input", { id: "upload-files", name: "files", type: "file", multiple: true, required: true, accept: Object.keys(TYPES).join(",") }),
    h("button", { type: "submit" }, "Upload"),
  );
  replace(
    root,
    h("h1", {}, "Upload"),
    h("p", { class: "muted" }, "Each file goes to uploads/<business line>/<category>/<file name>; admission checks it within seconds."),
    form,
    results,
  );
}

async function submit(event, form, results) {
  event.preventDefault();
  const data = new FormData(form);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    for (const file of form.querySelector("input[type=file]").files) {
      await uploadOne(file, data.get("business_line"), data.get("category"), results);
    }
  } finally {
    button.disabled = false;
  }
}

async function uploadOne(file, businessLine, category, results) {
  const extension = (file.name.match(/\.[^.]+$/) || [""])[0].toLowerCase();
  const progress = h("progress", { max: 100, value: 0, "aria-label": `Upload of ${file.name}` });
  const state = h("span", { class: "upload-state" }, "signing…");
  const row = h("div", { class: "upload", dataset: { file: file.name } }, h("strong", {}, file.name), " ", progress, " ", state);
  results.prepend(row);
  let form;
  try {
    form = await api("POST", "/v1/uploads", {
      body: { business_line: businessLine, category, filename: file.name, content_type: TYPES[extension] || file.type || "application/octet-stream", size: file.size },
    });
  } catch (error) {
    state.textContent = `refused: ${reasonOf(error)}`;
    state.className = "upload-state error";
    return;
  }
  state.textContent = "uploading…";
  const startedAt = new Date(Date.now() - 5000).toISOString().slice(0, 19);
  try {
    await post(form, file, (fraction) => (progress.value = Math.round(fraction * 100)));
  } catch (error) {
    state.textContent = `upload failed: ${error.message}`;
    state.className = "upload-state error";
    return;
  }
  progress.value = 100;
  state.textContent = "uploaded; admission and tagging running…";
  const material = await waitForAdmission(businessLine, form.key, startedAt);
  if (!material) {
    state.textContent = `uploaded; admission has not answered in ${WAIT_FOR_ADMISSION_S}s: look in Materials later.`;
    return;
  }
  state.textContent = `admission: ${material.status}`;
  row.append(materialCard(material, Promise.resolve([])));
}

function post(form, file, onProgress) {
  return new Promise((resolve, reject) => {
    const body = new FormData();
    for (const [name, value] of Object.entries(form.fields)) body.append(name, value);
    body.append("file", file); // S3 ignores fields after the file: it goes last
    const request = new XMLHttpRequest();
    request.open("POST", form.url);
    request.upload.addEventListener("progress", (e) => e.lengthComputable && onProgress(e.loaded / e.total));
    request.addEventListener("load", () =>
      request.status < 300 ? resolve() : reject(new Error(`S3 answered ${request.status}: ${s3Message(request.responseText)}`)),
    );
    request.addEventListener("error", () => reject(new Error("the network refused the upload (CORS or offline)")));
    request.send(body);
  });
}

function s3Message(xml) {
  const match = /<Message>([^<]*)<\/Message>/.exec(xml || "");
  return match ? match[1] : "no reason given";
}

async function waitForAdmission(businessLine, key, startedAt) {
  for (let second = 0; second < WAIT_FOR_ADMISSION_S; second++) {
    try {
      const page = await api("GET", "/v1/materials", { query: { business_line: businessLine, limit: 200 } });
      const found = page.items.filter((m) => m.source.key === key && m.created_at.slice(0, 19) >= startedAt).sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
      // Admitted images and copy are tagged next (a queue away): wait for the tags too, not only the verdict.
      if (found.length && (found[0].status !== "ADMITTED" || found[0].tagging)) return found[0];
    } catch {
      // keep waiting: a failed poll says nothing about the upload
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return null;
}
