// 登录 Login: username and password for POST /auth/token; the token is kept in localStorage.

import { h } from "../dom.js";
import { t } from "../i18n.js";
import { logIn } from "../api.js";
import { heading } from "./common.js";

export function loginView({ message, onDone }) {
  const error = h("p", { class: "error", role: "alert", id: "login-error" }, message || "");
  error.hidden = !message;
  const username = h("input", {
    id: "login-username",
    name: "username",
    type: "text",
    autocomplete: "username",
    autocapitalize: "none",
    spellcheck: "false",
    required: true,
  });
  const password = h("input", {
    id: "login-password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const button = h("button", { type: "submit", class: "primary" }, t("loginButton"));
  const show = (text) => {
    error.textContent = text;
    error.hidden = false;
  };
  const form = h(
    "form",
    { class: "login-form", novalidate: true, "aria-describedby": "login-error" },
    h("div", { class: "field" }, h("label", { for: "login-username" }, t("username")), username),
    h("div", { class: "field" }, h("label", { for: "login-password" }, t("password")), password),
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!username.value.trim() || !password.value) {
      show(t("loginMissing"));
      return;
    }
    button.disabled = true;
    error.hidden = true;
    try {
      await logIn(username.value.trim(), password.value);
      onDone();
    } catch (failure) {
      password.value = "";
      if (failure.status === 401) show(t("loginWrong"));
      else if (failure.status === 0 || failure.code === "offline") show(t("loginOffline"));
      else show(t("error", { message: failure.message }));
      password.focus();
    } finally {
      button.disabled = false;
    }
  });
  const view = h(
    "section",
    { class: "card login-card", "aria-labelledby": "login-title" },
    heading(t("loginTitle"), 1, "login-title"),
    h("p", { class: "hint" }, t("loginHint")),
    error,
    form,
  );
  view.focusTarget = username;
  return view;
}
