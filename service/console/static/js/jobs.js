// The jobs page: the training jobs Redis knows (`GET /jobs`), refreshed while the page is shown,
// with their progress and a cancel button (`DELETE /jobs/{id}`).

import { call } from "./api.js";
import { duration, h, number, shortId, table } from "./dom.js";
import { say, sayProblem } from "./message.js";

const REFRESH_MS = 1500; // how often the list is asked for again
const LIVE = new Set(["queued", "running"]);
const COLUMNS = ["job", "model", "status", "progress", "loss", "held-out MSE (interp. / forecast)",
  "elapsed", "left", ""];

export function renderJobs(main) {
  const body = h("tbody");
  const note = h("p", { class: "hint" }, "Loading…");
  main.append(
    h("h1", {}, "Training jobs"),
    note,
    table("Newest first; refreshed every few seconds", COLUMNS, body, { id: "jobs" }),
  );
  let timer = null;
  let stopped = false;
  const refresh = async () => {
    try {
      const { jobs } = await call("GET", "/jobs", { query: { limit: 50 } });
      if (stopped) return;
      note.textContent = jobs.length ? "" : "No jobs yet: upload a data set to start one.";
      // the rows are drawn anew: keep the keyboard's place on a row's button or link
      const focused = document.activeElement;
      const row = focused && focused.closest ? focused.closest("tr[data-job-id]") : null;
      const place = row && body.contains(row) ? [row.dataset.jobId, focused.tagName] : null;
      body.replaceChildren(...jobs.map(jobRow));
      if (place) {
        const again = body.querySelector(`tr[data-job-id="${place[0]}"] ${place[1].toLowerCase()}`);
        if (again) again.focus();
      }
    } catch (error) {
      if (!stopped) sayProblem(error);
    }
    if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
  };
  refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function jobRow(job) {
  const p = job.progress || {};
  const share = p.epochs ? Math.min(1, (p.epoch || 0) / p.epochs) : 0;
  const progress = p.epochs
    ? h("span", {}, h("progress", { max: 1, value: share, "aria-label": `epoch ${p.epoch || 0} of ${p.epochs}` }), ` ${p.epoch || 0}/${p.epochs}`)
    : "";
  const actions = [];
  if (LIVE.has(job.status)) {
    actions.push(h("button", {
      type: "button",
      onclick: async (event) => {
        event.target.disabled = true;
        try {
          await call("DELETE", `/jobs/${job.job_id}`);
          say(`Job ${job.job_id} is being cancelled.`, "notice");
        } catch (error) {
          sayProblem(error);
        }
      },
    }, "Cancel"));
  }
  if (job.model_id && job.status === "succeeded") actions.push(h("a", { href: `#/models/${job.model_id}` }, "Open model"));
  const status = job.error ? h("span", { title: job.error }, `${job.status}: ${job.error}`) : job.status;
  return h(
    "tr",
    { "data-job-id": job.job_id, "data-status": job.status },
    h("td", {}, shortId(job.job_id)),
    h("td", {}, job.model_id ? h("a", { href: `#/models/${job.model_id}` }, shortId(job.model_id)) : ""),
    h("td", { class: `status ${job.status}` }, status),
    h("td", {}, progress),
    h("td", {}, number(p.loss)),
    h("td", {}, `${number(p.val_interp_mse)} / ${number(p.val_extrap_mse)}`),
    h("td", {}, duration(p.elapsed_s)),
    h("td", {}, LIVE.has(job.status) ? duration(p.eta_s) : ""),
    h("td", {}, actions),
  );
}
