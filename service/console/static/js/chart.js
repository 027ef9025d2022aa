// One dimension of a prediction drawn with uPlot (vendor/uPlot.iife.min.js): the observations as
// points, the mean as a line, the 50% and 90% bands, and a dashed line where extrapolation
// starts (the series' last observation). Drag to zoom, double-click to zoom out, hover to read.

const COLOURS = { observed: "#1b1b1b", mean: "#1f5fbf", band50: "rgba(31,95,191,0.30)", band90: "rgba(31,95,191,0.13)" };

// The x values of both sets of times, merged and sorted, and each set's values spread onto them
// (null where the other set has a time).
function merged(observedTimes, observedValues, times, columns) {
  const x = [...new Set([...observedTimes, ...times])].sort((a, b) => a - b);
  const at = new Map(x.map((t, i) => [t, i]));
  const spread = (ts, values) => {
    const out = new Array(x.length).fill(null);
    ts.forEach((t, i) => {
      out[at.get(t)] = values[i];
    });
    return out;
  };
  return [x, spread(observedTimes, observedValues), ...columns.map((c) => spread(times, c))];
}

// Draw into `container`; `data` holds numeric times (seconds for dates): {observedTimes,
// observedValues, times, mean, bands: [[level, lower, upper]] widest first, lastObserved,
// datetime, label}. Returns a function that takes the chart down (its listeners too).
export function drawChart(container, data) {
  const columns = [data.mean];
  const series = [
    {},
    { label: "observed", stroke: COLOURS.observed, paths: () => null, points: { show: true, size: 5, fill: COLOURS.observed } },
    { label: "mean", stroke: COLOURS.mean, width: 2, spanGaps: true, points: { show: false } },
  ];
  const bands = [];
  for (const [level, lower, upper] of data.bands) {
    const fill = level >= 90 ? COLOURS.band90 : COLOURS.band50;
    columns.push(upper, lower);
    const upperAt = series.length;
    series.push(
      { label: `${level}% upper`, stroke: fill, spanGaps: true, points: { show: false } },
      { label: `${level}% lower`, stroke: fill, spanGaps: true, points: { show: false } },
    );
    bands.push({ series: [upperAt, upperAt + 1], fill });
  }
  const frame = merged(data.observedTimes, data.observedValues, data.times, columns);
  const boundary = {
    hooks: {
      draw: [
        (u) => {
          const x = u.valToPos(data.lastObserved, "x", true);
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
          const { ctx } = u;
          ctx.save();
          ctx.setLineDash([6, 4]);
          ctx.strokeStyle = "#777";
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.restore();
        },
      ],
    },
  };
  const width = () => Math.max(280, container.clientWidth || 600);
  const chart = new window.uPlot(
    {
      title: data.label,
      width: width(),
      height: 320,
      scales: { x: { time: data.datetime } },
      series,
      bands,
      cursor: { drag: { x: true, y: false } },
      plugins: [boundary],
    },
    frame,
    container,
  );
  const resizing = new ResizeObserver(() => chart.setSize({ width: width(), height: 320 }));
  resizing.observe(container);
  container.chart = chart; // for the browser tests, which read what was drawn
  return () => {
    resizing.disconnect();
    chart.destroy();
  };
}
