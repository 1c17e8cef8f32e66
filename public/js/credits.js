// The credits page: the balance, the person's top-up orders with their receipts, and the ledger of
// every grant, top-up, hold, settle and release, newest first.
(function () {
  "use strict";

  var P = window.Phim;
  var el = P.el;
  var PAGE_SIZE = 50;
  var KINDS = ["grant", "deduct", "hold", "settle", "release", "redeem", "topup"];

  var wrap = document.getElementById("ledger-wrap");
  var rows = document.getElementById("ledger-rows");
  var empty = document.getElementById("ledger-empty");
  var more = document.getElementById("ledger-more");
  var available = document.getElementById("credits-available");
  var held = document.getElementById("credits-held");
  var nextCursor = null;

  // A signed amount; its column name rides along for the phone layout, where the header is hidden.
  function amountCell(value, labelKey) {
    var cell = el("td", "num");
    cell.appendChild(P.setText(el("span", "cell-label"), labelKey));
    var amount = el("span", "amount");
    cell.appendChild(amount);
    if (typeof value !== "number" || value === 0) {
      cell.classList.add("zero");
      amount.textContent = "·";
      return cell;
    }
    cell.classList.add(value > 0 ? "credit" : "debit");
    amount.dataset.signed = String(value);
    amount.textContent = P.formatSigned(value);
    return cell;
  }

  function renderRow(entry) {
    var row = el("tr", "", { "data-id": entry.id, "data-kind": entry.kind, "data-testid": "ledger-row" });
    var when = el("td", "when");
    if (entry.created_at) when.appendChild(P.timeElement(entry.created_at));
    row.appendChild(when);
    var kind = el("td", "kind");
    var known = KINDS.indexOf(entry.kind) >= 0;
    var badge = el("span", "kind-badge kind-" + (known ? entry.kind : "other"));
    if (known) P.setText(badge, "ledger.kind." + entry.kind);
    else badge.textContent = String(entry.kind);
    kind.appendChild(badge);
    row.appendChild(kind);
    row.appendChild(amountCell(entry.amount, "credits.col.amount"));
    row.appendChild(amountCell(entry.held_change, "credits.col.held"));
    var note = el("td", "note");
    if (entry.video_id) {
      var link = el("a", "", { href: "/#video-" + encodeURIComponent(entry.video_id) });
      P.setText(link, "credits.video");
      note.appendChild(link);
      if (entry.reason) note.appendChild(document.createTextNode(" · "));
    }
    if (entry.reason) note.appendChild(document.createTextNode(entry.reason));
    row.appendChild(note);
    return row;
  }

  function loadPage(cursor) {
    var path = "/credits/transactions?limit=" + PAGE_SIZE + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
    return P.api("GET", path).then(function (page) {
      ((page && page.data) || []).forEach(function (entry) { rows.appendChild(renderRow(entry)); });
      nextCursor = (page && page.next_cursor) || null;
      more.hidden = !nextCursor;
      wrap.hidden = rows.children.length === 0;
      empty.hidden = rows.children.length > 0;
    });
  }

  // ------------------------------------------------------------ Top-up orders

  var ORDER_STATUS = {
    pending: ["topup.status.pending", "badge-pending"], paid: ["topup.status.paid", "badge-completed"],
    review: ["topup.status.review", "badge-queued"], expired: ["topup.status.expired", "badge-canceled"],
    canceled: ["topup.status.canceled", "badge-canceled"]
  };
  var orderRows = document.getElementById("order-rows");
  var ordersSection = document.getElementById("orders-section");

  function labelled(cell, labelKey) {
    cell.appendChild(P.setText(el("span", "cell-label"), labelKey));
    return cell;
  }

  function orderRow(order) {
    var row = el("tr", "", { "data-id": order.id, "data-code": order.code, "data-status": order.status, "data-testid": "order-row" });
    var when = el("td", "when");
    if (order.created_at) when.appendChild(P.timeElement(order.created_at));
    row.appendChild(when);
    var code = el("td", "order-code");
    var link = el("a", "", { href: "/topup?order=" + encodeURIComponent(order.id) });
    link.appendChild(el("code", "")).textContent = order.code;
    code.appendChild(link);
    row.appendChild(code);
    var name = el("td", "order-package");
    name.textContent = order.package_name || order.package_id || "";
    row.appendChild(name);
    var amount = labelled(el("td", "num"), "credits.orders.col.amount");
    amount.appendChild(P.setText(el("span", "", { "data-testid": "order-amount" }), "topup.vnd", { amount: Number(order.amount_vnd) || 0 }));
    row.appendChild(amount);
    var credits = labelled(el("td", "num"), "credits.orders.col.credits");
    credits.appendChild(P.setNumber(el("span", "", { "data-testid": "order-credits" }), Number(order.credits) || 0));
    row.appendChild(credits);
    var status = el("td", "order-status");
    var known = ORDER_STATUS[order.status];
    var badge = el("span", "badge " + (known ? known[1] : "badge-canceled"), { "data-testid": "order-status" });
    if (known) P.setText(badge, known[0]);
    else badge.textContent = String(order.status);
    status.appendChild(badge);
    row.appendChild(status);
    var receipt = el("td", "note receipt-cell", { "data-testid": "order-receipt" });
    if (order.status === "paid") {
      var paidAt = (order.receipt && order.receipt.paid_at) || order.paid_at;
      if (paidAt) {
        receipt.appendChild(P.setText(el("span", "muted"), "credits.orders.paid_at"));
        receipt.appendChild(document.createTextNode(" "));
        receipt.appendChild(P.timeElement(paidAt));
      }
      if (order.receipt && order.receipt.reference) {
        receipt.appendChild(el("br", ""));
        receipt.appendChild(P.setText(el("span", "muted"), "credits.orders.reference"));
        receipt.appendChild(document.createTextNode(" "));
        receipt.appendChild(el("code", "", { "data-testid": "order-reference" })).textContent = order.receipt.reference;
      }
    }
    row.appendChild(receipt);
    return row;
  }

  // Orders are a nicety on this page: without them (top-ups off, an older server) the ledger still shows.
  function loadOrders() {
    return P.api("GET", "/topups?limit=50").then(function (answer) {
      while (orderRows.firstChild) orderRows.firstChild.remove();
      var list = (answer && answer.data) || [];
      list.forEach(function (order) { orderRows.appendChild(orderRow(order)); });
      ordersSection.hidden = list.length === 0;
    }, function () {});
  }

  more.addEventListener("click", function () {
    more.disabled = true;
    loadPage(nextCursor).catch(P.showError).then(function () { more.disabled = false; });
  });

  // Redeeming a code: the server's refusal shown as it says it; on success the header's and
  // this page's balances and the transactions are fetched again.
  var redeemForm = document.getElementById("redeem-form");
  var redeemInput = document.getElementById("redeem-code");
  var redeemButton = document.getElementById("redeem-submit");
  var redeemError = document.getElementById("redeem-error");
  redeemForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var code = redeemInput.value.trim();
    if (!code) {
      P.showInline(redeemError, P.t("credits.redeem.required"));
      redeemInput.focus();
      return;
    }
    P.showInline(redeemError, "");
    redeemButton.disabled = true;
    P.api("POST", "/redeem", { body: { code: code } }).then(function (result) {
      redeemInput.value = "";
      P.toast("success", P.t("credits.redeem.done", { amount: result.credits_added }));
      while (rows.firstChild) rows.removeChild(rows.firstChild);
      return Promise.all([P.refreshMe(), loadPage(null)]);
    }).catch(function (error) {
      P.showInline(redeemError, error && error.message ? error.message : P.t("error.network"));
    }).then(function () {
      redeemButton.disabled = false;
    });
  });

  function showBalance(account) {
    if (typeof account.credits === "number") P.setNumber(available, account.credits);
    if (typeof account.credits_on_hold === "number") P.setNumber(held, account.credits_on_hold);
  }

  P.onMe(showBalance);
  // Signed amounts are regrouped for the new language (plain numbers are handled by common.js).
  P.onLanguage(function () {
    Array.prototype.forEach.call(rows.querySelectorAll("[data-signed]"), function (cell) {
      cell.textContent = P.formatSigned(Number(cell.dataset.signed));
    });
  });

  P.start({ signedIn: true, page: "credits" }).then(function (account) {
    if (account) showBalance(account);
    return Promise.all([loadPage(null), loadOrders()]);
  }).catch(P.showError);
})();
