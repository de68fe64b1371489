// What several screens share: error boxes that explain API errors, headings, loading notes.

import { h } from "../dom.js";
import { t, label } from "../i18n.js";
import { me } from "../api.js";

/** An explanation of an ApiError (or any error) for a person, in the current language. */
export function errorBox(error, { offlineText } = {}) {
  const lines = [];
  if (error && (error.status === 0 || error.code === "network" || error.code === "offline")) {
    lines.push(offlineText || (navigator.onLine ? t("error", { message: error.message }) : t("offlineNoCache")));
  } else if (error && error.status === 403) {
    const who = me();
    lines.push(t("forbidden", { role: who ? label("role", who.role) : "?" }));
    lines.push(t("serverSaid", { message: error.message }));
  } else if (error && error.status === 404) {
    lines.push(t("notFound"));
    lines.push(t("serverSaid", { message: error.message }));
  } else {
    lines.push(t("error", { message: error && error.message ? error.message : String(error) }));
  }
  return h(
    "div",
    { class: "error", role: "alert", "data-status": error && error.status !== undefined ? error.status : "" },
    lines.map((line, i) => h("p", { class: i ? "small" : "" }, line)),
  );
}

export function heading(text, level = 1, id = undefined) {
  return h(`h${level}`, { tabindex: level === 1 ? -1 : null, id }, text);
}

export function loadingNote() {
  return h("p", { class: "loading", role: "status" }, t("loading"));
}
