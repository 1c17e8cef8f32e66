// The gallery: pages of videos, live updates from /api/v1/videos/changes, and what the cards' buttons do.
import { renderCard, decorate, refreshRunning, rename, isUnfinished } from "./cards.js";

const P = window.Phim;
const { t, el, setText } = P;

const PAGE_SIZE = 24;
const POLL_VISIBLE_MS = 1500;
const POLL_HIDDEN_MS = 10000;

const gallery = document.getElementById("gallery");
const emptyState = document.getElementById("empty");
const moreButton = document.getElementById("load-more");

let videos = {};          // id -> the last Video the server sent
let version = null;       // the gallery's position in /videos/changes
let nextCursor = null;
let listLoaded = false;
let onRetry = () => {};
const failureListeners = [];

export const video = (id) => videos[id] || null;
export const cards = () => Array.from(gallery.children);

// Called with a video that has just failed (the composer reloads the models when the provider refused one).
export const onFailure = (listener) => failureListeners.push(listener);

function updateEmptyState() {
  emptyState.hidden = !listLoaded || gallery.children.length > 0;
}

const createdAt = (item) => Date.parse(item.created_at) || 0;

// Puts a new card where its creation time belongs (newest first). A card older than every card
// shown while older pages exist is left for "load more".
function insertCard(card, item) {
  const when = createdAt(item);
  for (const child of gallery.children) {
    const other = videos[child.dataset.id];
    if (other && createdAt(other) < when) {
      gallery.insertBefore(card, child);
      return true;
    }
  }
  if (nextCursor && gallery.children.length > 0) return false;
  gallery.appendChild(card);
  return true;
}

// What a card shows apart from its running or queue line: a change here draws the card again.
function signature(item) {
  return [item.status, item.stopped_waiting, item.video_url, item.image_url, item.prompt, item.price_credits, item.credits_refunded, item.model,
          item.aspect_ratio, item.duration, item.resolution, item.audio, item.failure ? item.failure.message : "", item.media_url,
          item.expires_at, item.expired, item.share_url, item.share_views, item.embed_code].join("\u0001");
}

// Applies what the server says about one video: updates its card in place, or adds it.
// mode: "top" (just made here), "end" (an older page) or "live" (from the changes feed).
export function applyVideo(item, mode) {
  if (!item || !item.id) return;
  const previous = videos[item.id];
  if (previous && previous.updated_at && item.updated_at && Date.parse(item.updated_at) < Date.parse(previous.updated_at)) return;
  const card = document.getElementById("video-" + item.id);
  if (card && previous && signature(previous) === signature(item)) {
    videos[item.id] = item;
    refreshRunning(card, item);
    return;
  }
  const fresh = renderCard(item);
  if (card) {
    // A finished video that is already on screen keeps its player, so playback goes on.
    const oldPlayer = card.querySelector("video");
    const newPlayer = fresh.querySelector("video");
    if (oldPlayer && newPlayer && oldPlayer.getAttribute("src") === newPlayer.getAttribute("src")) newPlayer.replaceWith(oldPlayer);
    if (card.classList.contains("expanded")) {
      fresh.classList.add("expanded");
      setText(fresh.querySelector(".prompt-toggle"), "card.less");
    }
    // A question left open stays open while it still applies (a sent video's stop row goes once it finishes).
    const asking = Array.prototype.find.call(card.querySelectorAll(".confirm-row"), (row) => !row.hidden);
    const again = asking && fresh.querySelector('.confirm-row[data-testid="' + asking.dataset.testid + '"]');
    if (again) {
      fresh.querySelector(".card-actions").hidden = true;
      again.hidden = false;
    }
    card.replaceWith(fresh);
    videos[item.id] = item;
    if (previous && isUnfinished(previous) && item.status === "completed") P.toast("success", t("toast.completed"));
    if (previous && isUnfinished(previous) && item.status === "failed") {
      P.toast("info", t(item.credits_refunded ? "toast.failed_refunded" : "toast.failed"));
      failureListeners.forEach((listener) => listener(item));
    }
  } else {
    const placed = mode === "end" ? (gallery.appendChild(fresh), true) : insertCard(fresh, item);
    if (!placed) return;
    videos[item.id] = item;
    if (mode !== "end") fresh.classList.add("arrived");
  }
  decorate(fresh);
  updateEmptyState();
  tickSoon();
}

function removeVideo(id) {
  const card = document.getElementById("video-" + id);
  if (card) card.remove();
  delete videos[id];
  updateEmptyState();
}

function loadPage(cursor) {
  const path = "/videos?limit=" + PAGE_SIZE + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
  return P.api("GET", path).then((page) => {
    page = page || {};
    if (!cursor && typeof page.version === "number") version = page.version;
    nextCursor = page.next_cursor || null;
    (page.data || []).forEach((item) => applyVideo(item, "end"));
    moreButton.hidden = !nextCursor;
  });
}

// The first page; resolves once the gallery shows it (or its empty state).
export function loadFirst() {
  return loadPage(null).then(() => {
    listLoaded = true;
    if (version === null) version = 0; // no version in the answer: the first poll sends everything once
    updateEmptyState();
  });
}

moreButton.addEventListener("click", () => {
  moreButton.disabled = true;
  loadPage(nextCursor).catch(P.showError).then(() => { moreButton.disabled = false; });
});

// Names every card's model again and redraws the "more" toggles (language or catalog changed).
export function refreshAll() {
  cards().forEach((card) => { rename(card, videos[card.dataset.id]); decorate(card); });
}

// Reads the shown cards again (failure reasons come from the server in the language asked for).
export function reread() {
  const shown = Math.min(100, Math.max(gallery.children.length, 1));
  P.api("GET", "/videos?limit=" + shown).then((page) => {
    ((page && page.data) || []).forEach((item) => applyVideo(item, "live"));
  }, () => {});
}

window.addEventListener("resize", () => cards().forEach(decorate));

// ---------------------------------------------------------------- Running cards' clocks

let ticker = null;

// Counts the running cards' elapsed time once a second, only while there are any.
function tick() {
  const running = cards().filter((card) => videos[card.dataset.id] && isUnfinished(videos[card.dataset.id]));
  running.forEach((card) => refreshRunning(card, videos[card.dataset.id]));
  if (running.length === 0) {
    clearInterval(ticker);
    ticker = null;
  }
}

function tickSoon() {
  if (!ticker) ticker = setInterval(tick, 1000);
}

// ---------------------------------------------------------------- Card actions

// Opens one of the card's questions (its data-testid) in place of its buttons, or closes them
// (null); the button of action `focus` takes the focus.
function setAsking(card, question, focus) {
  card.querySelector(".card-actions").hidden = !!question;
  card.querySelectorAll(".confirm-row").forEach((row) => { row.hidden = row.dataset.testid !== question; });
  const target = card.querySelector('[data-action="' + focus + '"]');
  if (target) target.focus();
}

// Cancel: a queued video is canceled and refunded at once; a sent one only stops being waited
// for (the provider still makes and bills it). The answer says which happened.
function cancelVideo(card, button, id) {
  const wasQueued = !!videos[id] && videos[id].status === "queued";
  button.disabled = true;
  P.api("POST", "/videos/" + encodeURIComponent(id) + "/cancel").then((item) => {
    applyVideo(item, "live");
    if (item && item.status === "canceled") P.toast("success", t("toast.canceled"));
    // Sent between the click and the cancel: nothing refunded, and the person must know it.
    else if (item && item.stopped_waiting) P.toast("info", t(wasQueued ? "toast.sent_before_cancel" : "toast.stopped_waiting"));
    P.refreshMe().catch(() => {});
  }, (error) => {
    button.disabled = false;
    P.showError(error);
    P.api("GET", "/videos/" + encodeURIComponent(id)).then((item) => applyVideo(item, "live"), () => {});
  });
}

// Called with a video whose "try again" was pressed.
export function setRetry(handler) { onRetry = handler; }

const ACTIONS = {
  expand(card, button) {
    const expanded = card.classList.toggle("expanded");
    setText(button, expanded ? "card.less" : "card.more");
  },
  delete(card) { setAsking(card, "confirm-delete", "keep"); },
  keep(card) { setAsking(card, null, "delete"); },
  "ask-stop"(card) { setAsking(card, "confirm-stop", "keep-waiting"); },
  "keep-waiting"(card) { setAsking(card, null, "ask-stop"); },
  "confirm-stop"(card, button, id) { cancelVideo(card, button, id); },
  "confirm-delete"(card, button, id) {
    button.disabled = true;
    P.api("DELETE", "/videos/" + encodeURIComponent(id)).then(() => {
      removeVideo(id);
      P.toast("success", t("toast.deleted"));
    }, (error) => {
      if (error.status === 404) { removeVideo(id); return; }
      button.disabled = false;
      P.showError(error);
    });
  },
  cancel(card, button, id) { cancelVideo(card, button, id); },
  retry(card, button, id) { onRetry(videos[id]); },
  share(card, button, id) {
    button.disabled = true;
    P.api("POST", "/videos/" + encodeURIComponent(id) + "/share").then((answer) => {
      setShared(id, answer && answer.url);
      copyText(answer && answer.url, "toast.shared");
      // The share answer carries only the link: the embed code and views come with the video.
      P.api("GET", "/videos/" + encodeURIComponent(id)).then((item) => applyVideo(item, "live"), () => {});
    }, (error) => {
      button.disabled = false;
      P.showError(error);
    });
  },
  unshare(card, button, id) {
    button.disabled = true;
    P.api("DELETE", "/videos/" + encodeURIComponent(id) + "/share").then(() => {
      setShared(id, null);
      P.toast("success", t("toast.unshared"));
    }, (error) => {
      button.disabled = false;
      P.showError(error);
    });
  },
  "copy-share"(card, button, id) { copyText(videos[id] && videos[id].share_url, "toast.link_copied"); },
  "copy-embed"(card, button, id) {
    const box = card.querySelector(".embed-code");
    if (box) box.select();
    copyText(videos[id] && videos[id].embed_code, "toast.embed_copied");
  }
};

gallery.addEventListener("click", (event) => {
  const button = event.target.closest("[data-action]");
  if (!button || !gallery.contains(button)) return;
  const card = button.closest(".card");
  const action = ACTIONS[button.dataset.action];
  if (action) action(card, button, card.dataset.id);
});

// The card of a video that was just shared (url) or stopped (null), drawn again from what we hold.
function setShared(id, url) {
  const held = videos[id];
  if (!held) return;
  const copy = Object.assign({}, held, { share_url: url || null });
  if (!url) Object.assign(copy, { embed_code: null, share_views: 0 });
  applyVideo(copy, "live");
  const card = document.getElementById("video-" + id);
  const focus = card && card.querySelector(url ? '[data-action="copy-share"]' : '[data-action="share"]');
  if (focus) focus.focus();
}

// Puts a link on the clipboard; says so with messageKey, or shows the link to copy by hand.
function copyText(text, messageKey) {
  if (!text) return;
  const done = () => P.toast("success", t(messageKey));
  const byHand = () => {
    const box = el("textarea", "visually-hidden", { readonly: "" });
    box.value = text;
    document.body.appendChild(box);
    box.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (error) { ok = false; }
    box.remove();
    if (ok) done();
    else P.toast("info", t("toast.copy_by_hand", { url: text }));
  };
  if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(text).then(done, byHand);
  else byHand();
}

// ---------------------------------------------------------------- Live updates

let pollTimer = null;
let polling = false;

export function schedulePoll(delay) {
  clearTimeout(pollTimer);
  if (delay === undefined) delay = document.visibilityState === "hidden" ? POLL_HIDDEN_MS : POLL_VISIBLE_MS;
  pollTimer = setTimeout(poll, delay);
}

function poll() {
  if (polling) return;
  if (version === null) { schedulePoll(); return; }
  polling = true;
  P.api("GET", "/videos/changes?after=" + encodeURIComponent(version)).then((changes) => {
    if (!changes) return; // 304: nothing new
    if (typeof changes.version === "number") version = changes.version;
    const changed = (changes.videos || []).length + (changes.deleted || []).length;
    (changes.videos || []).forEach((item) => applyVideo(item, "live"));
    (changes.deleted || []).forEach(removeVideo);
    (changes.queue || []).forEach(applyPlace);
    if (changed > 0) return P.refreshMe();
  }).catch((error) => {
    // A version the server no longer knows: start again from the first page.
    if (error.status === 400 || error.status === 409 || error.status === 410) return resync();
  }).then(() => {
    polling = false;
    schedulePoll();
  });
}

// A queued video's new place and wait (read by the server at every poll): its line moves in
// place, the card is not drawn again.
function applyPlace(place) {
  const held = place && videos[place.id];
  if (!held || held.status !== "queued") return;
  const moved = Object.assign({}, held, { queue_position: place.queue_position, estimated_start_seconds: place.estimated_start_seconds });
  videos[place.id] = moved;
  const card = document.getElementById("video-" + place.id);
  if (card) refreshRunning(card, moved);
}

// Starts the gallery again from the first page.
function resync() {
  return P.api("GET", "/videos?limit=" + PAGE_SIZE).then((page) => {
    while (gallery.firstChild) gallery.firstChild.remove();
    videos = {};
    version = page && typeof page.version === "number" ? page.version : version;
    nextCursor = (page && page.next_cursor) || null;
    ((page && page.data) || []).forEach((item) => applyVideo(item, "end"));
    moreButton.hidden = !nextCursor;
    updateEmptyState();
  });
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") schedulePoll(0);
});

// /#video-ID (from the credits page) scrolls to that card and marks it for a moment.
export function showLinkedCard() {
  const match = /^#video-(.+)$/.exec(window.location.hash);
  const card = match && document.getElementById("video-" + decodeURIComponent(match[1]));
  if (!card) return;
  card.scrollIntoView({ block: "center" });
  card.classList.add("linked");
  setTimeout(() => card.classList.remove("linked"), 2500);
}
