// Readings of one channel as an SVG line chart, with the limit line (when the server gives one, through an alert)
// and the readings that exceeded it marked.

import { s, h, parseInstant, formatInstant, formatNumber } from "./dom.js";
import { t, pollutantName } from "./i18n.js";

const WIDTH = 640;
const HEIGHT = 240;
const LEFT = 56;
const RIGHT = 16;
const TOP = 28;
const BOTTOM = 40;

let chartCount = 0;

/** Limit values to draw for an alert's limit: [value] for a max bound, [low, high] for a range. */
export function limitValues(limit) {
  if (!limit) return [];
  const values = [];
  for (const v of [limit.value, limit.low, limit.high]) if (typeof v === "number" && Number.isFinite(v)) values.push(v);
  return values;
}

/**
 * readings: of one device and code, in any order; alerts: the alerts of those readings (may be empty); knownLimit:
 * the limit the server gave for this pollutant in any alert of the case (null: no limit line is drawn).
 */
export function readingsChart(readings, alerts, knownLimit = null) {
  chartCount += 1;
  const id = `chart-${chartCount}`;
  const points = readings
    .map((r) => ({ reading: r, at: parseInstant(r.measured_at), value: r.value }))
    .filter((p) => p.at && typeof p.value === "number")
    .sort((a, b) => a.at - b.at);
  const first = readings[0];
  const limit = alerts.length ? alerts[0].limit : knownLimit;
  const limits = limitValues(limit);
  const exceeded = new Set(alerts.map((a) => a.reading_id));
  const pollutant = pollutantName(first.code, limit);
  const unit = first.unit || "";

  const values = [...points.map((p) => p.value), ...limits];
  let low = Math.min(0, ...values);
  let high = Math.max(...values, 1);
  if (high === low) high = low + 1;
  high += (high - low) * 0.08;
  const t0 = points.length ? points[0].at.getTime() : 0;
  const t1 = points.length ? points[points.length - 1].at.getTime() : 1;
  const span = Math.max(t1 - t0, 1);
  const x = (time) => LEFT + ((time - t0) / span) * (WIDTH - LEFT - RIGHT);
  const y = (value) => TOP + (1 - (value - low) / (high - low)) * (HEIGHT - TOP - BOTTOM);

  const svg = s("svg", { class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-labelledby": `${id}-t ${id}-d` });
  svg.append(
    s("title", { id: `${id}-t` }, t("channel", { device: first.device, pollutant, code: first.code })),
    s("desc", { id: `${id}-d` }, t("chartDesc", { pollutant, n: points.length, e: exceeded.size })),
  );
  // axes and a few grid lines
  const ticks = 4;
  for (let i = 0; i <= ticks; i += 1) {
    const value = low + ((high - low) * i) / ticks;
    const yy = y(value).toFixed(1);
    svg.append(
      s("line", { class: "grid", x1: LEFT, x2: WIDTH - RIGHT, y1: yy, y2: yy }),
      s("text", { class: "axis-label", x: LEFT - 6, y: yy, "text-anchor": "end", "dominant-baseline": "middle" }, formatNumber(value, 1)),
    );
  }
  svg.append(
    s("line", { class: "axis", x1: LEFT, x2: LEFT, y1: TOP, y2: HEIGHT - BOTTOM }),
    s("line", { class: "axis", x1: LEFT, x2: WIDTH - RIGHT, y1: HEIGHT - BOTTOM, y2: HEIGHT - BOTTOM }),
    s("text", { class: "axis-label", x: 6, y: 14 }, unit),
  );
  if (points.length) {
    svg.append(
      s("text", { class: "axis-label", x: LEFT, y: HEIGHT - BOTTOM + 18 }, formatInstant(points[0].at)),
      s("text", { class: "axis-label", x: WIDTH - RIGHT, y: HEIGHT - BOTTOM + 18, "text-anchor": "end" }, formatInstant(points[points.length - 1].at)),
    );
  }
  for (const value of limits) {
    const yy = y(value).toFixed(1);
    svg.append(
      s("line", { class: "limit-line", x1: LEFT, x2: WIDTH - RIGHT, y1: yy, y2: yy, "data-limit": value }),
      s("text", { class: "limit-label", x: LEFT + 6, y: (y(value) - 5).toFixed(1) }, `${formatNumber(value, 2)} ${unit}`),
    );
  }
  if (points.length > 1) {
    const d = points.map((p, i) => `${i ? "L" : "M"}${x(p.at.getTime()).toFixed(1)},${y(p.value).toFixed(1)}`).join("");
    svg.append(s("path", { class: "series", d }));
  }
  for (const p of points) {
    const over = exceeded.has(p.reading.id);
    if (!over && points.length > 1) continue;
    const dot = s("circle", {
      class: over ? "exceedance" : "reading-dot",
      cx: x(p.at.getTime()).toFixed(1),
      cy: y(p.value).toFixed(1),
      r: over ? 4.5 : 3,
      "data-reading-id": p.reading.id,
    });
    dot.append(s("title", {}, `${formatInstant(p.at)}: ${formatNumber(p.value, 3)} ${unit}`));
    svg.append(dot);
  }

  const caption = [
    h("strong", {}, t("channel", { device: first.device, pollutant, code: first.code })),
    " · ",
    t("readingsCount", { n: points.length }),
    " · ",
    h("span", { class: exceeded.size ? "bad" : "" }, t("exceedances", { n: exceeded.size })),
  ];
  const limitNote = limit
    ? h("p", { class: "small" }, t("limitLine", { value: limits.map((v) => formatNumber(v, 2)).join("–"), unit: limit.unit || unit, standard: `${limit.standard} ${limit.grade || ""} ${limit.averaging || ""}`.trim() }))
    : h("p", { class: "small" }, t("noLimit"));
  return h("figure", { class: "chart-figure", "data-channel": `${first.device}/${first.code}/${first.kind}` }, h("figcaption", {}, caption), svg, limitNote);
}
