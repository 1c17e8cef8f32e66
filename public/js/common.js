// Shared by every page: translations, the JSON API wrapper, the header (balance, nav, language, sign out) and alerts.
(function () {
  "use strict";

  var LANGUAGES = ["vi", "en"];
  var LANGUAGE_LABELS = { vi: { short: "lang.vi_short", name: "lang.vi" }, en: { short: "lang.en_short", name: "lang.en" } };
  var STORAGE_KEY = "phim.lang";
  var strings = {};
  var cache = {};
  var languageListeners = [];
  var meListeners = [];
  var requireSignIn = false;
  var lang = storedLanguage();
  document.documentElement.lang = lang;

  function storedLanguage() {
    try {
      var value = localStorage.getItem(STORAGE_KEY);
      return LANGUAGES.indexOf(value) >= 0 ? value : "vi";
    } catch (error) {
      return "vi"; // storage can be refused (private windows); Vietnamese is the default anyway
    }
  }

  // ------------------------------------------------------------ Words and numbers

  // Grouped by hand: Intl's Vietnamese data is missing from some browsers. A fraction (Kie's list
  // prices: 14.4 credits) keeps up to three digits after the language's decimal mark.
  function formatNumber(value) {
    var parts = String(Math.round(Math.abs(value) * 1000) / 1000).split(".");
    var grouped = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, lang === "en" ? "," : ".");
    if (parts[1]) grouped += (lang === "en" ? "." : ",") + parts[1];
    return (value < 0 ? "−" : "") + grouped;
  }

  function formatSigned(value) {
    return value > 0 ? "+" + formatNumber(value) : formatNumber(value);
  }

  function formatTime(iso) {
    var when = new Date(iso);
    if (isNaN(when)) return "";
    try {
      return new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "vi-VN", { dateStyle: "medium", timeStyle: "short" }).format(when);
    } catch (error) {
      return when.toLocaleString();
    }
  }

  // The text for a key, with {name} placeholders filled in (numbers grouped for the language).
  function t(key, params) {
    var text = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
    if (!params) return text;
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      if (!Object.prototype.hasOwnProperty.call(params, name)) return whole;
      var value = params[name];
      return typeof value === "number" ? formatNumber(value) : String(value);
    });
  }

  // Puts a translated text in a node and remembers the key, so a language switch can redo it.
  function setText(node, key, params) {
    node.dataset.i18n = key;
    if (params) node.dataset.i18nArgs = JSON.stringify(params);
    else delete node.dataset.i18nArgs;
    node.textContent = t(key, params);
    return node;
  }

  var ATTRIBUTES = { placeholder: "i18nPlaceholder", title: "i18nTitle", "aria-label": "i18nAriaLabel", alt: "i18nAlt" };

  function setAttr(node, attribute, key, params) {
    node.dataset[ATTRIBUTES[attribute]] = key;
    if (params) node.dataset.i18nArgs = JSON.stringify(params);
    node.setAttribute(attribute, t(key, params));
    return node;
  }

  // Shows a number, kept raw in data-value for scripts and tests, regrouped on a language switch.
  function setNumber(node, value) {
    node.dataset.value = String(value);
    node.textContent = formatNumber(value);
    return node;
  }

  function timeElement(iso) {
    var node = document.createElement("time");
    node.dateTime = iso;
    node.textContent = formatTime(iso);
    node.title = iso;
    return node;
  }

  function argsOf(node) {
    if (!node.dataset.i18nArgs) return undefined;
    try { return JSON.parse(node.dataset.i18nArgs); } catch (error) { return undefined; }
  }

  // Applies the current language to every marked node under root.
  function translate(root) {
    root = root || document;
    var marked = root.querySelectorAll("[data-i18n], [data-i18n-placeholder], [data-i18n-title], [data-i18n-aria-label], [data-i18n-alt]");
    Array.prototype.forEach.call(marked, function (node) {
      var params = argsOf(node);
      if (node.dataset.i18n) node.textContent = t(node.dataset.i18n, params);
      Object.keys(ATTRIBUTES).forEach(function (attribute) {
        var key = node.dataset[ATTRIBUTES[attribute]];
        if (key) node.setAttribute(attribute, t(key, params));
      });
    });
    Array.prototype.forEach.call(root.querySelectorAll("[data-value]"), function (node) {
      if (node.dataset.value !== "" && !isNaN(Number(node.dataset.value))) node.textContent = formatNumber(Number(node.dataset.value));
    });
    Array.prototype.forEach.call(root.querySelectorAll("time[datetime]"), function (node) {
      node.textContent = formatTime(node.getAttribute("datetime"));
    });
    var titleKey = document.documentElement.dataset.i18nDoctitle;
    if (root === document && titleKey) document.title = t(titleKey) + " · Phim";
  }

  function loadStrings(language) {
    if (cache[language]) return Promise.resolve(cache[language]);
    return fetch("/i18n/" + language + ".json", { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) throw new Error("i18n " + response.status);
      return response.json();
    }).then(function (loaded) {
      cache[language] = loaded;
      return loaded;
    });
  }

  function setLanguage(language) {
    if (LANGUAGES.indexOf(language) < 0 || language === lang) return Promise.resolve();
    return loadStrings(language).then(function (loaded) {
      lang = language;
      strings = loaded;
      try { localStorage.setItem(STORAGE_KEY, language); } catch (error) { /* kept for this page only */ }
      document.documentElement.lang = language;
      translate(document);
      syncLanguageSwitch();
      languageListeners.forEach(function (listener) { listener(language); });
    });
  }

  // ------------------------------------------------------------ The API

  function cookie(name) {
    var found = null;
    document.cookie.split(";").forEach(function (part) {
      var index = part.indexOf("=");
      if (index > 0 && part.slice(0, index).trim() === name) found = decodeURIComponent(part.slice(index + 1).trim());
    });
    return found;
  }

  function ApiError(status, detail) {
    var fallback = status === 0 ? t("error.network") : status === 429 ? t("error.too_many_requests") : t("error.unexpected", { status: status });
    var error = new Error(detail.message || fallback);
    error.status = status;
    error.code = detail.code || (status === 0 ? "network" : "unexpected");
    error.detail = detail;
    return error;
  }

  // Calls /api/v1 with the session cookie, the CSRF header and the chosen language.
  // Resolves with the JSON answer (null for 204 and 304); rejects with an error carrying the server's message.
  function api(method, path, options) {
    options = options || {};
    var headers = { "Accept": "application/json", "Accept-Language": lang };
    if (method !== "GET" && method !== "HEAD") {
      // On https the server names its cookies with the __Host- prefix.
      var token = cookie("__Host-phim_csrf") || cookie("phim_csrf");
      if (token) headers["X-CSRF-Token"] = token;
    }
    Object.keys(options.headers || {}).forEach(function (name) { headers[name] = options.headers[name]; });
    var init = { method: method, headers: headers, credentials: "same-origin", cache: "no-store" };
    if (typeof FormData !== "undefined" && options.body instanceof FormData) {
      init.body = options.body;
    } else if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
      headers["Content-Type"] = "application/json";
    }
    return fetch("/api/v1" + path, init).then(function (response) {
      if (response.status === 204 || response.status === 304) return null;
      return response.json().catch(function () { return null; }).then(function (json) {
        if (response.ok) return json;
        if (response.status === 401 && requireSignIn && !options.allowUnauthenticated) {
          window.location.replace("/signin");
          return new Promise(function () {}); // the page is going away: show nothing
        }
        throw ApiError(response.status, (json && json.error) || {});
      });
    }, function () {
      throw ApiError(0, {});
    });
  }

  // A random v4 UUID; crypto.randomUUID exists only on secure origins.
  function uuid() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  // ------------------------------------------------------------ DOM helpers

  function el(tag, className, attributes) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    return node;
  }

  var SVG = "http://www.w3.org/2000/svg";

  // A small line icon from path data (no markup strings).
  function icon(paths, size) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", String(size || 20));
    svg.setAttribute("height", String(size || 20));
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", "icon");
    paths.forEach(function (d) {
      var path = document.createElementNS(SVG, "path");
      path.setAttribute("d", d);
      svg.appendChild(path);
    });
    return svg;
  }

  // ------------------------------------------------------------ Alerts

  var toasts = null;

  // A message in the corner: errors stay until dismissed, the rest fade after a few seconds.
  function toast(kind, message, link) {
    if (!toasts) {
      toasts = el("div", "toasts", { "aria-live": "polite", "id": "toasts" });
      document.body.appendChild(toasts);
    }
    var box = el("div", "alert alert-" + kind, { "role": kind === "error" ? "alert" : "status" });
    var words = el("span", "alert-text");
    words.textContent = message;
    box.appendChild(words);
    if (link) {
      var anchor = el("a", "alert-link", { href: link.href });
      setText(anchor, link.key);
      box.appendChild(anchor);
    }
    var close = el("button", "alert-close", { type: "button" });
    setAttr(close, "aria-label", "common.dismiss");
    close.textContent = "×";
    close.addEventListener("click", function () { box.remove(); });
    box.appendChild(close);
    toasts.appendChild(box);
    while (toasts.children.length > 3) toasts.firstElementChild.remove();
    if (kind !== "error") setTimeout(function () { box.remove(); }, 5000);
    return box;
  }

  function showError(error) {
    if (error && error.code === "insufficient_credits") return toast("error", error.message, { href: "/credits", key: "common.see_credits" });
    return toast("error", error && error.message ? error.message : t("error.network"));
  }

  // An inline message in a given element (forms): text from the server or from a key.
  function showInline(node, message) {
    node.textContent = message || "";
    node.hidden = !message;
  }

  // ------------------------------------------------------------ Header

  var me = null;

  function updateBalance(account) {
    if (!account) return;
    me = account;
    var available = document.getElementById("balance-available");
    var held = document.getElementById("balance-held");
    if (available && typeof account.credits === "number") setNumber(available, account.credits);
    if (held && typeof account.credits_on_hold === "number") setNumber(held, account.credits_on_hold);
    var email = document.getElementById("user-email");
    if (email && account.email) {
      email.textContent = account.email;
      email.title = account.email;
    }
    meListeners.forEach(function (listener) { listener(account); });
  }

  function refreshMe() {
    return api("GET", "/me").then(function (account) { updateBalance(account); return account; });
  }

  function syncLanguageSwitch() {
    Array.prototype.forEach.call(document.querySelectorAll(".lang-switch button"), function (button) {
      button.setAttribute("aria-pressed", button.dataset.lang === lang ? "true" : "false");
    });
  }

  function languageSwitch() {
    var group = el("div", "lang-switch", { role: "group" });
    setAttr(group, "aria-label", "lang.label");
    LANGUAGES.forEach(function (language) {
      var button = el("button", "", { type: "button", "data-lang": language, "data-testid": "lang-" + language });
      setText(button, LANGUAGE_LABELS[language].short);
      setAttr(button, "title", LANGUAGE_LABELS[language].name);
      button.addEventListener("click", function () {
        setLanguage(language).catch(function () { toast("error", t("error.network")); });
      });
      group.appendChild(button);
    });
    return group;
  }

  var NAV = [
    { page: "studio", href: "/", key: "nav.studio" },
    { page: "credits", href: "/credits", key: "nav.credits" },
    { page: "keys", href: "/keys", key: "nav.keys" },
    { page: "admin", href: "/admin/", key: "nav.admin", adminOnly: true }
  ];

  function buildHeader(page, signedIn, account) {
    var isAdmin = !!(account && account.is_admin === true);
    var header = el("header", "topbar", { id: "topbar" });
    var brand = el("a", "brand", { href: signedIn ? "/" : "/signin" });
    brand.appendChild(el("img", "", { src: "/favicon.svg", alt: "", width: "28", height: "28" }));
    var name = el("span", "brand-name");
    name.textContent = "Phim";
    brand.appendChild(name);
    header.appendChild(brand);

    if (signedIn) {
      var nav = el("nav", "nav", { id: "nav" });
      setAttr(nav, "aria-label", "nav.label");
      NAV.forEach(function (item) {
        if (item.adminOnly && !isAdmin) return;
        var link = el("a", "", { href: item.href, "data-page": item.page, "data-testid": "nav-" + item.page });
        setText(link, item.key);
        if (item.page === page) link.setAttribute("aria-current", "page");
        nav.appendChild(link);
      });
      header.appendChild(nav);

      var balance = el("a", "balance", { href: "/credits", id: "balance", "data-testid": "balance" });
      setAttr(balance, "title", "header.balance_hint");
      var main = el("span", "balance-main");
      var label = el("span", "balance-label");
      setText(label, "header.balance");
      var available = el("strong", "", { id: "balance-available", "data-value": "" });
      available.textContent = "…";
      main.appendChild(label);
      main.appendChild(document.createTextNode(" "));
      main.appendChild(available);
      var heldLine = el("span", "balance-held");
      var heldLabel = el("span", "");
      setText(heldLabel, "header.on_hold");
      var held = el("span", "", { id: "balance-held", "data-value": "" });
      held.textContent = "…";
      heldLine.appendChild(heldLabel);
      heldLine.appendChild(document.createTextNode(" "));
      heldLine.appendChild(held);
      balance.appendChild(main);
      balance.appendChild(heldLine);
      header.appendChild(balance);
      // Buying credits sits beside the balance it raises.
      var topup = el("a", "topup-link", { href: "/topup", id: "topup-link", "data-testid": "topup-link" });
      setText(topup, "header.topup");
      setAttr(topup, "title", "header.topup_hint");
      if (page === "topup") topup.setAttribute("aria-current", "page");
      header.appendChild(topup);
    }

    var end = el("div", "topbar-end");
    if (signedIn) {
      var email = el("span", "user-email", { id: "user-email" });
      end.appendChild(email);
    }
    end.appendChild(languageSwitch());
    if (signedIn) {
      var signOut = el("button", "button ghost small signout", { type: "button", id: "signout", "data-testid": "signout" });
      setText(signOut, "nav.signout");
      signOut.addEventListener("click", function () {
        signOut.disabled = true;
        // Leave only once the session is gone: with the cookie still valid, /signin would send us back.
        api("POST", "/auth/logout").then(function () {
          window.location.replace("/signin");
        }, function (error) {
          signOut.disabled = false;
          showError(error);
        });
      });
      end.appendChild(signOut);
    }
    header.appendChild(end);
    document.body.insertBefore(header, document.body.firstChild);
    syncLanguageSwitch();
  }

  // ------------------------------------------------------------ Not found

  // Replaces the page's content with a plain "not found" (what the operators' pages show to anyone
  // but an administrator, as the admin API answers 404 to them).
  function notFound() {
    Array.prototype.forEach.call(document.querySelectorAll("main"), function (node) { node.remove(); });
    document.documentElement.dataset.i18nDoctitle = "page.not_found";
    var box = el("main", "page not-found", { id: "not-found", "data-testid": "not-found" });
    var inner = el("section", "empty");
    inner.appendChild(el("div", "empty-art not-found-art", { "aria-hidden": "true" }));
    inner.appendChild(setText(el("h1", ""), "notfound.heading"));
    inner.appendChild(setText(el("p", "muted"), "notfound.text"));
    var home = setText(el("a", "button secondary", { href: "/" }), "notfound.home");
    inner.appendChild(el("p", "not-found-actions")).appendChild(home);
    box.appendChild(inner);
    var header = document.getElementById("topbar");
    if (header) header.after(box);
    else document.body.insertBefore(box, document.body.firstChild);
    translate(document);
  }

  // ------------------------------------------------------------ Start

  // Loads the words (and, on signed-in pages, the account), builds the header and shows the page.
  // Resolves with the account (or null on the sign-in pages).
  // With options.admin, anyone but an administrator (signed out included) gets "not found" and the
  // promise never settles: the page has nothing else to do.
  function start(options) {
    var adminOnly = !!options.admin;
    requireSignIn = !!options.signedIn && !adminOnly;
    var words = loadStrings(lang).catch(function () {
      lang = "vi";
      document.documentElement.lang = lang;
      return loadStrings("vi");
    }).then(function (loaded) { strings = loaded; });
    var account = adminOnly
      ? api("GET", "/me", { allowUnauthenticated: true }).catch(function (error) { if (error.status === 401) return null; throw error; })
      : requireSignIn ? api("GET", "/me") : Promise.resolve(null);
    return Promise.all([words, account]).then(function (results) {
      var signedIn = adminOnly ? !!results[1] : requireSignIn;
      buildHeader(options.page, signedIn, results[1]);
      if (adminOnly && !(results[1] && results[1].is_admin === true)) {
        notFound();
        if (results[1]) updateBalance(results[1]);
        document.documentElement.classList.add("ready");
        return new Promise(function () {});
      }
      if (adminOnly) {
        requireSignIn = true; // from here on, a session that ends sends the operator to sign in again
        Array.prototype.forEach.call(document.querySelectorAll("main[data-admin]"), function (node) { node.hidden = false; });
      }
      translate(document);
      if (results[1]) updateBalance(results[1]);
      document.documentElement.classList.add("ready");
      return results[1];
    }, function (error) {
      // No words or no server: still show the page, with the error.
      buildHeader(options.page, false);
      translate(document);
      document.documentElement.classList.add("ready");
      showError(error);
      throw error;
    });
  }

  window.Phim = {
    t: t,
    setText: setText,
    setAttr: setAttr,
    setNumber: setNumber,
    timeElement: timeElement,
    translate: translate,
    formatNumber: formatNumber,
    formatSigned: formatSigned,
    formatTime: formatTime,
    api: api,
    uuid: uuid,
    el: el,
    icon: icon,
    toast: toast,
    showError: showError,
    showInline: showInline,
    refreshMe: refreshMe,
    updateBalance: updateBalance,
    start: start,
    notFound: notFound,
    language: function () { return lang; },
    me: function () { return me; },
    onLanguage: function (listener) { languageListeners.push(listener); },
    onMe: function (listener) { meListeners.push(listener); }
  };
})();
