// Operators: what was made over the last 7, 30 or 90 days, per day and model (outcomes, credits
// charged against the provider's estimated bill), the money top-ups brought in per day (VND) beside
// that day's estimated provider cost, and the most used style presets and prompt words.
(function () {
  "use strict";

  var P = window.Phim;
  var A = window.PhimAdmin;
  var el = P.el;
  var setText = P.setText;

  var DAYS = [7, 30, 90];
  var presets = {};   // style key -> preset, for its name in the page's language
  var models = {};    // catalog id -> model (admin API), for its name
  var last = null;    // the last answer, drawn again on a language switch
  var loading = 0;

  function chosenDays() {
    var input = document.querySelector('input[name="days"]:checked');
    var days = input ? Number(input.value) : 30;
    return DAYS.indexOf(days) >= 0 ? days : 30;
  }

  function percent(rate) {
    return String(Math.round((Number(rate) || 0) * 1000) / 10);
  }

  function numberCell(value, labelKey) {
    var cell = el("td", "num");
    cell.appendChild(setText(el("span", "cell-label"), labelKey));
    cell.appendChild(A.number(Number(value) || 0));
    return cell;
  }

  function styleName(key) {
    var preset = Object.prototype.hasOwnProperty.call(presets, key) ? presets[key] : null;
    if (!preset) return String(key);
    return (P.language() === "en" ? preset.name_en : preset.name_vi) || String(key);
  }

  function topList(list, items, emptyId, nameOf) {
    A.clear(list);
    items.forEach(function (item) {
      var row = el("li", "top-item", { "data-testid": "top-item" });
      var name = el("span", "top-name");
      name.textContent = nameOf(item);
      name.title = name.textContent;
      row.appendChild(name);
      row.appendChild(setText(el("span", "top-uses muted"), "admin.analytics.uses", { count: Number(item.uses) || 0 }));
      list.appendChild(row);
    });
    list.hidden = items.length === 0;
    document.getElementById(emptyId).hidden = items.length > 0;
  }

  // One row per day that had top-ups or videos, newest first: revenue in VND beside the credits
  // charged and the provider's estimated cost of that day's videos.
  function renderRevenue(revenue, rows) {
    var days = {};
    function day(key) {
      if (!days[key]) days[key] = { amount: 0, topups: 0, sold: 0, charged: 0, cost: 0 };
      return days[key];
    }
    var total = 0;
    var topups = 0;
    revenue.forEach(function (entry) {
      var d = day(String(entry.day || ""));
      d.amount += Number(entry.amount_vnd) || 0;
      d.topups += Number(entry.topups) || 0;
      d.sold += Number(entry.credits_sold) || 0;
      total += Number(entry.amount_vnd) || 0;
      topups += Number(entry.topups) || 0;
    });
    rows.forEach(function (entry) {
      var d = day(String(entry.day || ""));
      d.charged += Number(entry.credits_charged) || 0;
      d.cost += Number(entry.provider_cost_estimate) || 0;
    });
    var body = A.clear(document.getElementById("revenue-rows"));
    var keys = Object.keys(days).sort().reverse();
    keys.forEach(function (key) {
      var d = days[key];
      var tr = el("tr", "", { "data-testid": "revenue-row", "data-day": key, "data-amount": String(d.amount) });
      var when = el("td", "when");
      when.textContent = key;
      tr.appendChild(when);
      var amount = el("td", "num revenue-amount");
      amount.appendChild(setText(el("span", "cell-label"), "admin.analytics.col.revenue"));
      amount.appendChild(setText(el("span", ""), "topup.vnd", { amount: d.amount }));
      tr.appendChild(amount);
      tr.appendChild(numberCell(d.topups, "admin.analytics.col.topups"));
      tr.appendChild(numberCell(d.sold, "admin.analytics.col.credits_sold"));
      tr.appendChild(numberCell(d.charged, "admin.analytics.col.credits"));
      tr.appendChild(numberCell(Math.round(d.cost * 1000) / 1000, "admin.analytics.col.cost"));
      body.appendChild(tr);
    });
    document.getElementById("revenue-wrap").hidden = keys.length === 0;
    document.getElementById("revenue-empty").hidden = keys.length > 0;
    var totalNode = document.getElementById("total-revenue");
    totalNode.dataset.amount = String(total);
    setText(totalNode, "topup.vnd", { amount: total });
    setText(document.getElementById("total-topups"), "admin.analytics.topups_count", { count: topups });
  }

  function render(report) {
    last = report;
    var rows = (report && report.by_day_and_model) || [];
    var totals = { made: 0, completed: 0, failed: 0, canceled: 0, credits: 0, cost: 0 };
    var body = A.clear(document.getElementById("days-rows"));
    rows.forEach(function (entry) {
      totals.made += Number(entry.made) || 0;
      totals.completed += Number(entry.completed) || 0;
      totals.failed += Number(entry.failed) || 0;
      totals.canceled += Number(entry.canceled) || 0;
      totals.credits += Number(entry.credits_charged) || 0;
      totals.cost += Number(entry.provider_cost_estimate) || 0;
      var tr = el("tr", "", { "data-testid": "analytics-row", "data-day": entry.day, "data-model": entry.model });
      var day = el("td", "when");
      day.textContent = String(entry.day || "");
      tr.appendChild(day);
      var model = el("td", "model");
      if (models[entry.model]) {
        var named = el("span", "model-name");
        named.textContent = models[entry.model].name[P.language()] || models[entry.model].name.vi;
        model.appendChild(named);
      }
      var code = el("code", "");
      code.textContent = String(entry.model || "");
      model.appendChild(code);
      tr.appendChild(model);
      tr.appendChild(numberCell(entry.made, "admin.analytics.col.made"));
      tr.appendChild(numberCell(entry.completed, "admin.analytics.col.completed"));
      tr.appendChild(numberCell(entry.failed, "admin.analytics.col.failed"));
      tr.appendChild(numberCell(entry.canceled, "admin.analytics.col.canceled"));
      var rate = el("td", "num");
      rate.appendChild(setText(el("span", "cell-label"), "admin.analytics.col.success"));
      rate.appendChild(setText(el("span", "rate"), "admin.provider.percent", { value: percent(entry.success_rate) }));
      tr.appendChild(rate);
      tr.appendChild(numberCell(entry.credits_charged, "admin.analytics.col.credits"));
      tr.appendChild(numberCell(entry.provider_cost_estimate, "admin.analytics.col.cost"));
      body.appendChild(tr);
    });
    document.getElementById("days-wrap").hidden = rows.length === 0;
    document.getElementById("days-empty").hidden = rows.length > 0;

    P.setNumber(document.getElementById("total-made"), totals.made);
    setText(document.getElementById("total-outcomes"), "admin.analytics.outcomes",
            { completed: totals.completed, failed: totals.failed, canceled: totals.canceled });
    // Of the videos that ended, the share that succeeded (the unfinished ones are not counted yet).
    var ended = totals.completed + totals.failed + totals.canceled;
    var success = document.getElementById("total-success");
    if (ended > 0) setText(success, "admin.provider.percent", { value: percent(totals.completed / ended) });
    else setText(success, "admin.analytics.no_rate");
    success.classList.toggle("bad", ended > 0 && totals.completed / ended < 0.9);
    P.setNumber(document.getElementById("total-credits"), totals.credits);
    P.setNumber(document.getElementById("total-cost"), Math.round(totals.cost * 1000) / 1000); // Kie credits have fractions

    renderRevenue((report && report.revenue) || [], rows);

    topList(document.getElementById("top-styles"), (report && report.top_styles) || [], "styles-empty",
            function (item) { return styleName(item.key); });
    topList(document.getElementById("top-words"), (report && report.top_words) || [], "words-empty",
            function (item) { return String(item.word); });
    document.getElementById("analytics-loading").hidden = true;
    document.getElementById("analytics-body").hidden = false;
  }

  function load() {
    var ticket = ++loading;
    document.getElementById("analytics-body").classList.add("stale");
    return A.api("GET", "/analytics?days=" + chosenDays()).then(function (report) {
      if (ticket === loading) render(report || {});
    }, P.showError).then(function () {
      if (ticket === loading) document.getElementById("analytics-body").classList.remove("stale");
    });
  }

  document.querySelector(".days-switch").addEventListener("change", load);
  P.onLanguage(function () { if (last) render(last); });

  P.start({ admin: true, page: "admin" }).then(function () {
    // Style names are a nicety: without them the keys show.
    var names = A.api("GET", "/styles").then(function (answer) {
      ((answer && answer.data) || []).forEach(function (preset) { presets[preset.key] = preset; });
    }, function () {});
    // So are the models' names (from the catalog, retired ones included).
    var catalog = A.api("GET", "/models").then(function (answer) {
      ((answer && answer.models) || []).forEach(function (model) { models[model.id] = model; });
    }, function () {});
    return Promise.all([names, catalog]).then(load);
  }).catch(P.showError);
})();
