// The field app: hash routing between the screens, the header (user, language, logout), the offline banner and
// the service worker (sw.js) that keeps the app and the last API answers for use without a network.

import { h, formatInstant } from "./dom.js";
import { t, lang, setLang, applyLang, label } from "./i18n.js";
import { token, me, logOut, onUnauthorized, takeStale, refreshMe, mayCapture, mayReadCampaign } from "./api.js";
import { errorBox, loadingNote } from "./views/common.js";
import { loginView } from "./views/login.js";
import { casesView } from "./views/cases.js";
import { caseView } from "./views/case.js";
import { verifyView } from "./views/verify.js";
import { campaignView } from "./views/campaign.js";
import { captureView, outboxView } from "./views/capture.js";
import { startUploader, runUploader } from "./uploader.js";

const main = document.getElementById("main");
const header = document.getElementById("topbar");
const banner = document.getElementById("offline-banner");
const footer = document.getElementById("footer");
const LAST_CASE = "fieldproof.lastCase";
let renderCount = 0;
let loginMessage = null;
let serviceWorkerReady = false;

function route() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean);
  if (parts[0] === "login") return { name: "login" };
  if (parts[0] === "campaign") return { name: "campaign", params: new URLSearchParams(query) };
  if (parts[0] === "outbox") return { name: "outbox" };
  if (parts[0] === "cases" && parts[1] && parts[2] === "capture") return { name: "capture", id: parts[1] };
  if (parts[0] === "cases" && parts[1] && parts[2] === "verify") return { name: "verify", id: parts[1] };
  if (parts[0] === "cases" && parts[1]) return { name: "case", id: parts[1] };
  return { name: "cases" };
}

function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function renderHeader() {
  const who = token() ? me() : null;
  const langButton = h(
    "button",
    { type: "button", id: "lang-switch", class: "secondary", lang: lang() === "en" ? "zh-CN" : "en", "aria-label": t("langSwitchLabel") },
    t("langSwitch"),
  );
  langButton.addEventListener("click", () => {
    setLang(lang() === "en" ? "zh" : "en");
    render();
    document.getElementById("lang-switch")?.focus();
  });
  const parts = [
    h("a", { class: "brand", href: who ? "#/cases" : "#/login" }, h("img", { src: "icons/icon.svg", alt: "", width: 32, height: 32 }), h("span", {}, t("appName"))),
  ];
  const tools = h("div", { class: "tools" });
  if (who) {
    const logout = h("button", { type: "button", class: "secondary", id: "logout" }, t("logout"));
    logout.addEventListener("click", async () => {
      await logOut();
      loginMessage = null;
      go("#/login");
    });
    tools.append(
      h(
        "p",
        { class: "who" },
        h("span", { class: "visually-hidden" }, t("signedInAs")),
        h("span", { class: "who-name" }, who.display_name ? (lang() === "en" ? `${who.display_name} (${who.username})` : `${who.display_name}（${who.username}）`) : who.username),
        h("span", { class: "who-unit" }, who.unit_name || who.unit),
        h("span", { class: "who-role chip" }, label("role", who.role)),
      ),
    );
    tools.append(logout);
  }
  tools.append(langButton);
  parts.push(tools);
  header.replaceChildren(...parts);
  const where = route();
  const caseId = where.id || localStorage.getItem(LAST_CASE);
  const nav = who
    ? h(
        "nav",
        { "aria-label": lang() === "en" ? "Main" : "主导航", class: "nav" },
        h("a", { href: "#/cases", "aria-current": where.name === "cases" ? "page" : null }, t("myCases")),
        caseId && mayCapture()
          ? h("a", { href: `#/cases/${caseId}/capture`, id: "nav-capture", "aria-current": where.name === "capture" ? "page" : null }, t("captureLink"))
          : null,
        mayReadCampaign()
          ? h("a", { href: "#/campaign", id: "nav-campaign", "aria-current": where.name === "campaign" ? "page" : null }, t("campaignTitle"))
          : null,
        h("a", { href: "#/outbox", id: "nav-outbox", "aria-current": where.name === "outbox" ? "page" : null }, t("outbox")),
      )
    : null;
  if (nav) header.append(nav);
}

function renderFooter() {
  footer.replaceChildren(
    h("p", { class: "small" }, t("footerCapture")),
    serviceWorkerReady ? h("p", { class: "small", id: "sw-status" }, t("swReady")) : null,
  );
}

function updateBanner() {
  banner.textContent = t("offline");
  banner.hidden = navigator.onLine;
}

async function render() {
  const current = ++renderCount;
  const isCurrent = () => current === renderCount;
  applyLang();
  document.title = t("appName");
  updateBanner();
  const where = route();
  if (!token() && where.name !== "login") {
    go("#/login");
    return;
  }
  if (token() && where.name === "login") {
    go("#/cases");
    return;
  }
  renderHeader();
  renderFooter();
  takeStale();
  if (where.name === "login") {
    const view = loginView({
      message: loginMessage,
      onDone: () => {
        loginMessage = null;
        go("#/cases");
        runUploader(); // captures of this user kept from before (a logout, an expired token) are sent now
      },
    });
    main.replaceChildren(view);
    view.focusTarget.focus();
    return;
  }
  main.replaceChildren(loadingNote());
  let view;
  try {
    if (where.name === "cases") view = await casesView();
    else if (where.name === "case") view = await caseView(where.id, { isCurrent });
    else if (where.name === "capture") view = await captureView(where.id);
    else if (where.name === "outbox") view = await outboxView();
    else if (where.name === "campaign") view = await campaignView(where.params);
    else view = await verifyView(where.id);
    if (where.id) localStorage.setItem(LAST_CASE, where.id);
  } catch (error) {
    if (!isCurrent()) return;
    if (error.status === 401) return; // handled: back to the login
    const retry = h("button", { type: "button", class: "secondary" }, t("retry"));
    retry.addEventListener("click", render);
    main.replaceChildren(errorBox(error), retry);
    return;
  }
  if (!isCurrent()) return;
  const stale = takeStale();
  main.replaceChildren(stale ? h("p", { class: "stale", role: "status" }, t("staleNote", { when: formatInstant(stale) })) : "", view);
  main.querySelector("h1")?.focus({ preventScroll: true });
  if (typeof view.afterMount === "function") view.afterMount();
}

onUnauthorized(async () => {
  await logOut({ revoke: false });
  loginMessage = t("loginExpired");
  go("#/login");
});

window.addEventListener("hashchange", render);
window.addEventListener("online", () => {
  updateBanner();
  if (token()) refreshMe().then(renderHeader, () => {});
});
window.addEventListener("offline", updateBanner);
document.getElementById("skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("sw.js", { scope: "./" }).catch(() => {});
  navigator.serviceWorker.ready.then(() => {
    serviceWorkerReady = true;
    renderFooter();
    document.documentElement.dataset.offlineReady = "true";
  });
}

render();
startUploader();
