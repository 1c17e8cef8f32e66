// The studio's behaviour: the composer (live price, image, submit), the gallery's actions, and
// live updates. Cards are always rendered by the server (GET /studio/cards/{id}); this script
// only decides when to fetch one. Every word it shows comes from the page's data-text.
(function () {
  "use strict";

  var studio = document.getElementById("studio");
  if (!studio) return;

  var composerData = JSON.parse(studio.dataset.composer);
  var text = JSON.parse(studio.dataset.text);
  var csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  var language = studio.dataset.lang;
  // Grouped like the server groups them (Intl's Vietnamese data is missing from some browsers).
  var numbers = { format: function (amount) {
    var grouped = String(Math.abs(amount)).replace(/\B(?=(\d{3})+(?!\d))/g, language === "en" ? "," : ".");
    return (amount < 0 ? "−" : "") + grouped;
  } };
  var POLL_INTERVAL_MS = 5000;

  var gallery = document.getElementById("gallery");
  var emptyState = document.getElementById("empty");
  var alerts = document.getElementById("alerts");
  var moreButton = document.getElementById("more");
  var form = document.getElementById("composer");
  var promptBox = document.getElementById("prompt");
  var submitButton = document.getElementById("submit");
  var priceAmount = document.getElementById("price-amount");
  var imageInput = document.getElementById("image-input");
  var attachment = document.getElementById("attachment");
  var attachmentPreview = document.getElementById("attachment-preview");
  var confirmDialog = document.getElementById("confirm-dialog");

  // ---------------------------------------------------------------- HTTP

  function requestError(message, code, status) {
    var error = new Error(message || text["js.network_error"]);
    error.code = code;
    error.status = status;
    return error;
  }

  // Calls the JSON API with the session cookie and the anti-forgery token.
  function api(method, path, body, extraHeaders) {
    var headers = Object.assign({ "Accept": "application/json", "Accept-Language": language, "X-CSRF-Token": csrfToken },
                                extraHeaders || {});
    var init = { method: method, headers: headers, credentials: "same-origin" };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      init.body = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
    return fetch(path, init).then(function (response) {
      if (response.status === 204) return null;
      return response.json().catch(function () { return null; }).then(function (json) {
        if (response.ok) return json;
        var detail = (json && json.error) || {};
        throw requestError(detail.message, detail.code, response.status);
      });
    }, function () {
      throw requestError(text["js.network_error"], "network", 0);
    });
  }

  // Fetches server-rendered card HTML.
  function fetchCards(path) {
    return fetch(path, { headers: { "Accept": "text/html" }, credentials: "same-origin" }).then(function (response) {
      if (!response.ok) throw requestError(null, null, response.status);
      return response.text().then(function (html) {
        return { html: html, nextCursor: response.headers.get("X-Next-Cursor") };
      });
    });
  }

  function randomKey() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes); // works on plain http too, unlike crypto.randomUUID
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // ---------------------------------------------------------------- Alerts

  function showAlert(kind, message, link) {
    var alert = document.createElement("div");
    alert.className = "alert alert-" + kind;
    alert.setAttribute("role", kind === "error" ? "alert" : "status");
    var words = document.createElement("span");
    words.textContent = message;
    alert.appendChild(words);
    if (link) {
      var anchor = document.createElement("a");
      anchor.href = link.href;
      anchor.textContent = link.label;
      alert.appendChild(anchor);
    }
    var close = document.createElement("button");
    close.type = "button";
    close.className = "alert-close";
    close.setAttribute("aria-label", text["js.dismiss"]);
    close.textContent = "×";
    close.addEventListener("click", function () { alert.remove(); });
    alert.appendChild(close);
    alerts.appendChild(alert);
    while (alerts.children.length > 3) alerts.firstElementChild.remove();
    if (kind !== "error") setTimeout(function () { alert.remove(); }, 4500);
    return alert;
  }

  function showError(error) {
    if (error.status === 401) { window.location.href = "/signin"; return; }
    if (error.code === "insufficient_credits") {
      showAlert("error", error.message, { href: "/credits", label: text["js.see_credits"] });
    } else {
      showAlert("error", error.message);
    }
  }

  // ---------------------------------------------------------------- Balances

  function updateBalances(source) {
    if (typeof source.credits === "number") {
      document.getElementById("balance-available").textContent = numbers.format(source.credits);
    }
    if (typeof source.credits_on_hold === "number") {
      document.getElementById("balance-held").textContent = numbers.format(source.credits_on_hold);
    }
  }

  // ---------------------------------------------------------------- Composer

  // The reference image: a file chosen here (uploaded on submit), or an earlier upload reused by "try again".
  var image = { file: null, uploadID: null, previewURL: null };
  // Kept across retries of the same submission, so a repeat after a lost answer creates nothing new.
  var idempotencyKey = null;
  var busy = false;

  function mode() { return image.file || image.uploadID ? "image_to_video" : "text_to_video"; }

  function selection() {
    var tier = composerData.tiers[form.elements.tier.value];
    return {
      model: mode() === "image_to_video" ? tier.image_model : tier.text_model,
      quality: tier.quality,
      duration: Number(form.elements.duration.value),
      aspect_ratio: form.elements.aspect_ratio.value
    };
  }

  function currentPrice() {
    var chosen = selection();
    var row = composerData.prices.find(function (price) {
      return price.model === chosen.model && price.duration === chosen.duration && price.quality === chosen.quality;
    });
    return row ? row.credits : null;
  }

  // How many variants one submit makes (1 to 4); each is its own video, held and charged alone.
  function variants() {
    var field = form.elements.variants;
    return field ? Number(field.value) || 1 : 1;
  }

  function updatePrice() {
    var one = currentPrice();
    var price = one === null ? null : one * variants();
    priceAmount.textContent = price === null ? "—" : numbers.format(price);
    priceAmount.parentElement.classList.toggle("unavailable", price === null);
    priceAmount.parentElement.title = price === null ? text["js.price_unavailable"] : "";
  }

  function growPrompt() {
    promptBox.style.height = "auto";
    promptBox.style.height = Math.min(promptBox.scrollHeight, 220) + "px";
  }

  function showImage(previewURL) {
    if (image.previewURL && image.previewURL.indexOf("blob:") === 0) URL.revokeObjectURL(image.previewURL);
    image.previewURL = previewURL;
    attachmentPreview.src = previewURL || "";
    attachment.hidden = !previewURL;
    form.classList.toggle("has-image", !!previewURL);
    updatePrice();
  }

  function clearImage() {
    image.file = null;
    image.uploadID = null;
    imageInput.value = "";
    showImage(null);
  }

  function formChanged() {
    idempotencyKey = null;
    updatePrice();
  }

  function setBusy(value) {
    busy = value;
    submitButton.disabled = value;
    form.classList.toggle("busy", value);
    submitButton.setAttribute("aria-busy", value ? "true" : "false");
  }

  function ensureUpload() {
    if (image.uploadID || !image.file) return Promise.resolve(image.uploadID);
    var body = new FormData();
    body.append("file", image.file);
    return api("POST", "/api/v1/uploads", body).then(function (upload) {
      image.uploadID = upload.id;
      return upload.id;
    });
  }

  function submit() {
    if (busy) return;
    var prompt = promptBox.value.trim();
    if (!prompt) {
      showAlert("error", text["js.prompt_required"]);
      promptBox.focus();
      return;
    }
    if (currentPrice() === null) {
      showAlert("error", text["js.price_unavailable"]);
      return;
    }
    setBusy(true);
    idempotencyKey = idempotencyKey || randomKey();
    ensureUpload().then(function (uploadID) {
      var chosen = selection();
      var body = {
        mode: mode(), model: chosen.model, quality: chosen.quality, duration: chosen.duration,
        aspect_ratio: chosen.aspect_ratio, prompt: prompt
      };
      if (uploadID) body.upload_id = uploadID;
      if (variants() > 1) {
        body.variants = variants();
        return api("POST", "/api/v1/videos/batch", body, { "Idempotency-Key": idempotencyKey }).then(function (batch) {
          if (batch.refused) showAlert("error", batch.refused.message);
          return batch.videos;
        });
      }
      return api("POST", "/api/v1/videos", body, { "Idempotency-Key": idempotencyKey }).then(function (video) { return [video]; });
    }).then(function (videos) {
      idempotencyKey = null;
      promptBox.value = "";
      growPrompt();
      syncChips();
      clearImage();
      showAlert("success", videos.length > 1 ? text["js.created_many"].replace("{count}", videos.length) : text["js.created"]);
      return Promise.all(videos.map(function (video) { return refreshCard(video.id); }));
    }).catch(showError).then(function () { setBusy(false); });
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); submit(); });
  promptBox.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); submit(); }
  });
  promptBox.addEventListener("input", function () { growPrompt(); idempotencyKey = null; syncChips(); });

  // A style chip adds its words to the end of the prompt, or takes them out again: what is
  // sent is exactly what the box shows, and the words can be edited like any others.
  var chips = Array.prototype.slice.call(form.querySelectorAll(".chip[data-text]"));
  function hasStyle(chip) { return promptBox.value.indexOf(chip.dataset.text) !== -1; }
  function syncChips() {
    chips.forEach(function (chip) { chip.setAttribute("aria-pressed", hasStyle(chip) ? "true" : "false"); });
  }
  chips.forEach(function (chip) {
    chip.addEventListener("click", function () {
      var words = chip.dataset.text;
      var value = promptBox.value;
      if (hasStyle(chip)) {
        value = value.replace(", " + words, "").replace(words, "");
      } else {
        value = value.replace(/[\s,]+$/, "");
        value = value ? value + ", " + words : words;
      }
      promptBox.value = value.replace(/^[\s,]+/, "");
      idempotencyKey = null;
      growPrompt();
      syncChips();
      promptBox.focus();
    });
  });
  form.addEventListener("change", function (event) { if (event.target !== imageInput) formChanged(); });
  form.querySelector('[data-action="attach"]').addEventListener("click", function () { imageInput.click(); });
  form.querySelector('[data-action="remove-image"]').addEventListener("click", function () { clearImage(); formChanged(); });
  imageInput.addEventListener("change", function () {
    var file = imageInput.files && imageInput.files[0];
    if (!file) return;
    image.file = file;
    image.uploadID = null;
    showImage(URL.createObjectURL(file));
    formChanged();
  });

  // ---------------------------------------------------------------- Gallery

  function cardByID(id) { return document.getElementById("video-" + id); }

  function parseCards(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return Array.prototype.slice.call(template.content.children);
  }

  // Shows "more" under a prompt only when the prompt is cut off.
  function decorate(card) {
    var prompt = card.querySelector(".prompt");
    var toggle = card.querySelector(".prompt-toggle");
    toggle.hidden = !(prompt.scrollHeight > prompt.clientHeight + 1) && !card.classList.contains("expanded");
    if (window.Phim) window.Phim.localizeTimes(card);
  }

  function updateEmptyState() {
    emptyState.hidden = gallery.children.length > 0;
  }

  // Puts a freshly rendered card in place of the old one, or at the top if it is new.
  function placeCard(card, atEnd) {
    var existing = document.getElementById(card.id);
    if (existing) {
      // Unchanged cards stay as they are, so a playing video keeps playing.
      if (existing.dataset.status === card.dataset.status && existing.dataset.progress === card.dataset.progress
          && existing.dataset.shared === card.dataset.shared) return;
      existing.replaceWith(card);
    } else if (atEnd) {
      gallery.appendChild(card);
    } else {
      gallery.insertBefore(card, gallery.firstElementChild);
      card.classList.add("arrived");
    }
    decorate(card);
    updateEmptyState();
  }

  function removeCard(id) {
    var card = cardByID(id);
    if (card) card.remove();
    updateEmptyState();
  }

  function refreshCard(id) {
    return fetchCards("/studio/cards/" + encodeURIComponent(id)).then(function (result) {
      parseCards(result.html).forEach(function (card) { placeCard(card, false); });
    }, function (error) {
      if (error.status === 404) removeCard(id);
    });
  }

  // Applies what the server says about a video (from the stream or a poll).
  function applyVideo(video) {
    var card = cardByID(video.id);
    if (!card || card.dataset.status !== video.status) {
      var wasUnfinished = card && card.dataset.unfinished === "true";
      return refreshCard(video.id).then(function () {
        if (wasUnfinished && video.status === "completed") showAlert("success", text["js.completed"]);
        if (wasUnfinished && video.status === "failed") showAlert("info", text["js.failed_refunded"]);
      });
    }
    if (String(video.progress) !== card.dataset.progress) {
      card.dataset.progress = String(video.progress);
      var bar = card.querySelector("progress");
      if (bar) bar.value = video.progress;
      var figure = card.querySelector(".progress-value");
      if (figure) figure.textContent = video.progress + "%";
    }
    return Promise.resolve();
  }

  function unfinishedIDs() {
    return Array.prototype.map.call(gallery.querySelectorAll('.card[data-unfinished="true"]'), function (card) {
      return card.dataset.id;
    });
  }

  function askToConfirm() {
    if (!confirmDialog || !confirmDialog.showModal) return Promise.resolve(window.confirm(text["js.confirm_delete"]));
    return new Promise(function (resolve) {
      confirmDialog.returnValue = "";
      confirmDialog.addEventListener("close", function done() {
        confirmDialog.removeEventListener("close", done);
        resolve(confirmDialog.returnValue === "confirm");
      });
      confirmDialog.showModal();
    });
  }

  function retry(card) {
    promptBox.value = card.dataset.prompt;
    syncChips();
    growPrompt();
    [["aspect_ratio", card.dataset.aspectRatio], ["duration", card.dataset.duration]].forEach(function (pair) {
      var input = form.querySelector('input[name="' + pair[0] + '"][value="' + pair[1] + '"]');
      if (input) input.checked = true;
    });
    if (composerData.tiers[card.dataset.tier]) form.elements.tier.value = card.dataset.tier;
    if (card.dataset.uploadId && card.dataset.imageUrl) {
      image.file = null;
      image.uploadID = card.dataset.uploadId;
      showImage(card.dataset.imageUrl);
    } else {
      clearImage();
    }
    formChanged();
    promptBox.focus();
    promptBox.setSelectionRange(promptBox.value.length, promptBox.value.length);
  }

  gallery.addEventListener("click", function (event) {
    var button = event.target.closest("[data-action]");
    if (!button) return;
    var card = button.closest(".card");
    var id = card.dataset.id;
    switch (button.dataset.action) {
      case "expand":
        var expanded = card.classList.toggle("expanded");
        if (!button.dataset.more) button.dataset.more = button.textContent;
        button.textContent = expanded ? button.dataset.less : button.dataset.more;
        break;
      case "delete":
        askToConfirm().then(function (confirmed) {
          if (!confirmed) return;
          button.disabled = true;
          api("DELETE", "/api/v1/videos/" + id).then(function () {
            removeCard(id);
            showAlert("success", text["js.deleted"]);
          }).catch(function (error) { button.disabled = false; showError(error); });
        });
        break;
      case "cancel":
        button.disabled = true;
        api("POST", "/api/v1/videos/" + id + "/cancel").then(function () {
          showAlert("success", text["js.canceled"]);
          return refreshCard(id);
        }).catch(function (error) { button.disabled = false; showError(error); refreshCard(id); });
        break;
      case "retry":
        retry(card);
        break;
      case "share":
        button.disabled = true;
        api("POST", "/api/v1/videos/" + id + "/share").then(function (link) {
          var shown = showAlert("success", text["js.share_ready"] + " " + link.url);
          // Copying may be refused or wait for focus; the link is on screen either way.
          if (navigator.clipboard && window.isSecureContext) {
            navigator.clipboard.writeText(link.url).then(function () {
              shown.remove();
              showAlert("success", text["js.share_copied"] + " " + link.url);
            }, function () {});
          }
          return refreshCard(id);
        }).catch(function (error) { button.disabled = false; showError(error); });
        break;
      case "unshare":
        button.disabled = true;
        api("DELETE", "/api/v1/videos/" + id + "/share").then(function () {
          showAlert("success", text["js.unshared"]);
          return refreshCard(id);
        }).catch(function (error) { button.disabled = false; showError(error); });
        break;
    }
  });

  moreButton.addEventListener("click", function () {
    moreButton.disabled = true;
    fetchCards("/studio/cards?cursor=" + encodeURIComponent(moreButton.dataset.cursor)).then(function (result) {
      parseCards(result.html).forEach(function (card) { placeCard(card, true); });
      moreButton.dataset.cursor = result.nextCursor || "";
      moreButton.hidden = !result.nextCursor;
    }).catch(showError).then(function () { moreButton.disabled = false; });
  });

  // ---------------------------------------------------------------- Live updates

  // Server-sent events carry every change to this person's videos and balance. While the
  // stream is down, poll our own API (never the provider) every 5 s, and only while some
  // video is unfinished; the stream's "hello" on reconnect stops the polling.
  var pollTimer = null;

  function setLiveState(state) { studio.dataset.live = state; }

  function poll() {
    var ids = unfinishedIDs();
    if (ids.length === 0) return;
    ids.forEach(function (id) {
      api("GET", "/api/v1/videos/" + id).then(applyVideo).catch(function (error) {
        if (error.status === 404) removeCard(id);
        if (error.status === 401) window.location.href = "/signin";
      });
    });
    api("GET", "/api/v1/me").then(updateBalances).catch(function () {});
  }

  function startPolling() {
    setLiveState("polling");
    if (!pollTimer) pollTimer = setInterval(poll, POLL_INTERVAL_MS);
  }

  function stopPolling() {
    setLiveState("live");
    if (pollTimer) clearInterval(pollTimer);
    pollTimer = null;
  }

  function connect() {
    if (!window.EventSource) { startPolling(); return; }
    var stream = new EventSource("/api/v1/events");
    stream.addEventListener("hello", function (event) {
      stopPolling();
      updateBalances(JSON.parse(event.data));
      // Anything may have changed while we were away: re-read the unfinished cards once.
      unfinishedIDs().forEach(refreshCard);
    });
    stream.addEventListener("video", function (event) {
      var update = JSON.parse(event.data);
      updateBalances(update);
      if (update.video) applyVideo(update.video);
      else if (update.video_id) removeCard(update.video_id);
    });
    stream.addEventListener("error", startPolling);
  }

  // ---------------------------------------------------------------- Start

  Array.prototype.forEach.call(gallery.children, decorate);
  updatePrice();
  growPrompt();
  setLiveState("connecting");
  connect();
})();
