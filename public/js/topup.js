// The top-up page: the packages, then one order's VietQR and bank details, followed every second
// until the bank's notification marks it paid (or it expires, is canceled or goes to review).
(function () {
  "use strict";

  var P = window.Phim;
  var el = P.el;
  var t = P.t;
  var setText = P.setText;

  var POLL_MS = 1000;
  var LATE_AFTER_MS = 10 * 60 * 1000; // unpaid this long: say what to do, with the code to quote
  var FOLLOWED = ["pending", "review"];
  // Each status: its badge class, title, explanation (keys listed whole for the translation check).
  var STATES = {
    pending: { badge: "badge-pending", title: "topup.state.pending.title", text: "topup.state.pending.text", label: "topup.status.pending" },
    paid: { badge: "badge-completed", title: "topup.state.paid.title", text: "topup.state.paid.text", label: "topup.status.paid" },
    review: { badge: "badge-queued", title: "topup.state.review.title", text: "topup.state.review.text", label: "topup.status.review" },
    expired: { badge: "badge-canceled", title: "topup.state.expired.title", text: "topup.state.expired.text", label: "topup.status.expired" },
    canceled: { badge: "badge-canceled", title: "topup.state.canceled.title", text: "topup.state.canceled.text", label: "topup.status.canceled" }
  };

  var loadingLine = document.getElementById("topup-loading");
  var off = document.getElementById("topup-off");
  var packagesSection = document.getElementById("packages-section");
  var packagesBox = document.getElementById("packages");
  var packagesError = document.getElementById("packages-error");
  var orderBox = document.getElementById("order");
  var simulate = document.getElementById("simulate");
  var cancel = document.getElementById("order-cancel");
  var newOrder = document.getElementById("order-new");
  var confirmRow = document.getElementById("cancel-confirm");
  var countdown = document.getElementById("order-countdown");
  var late = document.getElementById("order-late");

  var offer = null;      // GET /topups/packages
  var order = null;      // the order shown
  var pollTimer = null;
  var tickTimer = null;
  var polling = false;

  function vnd(node, amount) {
    return setText(node, "topup.vnd", { amount: Number(amount) || 0 });
  }

  // ------------------------------------------------------------ Packages

  function renderPackages() {
    while (packagesBox.firstChild) packagesBox.firstChild.remove();
    var list = (offer && offer.data) || [];
    list.forEach(function (item) {
      var card = el("button", "package", { type: "button", "data-id": item.id, "data-testid": "package",
                                           "data-amount": String(item.amount_vnd), "data-credits": String(item.credits) });
      var name = el("span", "package-name");
      name.textContent = (P.language() === "en" ? item.name_en : item.name_vi) || item.name || item.id;
      card.appendChild(name);
      var amount = el("span", "package-amount");
      amount.appendChild(P.setNumber(el("strong", "package-credits", { "data-testid": "package-credits" }), Number(item.credits) || 0));
      amount.appendChild(setText(el("span", "package-unit"), "topup.package.unit"));
      card.appendChild(amount);
      card.appendChild(vnd(el("span", "package-price", { "data-testid": "package-price" }), item.amount_vnd));
      if (item.credits > item.amount_vnd) {
        var bonus = Math.round((item.credits - item.amount_vnd) * 100 / item.amount_vnd);
        card.appendChild(setText(el("span", "package-bonus"), "topup.package.bonus", { percent: bonus }));
      }
      card.addEventListener("click", function () { buy(item, card); });
      packagesBox.appendChild(card);
    });
    document.getElementById("packages-empty").hidden = list.length > 0;
  }

  function showOff() {
    off.hidden = false;
    var reason = offer && offer.disabled_reason === "bank_not_configured" ? "topup.off.bank" : "topup.off.other";
    setText(document.getElementById("topup-off-text"), reason);
    packagesSection.hidden = true;
  }

  function showPackages() {
    stopFollowing();
    order = null;
    orderBox.hidden = true;
    history.replaceState(null, "", "/topup");
    if (!offer || offer.enabled !== true) return showOff();
    packagesSection.hidden = false;
    renderPackages();
  }

  function buy(item, card) {
    P.showInline(packagesError, "");
    Array.prototype.forEach.call(packagesBox.querySelectorAll(".package"), function (button) { button.disabled = true; });
    card.classList.add("working");
    P.api("POST", "/topups", { body: { package_id: item.id } }).then(function (made) {
      showOrder(made);
    }, function (error) {
      P.showInline(packagesError, error && error.message ? error.message : t("error.network"));
    }).then(function () {
      card.classList.remove("working");
      Array.prototype.forEach.call(packagesBox.querySelectorAll(".package"), function (button) { button.disabled = false; });
    });
  }

  // ------------------------------------------------------------ The order

  function pad(value) { return (value < 10 ? "0" : "") + value; }

  function tick() {
    if (!order) return;
    var now = Date.now();
    var pending = order.status === "pending";
    var left = Date.parse(order.expires_at) - now;
    countdown.hidden = !pending;
    if (pending) {
      var seconds = Math.max(0, Math.ceil(left / 1000));
      setText(countdown, "topup.countdown", { time: Math.floor(seconds / 60) + ":" + pad(seconds % 60) });
      countdown.classList.toggle("soon", seconds < 300);
      if (seconds === 0) poll(); // the server turns it expired
    }
    var waited = now - Date.parse(order.created_at);
    var showLate = (pending && waited >= LATE_AFTER_MS) || order.status === "review";
    late.hidden = !showLate;
    if (showLate) setText(late, "topup.late", { code: order.code });
  }

  function fill(id, value) {
    var node = document.getElementById(id);
    node.textContent = String(value == null ? "" : value);
    return node;
  }

  function render() {
    var state = STATES[order.status] || STATES.pending;
    orderBox.hidden = false;
    orderBox.dataset.status = order.status;
    orderBox.dataset.id = order.id;
    packagesSection.hidden = true;
    off.hidden = true;
    fill("order-code-title", order.code);
    var badge = document.getElementById("order-status");
    badge.className = "badge " + state.badge;
    setText(badge, state.label);
    var box = document.getElementById("order-state");
    box.className = "panel order-state state-" + order.status + (order.status === "paid" ? " panel-success" : "");
    setText(document.getElementById("order-state-title"), state.title, { credits: creditsAdded() });
    setText(document.getElementById("order-state-text"), state.text,
            { code: order.code, credits: creditsAdded(), package: order.package_name || order.package_id || "" });

    var payable = order.status === "pending";
    // Once the money has arrived (paid, or waiting for an operator) nothing invites a second transfer.
    document.getElementById("pay-box").hidden = !payable;
    var qr = document.getElementById("order-qr");
    if (qr.getAttribute("src") !== order.qr_svg_url) qr.setAttribute("src", order.qr_svg_url);
    var bank = order.bank || {};
    fill("pay-bank", bank.bank_name || bank.bin || "");
    fill("pay-account", bank.account || "");
    fill("pay-account-name", bank.account_name || "");
    var amount = vnd(document.getElementById("pay-amount"), order.amount_vnd);
    amount.dataset.copyValue = String(order.amount_vnd); // banking apps take the digits alone
    fill("pay-code", order.code);

    var receipt = document.getElementById("order-receipt");
    receipt.hidden = order.status !== "paid";
    if (order.status === "paid") {
      var when = document.getElementById("receipt-paid-at");
      while (when.firstChild) when.firstChild.remove();
      var paidTime = (order.receipt && order.receipt.paid_at) || order.paid_at;
      if (paidTime) when.appendChild(P.timeElement(paidTime));
      vnd(document.getElementById("receipt-amount"), (order.receipt && order.receipt.amount_vnd) || order.amount_vnd);
      fill("receipt-reference", (order.receipt && order.receipt.reference) || "—");
    }

    simulate.hidden = !(payable && offer && offer.simulate_transfer === true);
    document.getElementById("simulate-note").hidden = simulate.hidden;
    cancel.hidden = !payable;
    newOrder.hidden = payable;
    if (!payable) confirmRow.hidden = true;
    tick();
  }

  // What the order brought: its package's credits, or what an operator credited for its money.
  function creditsAdded() {
    var added = order.credits_added;
    return typeof added === "number" ? added : (Number(order.credits) || 0);
  }

  function showOrder(next) {
    var wasFollowed = order && FOLLOWED.indexOf(order.status) >= 0;
    var justPaid = next.status === "paid" && order && order.id === next.id && order.status !== "paid";
    order = next;
    if (location.search !== "?order=" + encodeURIComponent(order.id)) {
      history.replaceState(null, "", "/topup?order=" + encodeURIComponent(order.id));
    }
    render();
    if (justPaid) {
      P.toast("success", t("topup.paid_toast", { credits: creditsAdded() }));
      P.refreshMe().catch(function () {});
    } else if (wasFollowed && next.status === "paid") {
      P.refreshMe().catch(function () {});
    }
    if (FOLLOWED.indexOf(order.status) >= 0) follow();
    else stopFollowing();
  }

  // Asks the server once (the order's state is Phim's own: nothing is asked of the bank).
  function poll() {
    if (!order || polling) return Promise.resolve();
    polling = true;
    var id = order.id;
    return P.api("GET", "/topups/" + encodeURIComponent(id)).then(function (next) {
      if (order && order.id === id) showOrder(next);
    }, function (error) {
      if (error && error.status === 404) {
        P.showError(error);
        showPackages();
      }
    }).then(function () { polling = false; });
  }

  function follow() {
    if (!pollTimer) {
      pollTimer = window.setInterval(function () { if (!document.hidden) poll(); }, POLL_MS);
    }
    if (!tickTimer) tickTimer = window.setInterval(tick, 1000);
  }

  function stopFollowing() {
    if (pollTimer) window.clearInterval(pollTimer);
    if (tickTimer) window.clearInterval(tickTimer);
    pollTimer = tickTimer = null;
  }

  document.addEventListener("visibilitychange", function () { if (!document.hidden) poll(); });

  // ------------------------------------------------------------ Copy

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {
      var area = el("textarea", "visually-hidden", { readonly: "" });
      area.value = text;
      document.body.appendChild(area);
      area.select();
      var done = false;
      try { done = document.execCommand("copy"); } catch (error) { done = false; }
      area.remove();
      if (done) resolve(); else reject(new Error("copy"));
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (button) {
    button.addEventListener("click", function () {
      var source = document.getElementById(button.dataset.copy);
      var text = source.dataset.copyValue || source.textContent.trim();
      copyText(text).then(function () {
        P.toast("success", t("topup.copied", { value: text }));
        setText(button, "topup.copied_short");
        window.setTimeout(function () { setText(button, "topup.copy"); }, 1500);
      }, function () {
        // The text stays selected so the person can copy it by hand.
        var range = document.createRange();
        range.selectNodeContents(source);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        P.toast("info", t("topup.copy_failed"));
      });
    });
  });

  // ------------------------------------------------------------ Actions

  simulate.addEventListener("click", function () {
    if (!order) return;
    simulate.disabled = true;
    simulate.classList.add("working");
    P.api("POST", "/topups/" + encodeURIComponent(order.id) + "/simulate-transfer", { body: {} }).then(function (answer) {
      if (answer && answer.order) showOrder(answer.order);
      else return poll();
    }, P.showError).then(function () {
      simulate.disabled = false;
      simulate.classList.remove("working");
    });
  });

  cancel.addEventListener("click", function () {
    confirmRow.hidden = false;
    document.getElementById("cancel-back").focus();
  });
  document.getElementById("cancel-back").addEventListener("click", function () { confirmRow.hidden = true; });
  document.getElementById("cancel-yes").addEventListener("click", function () {
    if (!order) return;
    var yes = document.getElementById("cancel-yes");
    yes.disabled = true;
    P.api("POST", "/topups/" + encodeURIComponent(order.id) + "/cancel", { body: {} }).then(function (next) {
      confirmRow.hidden = true;
      showOrder(next);
    }, function (error) {
      confirmRow.hidden = true;
      P.showError(error);
      return poll();
    }).then(function () { yes.disabled = false; });
  });

  newOrder.addEventListener("click", showPackages);

  P.onLanguage(function () {
    if (!packagesSection.hidden) renderPackages();
    if (order) render();
  });

  // ------------------------------------------------------------ Start

  function orderInAddress() {
    var match = /[?&]order=([^&]+)/.exec(location.search);
    return match ? decodeURIComponent(match[1]) : null;
  }

  P.start({ signedIn: true, page: "topup" }).then(function () {
    return P.api("GET", "/topups/packages").then(function (answer) {
      offer = answer || { enabled: false, data: [] };
      loadingLine.hidden = true;
      var id = orderInAddress();
      if (!id) return showPackages();
      return P.api("GET", "/topups/" + encodeURIComponent(id)).then(showOrder, function (error) {
        P.showError(error);
        showPackages();
      });
    });
  }).catch(function (error) {
    loadingLine.hidden = true;
    P.showError(error);
  });
})();
