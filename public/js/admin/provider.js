// Operators: the provider's health over the last hour (calls, errors, latency, last success and
// error), its balance with a clear warning when it runs low, the creates per model over 24 hours
// and the models the provider refuses now.
(function () {
  "use strict";

  var P = window.Phim;
  var A = window.PhimAdmin;
  var el = P.el;
  var t = P.t;
  var setText = P.setText;

  // The provider calls and outcomes as the server counts them; others are shown as they come.
  var CALLS = { create_task: "admin.provider.call.create", record_info: "admin.provider.call.record", credit: "admin.provider.call.credit",
                download_url: "admin.provider.call.download_url" };
  var OUTCOMES = { ok: "admin.provider.outcome.ok", unreachable: "admin.provider.outcome.unreachable",
                   ambiguous: "admin.provider.outcome.ambiguous", invalid_response: "admin.provider.outcome.invalid_response" };

  var refresh = document.getElementById("provider-refresh");

  function named(table, value, className) {
    var node = el("span", className || "");
    if (Object.prototype.hasOwnProperty.call(table, value)) setText(node, table[value]);
    else if (/^rejected_\d+$/.test(String(value))) setText(node, "admin.provider.outcome.rejected", { code: String(value).slice(9) });
    else node.textContent = String(value);
    return node;
  }

  function event(node, happened, withDetail) {
    A.clear(node);
    if (!happened) {
      node.appendChild(setText(el("span", "faint"), "admin.provider.never"));
      return;
    }
    node.appendChild(P.timeElement(happened.at));
    node.appendChild(document.createTextNode(" · "));
    node.appendChild(named(CALLS, happened.call, "event-call"));
    if (withDetail && happened.detail) {
      var detail = el("code", "event-detail");
      detail.textContent = happened.detail;
      node.appendChild(detail);
    }
  }

  function percent(rate) {
    return Math.round((Number(rate) || 0) * 1000) / 10;
  }

  function render(health) {
    var low = document.getElementById("provider-low");
    var lowText = document.getElementById("provider-low-text");
    var balance = document.getElementById("provider-balance");
    var box = document.querySelector('[data-testid="provider-balance-box"]');
    if (typeof health.balance === "number") {
      P.setNumber(balance, health.balance);
    } else {
      balance.dataset.value = "";
      balance.textContent = "—";
    }
    setText(document.getElementById("provider-threshold"), "admin.provider.threshold", { amount: health.low_balance_threshold || 0 });
    if (typeof health.balance !== "number") {
      setText(lowText, "admin.provider.balance_unknown", { error: health.balance_error || "" });
    } else if (health.balance_low) {
      setText(lowText, "admin.provider.balance_low", { balance: health.balance, threshold: health.low_balance_threshold || 0 });
    }
    low.hidden = !(health.balance_low || typeof health.balance !== "number");
    box.classList.toggle("is-low", !!health.balance_low);

    setText(document.getElementById("provider-calls-label"), "admin.provider.calls", { minutes: health.window_minutes || 60 });
    P.setNumber(document.getElementById("provider-calls"), health.calls || 0);
    setText(document.getElementById("provider-failures"), "admin.provider.failures", { count: health.failures || 0 });
    var rate = document.getElementById("provider-error-rate");
    setText(rate, "admin.provider.percent", { value: String(percent(health.error_rate)) });
    rate.classList.toggle("bad", (health.error_rate || 0) >= 0.1);
    setText(document.getElementById("provider-latency"), "admin.provider.latency",
            { average: String(Math.round(health.average_ms || 0)), slowest: String(Math.round(health.slowest_ms || 0)) });

    event(document.getElementById("provider-last-success"), health.last_success, false);
    event(document.getElementById("provider-last-error"), health.last_error, true);

    var rows = A.clear(document.getElementById("outcome-rows"));
    (health.by_outcome || []).forEach(function (entry) {
      var tr = el("tr", "", { "data-outcome": entry.outcome, "data-testid": "outcome-row" });
      var name = el("td", entry.outcome === "ok" ? "outcome ok" : "outcome failed");
      name.appendChild(named(OUTCOMES, entry.outcome));
      tr.appendChild(name);
      var calls = el("td", "num");
      calls.appendChild(A.number(entry.calls || 0));
      tr.appendChild(calls);
      rows.appendChild(tr);
    });
    var none = !(health.by_outcome || []).length;
    document.getElementById("outcomes-empty").hidden = !none;
    document.getElementById("outcomes-table").hidden = none;
    renderByModel(health.creates_by_model || []);
    renderPaused(health.unavailable_models || []);
    document.getElementById("provider-loading").hidden = true;
    document.getElementById("provider-body").hidden = false;
  }

  // The catalog's models by their provider ids, to name the creates (a provider id no model has is shown as it is).
  var catalog = [];

  function catalogName(providerId) {
    var found = null;
    catalog.forEach(function (model) {
      Object.keys(model.provider_models || {}).forEach(function (mode) {
        if (!found && model.provider_models[mode] === providerId) found = model;
      });
    });
    return found;
  }

  function modelCell(model, code) {
    var cell = el("td", "model");
    if (model) {
      var link = el("a", "model-name", { href: "/admin/models#model-" + encodeURIComponent(model.id) });
      link.textContent = model.name[P.language()] || model.name.vi || model.id;
      cell.appendChild(link);
    }
    cell.appendChild(el("code", "model-id")).textContent = code;
    return cell;
  }

  function renderByModel(entries) {
    var body = A.clear(document.getElementById("by-model-rows"));
    entries.forEach(function (entry) {
      var tr = el("tr", "", { "data-model": entry.model, "data-testid": "by-model-row" });
      tr.appendChild(modelCell(catalogName(entry.model), String(entry.model)));
      tr.appendChild(el("td", "num")).appendChild(A.number(entry.calls || 0));
      var errors = el("td", "num" + (entry.errors ? " bad" : ""));
      errors.appendChild(A.number(entry.errors || 0));
      tr.appendChild(errors);
      body.appendChild(tr);
    });
    document.getElementById("by-model-empty").hidden = entries.length > 0;
    document.getElementById("by-model-table").hidden = entries.length === 0;
  }

  function renderPaused(entries) {
    var box = A.clear(document.getElementById("paused-list"));
    entries.forEach(function (entry) {
      var model = catalog.filter(function (m) { return m.id === entry.id; })[0];
      var item = el("li", "paused-item", { "data-model": entry.id, "data-testid": "paused-model" });
      var name = el("a", "model-name", { href: "/admin/models#model-" + encodeURIComponent(entry.id) });
      name.textContent = model ? model.name[P.language()] || model.name.vi : entry.id;
      item.appendChild(name);
      var since = el("span", "muted small-note");
      since.appendChild(setText(el("span", ""), "admin.models.paused_since"));
      since.appendChild(document.createTextNode(" "));
      if (entry.since) since.appendChild(P.timeElement(entry.since));
      item.appendChild(since);
      if (entry.reason) item.appendChild(el("code", "event-detail")).textContent = entry.reason;
      var again = el("span", "muted small-note");
      again.appendChild(setText(el("span", ""), "admin.models.recheck_at"));
      again.appendChild(document.createTextNode(" "));
      if (entry.recheck_at) again.appendChild(P.timeElement(entry.recheck_at));
      item.appendChild(again);
      box.appendChild(item);
    });
    document.getElementById("paused-empty").hidden = entries.length > 0;
    box.hidden = entries.length === 0;
  }

  function load() {
    refresh.disabled = true;
    var models = A.api("GET", "/models").then(function (answer) { catalog = (answer && answer.models) || []; }, function () { catalog = []; });
    return models.then(function () { return A.api("GET", "/provider"); }).then(render, P.showError).then(function () { refresh.disabled = false; });
  }

  refresh.addEventListener("click", load);

  P.start({ admin: true, page: "admin" }).then(load).catch(P.showError);
})();
