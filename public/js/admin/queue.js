// Operators: the admission queue in front of the provider (what waits, for how long, per account;
// what was sent and what runs there; the provider's busy answers) refreshed every few seconds, and
// the two limits the sending keeps to, changed with a reason (audited).
(function () {
  "use strict";

  var P = window.Phim;
  var A = window.PhimAdmin;
  var el = P.el;
  var t = P.t;
  var setText = P.setText;

  var REFRESH_MS = 5000;
  var form = document.getElementById("limits-form");
  var creates = document.getElementById("limit-creates");
  var running = document.getElementById("limit-running");
  var reason = document.getElementById("limit-reason");
  var error = document.getElementById("limits-error");
  var submit = document.getElementById("limits-submit");
  // The limits the form was last filled with: a field the operator has not touched follows the server.
  var shown = null;
  // The last report, drawn again on a language switch (the waits are words inside other words).
  var last = null;

  // A wait in seconds, in seconds up to two minutes, then in whole minutes.
  function wait(node, seconds) {
    seconds = Math.max(0, Number(seconds) || 0);
    if (seconds < 120) return setText(node, "admin.queue.seconds", { seconds: seconds });
    return setText(node, "admin.queue.minutes", { minutes: Math.floor(seconds / 60) });
  }

  function fill(limits) {
    [[creates, "creates_per_10s"], [running, "max_running"]].forEach(function (pair) {
      var input = pair[0];
      if (!shown || input.value.trim() === String(shown[pair[1]])) input.value = String(limits[pair[1]]);
    });
    shown = limits;
  }

  function render(report) {
    last = report;
    var limits = report.limits || {};
    P.setNumber(document.getElementById("queue-length"), report.queued || 0);
    var oldest = A.clear(document.getElementById("queue-oldest"));
    if (typeof report.oldest_wait_seconds === "number") {
      setText(oldest, "admin.queue.oldest", { wait: t(report.oldest_wait_seconds < 120 ? "admin.queue.seconds" : "admin.queue.minutes",
        { seconds: report.oldest_wait_seconds, minutes: Math.floor(report.oldest_wait_seconds / 60) }) });
    } else {
      setText(oldest, "admin.queue.none_waiting");
    }
    P.setNumber(document.getElementById("queue-running"), report.running || 0);
    setText(document.getElementById("queue-running-max"), "admin.queue.running_of", { max: limits.max_running });
    P.setNumber(document.getElementById("queue-sent-minute"), report.sent_last_minute || 0);
    setText(document.getElementById("queue-sent-10s"), "admin.queue.sent_10s", { count: report.sent_last_10_seconds || 0, max: limits.creates_per_10s });
    var busy = P.setNumber(document.getElementById("queue-busy"), report.busy_last_hour || 0);
    busy.classList.toggle("bad", (report.busy_last_hour || 0) > 0);

    setText(document.getElementById("queue-limits"), "admin.queue.limits_value", { creates: limits.creates_per_10s, running: limits.max_running });
    setText(document.getElementById("queue-limits-source"), limits.set_by_operator ? "admin.queue.set_by_operator" : "admin.queue.from_settings");
    var paused = A.clear(document.getElementById("queue-paused"));
    if (report.paused_until) {
      paused.appendChild(setText(el("span", ""), "admin.queue.paused_until"));
      paused.appendChild(document.createTextNode(" "));
      paused.appendChild(P.timeElement(report.paused_until));
    } else {
      setText(paused, "admin.queue.not_paused");
    }
    var dispatcher = A.clear(document.getElementById("queue-dispatcher"));
    if (report.dispatcher) dispatcher.appendChild(el("code", "")).textContent = report.dispatcher;
    else setText(dispatcher, "admin.queue.no_dispatcher");

    var rows = A.clear(document.getElementById("account-rows"));
    var accounts = report.accounts || [];
    accounts.forEach(function (account) {
      var tr = el("tr", "", { "data-user": account.user_id, "data-testid": "queue-account-row" });
      var who = el("td", "who");
      var link = el("a", "", { href: "/admin/user?id=" + encodeURIComponent(account.user_id) });
      link.textContent = account.email;
      who.appendChild(link);
      tr.appendChild(who);
      var queued = el("td", "num queued");
      queued.appendChild(setText(el("span", "cell-label"), "admin.queue.col.queued"));
      queued.appendChild(A.number(account.queued || 0));
      tr.appendChild(queued);
      var oldestCell = el("td", "num oldest");
      oldestCell.appendChild(setText(el("span", "cell-label"), "admin.queue.col.oldest"));
      oldestCell.appendChild(wait(el("span", "wait-value"), account.oldest_wait_seconds));
      tr.appendChild(oldestCell);
      rows.appendChild(tr);
    });
    document.getElementById("accounts-empty").hidden = accounts.length > 0;
    document.getElementById("accounts-wrap").hidden = accounts.length === 0;
    fill(limits);
    document.getElementById("queue-loading").hidden = true;
    document.getElementById("queue-body").hidden = false;
  }

  function load() {
    return A.api("GET", "/queue").then(render);
  }

  // A limit as typed ("40", "1.000", "1 000"); null when it is not a whole number (the server
  // judges the range, and says so in the page's language).
  function limitOf(input) {
    var digits = input.value.replace(/[\s.,_]/g, "");
    return /^\d{1,7}$/.test(digits) ? Number(digits) : null;
  }

  [creates, running, reason].forEach(function (input) { input.addEventListener("input", function () { P.showInline(error, ""); }); });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = {};
    var wrong = null;
    [[creates, "creates_per_10s"], [running, "max_running"]].forEach(function (pair) {
      var value = limitOf(pair[0]);
      if (value === null) wrong = wrong || pair[0];
      else if (!shown || value !== shown[pair[1]]) body[pair[1]] = value;
    });
    if (wrong) {
      P.showInline(error, t("admin.queue.limit_invalid"));
      wrong.focus();
      return;
    }
    if (!Object.keys(body).length) {
      P.showInline(error, t("admin.queue.nothing_changed"));
      creates.focus();
      return;
    }
    body.reason = reason.value.trim();
    if (!body.reason) {
      P.showInline(error, t("admin.reason_required"));
      reason.focus();
      return;
    }
    submit.disabled = true;
    submit.classList.add("working");
    A.api("PUT", "/queue/limits", { body: body }).then(function (report) {
      shown = null;
      render(report);
      reason.value = "";
      P.toast("success", t("admin.queue.saved", { creates: report.limits.creates_per_10s, running: report.limits.max_running }));
    }, function (failure) {
      P.showInline(error, failure.message || t("error.network"));
    }).then(function () {
      submit.disabled = false;
      submit.classList.remove("working");
    });
  });

  P.onLanguage(function () { if (last) render(last); });

  P.start({ admin: true, page: "admin" }).then(function () {
    return load().then(function () {
      window.setInterval(function () {
        if (!document.hidden) load().catch(function () {});
      }, REFRESH_MS);
    });
  }).catch(P.showError);
})();
