// The upload page: a CSV file read and checked in the browser, the training settings (from the
// API's own schema, with their defaults), and `POST /fit`.

import { call } from "./api.js";
import { lineOf, parseSeriesCsv } from "./csv.js";
import { h, table } from "./dom.js";
import { say, sayOnNextPage, sayProblem, sayProblemWhileShown } from "./message.js";

// The settings groups of the /fit body, by their schema names in /openapi.json.
const SETTINGS = [
  { field: "training", schema: "TrainingSettings", title: "Training", open: true },
  { field: "model", schema: "ModelSettings", title: "Model", open: false },
];

export function renderUpload(main) {
  let parsed = null;
  let suggested = ""; // the name taken from the last file chosen, while the user keeps it
  const summary = h("section", { id: "csv-summary", "aria-live": "polite" });
  const fit = h("button", { type: "submit", id: "fit-button", disabled: true }, "Fit");
  const name = h("input", { id: "fit-name", name: "name", maxlength: 200 });
  const file = h("input", { id: "csv-file", type: "file", accept: ".csv,text/csv" });
  const groups = h("div", { id: "settings" }, h("p", {}, "Reading the settings…"));
  const drop = h(
    "div",
    { class: "drop", id: "drop-zone" },
    h("label", { for: "csv-file" }, "Choose a CSV file, or drop one here"),
    file,
    h("p", { class: "hint" }, "Long layout: columns id, time and one per dimension. ",
      "Wide layout: a time column and one column per series. Empty cells are missing values."),
  );

  const read = async (chosen) => {
    say("");
    parsed = parseSeriesCsv(await chosen.text());
    file.value = ""; // so that choosing the same file again, once fixed, reads it again
    showParsed(summary, parsed, chosen.name);
    fit.disabled = parsed.errors.length > 0;
    if (!name.value || name.value === suggested) {
      suggested = chosen.name.replace(/\.csv$/i, "").replace(/[^\w .-]/g, "_").slice(0, 200);
      name.value = suggested;
    }
  };
  file.addEventListener("change", () => file.files[0] && read(file.files[0]).catch(sayProblemWhileShown(main)));
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    const dropped = event.dataTransfer.files[0];
    if (dropped) read(dropped).catch(sayProblemWhileShown(main));
  });

  const form = h(
    "form",
    { id: "fit-form", novalidate: true },
    drop,
    summary,
    h("p", {}, h("label", { for: "fit-name" }, "Name (optional)"), " ", name),
    groups,
    fit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!parsed || parsed.errors.length) return;
    fit.disabled = true;
    try {
      const body = { series: parsed.series, ...settingsOf(groups) };
      if (name.value.trim()) body.name = name.value.trim();
      const accepted = await call("POST", "/fit", { body });
      sayOnNextPage(`Fitting started: job ${accepted.job_id}, model ${accepted.model_id}.`);
      location.hash = "#/jobs";
    } catch (error) {
      fit.disabled = false;
      sayProblem(error);
      if (error.details && error.details.length) showServerErrors(summary, parsed, error.details);
    }
  });
  main.append(h("h1", {}, "Upload a data set"), form);
  fillSettings(groups).catch((error) => {
    const said = `Settings unavailable (${error.message}); the defaults will be used.`;
    groups.replaceChildren(h("p", { class: "hint" }, said));
  });
}

function showParsed(summary, parsed, fileName) {
  const facts = [
    ["file", fileName],
    ["layout", parsed.layout || "not recognised"],
    ["series", parsed.series.length],
    ["observations", parsed.points],
    ["dimensions", parsed.dims ? `${parsed.dims} (${parsed.layout === "long" ? parsed.columns.join(", ") : "one per series"})` : "n/a"],
    ["time kind", parsed.timeKind || "n/a"],
    ["missing values", parsed.missing],
  ];
  if (parsed.skipped) facts.push(["rows with no value (skipped)", parsed.skipped]);
  if (parsed.utcTimes) facts.push(["times without a UTC offset (read as UTC)", parsed.utcTimes]);
  summary.replaceChildren(
    h("h2", {}, "What the file holds"),
    h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
  );
  if (parsed.errors.length) {
    summary.append(
      h("h2", {}, parsed.more
        ? `The first ${parsed.errors.length} problems (there are more): fix the file and choose it again`
        : `${parsed.errors.length} problem(s): fix the file and choose it again`),
      h("ul", { id: "csv-errors", class: "errors" },
        parsed.errors.map((e) => h("li", {}, `line ${e.line}: ${e.message}`))),
    );
  }
}

function showServerErrors(summary, parsed, details) {
  const rows = details.map((d) => [lineOf(parsed, d) ?? "", d.loc || "", d.msg || ""]);
  const refused = table("What the server refused", ["line", "where", "problem"], rows);
  refused.id = "server-errors";
  const before = summary.querySelector("#server-errors");
  if (before) before.replaceWith(refused);
  else summary.append(refused);
}

async function fillSettings(groups) {
  const schema = await call("GET", "/openapi.json");
  const definitions = schema.components.schemas;
  groups.replaceChildren(
    ...SETTINGS.map(({ field, schema: name, title, open }) => {
      const properties = definitions[name].properties;
      return h(
        "details",
        { open, "data-field": field },
        h("summary", {}, `${title} settings (empty: the default)`),
        h("div", { class: "grid" }, Object.entries(properties).map(([key, spec]) => settingInput(field, key, spec))),
      );
    }),
  );
}

function settingInput(field, key, spec) {
  const kinds = (spec.anyOf || [spec]).filter((s) => s.type !== "null");
  const id = `setting-${field}-${key}`;
  const enumerated = kinds.find((s) => s.enum);
  let input;
  if (enumerated) {
    input = h("select", { id }, h("option", { value: "" }, "default"),
      enumerated.enum.map((v) => h("option", { value: v }, v)));
  } else if (kinds.every((s) => s.type === "integer" || s.type === "number")) {
    const bounds = kinds[0];
    input = h("input", {
      id, type: "number", inputmode: "decimal",
      step: kinds.every((s) => s.type === "integer") ? "1" : "any",
      min: bounds.minimum ?? bounds.exclusiveMinimum, max: bounds.maximum ?? bounds.exclusiveMaximum,
    });
  } else {
    input = h("input", { id, type: "text" });
  }
  input.dataset.key = key;
  input.dataset.numeric = String(kinds.some((s) => s.type === "integer" || s.type === "number"));
  return h("p", {}, h("label", { for: id }, key.replaceAll("_", " ")), input,
    h("span", { class: "hint" }, spec.description || ""));
}

// The settings typed in, as the /fit body's groups: only the fields given.
function settingsOf(groups) {
  const body = {};
  for (const group of groups.querySelectorAll("details[data-field]")) {
    const values = {};
    for (const input of group.querySelectorAll("[data-key]")) {
      const text = input.value.trim();
      if (!text) continue;
      const asNumber = Number(text);
      const numeric = input.dataset.numeric === "true" && Number.isFinite(asNumber);
      values[input.dataset.key] = numeric ? asNumber : text;
    }
    if (Object.keys(values).length) body[group.dataset.field] = values;
  }
  return body;
}
