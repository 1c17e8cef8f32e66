// Operators: every account's videos (by state, model and age), the stuck ones, failures grouped by
// reason, and "ask the provider now" for one unfinished video.
(function () {
  "use strict";

  var P = window.Phim;
  var A = window.PhimAdmin;
  var el = P.el;
  var t = P.t;
  var setText = P.setText;

  var LIMIT = 200;
  var UNFINISHED = ["queued", "submitting", "pending", "processing"];
  var STATUSES = ["queued", "submitting", "pending", "processing", "completed", "failed", "canceled"];
  var FAILURES = {
    provider_failed: "admin.failure.provider_failed", content_rejected: "admin.failure.content_rejected",
    provider_error: "admin.failure.provider_error", submission_unconfirmed: "admin.failure.submission_unconfirmed",
    timed_out: "admin.failure.timed_out", deadline_exceeded: "admin.failure.deadline_exceeded",
    missing_result: "admin.failure.missing_result", model_unavailable: "admin.failure.model_unavailable",
    queue_timeout: "admin.failure.queue_timeout"
  };

  var form = document.getElementById("filters");
  var stateSelect = document.getElementById("filter-state");
  var modelSelect = document.getElementById("filter-model");
  var hoursSelect = document.getElementById("filter-hours");
  var rows = document.getElementById("videos-rows");
  var count = document.getElementById("videos-count");
  var empty = document.getElementById("videos-empty");
  var loading = document.getElementById("videos-loading");
  var wrap = document.getElementById("videos-wrap");
  var stuckNote = document.getElementById("stuck-note");
  var generation = 0;

  // The catalog (offered and retired models), from the admin API: the filter's choices and the rows' names.
  var catalog = [];

  function modelOf(id) {
    return catalog.filter(function (model) { return model.id === id; })[0] || null;
  }

  function modelName(model) { return model.name[P.language()] || model.name.vi || model.id; }

  function fillModels() {
    var chosen = modelSelect.value;
    Array.prototype.forEach.call(modelSelect.querySelectorAll("option[value]:not([value=''])"), function (option) { option.remove(); });
    catalog.forEach(function (model) {
      var option = el("option", "", { value: model.id });
      setText(option, model.retired ? "admin.videos.model_option_retired" : "admin.videos.model_option", { name: modelName(model), id: model.id });
      modelSelect.appendChild(option);
    });
    if (chosen && modelSelect.querySelector('option[value="' + CSS.escape(chosen) + '"]')) modelSelect.value = chosen;
  }

  function loadModels() {
    return A.api("GET", "/models").then(function (answer) {
      catalog = (answer && answer.models) || [];
      fillModels();
    }, function () { catalog = []; });
  }

  // The options' words hold the models' names: rebuild them on a language switch.
  P.onLanguage(function () { fillModels(); if (catalog.length) load(); });

  // ------------------------------------------------------------ The view in the address

  function view() {
    var checked = document.querySelector('input[name="view"]:checked');
    return checked ? checked.value : "all";
  }

  function readAddress() {
    var query = new URLSearchParams(window.location.search);
    var wanted = query.get("view") === "stuck" ? "stuck" : "all";
    document.querySelector('input[name="view"][value="' + wanted + '"]').checked = true;
    [[stateSelect, "state"], [modelSelect, "model"], [hoursSelect, "hours"]].forEach(function (pair) {
      var value = query.get(pair[1]) || "";
      if (pair[0].querySelector('option[value="' + CSS.escape(value) + '"]')) pair[0].value = value;
    });
  }

  function writeAddress() {
    var query = new URLSearchParams();
    if (view() === "stuck") query.set("view", "stuck");
    else {
      if (stateSelect.value) query.set("state", stateSelect.value);
      if (modelSelect.value) query.set("model", modelSelect.value);
      if (hoursSelect.value) query.set("hours", hoursSelect.value);
    }
    var text = query.toString();
    history.replaceState(null, "", "/admin/videos" + (text ? "?" + text : ""));
  }

  // ------------------------------------------------------------ Rows

  function cell(labelKey, className) {
    var node = el("td", className || "");
    if (labelKey) node.appendChild(setText(el("span", "cell-label"), labelKey));
    return node;
  }

  function timeOrDash(iso) {
    if (iso) return P.timeElement(iso);
    var dash = el("span", "faint");
    dash.textContent = "—";
    return dash;
  }

  function renderRow(video, note) {
    var unfinished = UNFINISHED.indexOf(video.status) >= 0;
    var tr = el("tr", video.deleted ? "deleted" : "", { "data-id": video.id, "data-status": video.status, "data-model": video.model || "",
                                                         "data-testid": "video-row" });
    var what = el("td", "what-video");
    var line = el("div", "who-line");
    var id = el("code", "video-id", { title: video.id });
    id.textContent = String(video.id).slice(0, 8);
    line.appendChild(id);
    if (video.deleted) line.appendChild(setText(el("span", "mark mark-deleted", { "data-testid": "mark-deleted" }), "admin.videos.deleted"));
    what.appendChild(line);
    var prompt = el("span", "video-prompt");
    prompt.textContent = video.prompt || "";
    prompt.title = video.prompt || "";
    what.appendChild(prompt);
    if (video.failure) {
      var failure = el("span", "failure-line", { "data-testid": "failure" });
      failure.textContent = video.failure.message || video.failure.code || "";
      if (video.failure.provider_code) failure.title = String(video.failure.provider_code) + (video.failure.provider_message ? " · " + video.failure.provider_message : "");
      what.appendChild(failure);
    }
    tr.appendChild(what);

    var owner = cell(null, "owner");
    var link = el("a", "account-link", { href: "/admin/?q=" + encodeURIComponent(video.owner_email || "") });
    link.textContent = video.owner_email || "";
    owner.appendChild(link);
    tr.appendChild(owner);

    var status = cell(null, "status");
    var known = STATUSES.indexOf(video.status) >= 0 ? video.status : "pending";
    status.appendChild(setText(el("span", "badge badge-" + known, { "data-testid": "status" }), "status." + known));
    if (unfinished && typeof video.progress === "number" && video.progress > 0) {
      status.appendChild(document.createTextNode(" "));
      status.appendChild(setText(el("span", "muted small-note"), "card.percent", { value: Math.round(video.progress) }));
    }
    tr.appendChild(status);

    var model = cell(null, "model");
    var known = modelOf(video.model);
    var name = el("span", "model-name");
    name.textContent = known ? modelName(known) : video.model || "";
    model.appendChild(name);
    var options = el("span", "specs model-options-line");
    [video.aspect_ratio, video.duration ? t("duration.seconds", { seconds: video.duration }) : null, video.resolution,
     typeof video.audio === "boolean" ? t(video.audio ? "card.sound_on" : "card.sound_off") : null].forEach(function (part) {
      if (part) options.appendChild(el("span", "")).textContent = part;
    });
    model.appendChild(options);
    var code = el("code", "model-id");
    code.textContent = video.model || "";
    model.appendChild(code);
    tr.appendChild(model);

    var price = cell("admin.col.price", "num price-cell");
    if (typeof video.price_credits === "number") price.appendChild(A.number(video.price_credits, "price-value"));
    tr.appendChild(price);

    var created = cell("admin.col.created", "when");
    created.appendChild(timeOrDash(video.created_at));
    tr.appendChild(created);

    var heard = cell("admin.col.last_heard", "when heard");
    heard.appendChild(timeOrDash(video.last_heard_at));
    tr.appendChild(heard);

    var actions = el("td", "num actions");
    if (unfinished) {
      var ask = setText(el("button", "button small secondary", { type: "button", "data-action": "reconcile", "data-testid": "reconcile" }),
                        "admin.videos.reconcile");
      P.setAttr(ask, "title", "admin.videos.reconcile_hint");
      ask.addEventListener("click", function () { reconcile(video, tr, ask); });
      actions.appendChild(ask);
    }
    if (note) actions.appendChild(note);
    tr.appendChild(actions);
    return tr;
  }

  // What the provider said, in words, under the button.
  function resultNote(result) {
    var node = el("p", "reconcile-result", { "data-testid": "reconcile-result", role: "status" });
    result = result || {};
    node.dataset.asked = String(result.asked === true);
    if (result.reason === "asked_recently") setText(node, "admin.reconcile.asked_recently");
    else if (result.reason === "no_provider_task") setText(node, "admin.reconcile.no_task");
    else if (result.provider_code !== undefined && result.provider_code !== null) {
      setText(node, "admin.reconcile.refused", { code: String(result.provider_code), message: result.provider_message || "" });
    } else if (result.changed) setText(node, "admin.reconcile.changed", { state: result.provider_state || "" });
    else setText(node, "admin.reconcile.unchanged", { state: result.provider_state || "" });
    if (!result.asked) node.classList.add("not-asked");
    else if (result.changed) node.classList.add("changed");
    return node;
  }

  function reconcile(video, tr, button) {
    button.disabled = true;
    button.classList.add("working");
    A.api("POST", "/videos/" + encodeURIComponent(video.id) + "/reconcile").then(function (answer) {
      var fresh = renderRow((answer && answer.video) || video, resultNote(answer && answer.result));
      if (answer && answer.result && answer.result.changed) fresh.classList.add("changed");
      tr.replaceWith(fresh);
      var next = fresh.querySelector('[data-action="reconcile"]');
      if (next) next.focus();
    }, function (error) {
      button.disabled = false;
      button.classList.remove("working");
      P.showError(error);
    });
  }

  // ------------------------------------------------------------ Loading

  function load() {
    var mine = ++generation;
    var stuck = view() === "stuck";
    form.hidden = stuck;
    stuckNote.hidden = !stuck;
    loading.hidden = false;
    var path = "/videos/stuck";
    if (!stuck) {
      var query = new URLSearchParams();
      if (stateSelect.value) query.set("state", stateSelect.value);
      if (modelSelect.value) query.set("model", modelSelect.value);
      if (hoursSelect.value) query.set("hours", hoursSelect.value);
      query.set("limit", String(LIMIT));
      path = "/videos?" + query.toString();
    }
    return A.api("GET", path).then(function (answer) {
      if (mine !== generation) return;
      var list = (answer && answer.data) || [];
      A.clear(rows);
      list.forEach(function (video) { rows.appendChild(renderRow(video)); });
      loading.hidden = true;
      wrap.hidden = list.length === 0;
      empty.hidden = list.length > 0;
      setText(empty, stuck ? "admin.videos.stuck_empty" : "admin.videos.empty");
      if (stuck) setText(count, "admin.videos.stuck_count", { count: list.length });
      else if (list.length >= LIMIT) setText(count, "admin.videos.count_limited", { count: list.length });
      else setText(count, "admin.videos.count", { count: list.length });
      count.hidden = list.length === 0;
    }, function (error) {
      if (mine !== generation) return;
      loading.hidden = true;
      P.showError(error);
    });
  }

  form.addEventListener("change", function () { writeAddress(); load(); });
  form.addEventListener("submit", function (event) { event.preventDefault(); writeAddress(); load(); });
  Array.prototype.forEach.call(document.querySelectorAll('input[name="view"]'), function (input) {
    input.addEventListener("change", function () { writeAddress(); load(); });
  });

  // ------------------------------------------------------------ Failures

  function loadFailures() {
    return A.api("GET", "/failures?hours=24").then(function (answer) {
      var list = (answer && answer.data) || [];
      var body = A.clear(document.getElementById("failures-rows"));
      list.forEach(function (group) {
        var tr = el("tr", "", { "data-reason": group.reason, "data-testid": "failure-row" });
        var reason = cell(null, "reason-name");
        var name = el("strong", "");
        if (Object.prototype.hasOwnProperty.call(FAILURES, group.reason)) setText(name, FAILURES[group.reason]);
        else name.textContent = group.reason;
        reason.appendChild(name);
        var raw = el("code", "model-id");
        raw.textContent = group.reason;
        reason.appendChild(raw);
        tr.appendChild(reason);
        var code = cell("admin.failures.col.provider_code", "provider-code");
        if (group.provider_code !== null && group.provider_code !== undefined) code.appendChild(el("code", "")).textContent = String(group.provider_code);
        else code.appendChild(el("span", "faint")).textContent = "—";
        tr.appendChild(code);
        var number = el("td", "num count");
        number.appendChild(A.number(group.count, "failure-count"));
        tr.appendChild(number);
        var example = cell(null, "example");
        example.appendChild(el("span", "muted")).textContent = group.example || "";
        tr.appendChild(example);
        var latest = cell("admin.failures.col.latest", "when");
        latest.appendChild(timeOrDash(group.latest_at));
        tr.appendChild(latest);
        body.appendChild(tr);
      });
      document.getElementById("failures-loading").hidden = true;
      document.getElementById("failures-wrap").hidden = list.length === 0;
      document.getElementById("failures-empty").hidden = list.length > 0;
    }, function (error) {
      document.getElementById("failures-loading").hidden = true;
      P.showError(error);
    });
  }

  P.start({ admin: true, page: "admin" }).then(function () {
    return loadModels();
  }).then(function () {
    readAddress();
    loadFailures();
    return load();
  }).catch(P.showError);
})();
