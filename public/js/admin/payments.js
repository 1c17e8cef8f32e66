// Operators: the bank transfers Phim could not credit by itself (the review queue), each resolved
// with a reason (credit an account, attach to an order, or refunded outside Phim); every account's
// top-up orders; and the journal of the bank's notifications as they arrived.
(function () {
  "use strict";

  var P = window.Phim;
  var A = window.PhimAdmin;
  var el = P.el;
  var t = P.t;
  var setText = P.setText;

  // Tables, not built keys: the translation check sees every key whole.
  var REASONS = {
    other_account: "admin.payments.reason.other_account", missing_code: "admin.payments.reason.missing_code",
    unknown_code: "admin.payments.reason.unknown_code", already_paid: "admin.payments.reason.already_paid",
    canceled_order: "admin.payments.reason.canceled_order", late_payment: "admin.payments.reason.late_payment",
    order_in_review: "admin.payments.reason.order_in_review", short_payment: "admin.payments.reason.short_payment",
    over_payment: "admin.payments.reason.over_payment"
  };
  var REVIEW_STATUS = {
    open: ["admin.payments.review_status.open", "badge-pending"], credited: ["admin.payments.review_status.credited", "badge-completed"],
    attached: ["admin.payments.review_status.attached", "badge-completed"], refunded: ["admin.payments.review_status.refunded", "badge-canceled"]
  };
  var ORDER_STATUS = {
    pending: ["topup.status.pending", "badge-pending"], paid: ["topup.status.paid", "badge-completed"],
    review: ["topup.status.review", "badge-queued"], expired: ["topup.status.expired", "badge-canceled"],
    canceled: ["topup.status.canceled", "badge-canceled"]
  };
  var OUTCOMES = {
    credited: ["admin.payments.outcome.credited", "badge-completed"], review: ["admin.payments.outcome.review", "badge-pending"],
    ignored: ["admin.payments.outcome.ignored", "badge-canceled"]
  };
  var ACTIONS = [["credit", "admin.payments.action.credit"], ["attach", "admin.payments.action.attach"], ["refunded", "admin.payments.action.refunded"]];

  var last = { reviews: null, orders: null, notifications: null };
  var formCount = 0;

  function badge(table, value) {
    var known = Object.prototype.hasOwnProperty.call(table, value) ? table[value] : null;
    var node = el("span", "badge " + (known ? known[1] : "badge-canceled"));
    if (known) setText(node, known[0]);
    else node.textContent = String(value);
    return node;
  }

  function vnd(value) {
    return setText(el("span", "vnd"), "topup.vnd", { amount: Number(value) || 0 });
  }

  function fact(list, labelKey, node) {
    var row = el("div", "");
    row.appendChild(setText(el("dt", ""), labelKey));
    var dd = el("dd", "");
    if (typeof node === "string") dd.textContent = node;
    else if (node) dd.appendChild(node);
    row.appendChild(dd);
    list.appendChild(row);
    return row;
  }

  function code(text) {
    var node = el("code", "");
    node.textContent = String(text == null ? "" : text);
    return node;
  }

  function field(id, labelKey, input) {
    var box = el("div", "field");
    box.appendChild(setText(el("label", "", { "for": id }), labelKey));
    input.id = id;
    box.appendChild(input);
    return box;
  }

  function textInput(name, attributes) {
    var input = el("input", "", Object.assign({ type: "text", name: name, autocomplete: "off", "data-testid": "resolve-" + name }, attributes || {}));
    return input;
  }

  // The form that resolves one open review item.
  function resolveForm(review) {
    var n = ++formCount;
    var form = el("form", "admin-form resolve-form", { novalidate: "", "data-testid": "resolve-form" });
    var choice = el("div", "segmented", { role: "radiogroup" });
    P.setAttr(choice, "aria-label", "admin.payments.resolve_how");
    ACTIONS.forEach(function (pair, index) {
      var label = el("label", "segment");
      var radio = el("input", "", { type: "radio", name: "action-" + n, value: pair[0], "data-testid": "resolve-action-" + pair[0] });
      if (index === (review.order ? 1 : 0)) radio.checked = true;
      label.appendChild(radio);
      label.appendChild(setText(el("span", "segment-label"), pair[1]));
      choice.appendChild(label);
    });
    form.appendChild(choice);
    var email = textInput("email", { maxlength: "254", inputmode: "email" });
    if (review.order && review.order.user_email) email.value = review.order.user_email;
    var credits = textInput("credits", { inputmode: "numeric", maxlength: "15" });
    var orderCode = textInput("order_code", { maxlength: "32", spellcheck: "false" });
    if (review.order && review.order.code) orderCode.value = review.order.code;
    var reason = textInput("reason", { maxlength: "500" });
    var emailField = field("resolve-email-" + n, "admin.payments.email_label", email);
    var creditsField = field("resolve-credits-" + n, "admin.payments.credits_label", credits);
    var codeField = field("resolve-code-" + n, "admin.payments.order_code_label", orderCode);
    form.appendChild(emailField);
    form.appendChild(creditsField);
    form.appendChild(codeField);
    form.appendChild(field("resolve-reason-" + n, "admin.reason", reason));
    var hint = el("p", "muted field-hint resolve-hint");
    form.appendChild(hint);
    var error = el("p", "alert alert-error form-error", { role: "alert", "data-testid": "resolve-error" });
    error.hidden = true;
    form.appendChild(error);
    var actions = el("div", "form-actions");
    var submit = setText(el("button", "button primary", { type: "submit", "data-testid": "resolve-submit" }), "admin.payments.resolve");
    actions.appendChild(submit);
    form.appendChild(actions);

    function chosen() {
      var radio = form.querySelector("input[type=radio]:checked");
      return radio ? radio.value : "credit";
    }
    function sync() {
      var action = chosen();
      emailField.hidden = creditsField.hidden = action !== "credit";
      codeField.hidden = action !== "attach";
      setText(hint, action === "credit" ? "admin.payments.hint.credit" : action === "attach" ? "admin.payments.hint.attach" : "admin.payments.hint.refunded");
      P.showInline(error, "");
    }
    choice.addEventListener("change", sync);
    sync();

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var action = chosen();
      var body = { action: action, reason: reason.value.trim() };
      var problem = null;
      if (action === "credit") {
        body.email = email.value.trim();
        body.credits = A.parseAmount(credits.value);
        if (!body.email) problem = [email, "admin.payments.email_required"];
        else if (body.credits === null) problem = [credits, "admin.payments.credits_invalid"];
      } else if (action === "attach") {
        body.order_code = orderCode.value.trim();
        if (!body.order_code) problem = [orderCode, "admin.payments.order_code_required"];
      }
      if (!problem && !body.reason) problem = [reason, "admin.reason_required"];
      if (problem) {
        P.showInline(error, t(problem[1]));
        problem[0].focus();
        return;
      }
      submit.disabled = true;
      A.api("POST", "/payments/reviews/" + encodeURIComponent(review.id) + "/resolve", { body: body }).then(function () {
        P.toast("success", t("admin.payments.resolved"));
        return loadAll();
      }, function (failure) {
        submit.disabled = false;
        P.showInline(error, failure.message || t("error.network"));
      });
    });
    return form;
  }

  function reviewItem(review) {
    var item = el("article", "panel review-item", { "data-id": String(review.id), "data-status": review.status,
                                                      "data-reason": review.reason, "data-testid": "review-item" });
    var head = el("div", "review-head");
    var reasonKey = REASONS[review.reason];
    var title = el("strong", "review-reason");
    if (reasonKey) setText(title, reasonKey);
    else title.textContent = String(review.reason);
    head.appendChild(title);
    head.appendChild(vnd(review.amount_vnd)).classList.add("review-amount");
    head.appendChild(badge(REVIEW_STATUS, review.status));
    if (review.created_at) head.appendChild(P.timeElement(review.created_at)).classList.add("muted");
    item.appendChild(head);

    var facts = el("dl", "facts review-facts");
    var note = review.notification || {};
    fact(facts, "admin.payments.col.provider", code((note.provider || "") + " #" + (note.provider_txn_id || "")));
    fact(facts, "admin.payments.col.content", note.content || "—");
    if (note.code) fact(facts, "admin.payments.found_code", code(note.code));
    fact(facts, "admin.payments.col.reference", note.reference || "—");
    fact(facts, "admin.payments.col.account", note.account || "—");
    if (note.transaction_time) fact(facts, "admin.payments.col.transaction_time", note.transaction_time);
    if (review.order) {
      var order = el("span", "review-order");
      order.appendChild(code(review.order.code));
      order.appendChild(document.createTextNode(" · " + (review.order.user_email || "") + " · "));
      order.appendChild(vnd(review.order.amount_vnd));
      order.appendChild(document.createTextNode(" · "));
      order.appendChild(setText(el("span", ""), "credits.amount", { amount: Number(review.order.credits) || 0 }));
      order.appendChild(document.createTextNode(" "));
      order.appendChild(badge(ORDER_STATUS, review.order.status));
      fact(facts, "admin.payments.order", order).classList.add("wide");
    }
    if (review.status !== "open") {
      var outcome = el("span", "");
      if (review.resolved_by) outcome.appendChild(document.createTextNode(review.resolved_by + " · "));
      if (review.resolved_at) outcome.appendChild(P.timeElement(review.resolved_at));
      if (typeof review.credits === "number" && review.credits > 0) {
        outcome.appendChild(document.createTextNode(" · "));
        outcome.appendChild(setText(el("span", ""), "credits.amount", { amount: review.credits }));
      }
      if (review.resolution_note) outcome.appendChild(document.createTextNode(" · " + review.resolution_note));
      fact(facts, "admin.payments.resolution", outcome).classList.add("wide");
    }
    item.appendChild(facts);
    if (review.status === "open") item.appendChild(resolveForm(review));
    return item;
  }

  function renderReviews(list) {
    last.reviews = list;
    var box = A.clear(document.getElementById("reviews"));
    list.forEach(function (review) { box.appendChild(reviewItem(review)); });
    document.getElementById("reviews-loading").hidden = true;
    document.getElementById("reviews-empty").hidden = list.length > 0;
  }

  function cell(className, labelKey) {
    var td = el("td", className || "");
    if (labelKey) td.appendChild(setText(el("span", "cell-label"), labelKey));
    return td;
  }

  function renderOrders(list) {
    last.orders = list;
    var rows = A.clear(document.getElementById("admin-order-rows"));
    list.forEach(function (order) {
      var tr = el("tr", "", { "data-id": order.id, "data-code": order.code, "data-status": order.status, "data-testid": "admin-order-row" });
      var when = cell("when");
      if (order.created_at) when.appendChild(P.timeElement(order.created_at));
      tr.appendChild(when);
      tr.appendChild(cell("order-code")).appendChild(code(order.code));
      var who = cell("who");
      if (order.user_id) {
        var link = el("a", "", { href: "/admin/user?id=" + encodeURIComponent(order.user_id) });
        link.textContent = order.user_email || order.user_id;
        who.appendChild(link);
      } else {
        who.textContent = order.user_email || "";
      }
      tr.appendChild(who);
      var name = cell("order-package");
      name.textContent = order.package_name || order.package_id || "";
      tr.appendChild(name);
      tr.appendChild(cell("num", "credits.orders.col.amount")).appendChild(vnd(order.amount_vnd));
      tr.appendChild(cell("num", "credits.orders.col.credits")).appendChild(A.number(Number(order.credits) || 0));
      tr.appendChild(cell("")).appendChild(badge(ORDER_STATUS, order.status));
      var receipt = cell("note");
      var paidAt = (order.receipt && order.receipt.paid_at) || order.paid_at;
      if (paidAt) receipt.appendChild(P.timeElement(paidAt));
      if (order.receipt && order.receipt.reference) {
        receipt.appendChild(document.createTextNode(" · "));
        receipt.appendChild(code(order.receipt.reference));
      }
      tr.appendChild(receipt);
      rows.appendChild(tr);
    });
    document.getElementById("orders-wrap").hidden = list.length === 0;
    document.getElementById("orders-empty").hidden = list.length > 0;
  }

  function renderNotifications(list) {
    last.notifications = list;
    var rows = A.clear(document.getElementById("notification-rows"));
    list.forEach(function (note) {
      var tr = el("tr", "direction-" + note.direction, { "data-id": String(note.id), "data-outcome": note.outcome, "data-testid": "notification-row" });
      var when = cell("when");
      if (note.received_at) when.appendChild(P.timeElement(note.received_at));
      tr.appendChild(when);
      tr.appendChild(cell("")).appendChild(code((note.provider || "") + " #" + (note.provider_txn_id || "")));
      var amount = cell("num " + (note.direction === "out" ? "debit" : "credit"), "credits.orders.col.amount");
      amount.appendChild(vnd(note.amount_vnd));
      tr.appendChild(amount);
      var content = cell("note");
      content.textContent = note.content || "";
      if (note.order_code) {
        content.appendChild(document.createTextNode(" → "));
        content.appendChild(code(note.order_code));
      }
      tr.appendChild(content);
      var reference = cell("note");
      reference.textContent = note.reference || "";
      tr.appendChild(reference);
      tr.appendChild(cell("")).appendChild(badge(OUTCOMES, note.outcome));
      rows.appendChild(tr);
    });
    document.getElementById("notifications-wrap").hidden = list.length === 0;
    document.getElementById("notifications-empty").hidden = list.length > 0;
  }

  function reviewFilter() {
    var radio = document.querySelector('input[name="review-status"]:checked');
    return radio ? radio.value : "open";
  }

  function loadReviews() {
    return A.api("GET", "/payments/reviews?status=" + reviewFilter()).then(function (answer) { renderReviews((answer && answer.data) || []); });
  }

  function loadOrders() {
    var status = document.getElementById("orders-status").value;
    return A.api("GET", "/topups?limit=200" + (status ? "&status=" + encodeURIComponent(status) : "")).then(function (answer) {
      renderOrders((answer && answer.data) || []);
    });
  }

  function loadNotifications() {
    return A.api("GET", "/payments/notifications?limit=100").then(function (answer) { renderNotifications((answer && answer.data) || []); });
  }

  function loadAll() {
    return Promise.all([loadReviews(), loadOrders(), loadNotifications()]);
  }

  Array.prototype.forEach.call(document.querySelectorAll('input[name="review-status"]'), function (radio) {
    radio.addEventListener("change", function () { loadReviews().catch(P.showError); });
  });
  document.getElementById("orders-status").addEventListener("change", function () { loadOrders().catch(P.showError); });

  // Open forms keep what the operator typed: only the tables are drawn again on a language switch.
  P.onLanguage(function () {
    if (last.orders) renderOrders(last.orders);
    if (last.notifications) renderNotifications(last.notifications);
  });

  P.start({ admin: true, page: "admin" }).then(loadAll).catch(P.showError);
})();
