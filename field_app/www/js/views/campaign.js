// 专项活动统计 The campaign view (GET /campaign): per unit the cases by stage and domain, recommendations issued,
// answered and overdue, evidence collected and verified, exceedances; the totals; the CSV and the printable report
// (fetched with the bearer token and offered as object URLs). Filters live in the hash: #/campaign?from=&to=&domain=.
// Offline, the service worker answers with the last copy of the same URL (the page then says how old it is).

import { h } from "../dom.js";
import { t, label } from "../i18n.js";
import { getJson, getBlob } from "../api.js";
import { heading, errorBox } from "./common.js";

const STAGES = ["clue", "filed", "investigation", "recommendation", "follow-up", "litigation", "enforcement", "closed"];
const DOMAINS = ["air", "water", "land", "forest", "mineral", "wetland", "wildlife", "other"];
const FIGURES = [
  ["cases", "campaignCases"],
  ["clues_received", "campaignClues"],
  ["recommendations_issued", "campaignIssued"],
  ["recommendations_answered", "campaignAnswered"],
  ["recommendations_overdue", "campaignOverdue"],
  ["items_collected", "campaignCollected"],
  ["items_verified", "campaignVerified"],
  ["exceedances", "campaignExceedances"],
];
const FILTERS = ["from", "to", "domain", "unit"];
const downloads = new Map();

/** The API query of the filters in the hash (only the known ones, only non-empty). */
function queryOf(params) {
  const query = new URLSearchParams();
  for (const name of FILTERS) {
    const value = params.get(name);
    if (value) query.set(name, value);
  }
  const text = query.toString();
  return text ? `?${text}` : "";
}

function table(caption, id, columns, body, totals) {
  const row = (counts, className) =>
    h(
      "tr",
      { class: className, "data-unit": counts.unit || "*" },
      h("th", { scope: "row" }, counts.name || t("campaignTotal")),
      columns.map(([, value]) => h("td", { "data-key": value.key }, String(value(counts)))),
    );
  return h(
    "div",
    { class: "table-scroll" },
    h(
      "table",
      { class: "campaign-table", id },
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("unit")), columns.map(([text]) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, body.map((counts) => row(counts, ""))),
      h("tfoot", {}, row(totals, "total")),
    ),
  );
}

function column(text, key, read) {
  const value = read;
  value.key = key;
  return [text, value];
}

function filterForm(params) {
  const from = h("input", { type: "date", id: "campaign-from", name: "from", value: params.get("from") || "" });
  const to = h("input", { type: "date", id: "campaign-to", name: "to", value: params.get("to") || "" });
  const domain = h(
    "select",
    { id: "campaign-domain", name: "domain" },
    h("option", { value: "" }, t("campaignAllDomains")),
    DOMAINS.map((d) => h("option", { value: d, selected: params.get("domain") === d }, label("domain", d))),
  );
  const form = h(
    "form",
    { class: "campaign-filters" },
    h("label", { for: "campaign-from" }, t("campaignFrom")),
    from,
    h("label", { for: "campaign-to" }, t("campaignTo")),
    to,
    h("label", { for: "campaign-domain" }, t("domain")),
    domain,
    h("button", { type: "submit", class: "secondary" }, t("campaignApply")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (from.value) next.set("from", from.value);
    if (to.value) next.set("to", to.value);
    if (domain.value) next.set("domain", domain.value);
    if (params.get("unit")) next.set("unit", params.get("unit"));
    const text = next.toString();
    location.hash = `#/campaign${text ? `?${text}` : ""}`;
  });
  return form;
}

function downloadButton(text, id, path, out) {
  const button = h("button", { type: "button", class: "secondary", id }, text);
  button.addEventListener("click", async () => {
    button.disabled = true;
    out.replaceChildren(h("p", { class: "loading", role: "status" }, t("preparing")));
    try {
      const { blob, name } = await getBlob(path);
      if (downloads.has(id)) URL.revokeObjectURL(downloads.get(id));
      const url = URL.createObjectURL(blob);
      downloads.set(id, url);
      out.replaceChildren(h("a", { class: "button download-link", href: url, download: name, id: `${id}-link` }, t("campaignSave", { name })));
    } catch (error) {
      out.replaceChildren(errorBox(error));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

export async function campaignView(params = new URLSearchParams()) {
  const query = queryOf(params);
  const data = await getJson(`/campaign${query}`);
  const figures = FIGURES.map(([key, text]) => column(t(text), key, (counts) => counts[key]));
  const stages = STAGES.map((stage) => column(label("stage", stage), `stage.${stage}`, (counts) => counts.by_stage[stage] ?? 0));
  const domains = DOMAINS.map((d) => column(label("domain", d), `domain.${d}`, (counts) => counts.by_domain[d] ?? 0));
  const out = h("div", { class: "results", id: "campaign-downloads", "aria-live": "polite" });
  const reportQuery = query ? `${query}&format=html` : "?format=html";
  return h(
    "section",
    { class: "campaign-page", "aria-labelledby": "campaign-title" },
    h("p", { class: "crumbs" }, h("a", { href: "#/cases" }, `← ${t("myCases")}`)),
    heading(t("campaignTitle"), 1, "campaign-title"),
    h("p", { class: "small" }, t("campaignIntro")),
    filterForm(params),
    h(
      "dl",
      { class: "campaign-totals", id: "campaign-totals" },
      FIGURES.map(([key, text]) => h("div", { class: "figure" }, h("dt", {}, t(text)), h("dd", { "data-key": key }, String(data.totals[key])))),
    ),
    table(t("campaignByUnit"), "campaign-units", figures, data.units, data.totals),
    table(t("campaignByStage"), "campaign-stages", stages, data.units, data.totals),
    table(t("campaignByDomain"), "campaign-domains", domains, data.units, data.totals),
    h("p", { class: "small" }, t("campaignDefinitions")),
    h(
      "p",
      { class: "actions" },
      downloadButton(t("campaignCsv"), "campaign-csv", `/campaign.csv${query}`, out),
      " ",
      downloadButton(t("campaignReport"), "campaign-report", `/campaign/report${reportQuery}`, out),
    ),
    out,
  );
}
