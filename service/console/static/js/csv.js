// A CSV file read into the API's series, with every problem found and the line it is on.
//
// Two layouts are read:
//   long: columns `id`, `time` and one column per dimension, one row per observation (the layout
//         `odecast fit` reads);
//   wide: a `time` column and one column per series, each series one-dimensional.
// A time is a number, or a date and time (ISO-8601); one kind per file. A date or time without a
// UTC offset is read as UTC, and the summary says so. An empty value cell is a missing value.

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const NUMBER_PATTERN = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
// An ISO-8601 date, optionally a time of day (with seconds and their fraction), optionally an
// offset: year, month, day, hours, minutes, seconds, fraction, offset.
const ISO_PATTERN = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;
const MOST_ERRORS = 20; // errors listed before the reader stops looking

// The records of `text` as arrays of cells, each with the line it starts on.
function csvRecords(text) {
  const records = [];
  let cells = [];
  let cell = "";
  let quoted = false;
  let line = 1;
  let start = 1;
  let quoteLine = 0;
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (c === '"') {
        quoted = false;
      } else {
        if (c === "\n") line += 1;
        cell += c;
      }
    } else if (c === '"' && cell.trim() === "") {
      quoted = true;
      quoteLine = line;
      cell = "";
    } else if (c === ",") {
      cells.push(cell);
      cell = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      cells.push(cell);
      records.push({ line: start, cells });
      cells = [];
      cell = "";
      line += 1;
      start = line;
    } else {
      cell += c;
    }
  }
  if (quoted) return { records, unterminated: quoteLine };
  if (cell !== "" || cells.length) {
    cells.push(cell);
    records.push({ line: start, cells });
  }
  return { records, unterminated: 0 };
}

// A time cell read: {kind: "numeric"|"datetime", value (what is sent), key (equal for equal
// instants, to find a time given twice), utc (read as UTC for want of an offset)} or {error}.
function readTime(text) {
  if (NUMBER_PATTERN.test(text)) {
    const value = Number(text);
    if (Number.isFinite(value)) return { kind: "numeric", value, key: value, utc: false };
    return { error: `time ${JSON.stringify(text)} is not a finite number` };
  }
  const parts = ISO_PATTERN.exec(text);
  const refused = { error: `time ${JSON.stringify(text)} is neither a number nor an ISO-8601 date (e.g. 2026-03-01T12:00:00Z)` };
  if (!parts) return refused;
  const [, year, month, day, hour = "00", minute = "00", second = "00", fraction = "", offset] = parts;
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  const exists = date.getUTCFullYear() === Number(year) && date.getUTCMonth() === Number(month) - 1 && date.getUTCDate() === Number(day);
  if (!exists || Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return refused;
  const utc = offset === undefined;
  let value = text.replace(" ", "T");
  if (utc) value = parts[4] === undefined ? `${value}T00:00:00Z` : `${value}Z`;
  const zone = utc || offset === "Z" ? "Z" : offset.replace(/^([+-]\d{2}):?(\d{2})$/, "$1:$2");
  const milliseconds = Date.parse(`${year}-${month}-${day}T${hour}:${minute}:${second}${zone}`);
  // the fraction kept to the nanosecond: Date.parse stops at the millisecond
  const key = `${milliseconds}.${fraction.padEnd(9, "0").slice(0, 9)}`;
  return { kind: "datetime", value, key, utc };
}

// A time typed by the user as the API takes it (a date or time without an offset read as UTC,
// as in a file); an Error saying what is wrong with it otherwise.
export function apiTime(text) {
  const time = readTime(text.trim());
  if (time.error) throw new Error(time.error);
  return String(time.value);
}

function readValue(text) {
  if (text === "") return { value: null };
  const value = Number(text);
  if (!NUMBER_PATTERN.test(text) || !Number.isFinite(value)) {
    return { error: `${JSON.stringify(text)} is not a finite number (leave the cell empty for a missing value)` };
  }
  return { value };
}

// The file read: {layout, series, columns, dims, timeKind, points, missing, skipped, utcTimes,
// lines, errors, more}. `lines[i][j]` is the line of series i's observation j; `errors` holds
// {line, message}, one per line and at most MOST_ERRORS of them (`more`: others were found);
// the series are not to be sent if there are any.
export function parseSeriesCsv(text) {
  const result = {
    layout: "", series: [], columns: [], dims: 0, timeKind: "", points: 0, missing: 0,
    skipped: 0, utcTimes: 0, lines: [], errors: [], more: false,
  };
  const fail = (line, message) => {
    if (result.errors.some((e) => e.line === line)) return;
    if (result.errors.length < MOST_ERRORS) result.errors.push({ line, message });
    else result.more = true;
  };
  const { records, unterminated } = csvRecords(text);
  if (unterminated) fail(unterminated, 'a quoted cell is never closed: is its closing quote (") missing?');
  const rows = records.filter((r) => r.cells.some((c) => c.trim() !== ""));
  if (!rows.length) {
    fail(1, "the file is empty: it needs a header row and at least one observation");
    return result;
  }
  const header = rows[0].cells.map((c) => c.trim());
  const headerLine = rows[0].line;
  const twice = header.filter((h, i) => h && header.indexOf(h) !== i);
  if (twice.length) fail(headerLine, `column(s) ${[...new Set(twice)].join(", ")} appear twice`);
  const timeAt = header.indexOf("time");
  const idAt = header.indexOf("id");
  if (timeAt < 0) {
    fail(headerLine, `no "time" column (columns: ${header.join(", ")}); the header needs "time", and "id" for the long layout`);
    return result;
  }
  result.layout = idAt >= 0 ? "long" : "wide";
  const valueAt = header.map((h, i) => i).filter((i) => i !== timeAt && i !== idAt && header[i] !== "");
  result.columns = valueAt.map((i) => header[i]);
  if (!valueAt.length) {
    fail(headerLine, "no value column: after the id and time columns, one column per dimension (long) or per series (wide)");
    return result;
  }
  if (result.layout === "wide") {
    for (const name of result.columns) {
      if (!ID_PATTERN.test(name)) fail(headerLine, `column ${JSON.stringify(name)} names a series: ids are 1-64 letters, digits, "_" or "-"`);
    }
  }
  result.dims = result.layout === "long" ? valueAt.length : 1;
  const unnamed = header.map((h, i) => i).filter((i) => header[i] === "");

  const byId = new Map();
  const seen = new Map(); // series id -> Map(time key -> line)
  const add = (id, time, values, line) => {
    let entry = byId.get(id);
    if (!entry) {
      entry = { series: { id, times: [], values: [] }, lines: [] };
      byId.set(id, entry);
      seen.set(id, new Map());
    }
    const earlier = seen.get(id).get(time.key);
    if (earlier !== undefined) {
      fail(line, `series ${JSON.stringify(id)} has time ${JSON.stringify(String(time.value))} twice (also on line ${earlier})`);
      return;
    }
    seen.get(id).set(time.key, line);
    entry.series.times.push(time.value);
    entry.series.values.push(result.layout === "long" && result.dims > 1 ? values : values[0]);
    entry.lines.push(line);
    result.points += 1;
  };

  for (const { line, cells } of rows.slice(1)) {
    if (result.more) break;
    const trimmed = cells.map((c) => c.trim());
    if (trimmed.slice(header.length).some((c) => c !== "")) {
      fail(line, `${cells.length} cells, but the header has ${header.length}`);
      continue;
    }
    const stray = unnamed.find((i) => trimmed[i]);
    if (stray !== undefined) {
      fail(line, `a value in column ${stray + 1}, which has no name in the header`);
      continue;
    }
    const stamp = trimmed[timeAt] || "";
    if (!stamp) {
      fail(line, 'empty "time" cell');
      continue;
    }
    const time = readTime(stamp);
    if (time.error) {
      fail(line, time.error);
      continue;
    }
    if (!result.timeKind) result.timeKind = time.kind;
    if (time.kind !== result.timeKind) {
      fail(line, `time ${JSON.stringify(stamp)} is ${time.kind}, but the file's first times are ${result.timeKind}; one kind per file`);
      continue;
    }
    const read = valueAt.map((i) => readValue(trimmed[i] || ""));
    const bad = read.findIndex((r) => r.error);
    if (bad >= 0) {
      fail(line, `column ${JSON.stringify(result.columns[bad])}: ${read[bad].error}`);
      continue;
    }
    const values = read.map((r) => r.value);
    if (time.utc) result.utcTimes += 1;
    if (result.layout === "long") {
      const id = trimmed[idAt] || "";
      if (!ID_PATTERN.test(id)) {
        fail(line, id ? `series id ${JSON.stringify(id)}: ids are 1-64 letters, digits, "_" or "-"` : 'empty "id" cell');
        continue;
      }
      if (values.every((v) => v === null)) {
        result.skipped += 1;
        continue;
      }
      result.missing += values.filter((v) => v === null).length;
      add(id, time, values, line);
    } else {
      values.forEach((value, k) => {
        if (value === null) result.missing += 1;
        else add(result.columns[k], time, [value], line);
      });
    }
  }
  if (!result.errors.length && !byId.size) fail(headerLine, "no observations: every value cell is empty");
  for (const { series, lines } of byId.values()) {
    result.series.push(series);
    result.lines.push(lines);
  }
  return result;
}

// The CSV line one entry of the API's 422 details points at, or null: by its series id and
// index (a series' problem), else by its location (`body.series[i].times[j]` or `.values.j`).
export function lineOf(parsed, detail) {
  if (detail && typeof detail.series === "string" && Number.isInteger(detail.index)) {
    const at = parsed.series.findIndex((s) => s.id === detail.series);
    return at >= 0 ? parsed.lines[at][detail.index] ?? null : null;
  }
  const match = /series[.[](\d+)\]?\.(?:times|values)[.[](\d+)/.exec(String(detail && detail.loc));
  if (!match) return null;
  const lines = parsed.lines[Number(match[1])];
  return lines ? lines[Number(match[2])] ?? null : null;
}
