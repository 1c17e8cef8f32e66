// Operators: the audit log (who did what, before → after, why) and the ledger as CSV for a chosen period.
(function () {
  "use strict";

  var P = window.Phim;
  var A = window.PhimAdmin;
  var t = P.t;
  var STEP = 100;
  var MAXIMUM = 1000;

  var userId = new URLSearchParams(window.location.search).get("user_id") || "";
  var limit = STEP;

  var rows = document.getElementById("audit-rows");
  var more = document.getElementById("audit-more");
  var since = document.getElementById("export-since");
  var until = document.getElementById("export-until");
  var link = document.getElementById("export-link");
  var exportError = document.getElementById("export-error");

  // ------------------------------------------------------------ Ledger CSV

  function pad(value) { return (value < 10 ? "0" : "") + value; }

  function localDate(date) {
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate());
  }

  // The API's `until` is exclusive; the form's is the last day included, so the link asks for the day after.
  function dayAfter(text) {
    var parts = text.split("-").map(Number);
    return new Date(Date.UTC(parts[0], parts[1] - 1, parts[2] + 1)).toISOString().slice(0, 10);
  }

  function valid(text) { return /^\d{4}-\d{2}-\d{2}$/.test(text); }

  function updateLink() {
    var from = since.value, to = until.value;
    var problem = "";
    if ((from && !valid(from)) || (to && !valid(to))) problem = t("admin.export.invalid");
    else if (from && to && from > to) problem = t("admin.export.order");
    P.showInline(exportError, problem);
    if (problem) {
      link.removeAttribute("href");
      link.setAttribute("aria-disabled", "true");
      return;
    }
    var query = [];
    if (from) query.push("since=" + from);
    if (to) query.push("until=" + dayAfter(to));
    link.href = "/api/v1/admin/ledger.csv" + (query.length ? "?" + query.join("&") : "");
    link.removeAttribute("aria-disabled");
    link.setAttribute("download", "phim-ledger" + (from ? "-" + from : "") + (to ? "-" + to : "") + ".csv");
  }

  var today = new Date();
  since.value = localDate(new Date(today.getFullYear(), today.getMonth(), 1));
  until.value = localDate(today);
  since.max = until.value;
  until.max = until.value;
  [since, until].forEach(function (field) {
    field.addEventListener("input", updateLink);
    field.addEventListener("change", updateLink);
  });
  document.getElementById("export-form").addEventListener("submit", function (event) { event.preventDefault(); });
  link.addEventListener("click", function (event) {
    if (link.getAttribute("aria-disabled") === "true") event.preventDefault();
  });
  updateLink();

  // ------------------------------------------------------------ Audit log

  function load() {
    var path = "/audit?limit=" + limit + (userId ? "&user_id=" + encodeURIComponent(userId) : "");
    return A.api("GET", path).then(function (answer) {
      var entries = (answer && answer.data) || [];
      A.clear(rows);
      entries.forEach(function (entry) { rows.appendChild(A.auditRow(entry, { target: true })); });
      document.getElementById("audit-loading").hidden = true;
      document.getElementById("audit-wrap").hidden = entries.length === 0;
      document.getElementById("audit-empty").hidden = entries.length > 0;
      more.hidden = entries.length < limit || limit >= MAXIMUM;
      if (userId) {
        var named = entries.filter(function (entry) { return entry.target_user_id === userId && entry.target; })[0];
        var who = document.getElementById("audit-filter-user");
        who.textContent = named ? named.target : userId;
        who.href = "/admin/user?id=" + encodeURIComponent(userId);
        document.getElementById("audit-filter").hidden = false;
      }
    });
  }

  more.addEventListener("click", function () {
    more.disabled = true;
    limit = Math.min(limit + STEP, MAXIMUM);
    load().catch(P.showError).then(function () { more.disabled = false; });
  });

  P.start({ admin: true, page: "admin" }).then(function () {
    updateLink();
    return load();
  }).catch(P.showError);
})();
