// Building the page from data without HTML strings (names and ids come from users), and
// the console's ways of writing numbers and times.

// An element: `h("a", {href: "#/x", class: "y"}, "text", child, ...)`. Attributes starting with
// "on" are listeners; false, null and undefined attributes and children are left out.
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === false || child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

// A table with a caption and column headers, in a box that scrolls sideways when the table is
// wider than the page (a phone's width); `body` is its rows (a tbody, or arrays of cells).
export function table(caption, headers, body, attributes = {}) {
  const rows = body instanceof Node ? body : h("tbody", {}, body.map((row) => h("tr", {}, row.map((x) => h("td", {}, x)))));
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      attributes,
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
      rows,
    ),
  );
}

// A long id shortened for a table cell, the whole of it in the tooltip.
export function shortId(id) {
  const shown = id.length > 14 ? `${id.slice(0, 12)}…` : id;
  return h("span", { title: id, class: "id" }, shown);
}

// A number with 3 significant digits (large ones in full), or "n/a".
export function number(value, digits = 3) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "n/a";
  if (Math.abs(value) >= 10 ** digits) return Math.round(value).toLocaleString("en");
  return Number(value.toPrecision(digits)).toString();
}

export function percent(share) {
  return share === null || share === undefined ? "n/a" : `${Math.round(share * 100)}%`;
}

// Seconds as "42 s", "3 min 5 s" or "2 h 1 min".
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "n/a";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// A time of a model's kind as shown: a number, or a UTC date and time.
export function timeText(value, kind) {
  if (kind === "datetime") {
    const date = new Date(typeof value === "number" ? value * 1000 : value);
    return date.toISOString().replace(".000Z", "Z");
  }
  return number(Number(value), 6);
}
