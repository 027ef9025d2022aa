// The console's shell: the API key field, the message line and the pages, one per hash route:
//   #/upload, #/jobs, #/models, #/models/<model_id>.

import { apiKey, setApiKey } from "./api.js";
import { h } from "./dom.js";
import { renderJobs } from "./jobs.js";
import { renderModel } from "./model.js";
import { renderModels } from "./models.js";
import { pageShown, say, sayProblem } from "./message.js";
import { renderUpload } from "./upload.js";

const ROUTES = [
  { pattern: /^#\/upload$/, page: "upload", render: renderUpload },
  { pattern: /^#\/jobs$/, page: "jobs", render: renderJobs },
  { pattern: /^#\/models$/, page: "models", render: renderModels },
  { pattern: /^#\/models\/([A-Za-z0-9_-]{1,64})$/, page: "models", render: renderModel },
];

const page = document.getElementById("page");
let leave = null; // the shown page's clean-up (stops its polling)

function show() {
  if (leave) leave();
  leave = null;
  pageShown();
  const hash = location.hash || "#/models";
  const route = ROUTES.find((r) => r.pattern.test(hash));
  for (const link of document.querySelectorAll("nav a")) {
    link.toggleAttribute("aria-current", route !== undefined && link.dataset.page === route.page);
  }
  // each page draws into an element of its own: what arrives for a page left since lands in a
  // detached element, not on the page shown now
  const view = h("div");
  page.replaceChildren(view);
  if (!route) {
    say(`No page ${hash}: pick one above.`);
    return;
  }
  const found = route.pattern.exec(hash);
  try {
    const cleanup = route.render(view, ...found.slice(1));
    leave = typeof cleanup === "function" ? cleanup : null;
  } catch (error) {
    sayProblem(error);
  }
}

function start() {
  const field = document.getElementById("api-key");
  field.value = apiKey();
  document.getElementById("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setApiKey(field.value.trim());
    show();
  });
  window.addEventListener("hashchange", show);
  window.addEventListener("unhandledrejection", (event) => sayProblem(event.reason));
  show();
  document.body.dataset.ready = "true"; // the browser tests wait for this
  performance.mark("console-ready");
}

start();
