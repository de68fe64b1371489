// 校验与导出 Verify and export: POST /cases/{id}/verify, POST /items/{id}/verify (every check with its result and
// reason), and the court package (GET /cases/{id}/package with the bearer token, offered as an object URL).

import { h, formatBytes } from "../dom.js";
import { t, label } from "../i18n.js";
import { getJson, getAll, postJson, getBlob } from "../api.js";
import { heading, errorBox } from "./common.js";

let packageUrl = null;

export function checksList(checks) {
  return h(
    "ul",
    { class: "checks" },
    checks.map((check) =>
      h(
        "li",
        { class: `check ${check.ok ? "ok" : "fail"}`, "data-ok": String(check.ok === true), "data-step": check.step },
        h("span", { class: "check-mark", "aria-hidden": "true" }, check.ok ? "✓" : "✗"),
        h("span", { class: "check-step" }, label("check", check.step)),
        h("span", { class: "check-result" }, check.ok ? t("checkOk") : t("checkFail")),
        h("span", { class: "check-detail" }, check.detail || ""),
      ),
    ),
  );
}

function itemResult(result, item) {
  return h(
    "div",
    { class: "item-result", "data-item-id": result.item_id, "data-valid": String(result.valid === true) },
    h(
      "h4",
      {},
      item ? [h("span", { class: "chip" }, label("kind", item.kind)), ` ${item.name} `] : null,
      h("code", {}, result.item_id),
      " ",
      h("span", { class: result.valid ? "good" : "bad" }, result.valid ? t("itemValid") : t("itemInvalid")),
    ),
    checksList(result.checks || []),
  );
}

function logStoreCheck(problems) {
  const list = problems || [];
  return {
    step: "log-store",
    ok: list.length === 0,
    detail: list.length ? list.map((p) => (typeof p === "string" ? p : JSON.stringify(p))).join("; ") : t("logStoreOk"),
  };
}

function caseResult(result, itemsById) {
  const store = checksList([logStoreCheck(result.log_problems)]);
  store.querySelector(".check-step").textContent = t("logStore");
  return h(
    "div",
    { class: "case-result", "data-valid": String(result.valid === true) },
    h("p", { class: `verdict ${result.valid ? "good" : "bad"}`, role: "status" }, result.valid ? t("caseValid") : t("caseInvalid")),
    store,
    (result.items || []).map((one) => itemResult(one, itemsById.get(one.item_id))),
  );
}

/** A button that runs `action` and shows what it returns (or why it failed) in `out`. */
function actionButton(text, busyText, out, action, className = "primary") {
  const button = h("button", { type: "button", class: className }, text);
  button.addEventListener("click", async () => {
    if (!navigator.onLine) {
      out.replaceChildren(h("p", { class: "error", role: "alert" }, t("needOnline")));
      return;
    }
    button.disabled = true;
    out.replaceChildren(h("p", { class: "loading", role: "status" }, busyText));
    try {
      out.replaceChildren(await action());
    } catch (error) {
      out.replaceChildren(errorBox(error, { offlineText: t("needOnline") }));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

export async function verifyView(id) {
  const path = `/cases/${encodeURIComponent(id)}`;
  const [kase, items] = await Promise.all([getJson(path), getAll(`${path}/items`)]);

  const itemsById = new Map(items.map((item) => [item.id, item]));
  const caseOut = h("div", { class: "results", id: "case-verification", "aria-live": "polite" });
  const caseButton = actionButton(t("verifyCase"), t("verifying"), caseOut, async () =>
    caseResult(await postJson(`${path}/verify`), itemsById),
  );

  const itemRows = items.map((item) => {
    const out = h("div", { class: "results", "aria-live": "polite" });
    const button = actionButton(
      t("verifyItem"),
      t("verifying"),
      out,
      async () => itemResult(await postJson(`/items/${encodeURIComponent(item.id)}/verify`), item),
      "secondary",
    );
    return h(
      "li",
      { class: "verify-item", "data-item-id": item.id },
      h("p", {}, h("span", { class: "chip" }, label("kind", item.kind)), " ", item.name, " ", h("code", { class: "muted" }, item.id)),
      button,
      out,
    );
  });

  const packageOut = h("div", { class: "results", id: "package-result", "aria-live": "polite" });
  const packageButton = actionButton(t("preparePackage"), t("preparing"), packageOut, async () => {
    const { blob, name } = await getBlob(`${path}/package`);
    if (packageUrl) URL.revokeObjectURL(packageUrl);
    packageUrl = URL.createObjectURL(blob);
    return h(
      "div",
      {},
      h("a", { class: "button download-link", href: packageUrl, download: name }, t("downloadPackage", { name, size: formatBytes(blob.size) })),
      h("p", { class: "small" }, h("code", {}, t("packageVerifyHint", { name }))),
    );
  });

  return h(
    "div",
    { class: "verify-page", "data-case-id": kase.id },
    h("p", { class: "crumbs" }, h("a", { href: `#/cases/${kase.id}` }, `← ${kase.title}`)),
    heading(t("verifyTitle"), 1, "verify-title"),
    h("p", {}, h("strong", {}, kase.number), " ", kase.title),
    h(
      "section",
      { class: "card", "aria-labelledby": "verify-case-title" },
      heading(t("verifyCase"), 2, "verify-case-title"),
      h("p", { class: "small" }, t("verifyIntro")),
      caseButton,
      caseOut,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "verify-items-title" },
      heading(t("evidence"), 2, "verify-items-title"),
      items.length ? h("ul", { class: "plain verify-items" }, itemRows) : h("p", { class: "muted" }, t("noItems")),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "package-title" },
      heading(t("package"), 2, "package-title"),
      h("p", { class: "small" }, t("packageIntro")),
      packageButton,
      packageOut,
    ),
  );
}
