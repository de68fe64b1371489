// 我的案件 My cases: every case of the units the user sees (GET /cases, all pages).

import { h, formatInstant } from "../dom.js";
import { t, label } from "../i18n.js";
import { getAll, mayReadCampaign } from "../api.js";
import { heading } from "./common.js";

export function stageChip(stage) {
  return h("span", { class: `chip stage stage-${stage}`, "data-stage": stage }, label("stage", stage));
}

export function deadlineLine(deadline) {
  const parts = [h("span", { class: "deadline-kind" }, label("deadlineKind", deadline.kind)), " ", t("due", { date: deadline.due_date })];
  let state = "running";
  if (deadline.met_at) {
    state = "met";
    parts.push(" · ", h("span", { class: "met" }, t("met", { when: formatInstant(deadline.met_at) })));
  } else if (deadline.overdue) {
    state = "overdue";
    parts.push(" · ", h("strong", { class: "overdue" }, t("overdue")));
  }
  return h("span", { class: `deadline deadline-${state}` }, parts);
}

export function currentDeadlines(kase) {
  return (kase.deadlines || []).filter((d) => !d.met_at);
}

export async function casesView() {
  const cases = await getAll("/cases");
  const list = h("ul", { class: "case-list" });
  for (const kase of cases) {
    const running = currentDeadlines(kase);
    list.append(
      h(
        "li",
        { class: "case-card", "data-case-id": kase.id },
        h(
          "a",
          { href: `#/cases/${kase.id}`, class: "case-link" },
          h("span", { class: "case-title" }, kase.title),
          h("span", { class: "case-number" }, kase.number),
        ),
        h(
          "p",
          { class: "chips" },
          stageChip(kase.stage),
          h("span", { class: "chip" }, label("domain", kase.domain)),
          h("span", { class: "chip" }, label("caseType", kase.type)),
          kase.urgent ? h("span", { class: "chip urgent" }, t("urgent")) : null,
        ),
        h(
          "p",
          { class: "deadlines" },
          running.length ? running.map((d, i) => [i ? "；" : "", deadlineLine(d)]) : h("span", { class: "muted" }, t("noDeadline")),
        ),
      ),
    );
  }
  return h(
    "section",
    { "aria-labelledby": "cases-title" },
    heading(t("myCases"), 1, "cases-title"),
    mayReadCampaign() ? h("p", { class: "campaign-link" }, h("a", { href: "#/campaign", id: "campaign-link" }, t("campaignOpen"))) : null,
    cases.length ? list : h("p", { class: "note" }, t("noCases")),
  );
}
