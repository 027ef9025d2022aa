// The models page: every stored model (`GET /models`) with its status, its held-out skill against
// the naive methods and its interval coverage; delete (`DELETE /models/{id}`).

import { call } from "./api.js";
import { h, number, percent, shortId, table } from "./dom.js";
import { say, sayProblem, sayProblemWhileShown } from "./message.js";

const CAPTION = "Held-out error over the best naive method's (below 1 is better); "
  + "share of held-out points inside the 80% / 90% intervals";
const COLUMNS = ["model", "status", "series", "points", "interpolation", "forecast",
  "forecast coverage 80 / 90", "created", ""];

// "0.63x linear_interpolation (better)": a skill's error over its best naive method's.
export function skillText(skill) {
  if (!skill || skill.ratio === null || skill.ratio === undefined) return "n/a";
  const verdict = skill.beats_naive ? "better" : "not better";
  return `${number(skill.ratio)}x ${skill.best_baseline} (${verdict})`;
}

export function coverageText(skill) {
  if (!skill || !skill.coverage) return "n/a";
  return `${percent(skill.coverage["80"])} / ${percent(skill.coverage["90"])}`;
}

export function renderModels(main) {
  const body = h("tbody");
  const note = h("p", { class: "hint" }, "Loading…");
  main.append(
    h("h1", {}, "Models"),
    note,
    table(CAPTION, COLUMNS, body, { id: "models" }),
  );
  const load = async () => {
    const { models } = await call("GET", "/models");
    note.textContent = models.length ? "" : "No models yet: upload a data set to fit one.";
    body.replaceChildren(...models.slice().reverse().map((model) => modelRow(model, load)));
  };
  load().catch(sayProblemWhileShown(main));
}

function modelRow(model, reload) {
  const skill = model.skill || {};
  const remove = h("button", {
    type: "button",
    "aria-label": `Delete model ${model.name || model.model_id}`,
    onclick: async () => {
      if (!confirm(`Delete model ${model.name || model.model_id} and its files?`)) return;
      try {
        await call("DELETE", `/models/${model.model_id}`);
        say(`Model ${model.model_id} deleted.`, "notice");
        await reload();
      } catch (error) {
        sayProblem(error);
      }
    },
  }, "Delete");
  return h(
    "tr",
    { "data-model-id": model.model_id, "data-status": model.status },
    h("td", {}, h("a", { href: `#/models/${model.model_id}` }, model.name || shortId(model.model_id)),
      model.name ? h("div", { class: "hint" }, shortId(model.model_id)) : ""),
    h("td", { class: `status ${model.status}` }, model.status),
    h("td", {}, model.n_series),
    h("td", {}, model.n_points),
    h("td", {}, skillText(skill.interpolation)),
    h("td", {}, skillText(skill.extrapolation)),
    h("td", {}, coverageText(skill.extrapolation)),
    h("td", {}, (model.created_at || "").replace("T", " ").slice(0, 19)),
    h("td", {}, remove),
  );
}
