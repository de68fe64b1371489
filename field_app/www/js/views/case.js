// 案件 One case: stage and deadlines, sites and visits, the map, the evidence with its custody, the readings.

import { h, facts, formatInstant, formatGivenTime, formatPlace, formatBytes, formatArea, formatDistance, shortHex } from "../dom.js";
import { t, label } from "../i18n.js";
import { getJson, getAll, mayCapture } from "../api.js";
import { caseMap } from "../map.js";
import { appConfig } from "../config.js";
import { readingsChart } from "../chart.js";
import { heading, errorBox } from "./common.js";
import { stageChip, deadlineLine } from "./cases.js";

const custodyCache = new Map();

export function custodyOf(itemId, { fresh = false } = {}) {
  if (fresh || !custodyCache.has(itemId)) {
    const loading = getJson(`/items/${encodeURIComponent(itemId)}/custody`);
    custodyCache.set(itemId, loading);
    loading.catch(() => custodyCache.delete(itemId));
  }
  return custodyCache.get(itemId);
}

export function forgetCustody(itemId) {
  custodyCache.delete(itemId);
}

/** The latest `verified` event of a chain, or null. */
export function lastVerification(entries) {
  const verified = entries.filter((entry) => entry.event.action === "verified");
  return verified.length ? verified[verified.length - 1].event : null;
}

export function verificationText(event) {
  if (!event) return h("span", { class: "muted", "data-verified": "never" }, t("notVerified"));
  const valid = event.details && event.details.valid === true;
  return h(
    "span",
    { class: valid ? "good" : "bad", "data-verified": valid ? "valid" : "invalid" },
    t(valid ? "verifiedOk" : "verifiedBad", { when: formatInstant(event.at) }),
  );
}

function geofenceText(geofence) {
  if (!geofence) return label("geofence", "unknown");
  const text = label("geofence", geofence.status);
  if (geofence.status === "outside" && geofence.distance_m !== null && geofence.distance_m !== undefined) {
    return h("span", { class: "bad" }, `${text}（${formatDistance(geofence.distance_m)}）`);
  }
  return h("span", { class: geofence.status === "inside" ? "good" : "muted" }, text);
}

function actorText(actor) {
  if (!actor) return "";
  return [actor.user, actor.device].filter(Boolean).join(" · ");
}

function detailsText(details) {
  if (!details || typeof details !== "object") return "";
  return Object.entries(details)
    .map(([key, value]) => `${key}: ${typeof value === "object" ? JSON.stringify(value) : value}`)
    .join("；");
}

export function custodyTimeline(entries) {
  if (!entries.length) return h("p", { class: "muted" }, t("custodyEmpty"));
  return h(
    "ol",
    { class: "timeline" },
    entries.map(({ log_index: logIndex, event }) =>
      h(
        "li",
        { class: "custody-event", "data-action": event.action, "data-seq": event.seq },
        h("span", { class: "event-time" }, formatInstant(event.at)),
        h("span", { class: `event-action action-${event.action}` }, `${event.seq}. ${label("action", event.action)}`),
        facts(
          [
            [t("actor"), actorText(event.actor)],
            [t("place"), event.place ? formatPlace(event.place) : null],
            [t("logIndex"), String(logIndex)],
            [t("signer"), h("code", { class: "hex", title: event.signer }, shortHex(event.signer))],
            [t("details"), detailsText(event.details)],
          ],
          "facts compact",
        ),
      ),
    ),
  );
}

function itemArticle(item, index) {
  const verification = h("span", { class: "verification-state" }, t("loading"));
  const panelId = `custody-${index}`;
  const panel = h("div", { class: "custody-panel", id: panelId });
  panel.hidden = true;
  const toggle = h(
    "button",
    { type: "button", class: "secondary custody-toggle", "aria-expanded": "false", "aria-controls": panelId },
    t("showCustody"),
  );
  toggle.addEventListener("click", async () => {
    const open = toggle.getAttribute("aria-expanded") === "true";
    toggle.setAttribute("aria-expanded", String(!open));
    toggle.textContent = open ? t("showCustody") : t("hideCustody");
    panel.hidden = open;
    if (!open) {
      panel.replaceChildren(h("p", { class: "loading" }, t("loading")));
      try {
        panel.replaceChildren(h("h4", {}, t("custody")), custodyTimeline(await custodyOf(item.id)));
      } catch (error) {
        panel.replaceChildren(errorBox(error));
      }
    }
  });
  const article = h(
    "article",
    { class: "item", id: `item-${index}`, "data-item-id": item.id, tabindex: -1 },
    h("h3", {}, h("span", { class: "chip" }, label("kind", item.kind)), " ", item.name),
    facts([
      [t("itemId"), h("code", {}, item.id)],
      [
        t("captured"),
        item.captured_at
          ? [formatGivenTime(item.captured_at), h("span", { class: "source" }, `${t("timeSource")}：${label("timeSource", item.time_source) || "—"}`)]
          : h("span", { class: "muted" }, t("noTime")),
      ],
      [
        t("place"),
        item.location
          ? [formatPlace(item.location), h("span", { class: "source" }, `${t("placeSource")}：${label("placeSource", item.location.source)}`)]
          : h("span", { class: "muted" }, t("noPlace")),
      ],
      [t("sha256"), h("code", { class: "sha256", "data-sha256": item.sha256 }, item.sha256)],
      [t("size"), formatBytes(item.size)],
      [t("geofence"), geofenceText(item.geofence)],
      [t("verification"), verification],
    ]),
    toggle,
    panel,
  );
  article.verification = verification;
  return article;
}

/** Fill in each item's verification state from its custody chain, a few requests at a time. */
async function loadVerificationStates(articles, isCurrent) {
  const queue = [...articles];
  const worker = async () => {
    while (queue.length && isCurrent()) {
      const article = queue.shift();
      try {
        const entries = await custodyOf(article.dataset.itemId);
        article.verification.replaceChildren(verificationText(lastVerification(entries)));
      } catch {
        article.verification.replaceChildren(h("span", { class: "muted" }, t("verifyUnknown")));
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

function readingsSection(readings, alerts) {
  const section = h("section", { class: "card", "aria-labelledby": "readings-title" }, heading(t("readings"), 2, "readings-title"));
  if (!readings.length) {
    section.append(h("p", { class: "muted" }, t("noReadings")));
    return section;
  }
  const channels = new Map();
  for (const reading of readings) {
    const key = `${reading.device}\u0000${reading.code}\u0000${reading.kind}`;
    if (!channels.has(key)) channels.set(key, []);
    channels.get(key).push(reading);
  }
  const limits = new Map();
  for (const alert of alerts) if (alert.limit && !limits.has(alert.code)) limits.set(alert.code, alert.limit);
  for (const channel of channels.values()) {
    const ids = new Set(channel.map((r) => r.id));
    const own = alerts.filter((a) => ids.has(a.reading_id));
    section.append(readingsChart(channel, own, limits.get(channel[0].code) || null));
  }
  if (alerts.length) {
    const english = document.documentElement.lang === "en";
    section.append(
      h("h3", {}, t("alerts")),
      h("p", { class: "small" }, t("indicative")),
      h(
        "ul",
        { class: "alerts" },
        alerts.map((a) => h("li", { class: "alert", "data-alert-id": a.id }, english ? a.message_en : a.message_zh)),
      ),
    );
  }
  return section;
}

export async function caseView(id, { isCurrent }) {
  const path = `/cases/${encodeURIComponent(id)}`;
  custodyCache.clear();
  const [kase, sites, visits, items, config] = await Promise.all([
    getJson(path),
    getAll(`${path}/sites`),
    getAll(`${path}/visits`),
    getAll(`${path}/items`),
    appConfig(),
  ]);
  let readingsPart;
  try {
    const [readings, alerts] = await Promise.all([getAll(`${path}/readings`), getAll(`${path}/alerts`)]);
    readingsPart = readingsSection(readings, alerts);
  } catch (error) {
    readingsPart = h("section", { class: "card" }, heading(t("readings"), 2), errorBox(error));
  }

  const siteNames = new Map(sites.map((site) => [site.id, site.name]));
  const overview = h(
    "section",
    { class: "card", "aria-labelledby": "overview-title" },
    heading(t("caseOverview"), 2, "overview-title"),
    facts([
      [t("caseNumber"), kase.number],
      [t("stage"), stageChip(kase.stage)],
      [t("nextStages"), (kase.next_stages || []).map((s) => label("stage", s)).join("、")],
      [t("type"), label("caseType", kase.type)],
      [t("domain"), label("domain", kase.domain)],
      [t("urgent"), kase.urgent ? h("strong", { class: "urgent-text" }, "✓") : null],
      [t("unit"), kase.unit],
      [t("createdAt"), formatInstant(kase.created_at)],
      [t("createdBy"), kase.created_by],
      [t("description"), kase.description],
    ]),
    heading(t("deadlines"), 3),
    kase.deadlines && kase.deadlines.length
      ? h("ul", { class: "plain" }, kase.deadlines.map((d) => h("li", {}, deadlineLine(d))))
      : h("p", { class: "muted" }, t("noDeadline")),
  );

  const sitesPart = h(
    "section",
    { class: "card", "aria-labelledby": "sites-title" },
    heading(t("sites"), 2, "sites-title"),
    sites.length
      ? h(
          "ul",
          { class: "plain" },
          sites.map((site) =>
            h("li", { "data-site-id": site.id }, h("strong", {}, site.name), facts([[t("address"), site.address], [t("area"), formatArea(site.area_m2)]], "facts compact")),
          ),
        )
      : h("p", { class: "muted" }, t("noSites")),
    heading(t("visits"), 3),
    visits.length
      ? h(
          "ul",
          { class: "plain" },
          visits.map((visit) =>
            h(
              "li",
              { "data-visit-id": visit.id },
              h("strong", {}, `${siteNames.get(visit.site) || visit.site}：${formatInstant(visit.started_at)} – ${formatInstant(visit.ended_at)}`),
              facts(
                [
                  [t("investigators"), (visit.investigators || []).join("、")],
                  [t("devices"), (visit.devices || []).join("、")],
                  [t("note"), visit.note],
                ],
                "facts compact",
              ),
            ),
          ),
        )
      : h("p", { class: "muted" }, t("noVisits")),
  );

  const articles = items.map((item, index) => itemArticle(item, index));
  const byId = new Map(articles.map((article) => [article.dataset.itemId, article]));
  const select = (itemId) => {
    const article = byId.get(itemId);
    if (!article) return;
    articles.forEach((a) => a.classList.remove("selected"));
    article.classList.add("selected");
    article.scrollIntoView({ block: "center" });
    article.focus({ preventScroll: true });
  };
  const mapPart = h(
    "section",
    { class: "card", "aria-labelledby": "map-heading" },
    heading(t("map"), 2, "map-heading"),
    caseMap(sites, items, select, config.tiles),
  );
  const evidencePart = h(
    "section",
    { class: "card", "aria-labelledby": "evidence-title" },
    heading(`${t("evidence")}（${items.length}）`, 2, "evidence-title"),
    items.length ? h("div", { class: "items" }, articles) : h("p", { class: "muted" }, t("noItems")),
  );

  const view = h(
    "div",
    { class: "case-page", "data-case-id": kase.id },
    h("p", { class: "crumbs" }, h("a", { href: "#/cases" }, `← ${t("back")}`)),
    heading(kase.title, 1, "case-title"),
    h(
      "p",
      { class: "actions" },
      mayCapture() ? h("a", { class: "button", href: `#/cases/${kase.id}/capture`, id: "capture-link" }, t("captureLink")) : null,
      " ",
      h("a", { class: "button", href: `#/cases/${kase.id}/verify` }, t("verifyLink")),
    ),
    overview,
    sitesPart,
    mapPart,
    evidencePart,
    readingsPart,
  );
  view.afterMount = () => loadVerificationStates(articles, isCurrent);
  return view;
}

