// Small helpers: building elements without innerHTML, and formatting times, places and sizes.

import { lang, locale, t } from "./i18n.js";

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(element, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") element.textContent = value;
    else if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An HTML element: h("p", {class: "x", onclick: fn}, "text", child). */
export function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  apply(element, attrs);
  append(element, children);
  return element;
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  apply(element, attrs);
  append(element, children);
  return element;
}

/** A <dl> from [term, definition] pairs (definitions may be nodes); empty definitions are left out. */
export function facts(pairs, className = "facts") {
  const list = h("dl", { class: className });
  for (const [term, value] of pairs) {
    if (value === null || value === undefined || value === "") continue;
    list.append(h("div", { class: "fact" }, h("dt", {}, term), h("dd", {}, value)));
  }
  return list;
}

/** A time the server sent (UTC; on SQLite some lack the Z: they are UTC too). */
export function parseInstant(text) {
  if (!text) return null;
  const zoned = /([zZ]|[+-]\d\d:?\d\d)$/.test(text) ? text : `${text}Z`;
  const date = new Date(zoned);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** An instant shown in China Standard Time, the time of the procuratorates' records. */
export function formatInstant(text) {
  const date = typeof text === "string" ? parseInstant(text) : text;
  if (!date) return "";
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: "Asia/Shanghai",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }).formatToParts(date);
  const part = (type) => parts.find((p) => p.type === type)?.value ?? "";
  const shown = `${part("year")}-${part("month")}-${part("day")} ${part("hour")}:${part("minute")}:${part("second")}`;
  return `${shown} ${lang() === "en" ? "CST" : "北京时间"}`;
}

/** A capture time as the device gave it, with its own UTC offset (never converted: it is evidence). */
export function formatGivenTime(text) {
  if (!text) return "";
  const match = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?([zZ]|[+-]\d\d:\d\d)?$/.exec(text);
  if (!match) return text;
  const offset = !match[4] || match[4].toUpperCase() === "Z" ? "+00:00" : match[4];
  return `${match[1]} ${match[2]}${match[3] || ""} (UTC${offset})`;
}

export function formatDate(text) {
  return text || "";
}

export function formatPlace(location) {
  if (!location) return t("noPlace");
  const lat = Number(location.lat).toFixed(6);
  const lon = Number(location.lon).toFixed(6);
  let text = `${lat}, ${lon}`;
  if (location.alt !== null && location.alt !== undefined) text += lang() === "en" ? `, alt ${location.alt} m` : `，海拔 ${location.alt} 米`;
  if (location.accuracy_m !== null && location.accuracy_m !== undefined) text += ` (${t("accuracy", { m: location.accuracy_m })})`;
  return text;
}

export function formatNumber(value, digits = 0) {
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(value);
}

export function formatBytes(n) {
  if (n === null || n === undefined) return "";
  if (n < 1024) return t("bytes", { n: formatNumber(n) });
  const units = ["KiB", "MiB", "GiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${formatNumber(value, 1)} ${units[unit]}`;
}

export function formatArea(m2) {
  if (m2 === null || m2 === undefined) return "";
  if (m2 >= 1e6) return lang() === "en" ? `${formatNumber(m2 / 1e6, 2)} km²` : `${formatNumber(m2 / 1e6, 2)} 平方千米`;
  return lang() === "en" ? `${formatNumber(m2)} m²` : `${formatNumber(m2)} 平方米`;
}

export function formatDistance(m) {
  if (m === null || m === undefined) return "";
  if (m >= 1000) return lang() === "en" ? `${formatNumber(m / 1000, 2)} km` : `${formatNumber(m / 1000, 2)} 千米`;
  return lang() === "en" ? `${formatNumber(m, 1)} m` : `${formatNumber(m, 1)} 米`;
}

export function shortHex(hex, n = 16) {
  return hex && hex.length > n ? `${hex.slice(0, n)}…` : hex || "";
}
