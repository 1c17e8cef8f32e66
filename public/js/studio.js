// The studio: the gallery of videos (live-updated from /api/v1/videos/changes) and the composer below it.
(function () {
  "use strict";

  var P = window.Phim;
  var t = P.t;
  var el = P.el;
  var setText = P.setText;
  var setAttr = P.setAttr;

  var PAGE_SIZE = 24;
  var POLL_VISIBLE_MS = 1500;
  var POLL_HIDDEN_MS = 10000;
  var MAX_PROMPT = 5000;
  var MAX_IMAGE_BYTES = 10 * 1024 * 1024;
  var IMAGE_TYPES = ["image/jpeg", "image/png", "image/webp"];
  var UNFINISHED = ["submitting", "pending", "processing"];
  var STATUSES = ["submitting", "pending", "processing", "completed", "failed", "canceled"];

  // The composer's tiers, each a pair of models (text, image) and a quality.
  var TIERS = {
    standard: { text: "sora-2-text-to-video", image: "sora-2-image-to-video", quality: "standard", label: "tier.standard" },
    stable: { text: "sora-2-text-to-video-stable", image: "sora-2-image-to-video-stable", quality: "standard", label: "tier.stable" },
    pro: { text: "sora-2-pro-text-to-video", image: "sora-2-pro-image-to-video", quality: "standard", label: "tier.pro" },
    pro_high: { text: "sora-2-pro-text-to-video", image: "sora-2-pro-image-to-video", quality: "high", label: "tier.pro_high" }
  };
  var DAY_MS = 24 * 60 * 60 * 1000;
  var MODE_LABELS = { text_to_video: "mode.text_to_video", image_to_video: "mode.image_to_video" };
  var ASPECT_LABELS = { landscape: "aspect.landscape", portrait: "aspect.portrait" };

  var gallery = document.getElementById("gallery");
  var loading = document.getElementById("gallery-loading");
  var emptyState = document.getElementById("empty");
  var moreButton = document.getElementById("load-more");
  var form = document.getElementById("composer");
  var promptBox = document.getElementById("prompt");
  var submitButton = document.getElementById("submit");
  var priceAmount = document.getElementById("price-amount");
  var priceBox = document.getElementById("price");
  var balanceAfter = document.getElementById("balance-after");
  var insufficient = document.getElementById("insufficient");
  var insufficientText = document.getElementById("insufficient-text");
  var charCount = document.getElementById("char-count");
  var imageInput = document.getElementById("image-input");
  var attachment = document.getElementById("attachment");
  var attachmentPreview = document.getElementById("attachment-preview");
  var attachmentName = document.getElementById("attachment-name");
  var composerError = document.getElementById("composer-error");
  var composerErrorText = document.getElementById("composer-error-text");
  var composerErrorLink = document.getElementById("composer-error-link");
  var demoHint = document.getElementById("demo-hint");
  var stylesBox = document.getElementById("styles");
  var variantsSelect = document.getElementById("variants");
  var priceEach = document.getElementById("price-each");
  var ratioNote = document.getElementById("ratio-note");
  var ratioText = document.getElementById("ratio-text");
  var cropButton = document.getElementById("crop-image");

  var pricing = null;
  var videos = {};          // id -> the last Video the server sent
  var version = null;       // the gallery's position in /videos/changes
  var nextCursor = null;
  var listLoaded = false;

  // ================================================================ Gallery

  function isUnfinished(video) { return UNFINISHED.indexOf(video.status) >= 0; }

  function tierOf(video) {
    var found = null;
    Object.keys(TIERS).forEach(function (name) {
      var tier = TIERS[name];
      if ((tier.text === video.model || tier.image === video.model) && tier.quality === video.quality && !found) found = name;
    });
    return found;
  }

  function labelled(tag, className, key, params) {
    return setText(el(tag, className), key, params);
  }

  function mediaState(className, paths) {
    var box = el("div", "media-state " + className, { "aria-hidden": "true" });
    box.appendChild(P.icon(paths, 40));
    return box;
  }

  // Where a finished video plays and downloads from: media_url (a redirect that outlives the
  // provider's URL) when the server gives one, else the provider's URL.
  function mediaSource(video) { return video.media_url || video.video_url || null; }

  function isExpired(video) { return video.status === "completed" && video.expired === true; }

  function isPlayable(video) { return video.status === "completed" && !isExpired(video) && !!mediaSource(video); }

  // The media box; a portrait video sits in a 9:16 frame centred in it.
  function renderMedia(video) {
    var box = el("div", "card-media media-" + (video.aspect_ratio === "portrait" ? "portrait" : "landscape"));
    var media = el("div", "frame");
    box.appendChild(media);
    if (isExpired(video)) {
      var expired = mediaState("media-expired", ["M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z", "M12 7v5l3 2"]);
      expired.removeAttribute("aria-hidden");
      expired.appendChild(labelled("span", "media-caption", "card.expired_short"));
      media.appendChild(expired);
    } else if (isPlayable(video)) {
      var player = el("video", "card-video", { controls: "", playsinline: "", preload: "metadata" });
      player.src = mediaSource(video);
      media.appendChild(player);
    } else if (video.status === "failed" || video.status === "completed") {
      media.appendChild(mediaState("media-failed", ["M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z", "M12 7.5v6", "M12 16.5v.5"]));
    } else if (video.status === "canceled") {
      media.appendChild(mediaState("media-canceled", ["M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z", "M6.5 17.5l11-11"]));
    } else {
      var working = el("div", "media-state media-working", { "aria-hidden": "true" });
      if (video.image_url) {
        var reference = el("img", "media-reference", { alt: "" });
        reference.src = video.image_url;
        working.appendChild(reference);
      }
      working.appendChild(el("span", "spinner large"));
      media.appendChild(working);
    }
    return box;
  }

  function renderSpecs(video) {
    var specs = el("p", "specs");
    var parts = [];
    if (MODE_LABELS[video.mode]) parts.push(labelled("span", "", MODE_LABELS[video.mode]));
    if (video.duration) parts.push(labelled("span", "", "duration.seconds", { seconds: video.duration }));
    if (ASPECT_LABELS[video.aspect_ratio]) parts.push(labelled("span", "", ASPECT_LABELS[video.aspect_ratio]));
    var tier = tierOf(video);
    if (tier) parts.push(labelled("span", "", TIERS[tier].label));
    if (typeof video.price_credits === "number") parts.push(labelled("span", "price-tag", "credits.amount", { amount: video.price_credits }));
    parts.forEach(function (part) { specs.appendChild(part); });
    return specs;
  }

  function actionButton(action, key, className) {
    var button = el("button", "button small " + (className || "secondary"), { type: "button", "data-action": action });
    return setText(button, key);
  }

  // "The provider keeps it N more days" under a finished video (highlighted in the last two days),
  // or why an expired one no longer plays.
  function renderExpiry(video) {
    if (video.status !== "completed") return null;
    if (isExpired(video)) return labelled("p", "expiry expired", "card.expired", null);
    var until = Date.parse(video.expires_at || "");
    if (!until) return null;
    var left = until - Date.now();
    var node = el("p", "expiry", { "data-testid": "expiry" });
    if (left <= DAY_MS) setText(node, "card.expires_today");
    else setText(node, "card.expires_in", { days: Math.ceil(left / DAY_MS) });
    node.dataset.days = String(Math.max(0, Math.ceil(left / DAY_MS)));
    if (left <= 2 * DAY_MS) node.classList.add("soon");
    setAttr(node, "title", "card.expiry_hint");
    return node;
  }

  // The public link of a shared video: open it, copy it, or stop sharing.
  function renderShare(video) {
    var box = el("div", "share-box", { "data-testid": "share" });
    var label = labelled("span", "share-label", "card.shared");
    box.appendChild(label);
    var link = el("a", "share-url", { href: video.share_url, target: "_blank", rel: "noopener", "data-action": "open-share", "data-testid": "share-url" });
    link.textContent = video.share_url;
    setAttr(link, "title", "card.share_open");
    box.appendChild(link);
    if (typeof video.share_views === "number") {
      var views = el("span", "share-views", { "data-testid": "share-views" });
      views.dataset.count = String(video.share_views);
      setText(views, video.share_views === 1 ? "card.share_view_one" : "card.share_views", { count: video.share_views });
      box.appendChild(views);
    }
    var buttons = el("div", "share-actions");
    buttons.appendChild(actionButton("copy-share", "card.share_copy"));
    buttons.appendChild(actionButton("unshare", "card.unshare", "ghost"));
    box.appendChild(buttons);
    if (video.embed_code) {
      var embedId = "embed-" + video.id;
      var embedLabel = labelled("label", "share-label embed-label", "card.embed");
      embedLabel.htmlFor = embedId;
      box.appendChild(embedLabel);
      var embedRow = el("div", "embed-row");
      var code = el("input", "embed-code", { id: embedId, type: "text", readonly: "", spellcheck: "false", "data-testid": "embed-code" });
      code.value = video.embed_code;
      embedRow.appendChild(code);
      embedRow.appendChild(actionButton("copy-embed", "card.embed_copy"));
      box.appendChild(embedRow);
    }
    return box;
  }

  function renderCard(video) {
    var card = el("article", "card", {
      id: "video-" + video.id, "data-id": video.id, "data-status": video.status, "data-mode": video.mode || "",
      "data-aspect": video.aspect_ratio || "", "data-testid": "video-card"
    });
    card.appendChild(renderMedia(video));
    var body = el("div", "card-body");

    var meta = el("div", "card-meta");
    var status = STATUSES.indexOf(video.status) >= 0 ? video.status : "pending";
    meta.appendChild(setText(el("span", "badge badge-" + status, { "data-testid": "status" }), "status." + status));
    if (video.created_at) meta.appendChild(P.timeElement(video.created_at));
    body.appendChild(meta);

    if (isUnfinished(video)) {
      var row = el("div", "progress-row");
      var progress = Math.max(0, Math.min(100, Math.round(video.progress || 0)));
      var bar = el("progress", "progress", { max: "100" });
      bar.value = progress;
      setAttr(bar, "aria-label", "card.progress");
      row.appendChild(bar);
      row.appendChild(setText(el("span", "progress-value"), "card.percent", { value: progress }));
      body.appendChild(row);
    }

    var prompt = el("p", "prompt", { "data-testid": "prompt" });
    prompt.textContent = video.prompt || "";
    body.appendChild(prompt);
    var toggle = el("button", "link prompt-toggle", { type: "button", "data-action": "expand" });
    setText(toggle, card.classList.contains("expanded") ? "card.less" : "card.more");
    toggle.hidden = true;
    body.appendChild(toggle);

    body.appendChild(renderSpecs(video));
    var expiry = renderExpiry(video);
    if (expiry) body.appendChild(expiry);

    if (video.status === "submitting") body.appendChild(labelled("p", "note", "card.confirming"));
    if (video.status === "failed") {
      var failure = el("p", "failure", { role: "status", "data-testid": "failure" });
      var reason = el("span", "failure-message");
      reason.textContent = (video.failure && video.failure.message) || t("card.failed_generic");
      failure.appendChild(reason);
      if (video.credits_refunded) {
        failure.appendChild(document.createTextNode(" "));
        failure.appendChild(labelled("span", "refunded", "card.refunded"));
      }
      body.appendChild(failure);
    } else if (video.status === "canceled" && video.credits_refunded) {
      var canceled = el("p", "failure canceled", { role: "status" });
      canceled.appendChild(labelled("span", "refunded", "card.refunded"));
      body.appendChild(canceled);
    }

    if (isPlayable(video) && video.share_url) body.appendChild(renderShare(video));

    var actions = el("div", "card-actions");
    if (isPlayable(video)) {
      var download = el("a", "button small secondary", { "data-action": "download", download: "", target: "_blank", rel: "noopener" });
      download.href = mediaSource(video);
      actions.appendChild(setText(download, "card.download"));
      if (!video.share_url) actions.appendChild(actionButton("share", "card.share"));
    }
    if (video.status === "pending") actions.appendChild(actionButton("cancel", "card.cancel"));
    if (video.status === "failed" || video.status === "canceled") actions.appendChild(actionButton("retry", "card.retry"));
    actions.appendChild(actionButton("delete", "card.delete", "ghost danger push-end"));
    body.appendChild(actions);

    var confirm = el("div", "confirm-row", { "data-testid": "confirm-delete", role: "group" });
    confirm.hidden = true;
    confirm.appendChild(labelled("span", "confirm-question", "card.confirm_delete"));
    confirm.appendChild(actionButton("keep", "card.keep"));
    confirm.appendChild(actionButton("confirm-delete", "card.delete", "danger-solid"));
    body.appendChild(confirm);

    card.appendChild(body);
    return card;
  }

  // Shows "more" under a prompt only when the prompt is cut off.
  function decorate(card) {
    var prompt = card.querySelector(".prompt");
    var toggle = card.querySelector(".prompt-toggle");
    if (!prompt || !toggle) return;
    toggle.hidden = !card.classList.contains("expanded") && !(prompt.scrollHeight > prompt.clientHeight + 1);
  }

  function updateEmptyState() {
    emptyState.hidden = !listLoaded || gallery.children.length > 0;
  }

  function createdAt(video) { return Date.parse(video.created_at) || 0; }

  // Puts a new card where its creation time belongs (newest first). A card older than every card
  // shown while older pages exist is left for "load more".
  function insertCard(card, video) {
    var when = createdAt(video);
    var children = gallery.children;
    for (var i = 0; i < children.length; i++) {
      var other = videos[children[i].dataset.id];
      if (other && createdAt(other) < when) {
        gallery.insertBefore(card, children[i]);
        return true;
      }
    }
    if (nextCursor && children.length > 0) return false;
    gallery.appendChild(card);
    return true;
  }

  function signature(video) {
    return [video.status, video.video_url, video.image_url, video.prompt, video.price_credits, video.credits_refunded,
            video.failure ? video.failure.message : "", video.media_url, video.expires_at, video.expired, video.share_url, video.share_views, video.embed_code].join("\u0001");
  }

  function updateProgress(card, video) {
    var bar = card.querySelector("progress");
    var value = card.querySelector(".progress-value");
    var progress = Math.max(0, Math.min(100, Math.round(video.progress || 0)));
    if (bar) bar.value = progress;
    if (value) setText(value, "card.percent", { value: progress });
  }

  // Applies what the server says about one video: updates its card in place, or adds it.
  // mode: "top" (just made here), "end" (an older page) or "live" (from the changes feed).
  function applyVideo(video, mode) {
    if (!video || !video.id) return;
    var previous = videos[video.id];
    if (previous && previous.updated_at && video.updated_at && Date.parse(video.updated_at) < Date.parse(previous.updated_at)) return;
    var card = document.getElementById("video-" + video.id);
    if (card && previous && signature(previous) === signature(video)) {
      videos[video.id] = video;
      updateProgress(card, video);
      return;
    }
    var fresh = renderCard(video);
    if (card) {
      // A finished video that is already on screen keeps its player, so playback goes on.
      var oldPlayer = card.querySelector("video");
      var newPlayer = fresh.querySelector("video");
      if (oldPlayer && newPlayer && oldPlayer.getAttribute("src") === newPlayer.getAttribute("src")) newPlayer.replaceWith(oldPlayer);
      if (card.classList.contains("expanded")) {
        fresh.classList.add("expanded");
        setText(fresh.querySelector(".prompt-toggle"), "card.less");
      }
      var asking = card.querySelector(".confirm-row");
      if (asking && !asking.hidden) {
        fresh.querySelector(".card-actions").hidden = true;
        fresh.querySelector(".confirm-row").hidden = false;
      }
      card.replaceWith(fresh);
      videos[video.id] = video;
      if (previous && isUnfinished(previous) && video.status === "completed") P.toast("success", t("toast.completed"));
      if (previous && isUnfinished(previous) && video.status === "failed") {
        P.toast("info", t(video.credits_refunded ? "toast.failed_refunded" : "toast.failed"));
      }
    } else {
      var placed = mode === "end" ? (gallery.appendChild(fresh), true) : insertCard(fresh, video);
      if (!placed) return;
      videos[video.id] = video;
      if (mode !== "end") fresh.classList.add("arrived");
    }
    decorate(fresh);
    updateEmptyState();
  }

  function removeVideo(id) {
    var card = document.getElementById("video-" + id);
    if (card) card.remove();
    delete videos[id];
    updateEmptyState();
  }

  function loadPage(cursor) {
    var path = "/videos?limit=" + PAGE_SIZE + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
    return P.api("GET", path).then(function (page) {
      page = page || {};
      if (!cursor && typeof page.version === "number") version = page.version;
      nextCursor = page.next_cursor || null;
      (page.data || []).forEach(function (video) { applyVideo(video, "end"); });
      moreButton.hidden = !nextCursor;
    });
  }

  moreButton.addEventListener("click", function () {
    moreButton.disabled = true;
    loadPage(nextCursor).catch(P.showError).then(function () { moreButton.disabled = false; });
  });

  // ---------------------------------------------------------------- Card actions

  function setConfirming(card, on) {
    card.querySelector(".card-actions").hidden = on;
    card.querySelector(".confirm-row").hidden = !on;
    var target = card.querySelector(on ? '[data-action="keep"]' : '[data-action="delete"]');
    if (target) target.focus();
  }

  gallery.addEventListener("click", function (event) {
    var button = event.target.closest("[data-action]");
    if (!button || !gallery.contains(button)) return;
    var card = button.closest(".card");
    var id = card.dataset.id;
    var action = button.dataset.action;
    if (action === "download" || action === "open-share") return;
    if (action === "expand") {
      var expanded = card.classList.toggle("expanded");
      setText(button, expanded ? "card.less" : "card.more");
    } else if (action === "delete") {
      setConfirming(card, true);
    } else if (action === "keep") {
      setConfirming(card, false);
    } else if (action === "confirm-delete") {
      button.disabled = true;
      P.api("DELETE", "/videos/" + encodeURIComponent(id)).then(function () {
        removeVideo(id);
        P.toast("success", t("toast.deleted"));
      }, function (error) {
        if (error.status === 404) { removeVideo(id); return; }
        button.disabled = false;
        P.showError(error);
      });
    } else if (action === "cancel") {
      button.disabled = true;
      P.api("POST", "/videos/" + encodeURIComponent(id) + "/cancel").then(function (video) {
        applyVideo(video, "live");
        P.toast("success", t("toast.canceled"));
        P.refreshMe().catch(function () {});
      }, function (error) {
        button.disabled = false;
        P.showError(error);
        P.api("GET", "/videos/" + encodeURIComponent(id)).then(function (video) { applyVideo(video, "live"); }, function () {});
      });
    } else if (action === "retry") {
      retry(videos[id]);
    } else if (action === "share") {
      button.disabled = true;
      P.api("POST", "/videos/" + encodeURIComponent(id) + "/share").then(function (answer) {
        setShared(id, answer && answer.url);
        copyText(answer && answer.url, "toast.shared");
        // The share answer carries only the link: the embed code and views come with the video.
        P.api("GET", "/videos/" + encodeURIComponent(id)).then(function (video) { applyVideo(video, "live"); }, function () {});
      }, function (error) {
        button.disabled = false;
        P.showError(error);
      });
    } else if (action === "unshare") {
      button.disabled = true;
      P.api("DELETE", "/videos/" + encodeURIComponent(id) + "/share").then(function () {
        setShared(id, null);
        P.toast("success", t("toast.unshared"));
      }, function (error) {
        button.disabled = false;
        P.showError(error);
      });
    } else if (action === "copy-share") {
      copyText(videos[id] && videos[id].share_url, "toast.link_copied");
    } else if (action === "copy-embed") {
      var box = card.querySelector(".embed-code");
      if (box) box.select();
      copyText(videos[id] && videos[id].embed_code, "toast.embed_copied");
    }
  });

  // The card of a video that was just shared (url) or stopped (null), drawn again from what we hold.
  function setShared(id, url) {
    var video = videos[id];
    if (!video) return;
    var copy = {};
    Object.keys(video).forEach(function (name) { copy[name] = video[name]; });
    copy.share_url = url || null;
    if (!url) { copy.embed_code = null; copy.share_views = 0; }
    applyVideo(copy, "live");
    var card = document.getElementById("video-" + id);
    var focus = card && card.querySelector(url ? '[data-action="copy-share"]' : '[data-action="share"]');
    if (focus) focus.focus();
  }

  // Puts a link on the clipboard; says so with messageKey, or shows the link to copy by hand.
  function copyText(text, messageKey) {
    if (!text) return;
    var done = function () { P.toast("success", t(messageKey)); };
    var byHand = function () {
      var box = el("textarea", "visually-hidden", { readonly: "" });
      box.value = text;
      document.body.appendChild(box);
      box.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (error) { ok = false; }
      box.remove();
      if (ok) done();
      else P.toast("info", t("toast.copy_by_hand", { url: text }));
    };
    if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(text).then(done, byHand);
    else byHand();
  }

  // ================================================================ Live updates

  var pollTimer = null;
  var polling = false;

  function schedulePoll(delay) {
    clearTimeout(pollTimer);
    if (delay === undefined) delay = document.visibilityState === "hidden" ? POLL_HIDDEN_MS : POLL_VISIBLE_MS;
    pollTimer = setTimeout(poll, delay);
  }

  function poll() {
    if (polling) return;
    if (version === null) { schedulePoll(); return; }
    polling = true;
    P.api("GET", "/videos/changes?after=" + encodeURIComponent(version)).then(function (changes) {
      if (!changes) return; // 304: nothing new
      if (typeof changes.version === "number") version = changes.version;
      var changed = (changes.videos || []).length + (changes.deleted || []).length;
      (changes.videos || []).forEach(function (video) { applyVideo(video, "live"); });
      (changes.deleted || []).forEach(removeVideo);
      if (changed > 0) return P.refreshMe();
    }).catch(function (error) {
      // A version the server no longer knows: start again from the first page.
      if (error.status === 400 || error.status === 409 || error.status === 410) return resync();
    }).then(function () {
      polling = false;
      schedulePoll();
    });
  }

  // Starts the gallery again from the first page.
  function resync() {
    return P.api("GET", "/videos?limit=" + PAGE_SIZE).then(function (page) {
      while (gallery.firstChild) gallery.firstChild.remove();
      videos = {};
      version = page && typeof page.version === "number" ? page.version : version;
      nextCursor = (page && page.next_cursor) || null;
      ((page && page.data) || []).forEach(function (video) { applyVideo(video, "end"); });
      moreButton.hidden = !nextCursor;
      updateEmptyState();
    });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") schedulePoll(0);
  });

  // ================================================================ Composer

  // The reference image: a file chosen here (uploaded on submit), or an earlier upload reused by "try again".
  var image = { file: null, uploadId: null, previewUrl: null, width: 0, height: 0 };
  var FRAME_RATIOS = { landscape: 16 / 9, portrait: 9 / 16 };
  var RATIO_TOLERANCE = 0.05;
  // One key per submit attempt; kept when the network failed, so a second click cannot make a second video.
  var attemptKey = null;
  var busy = false;

  function mode() { return image.file || image.uploadId ? "image_to_video" : "text_to_video"; }

  function checkedValue(name) {
    var input = form.querySelector('input[name="' + name + '"]:checked');
    return input ? input.value : null;
  }

  function selection() {
    var tier = TIERS[form.elements.tier.value] || TIERS.standard;
    var chosen = {
      model: mode() === "image_to_video" ? tier.image : tier.text,
      quality: tier.quality,
      duration: Number(checkedValue("duration")) || 10,
      aspect_ratio: checkedValue("aspect_ratio") || "landscape"
    };
    chosen.price = null;
    ((pricing && pricing.prices) || []).forEach(function (row) {
      if (row.model === chosen.model && Number(row.duration) === chosen.duration && row.quality === chosen.quality) chosen.price = row.credits;
    });
    return chosen;
  }

  // How many videos one submit makes (1 to 4): each its own video, held and charged on its own.
  function variantCount() {
    var count = Number(variantsSelect.value);
    return count >= 1 && count <= 4 ? Math.floor(count) : 1;
  }

  function updateComposer() {
    var chosen = selection();
    var count = variantCount();
    var account = P.me();
    var credits = account && typeof account.credits === "number" ? account.credits : null;
    var short = false;
    priceEach.hidden = true;
    if (chosen.price === null) {
      priceAmount.dataset.value = "";
      priceAmount.textContent = pricing ? "—" : "…";
      if (pricing) setText(balanceAfter, "composer.price_unavailable");
      else balanceAfter.textContent = "";
    } else {
      var total = chosen.price * count;
      P.setNumber(priceAmount, total);
      if (count > 1) {
        setText(priceEach, "composer.price_each", { count: count, each: chosen.price });
        priceEach.hidden = false;
      }
      if (credits !== null && credits < total) {
        short = true;
        if (count > 1) setText(insufficientText, "composer.insufficient_many", { count: count, needed: total, available: credits });
        else setText(insufficientText, "composer.insufficient", { needed: total, available: credits });
      } else if (credits !== null) {
        if (count > 1) setText(balanceAfter, "composer.balance_after_many", { count: count, amount: credits - total });
        else setText(balanceAfter, "composer.balance_after", { amount: credits - total });
      }
    }
    priceBox.classList.toggle("many", count > 1);
    priceBox.classList.toggle("unavailable", chosen.price === null || short);
    insufficient.hidden = !short;
    balanceAfter.hidden = short;
    submitButton.disabled = busy || chosen.price === null || short;
    var length = promptBox.value.length;
    setText(charCount, "composer.char_count", { count: length, max: MAX_PROMPT });
    charCount.classList.toggle("near-limit", length > MAX_PROMPT * 0.9);
    form.classList.toggle("has-image", mode() === "image_to_video");
  }

  function growPrompt() {
    promptBox.style.height = "auto";
    promptBox.style.height = Math.min(promptBox.scrollHeight + 2, 240) + "px";
  }

  function showComposerError(message, withCreditsLink) {
    composerErrorText.textContent = message;
    composerErrorLink.hidden = !withCreditsLink;
    composerError.hidden = false;
  }

  function hideComposerError() { composerError.hidden = true; }

  document.getElementById("composer-error-close").addEventListener("click", hideComposerError);

  function showImage(previewUrl, name) {
    if (image.previewUrl && image.previewUrl.indexOf("blob:") === 0) URL.revokeObjectURL(image.previewUrl);
    image.previewUrl = previewUrl;
    if (previewUrl) attachmentPreview.src = previewUrl;
    else attachmentPreview.removeAttribute("src");
    attachmentName.textContent = name || "";
    attachment.hidden = !previewUrl;
    image.width = 0;
    image.height = 0;
    checkRatio();
    updateComposer();
  }

  // The image's size, known once the preview has loaded.
  attachmentPreview.addEventListener("load", function () {
    if (!image.previewUrl) return;
    image.width = attachmentPreview.naturalWidth;
    image.height = attachmentPreview.naturalHeight;
    checkRatio();
  });

  // The crop that fits the frame's ratio in the middle of the image, or null when it already fits.
  function cropFor(width, height, frame) {
    var target = FRAME_RATIOS[frame] || FRAME_RATIOS.landscape;
    if (!width || !height || Math.abs(width / height / target - 1) <= RATIO_TOLERANCE) return null;
    var w = width, h = height;
    if (width / height > target) w = Math.round(height * target);
    else h = Math.round(width / target);
    return { x: Math.floor((width - w) / 2), y: Math.floor((height - h) / 2), width: w, height: h };
  }

  // Says when a chosen image does not have the frame's shape, and offers to crop it (files only:
  // an earlier upload reused by "try again" is sent as it is).
  function checkRatio() {
    var frame = checkedValue("aspect_ratio") || "landscape";
    var crop = image.file ? cropFor(image.width, image.height, frame) : null;
    ratioNote.hidden = !crop;
    ratioNote.dataset.frame = frame;
    if (!crop) return;
    setText(ratioText, frame === "portrait" ? "composer.ratio_portrait" : "composer.ratio_landscape",
            { width: image.width, height: image.height });
    cropButton.disabled = false;
  }

  // Cuts the middle of the image to the frame's ratio in a canvas and attaches the result instead.
  function cropImage() {
    var frame = checkedValue("aspect_ratio") || "landscape";
    var crop = cropFor(image.width, image.height, frame);
    var file = image.file;
    if (!crop || !file) return;
    cropButton.disabled = true;
    var canvas = document.createElement("canvas");
    canvas.width = crop.width;
    canvas.height = crop.height;
    canvas.getContext("2d").drawImage(attachmentPreview, crop.x, crop.y, crop.width, crop.height, 0, 0, crop.width, crop.height);
    var type = file.type === "image/png" ? "image/png" : "image/jpeg";
    canvas.toBlob(function (blob) {
      if (image.file !== file) return; // another image was chosen meanwhile
      if (!blob) {
        cropButton.disabled = false;
        showComposerError(t("composer.crop_failed"));
        return;
      }
      var base = (file.name || "image").replace(/\.[^.]*$/, "").replace(/-(landscape|portrait)$/, "");
      attachFile(new File([blob], base + "-" + frame + (type === "image/png" ? ".png" : ".jpg"), { type: type }));
    }, type, 0.92);
  }

  cropButton.addEventListener("click", cropImage);

  function clearImage() {
    image.file = null;
    image.uploadId = null;
    imageInput.value = "";
    showImage(null, "");
  }

  // Checks type and size here first, so a wrong file never travels.
  function attachFile(file) {
    if (!file) return;
    if (IMAGE_TYPES.indexOf(file.type) < 0) {
      showComposerError(t("composer.image_type"));
      imageInput.value = "";
      return;
    }
    if (file.size > MAX_IMAGE_BYTES) {
      showComposerError(t("composer.image_size", { limit: 10 }));
      imageInput.value = "";
      return;
    }
    hideComposerError();
    image.file = file;
    image.uploadId = null;
    attemptKey = null;
    showImage(URL.createObjectURL(file), file.name);
  }

  function setBusy(value) {
    busy = value;
    form.classList.toggle("busy", value);
    submitButton.setAttribute("aria-busy", value ? "true" : "false");
    updateComposer();
  }

  function ensureUpload() {
    if (image.uploadId || !image.file) return Promise.resolve(image.uploadId);
    var body = new FormData();
    body.append("file", image.file, image.file.name || "image");
    var file = image.file;
    return P.api("POST", "/uploads", { body: body }).then(function (upload) {
      if (image.file === file) image.uploadId = upload.id;
      return upload.id;
    });
  }

  function submit() {
    if (busy) return;
    hideComposerError();
    var prompt = promptBox.value.trim();
    if (!prompt) {
      showComposerError(t("composer.prompt_required"));
      promptBox.focus();
      return;
    }
    var chosen = selection();
    if (chosen.price === null || submitButton.disabled) return;
    setBusy(true);
    attemptKey = attemptKey || P.uuid();
    var key = attemptKey;
    var count = variantCount();
    ensureUpload().then(function (uploadId) {
      var body = { prompt: prompt, model: chosen.model, aspect_ratio: chosen.aspect_ratio, duration: chosen.duration, quality: chosen.quality };
      if (uploadId) body.upload_id = uploadId;
      if (count === 1) return P.api("POST", "/videos", { body: body, headers: { "Idempotency-Key": key } }).then(function (video) { return { videos: [video] }; });
      body.variants = count;
      return P.api("POST", "/videos/batch", { body: body, headers: { "Idempotency-Key": key } });
    }).then(function (answer) {
      attemptKey = null;
      var made = (answer && answer.videos) || [];
      // Oldest first, so the batch ends up in its order at the top of the gallery.
      made.slice().reverse().forEach(function (video) { applyVideo(video, "top"); });
      if (answer && answer.refused) showComposerError(answer.refused.message, answer.refused.code === "insufficient_credits");
      if (made.length > 0) {
        promptBox.value = "";
        clearImage();
        growPrompt();
        syncChips();
        window.scrollTo({ top: 0, behavior: "smooth" });
      }
      P.refreshMe().catch(function () {});
    }, function (error) {
      if (error.status !== 0) attemptKey = null; // the server answered: a new click is a new attempt
      showComposerError(error.message, error.code === "insufficient_credits");
      if (error.code === "insufficient_credits") P.refreshMe().catch(function () {});
    }).then(function () {
      setBusy(false);
    });
  }

  // "Try again": the failed video's prompt and options go back into the composer.
  function retry(video) {
    if (!video) return;
    hideComposerError();
    promptBox.value = video.prompt || "";
    [["aspect_ratio", video.aspect_ratio], ["duration", String(video.duration)]].forEach(function (pair) {
      var input = form.querySelector('input[name="' + pair[0] + '"][value="' + pair[1] + '"]');
      if (input) input.checked = true;
    });
    var tier = tierOf(video);
    if (tier) form.elements.tier.value = tier;
    attemptKey = null;
    clearImage();
    if (video.mode === "image_to_video" && video.upload_id) {
      image.uploadId = video.upload_id;
      showImage(video.image_url, "");
    } else if (video.mode === "image_to_video" && video.image_url) {
      // No upload id in the answer: fetch the picture and attach it again (it is uploaded anew).
      fetch(video.image_url, { credentials: "same-origin" }).then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.blob();
      }).then(function (blob) {
        var type = IMAGE_TYPES.indexOf(blob.type) >= 0 ? blob.type : "image/png";
        attachFile(new File([blob], "reference." + type.split("/")[1], { type: type }));
      }).catch(function () {
        showComposerError(t("composer.image_again"));
      });
    }
    growPrompt();
    updateComposer();
    syncChips();
    promptBox.focus();
    promptBox.setSelectionRange(promptBox.value.length, promptBox.value.length);
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); submit(); });
  promptBox.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); submit(); }
  });
  promptBox.addEventListener("input", function () { attemptKey = null; growPrompt(); updateComposer(); syncChips(); });
  form.addEventListener("change", function (event) {
    if (event.target === imageInput) return;
    attemptKey = null;
    if (event.target.name === "aspect_ratio") checkRatio();
    updateComposer();
  });
  document.getElementById("attach").addEventListener("click", function () { imageInput.click(); });
  document.getElementById("remove-image").addEventListener("click", function () {
    clearImage();
    attemptKey = null;
  });
  imageInput.addEventListener("change", function () { attachFile(imageInput.files && imageInput.files[0]); });
  form.addEventListener("dragover", function (event) {
    if (event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types, "Files") >= 0) {
      event.preventDefault();
      form.classList.add("dragging");
    }
  });
  form.addEventListener("dragleave", function (event) {
    // Moving over a child fires dragleave too: only leaving the composer itself ends the highlight.
    if (!event.relatedTarget || !form.contains(event.relatedTarget)) form.classList.remove("dragging");
  });
  form.addEventListener("drop", function (event) {
    form.classList.remove("dragging");
    var file = event.dataTransfer && event.dataTransfer.files && event.dataTransfer.files[0];
    if (file) {
      event.preventDefault();
      attachFile(file);
    }
  });

  // ================================================================ Style chips

  // A chip adds its words to the end of the prompt (", " between), or takes them out again: what is
  // sent is exactly what the box shows, and the words can be edited like any others.
  function hasWords(words) { return !!words && promptBox.value.indexOf(words) >= 0; }

  function syncChips() {
    Array.prototype.forEach.call(stylesBox.querySelectorAll(".chip"), function (chip) {
      chip.setAttribute("aria-pressed", hasWords(chip.dataset.text) ? "true" : "false");
    });
  }

  function toggleStyle(words) {
    var value = promptBox.value;
    if (hasWords(words)) {
      if (value.indexOf(", " + words) >= 0) value = value.replace(", " + words, "");
      else if (value.indexOf(words + ", ") >= 0) value = value.replace(words + ", ", "");
      else value = value.replace(words, "");
      value = value.replace(/^[\s,]+/, "").replace(/[\s,]+$/, "");
    } else {
      value = value.replace(/[\s,]+$/, "");
      value = value ? value + ", " + words : words;
    }
    promptBox.value = value;
    attemptKey = null;
    growPrompt();
    updateComposer();
    syncChips();
    promptBox.focus();
    promptBox.setSelectionRange(promptBox.value.length, promptBox.value.length);
  }

  // The chips come from the server, named in the page's language (asked again on a switch).
  function loadStyles() {
    return P.api("GET", "/styles").then(function (answer) {
      while (stylesBox.firstChild) stylesBox.firstChild.remove();
      ((answer && answer.data) || []).forEach(function (style) {
        if (!style || !style.prompt_text) return;
        var chip = el("button", "chip", { type: "button", "data-key": style.key, "data-testid": "style-chip", "aria-pressed": "false" });
        chip.dataset.text = style.prompt_text;
        chip.textContent = style.name || style.key;
        chip.title = style.prompt_text;
        stylesBox.appendChild(chip);
      });
      stylesBox.hidden = !stylesBox.firstChild;
      syncChips();
    }, function () {
      stylesBox.hidden = true; // no chips is no loss: the prompt box works without them
    });
  }

  stylesBox.addEventListener("click", function (event) {
    var chip = event.target.closest(".chip");
    if (chip && stylesBox.contains(chip)) toggleStyle(chip.dataset.text);
  });

  // ================================================================ Start

  // The API does not promise a demo flag; any of these names turns the #fail / #slow hint on.
  function isDemo(answer) {
    return !!answer && (answer.demo === true || answer.is_demo === true || answer.simulator === true || answer.provider === "simulator");
  }

  // /#video-ID (from the credits page) scrolls to that card and marks it for a moment.
  function showLinkedCard() {
    var match = /^#video-(.+)$/.exec(window.location.hash);
    var card = match && document.getElementById("video-" + decodeURIComponent(match[1]));
    if (!card) return;
    card.scrollIntoView({ block: "center" });
    card.classList.add("linked");
    setTimeout(function () { card.classList.remove("linked"); }, 2500);
  }

  P.onMe(updateComposer);
  P.onLanguage(function () {
    updateComposer();
    loadStyles();
    Array.prototype.forEach.call(gallery.children, decorate);
    // Failure reasons come from the server in the language asked for: read the shown cards again.
    var shown = Math.min(100, Math.max(gallery.children.length, 1));
    P.api("GET", "/videos?limit=" + shown).then(function (page) {
      ((page && page.data) || []).forEach(function (video) { applyVideo(video, "live"); });
    }, function () {});
  });
  window.addEventListener("resize", function () { Array.prototype.forEach.call(gallery.children, decorate); });

  P.start({ signedIn: true, page: "studio" }).then(function (account) {
    growPrompt();
    updateComposer();
    var prices = P.api("GET", "/pricing").then(function (answer) {
      pricing = answer;
      demoHint.hidden = !isDemo(answer) && !isDemo(account);
      updateComposer();
    });
    loadStyles();
    var list = loadPage(null).then(function () {
      listLoaded = true;
      loading.hidden = true;
      if (version === null) version = 0; // no version in the answer: the first poll sends everything once
      updateEmptyState();
      showLinkedCard();
    });
    Promise.all([prices, list]).catch(function (error) {
      loading.hidden = true;
      P.showError(error);
    }).then(function () { schedulePoll(); });
  }, function () {
    loading.hidden = true;
  });
})();
