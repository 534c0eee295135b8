// Charts as inline SVG, with no library: a line chart (with optional interval bands), an interval (forest)
// chart and a bar chart.
// The console imports this module; the demo's report.html inlines the same file, so both draw alike.
const NS = "http://www.w3.org/2000/svg";
const COLORS = ["#1f6feb", "#d9480f", "#2f9e44", "#7048e8", "#868e96", "#c2255c"];

function svg(tag, attributes = {}, text) {
  const element = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

function frame(width, height, title) {
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", class: "chart" });
  root.append(svg("title", {}, title));
  return root;
}

function ticks(min, max, count = 4) {
  return Array.from({ length: count + 1 }, (_, i) => min + ((max - min) * i) / count);
}

function fmt(value) {
  return Math.abs(value) < 1 ? value.toFixed(3) : value.toFixed(0);
}

// series: [{name, points: [[x, y], ...], dashed?, band?: [[x, low, high], ...]}], x and y numbers. A null y
// breaks the line (no data there); a band is drawn as a shaded area behind its series (an interval).
// Options: xFormat / yFormat format the tick labels; dots marks every point (a lone point is otherwise unseen);
// xDomain: [min, max] the x axis spans at least (a whole window, however little of it has data).
export function lineChart(
  series,
  { title, xLabel = "", yLabel = "", width = 640, height = 280, xFormat = fmt, yFormat = fmt, dots = false, xDomain = [] } = {},
) {
  const pad = { left: 64, right: 16, top: 24, bottom: 44 };
  const xs = series.flatMap((s) => [...s.points.map((p) => p[0]), ...(s.band || []).map((b) => b[0])]);
  const ys = series.flatMap((s) => [
    ...s.points.map((p) => p[1]).filter((y) => y !== null && y !== undefined),
    ...(s.band || []).flatMap((b) => [b[1], b[2]]),
  ]);
  const root = frame(width, height, title);
  if (!xs.length || !ys.length) return root;
  let [x0, x1] = [Math.min(...xs, ...xDomain), Math.max(...xs, ...xDomain)];
  const xTicks = x0 === x1 ? [x0] : ticks(x0, x1);
  if (x0 === x1) [x0, x1] = [x0 - 0.5, x1 + 0.5]; // one x: centred, with one tick
  const [y0, y1] = [Math.min(0, ...ys), Math.max(...ys) * 1.05 || 1];
  const sx = (x) => pad.left + ((x - x0) / (x1 - x0 || 1)) * (width - pad.left - pad.right);
  const sy = (y) => height - pad.bottom - ((y - y0) / (y1 - y0 || 1)) * (height - pad.top - pad.bottom);
  for (const y of ticks(y0, y1)) {
    root.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: sy(y), y2: sy(y), class: "grid" }));
    root.append(svg("text", { x: pad.left - 6, y: sy(y) + 4, "text-anchor": "end", class: "tick" }, yFormat(y)));
  }
  for (const x of xTicks) {
    root.append(svg("text", { x: sx(x), y: height - pad.bottom + 16, "text-anchor": "middle", class: "tick" }, xFormat(x)));
  }
  root.append(svg("text", { x: (width + pad.left) / 2, y: height - 6, "text-anchor": "middle", class: "axis" }, xLabel));
  const middle = (pad.top + height - pad.bottom) / 2;
  root.append(svg("text", { x: 12, y: middle, transform: `rotate(-90 12 ${middle})`, "text-anchor": "middle", class: "axis" }, yLabel));
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    if (s.band && s.band.length) {
      // A band of one point has no width: draw it as a bar a few pixels wide.
      const [only] = s.band;
      const corners =
        s.band.length === 1
          ? [[sx(only[0]) - 4, only[1], only[2]], [sx(only[0]) + 4, only[1], only[2]]]
          : s.band.map((b) => [sx(b[0]), b[1], b[2]]);
      const upper = corners.map(([x, , high]) => `${x.toFixed(1)},${sy(high).toFixed(1)}`);
      const lower = corners.map(([x, low]) => `${x.toFixed(1)},${sy(low).toFixed(1)}`).reverse();
      root.append(svg("polygon", { points: [...upper, ...lower].join(" "), fill: color, "fill-opacity": 0.18, class: "band" }));
    }
  });
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    let move = true;
    let d = "";
    for (const p of s.points) {
      if (p[1] === null || p[1] === undefined) {
        move = true;
        continue;
      }
      d += `${move ? "M" : "L"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`;
      move = false;
    }
    root.append(svg("path", { d, fill: "none", stroke: color, "stroke-width": 2, "stroke-dasharray": s.dashed ? "6 4" : "none" }));
    if (dots) {
      for (const p of s.points.filter((q) => q[1] !== null && q[1] !== undefined)) {
        root.append(svg("circle", { cx: sx(p[0]), cy: sy(p[1]), r: 3, fill: color, class: "dot" }));
      }
    }
    root.append(svg("rect", { x: pad.left + 8 + i * 150, y: pad.top - 12, width: 10, height: 10, fill: color }));
    root.append(svg("text", { x: pad.left + 22 + i * 150, y: pad.top - 3, class: "legend" }, s.name));
  });
  return root;
}

// rows: [{label, mean, low, high}] drawn as a dot and its interval, one row each.
export function intervalChart(rows, { title, width = 640, rowHeight = 26 } = {}) {
  const pad = { left: 220, right: 24, top: 10, bottom: 28 };
  const height = pad.top + pad.bottom + rows.length * rowHeight;
  const root = frame(width, height, title);
  if (!rows.length) return root;
  const max = Math.max(...rows.map((r) => r.high)) * 1.05 || 1;
  const sx = (x) => pad.left + (x / max) * (width - pad.left - pad.right);
  for (const x of ticks(0, max)) {
    root.append(svg("line", { x1: sx(x), x2: sx(x), y1: pad.top, y2: height - pad.bottom, class: "grid" }));
    root.append(svg("text", { x: sx(x), y: height - 8, "text-anchor": "middle", class: "tick" }, fmt(x)));
  }
  rows.forEach((row, i) => {
    const y = pad.top + i * rowHeight + rowHeight / 2;
    root.append(svg("text", { x: pad.left - 8, y: y + 4, "text-anchor": "end", class: "label" }, row.label.slice(0, 32)));
    root.append(svg("line", { x1: sx(row.low), x2: sx(row.high), y1: y, y2: y, stroke: COLORS[0], "stroke-width": 3 }));
    root.append(svg("circle", { cx: sx(row.mean), cy: y, r: 4, fill: COLORS[1] }));
  });
  return root;
}

// rows: [{label, value}] as horizontal bars.
export function barChart(rows, { title, width = 640, rowHeight = 24 } = {}) {
  const pad = { left: 220, right: 48, top: 8, bottom: 8 };
  const height = pad.top + pad.bottom + rows.length * rowHeight;
  const root = frame(width, height, title);
  const max = Math.max(1, ...rows.map((r) => r.value));
  rows.forEach((row, i) => {
    const y = pad.top + i * rowHeight;
    const w = (row.value / max) * (width - pad.left - pad.right);
    root.append(svg("text", { x: pad.left - 8, y: y + rowHeight / 2 + 4, "text-anchor": "end", class: "label" }, row.label.slice(0, 32)));
    root.append(svg("rect", { x: pad.left, y: y + 4, width: Math.max(w, 1), height: rowHeight - 8, fill: COLORS[i % COLORS.length] }));
    root.append(svg("text", { x: pad.left + w + 6, y: y + rowHeight / 2 + 4, class: "tick" }, String(row.value)));
  });
  return root;
}
