// A model's page: its record (`GET /models/{id}`), a series' observations and predictions on a
// grid or at typed times (`GET /models/{id}/series/{sid}`, `GET /predict`) drawn with their
// bands, the predictions as a CSV file, the held-out skill, the recipe and the backtest.

import { call } from "./api.js";
import { drawChart } from "./chart.js";
import { apiTime } from "./csv.js";
import { h, number, table, timeText } from "./dom.js";
import { sayProblemWhileShown } from "./message.js";
import { coverageText, skillText } from "./models.js";

const LEVELS = [90, 50]; // the bands drawn, widest first
const GRID_POINTS = 200; // the default grid's size
const AHEAD_SHARE = 0.25; // the default grid runs this share of the data's span past its end

export function renderModel(main, modelId) {
  const charts = []; // the charts' clean-ups, run when the page is left
  const load = async () => {
    const model = await call("GET", `/models/${modelId}`);
    main.append(h("h1", {}, model.name || model.model_id), facts(model));
    if (model.status !== "ready") {
      main.append(h("p", { id: "not-ready" }, `This model is ${model.status}`,
        model.error ? `: ${model.error}` : "", ". Charts come once it is ready; ",
        h("a", { href: "#/jobs" }, "follow its job"), "."));
      return;
    }
    main.append(predictionPanel(model, main, charts), skillPanel(model));
    main.append(await backtestPanel(model));
  };
  load().catch(sayProblemWhileShown(main));
  return () => charts.splice(0).forEach((takeDown) => takeDown());
}

function facts(model) {
  const [first, last] = model.time_range || [];
  const rows = [
    ["id", model.model_id],
    ["status", model.status],
    ["series", `${model.n_series} (${model.n_points} observations)`],
    ["dimensions", model.dims],
    ["times", `${model.time_kind}, ${timeText(first, model.time_kind)} to ${timeText(last, model.time_kind)}`],
    ["trained", model.trained_at ? `${model.trained_at.replace("T", " ").slice(0, 19)} on ${model.device || "?"}` : "not yet"],
  ];
  return h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

// A series' default grid: from its first observation to a quarter of its span past its last,
// as the API takes times (numbers, or ISO-8601 for dates).
function defaultGrid(times, kind) {
  const first = times[0];
  const last = times[times.length - 1];
  const stop = last + AHEAD_SHARE * Math.max(last - first, 1e-9);
  const shown = (t) => (kind === "datetime" ? timeText(t, kind) : String(Number(t.toPrecision(10))));
  return { start: shown(first), stop: shown(stop) };
}

const seconds = (t, kind) => (kind === "datetime" ? Date.parse(t) / 1000 : Number(t));

function predictionPanel(model, main, charts) {
  const kind = model.time_kind;
  const input = (id, label, attributes) => h("p", {}, h("label", { for: id }, label), h("input", { id, ...attributes }));
  const seriesSelect = h("select", { id: "series-select" }, model.series_ids.map((id) => h("option", { value: id }, id)));
  const example = kind === "datetime" ? "e.g. 2026-03-01T12:00:00Z, 2026-03-02" : "e.g. 1.5, 2, 7.25";
  const form = h(
    "form",
    { id: "predict-form", class: "controls" },
    h("p", {}, h("label", { for: "series-select" }, "Series"), seriesSelect),
    input("grid-start", "Grid start", {}),
    input("grid-stop", "Grid stop", {}),
    input("grid-num", "Grid points", { type: "number", min: 1, step: 1, value: GRID_POINTS }),
    input("times-typed", "Or times (comma-separated)", { placeholder: example }),
    h("button", { type: "submit" }, "Draw"),
  );
  const field = (id) => form.querySelector(`#${id}`);
  const shown = h("div", { id: "charts" });
  const download = h("button", { type: "button", id: "download-csv", disabled: true }, "Download predictions (CSV)");
  let last = null; // the prediction drawn, what the download saves
  let asked = 0; // draws started: only the latest one's answers are drawn
  let gridOf = null; // the series the grid fields were filled for
  const draw = async () => {
    const ticket = (asked += 1);
    const seriesId = seriesSelect.value;
    const observed = await call("GET", `/models/${model.model_id}/series/${seriesId}`);
    if (ticket !== asked) return;
    if (gridOf !== seriesId) {
      const grid = defaultGrid(observed.times.map((t) => seconds(t, kind)), kind);
      field("grid-start").value = grid.start;
      field("grid-stop").value = grid.stop;
      gridOf = seriesId;
    }
    const query = { model_id: model.model_id, series_id: seriesId, level: LEVELS };
    const typed = field("times-typed").value.split(",").map((t) => t.trim()).filter(Boolean);
    if (typed.length) query.times = typed.map(apiTime).join(",");
    else {
      const [start, stop] = ["grid-start", "grid-stop"].map((id) => apiTime(field(id).value));
      Object.assign(query, { start, stop, num: field("grid-num").value });
    }
    const prediction = await call("GET", "/predict", { query });
    if (ticket !== asked) return;
    last = prediction;
    charts.splice(0).forEach((takeDown) => takeDown());
    charts.push(...showCharts(shown, model, observed, prediction));
    download.disabled = false;
  };
  const drawn = () => draw().catch(sayProblemWhileShown(main));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    drawn();
  });
  seriesSelect.addEventListener("change", drawn);
  download.addEventListener("click", () => last && saveCsv(last));
  drawn();
  return h("section", {}, h("h2", {}, "Predictions"), form, shown, download);
}

// The charts of a prediction, one per dimension; their clean-ups.
function showCharts(shown, model, observed, prediction) {
  const kind = model.time_kind;
  const observedTimes = observed.times.map((t) => seconds(t, kind));
  const times = prediction.times.map((t) => seconds(t, kind));
  const extrapolated = prediction.kind.filter((k) => k === "extrapolation").length;
  shown.replaceChildren(h("p", { class: "hint" },
    `${times.length} predicted times (${extrapolated} extrapolated), ${observedTimes.length} observations. `,
    "Drag across a chart to zoom in, double-click to zoom out."));
  const takeDowns = [];
  for (let d = 0; d < model.dims; d += 1) {
    const box = h("div", { class: "chart", "data-dim": d });
    shown.append(box);
    takeDowns.push(drawChart(box, {
      label: model.dims > 1 ? `${prediction.series_id}, dimension ${d}` : prediction.series_id,
      observedTimes,
      observedValues: observed.values.map((row) => row[d]),
      times,
      mean: prediction.mean.map((row) => row[d]),
      bands: LEVELS.map((level) => {
        const band = prediction.intervals[String(level)];
        return [level, band.lower.map((row) => row[d]), band.upper.map((row) => row[d])];
      }),
      lastObserved: observedTimes[observedTimes.length - 1],
      datetime: kind === "datetime",
    }));
  }
  return takeDowns;
}

// The prediction as a CSV file: time, kind, then per dimension the mean and each band's bounds.
function predictionCsv(prediction) {
  const dims = prediction.mean[0] ? prediction.mean[0].length : 0;
  const suffix = (d) => (dims > 1 ? `_${d}` : "");
  const levels = Object.keys(prediction.intervals).sort((a, b) => Number(a) - Number(b));
  const header = ["time", "kind"];
  for (let d = 0; d < dims; d += 1) {
    header.push(`mean${suffix(d)}`);
    for (const level of levels) header.push(`lower_${level}${suffix(d)}`, `upper_${level}${suffix(d)}`);
  }
  const lines = [header.join(",")];
  prediction.times.forEach((t, i) => {
    const row = [t, prediction.kind[i]];
    for (let d = 0; d < dims; d += 1) {
      row.push(prediction.mean[i][d]);
      for (const level of levels) row.push(prediction.intervals[level].lower[i][d], prediction.intervals[level].upper[i][d]);
    }
    lines.push(row.join(","));
  });
  return `${lines.join("\n")}\n`;
}

function saveCsv(prediction) {
  const url = URL.createObjectURL(new Blob([predictionCsv(prediction)], { type: "text/csv" }));
  const link = h("a", { href: url, download: `${prediction.model_id}-${prediction.series_id}.csv` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function skillPanel(model) {
  const skill = model.skill;
  const section = h("section", { id: "skill" }, h("h2", {}, "Held-out skill"));
  if (!skill) {
    section.append(h("p", {}, "No skill recorded."));
    return section;
  }
  const kinds = [
    ["interpolation", skill.interpolation],
    ["interpolation of wide gaps", skill.wide_gap_interpolation],
    ["forecast", skill.extrapolation],
  ].filter(([, s]) => s);
  section.append(table(
    `Errors on held-out ${skill.held_out} (MSE, data units) beside the naive methods'`,
    ["task", "points", "MSE", "best naive method", "its MSE", "ratio", "coverage 80 / 90", "served"],
    kinds.map(([name, s]) => [name, s.points, number(s.mse), s.best_baseline, number(s.baselines[s.best_baseline]),
      skillText(s), coverageText(s), s.served || ""]),
  ));
  const recipe = skill.forecast_recipe;
  if (recipe) {
    section.append(table("How each dimension's forecast was chosen (the recipe)", ["dimension", "serves", "why", "backtest origins"],
      recipe.dims.map((d, i) => [i, d.model_serves ? "the latent ODE" : [d.candidate, d.partner ? ` + ${d.partner}` : ""].join(""), d.reason, d.origins])));
  }
  return section;
}

async function backtestPanel(model) {
  const section = h("section", { id: "backtest" }, h("h2", {}, "Backtest"));
  let backtest;
  try {
    backtest = await call("GET", `/models/${model.model_id}/backtest`);
  } catch (error) {
    if (error.status !== 409) throw error;
    section.append(h("p", {}, error.message));
    return section;
  }
  backtest.dims.forEach((dim, i) => {
    const names = dim.by_lead.length ? Object.keys(dim.by_lead[0].mse) : [];
    section.append(table(
      `Dimension ${i}: MSE of the served forecast (${dim.served}) beside the naive methods', by lead (in horizons of ${number(dim.horizon)})`,
      ["leads", "points", ...names],
      dim.by_lead.map((b) => [`${number(b.from)} to ${number(b.to)}`, b.points, ...names.map((n) => number(b.mse[n]))]),
    ));
    if (dim.origins.length) {
      section.append(table(`Dimension ${i}: per origin`, ["series", "origin", "points", ...names],
        dim.origins.map((o) => [o.series, timeText(o.cut, model.time_kind), o.points, ...names.map((n) => number(o.mse[n]))])));
    }
  });
  return section;
}
