// One video as a card in the gallery: its media, status, what it was made with, and its actions.
import * as M from "./models.js";

const P = window.Phim;
const { t, el, setText, setAttr } = P;

const DAY_MS = 24 * 60 * 60 * 1000;
// Sent: the provider has the task (Kie cannot stop it). Queued: still in Phim's queue, nothing sent.
const SENT = ["submitting", "pending", "processing"];
const UNFINISHED = ["queued"].concat(SENT);
const STATUSES = ["queued", "submitting", "pending", "processing", "completed", "failed", "canceled"];
// "3rd" in English, "thứ 3" in Vietnamese: the language's ordinal rule picks the key.
const ORDINALS = { one: "card.ordinal_one", two: "card.ordinal_two", few: "card.ordinal_few", other: "card.ordinal_other" };
const HOURGLASS = ["M7 3h10", "M7 21h10", "M8 3c0 5 8 5 8 9s-8 4-8 9", "M16 3c0 5-8 5-8 9s8 4 8 9"];
// Old (Sora) videos name a quality where newer ones name a resolution ("720p", shown as it is).
const RESOLUTIONS = { standard: "card.resolution_standard", high: "card.resolution_high" };
const SPEAKER = "M4 9h4l5-4v14l-5-4H4z";
const WAVES = "M16.5 8.5a5 5 0 0 1 0 7";
const MUTED = "M16 9l5 6 M21 9l-5 6";

export const isUnfinished = (video) => UNFINISHED.includes(video.status);
export const isSent = (video) => SENT.includes(video.status);
// A sent video its owner stopped waiting for: one line until it finishes (it still arrives).
export const isSetAside = (video) => isSent(video) && video.stopped_waiting === true;

function labelled(tag, className, key, params) {
  return setText(el(tag, className), key, params);
}

function mediaState(className, paths) {
  const box = el("div", "media-state " + className, { "aria-hidden": "true" });
  box.appendChild(P.icon(paths, 40));
  return box;
}

// Where a finished video plays and downloads from: media_url (a redirect that outlives the
// provider's URL) when the server gives one, else the provider's URL.
export const mediaSource = (video) => video.media_url || video.video_url || null;

const isExpired = (video) => video.status === "completed" && video.expired === true;

export const isPlayable = (video) => video.status === "completed" && !isExpired(video) && !!mediaSource(video);

// "0:42", "12:05", "1:02:09".
export function clock(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = String(whole % 60).padStart(2, "0");
  return hours > 0 ? hours + ":" + String(minutes).padStart(2, "0") + ":" + rest : minutes + ":" + rest;
}

// The media box, in the video's own frame (16:9, 9:16 or 1:1) inside a tidy box.
function renderMedia(video) {
  const shape = (M.RATIOS[video.aspect_ratio] || M.RATIOS["16:9"]).shape;
  const box = el("div", "card-media media-" + shape);
  const media = el("div", "frame");
  box.appendChild(media);
  if (isExpired(video)) {
    const expired = mediaState("media-expired", ["M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z", "M12 7v5l3 2"]);
    expired.removeAttribute("aria-hidden");
    expired.appendChild(labelled("span", "media-caption", "card.expired_short"));
    media.appendChild(expired);
  } else if (isPlayable(video)) {
    const player = el("video", "card-video", { controls: "", playsinline: "", preload: "metadata" });
    player.src = mediaSource(video);
    media.appendChild(player);
  } else if (video.status === "failed" || video.status === "completed") {
    media.appendChild(mediaState("media-failed", ["M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z", "M12 7.5v6", "M12 16.5v.5"]));
  } else if (video.status === "canceled") {
    media.appendChild(mediaState("media-canceled", ["M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z", "M6.5 17.5l11-11"]));
  } else {
    const queued = video.status === "queued";
    const working = el("div", "media-state media-working" + (queued ? " media-queued" : ""), { "aria-hidden": "true" });
    if (video.image_url) {
      const reference = el("img", "media-reference", { alt: "" });
      reference.src = video.image_url;
      working.appendChild(reference);
    }
    // Waiting in the queue is not generating yet: an hourglass, not the spinner.
    working.appendChild(queued ? P.icon(HOURGLASS, 36) : el("span", "spinner large"));
    media.appendChild(working);
  }
  return box;
}

// A speaker, struck through when the video has no sound.
function soundMark(audio) {
  const mark = el("span", "sound-mark" + (audio ? "" : " off"), { "data-testid": "sound-mark", "data-audio": String(audio), role: "img" });
  mark.appendChild(P.icon(audio ? [SPEAKER, WAVES] : [SPEAKER, MUTED], 14));
  setAttr(mark, "title", audio ? "card.sound_on" : "card.sound_off");
  setAttr(mark, "aria-label", audio ? "card.sound_on" : "card.sound_off");
  return mark;
}

// Model · (image) · ratio · length · resolution · sound · price.
function renderSpecs(video) {
  const specs = el("p", "specs");
  const name = el("span", "card-model", { "data-testid": "card-model" });
  name.textContent = M.nameOf(video.model);
  specs.appendChild(name);
  if (video.mode === "image_to_video") specs.appendChild(labelled("span", "", "mode.image_to_video"));
  if (video.aspect_ratio) {
    const ratio = el("span", "", { "data-testid": "card-ratio" });
    ratio.textContent = video.aspect_ratio;
    specs.appendChild(ratio);
  }
  if (video.duration) specs.appendChild(labelled("span", "", "duration.seconds", { seconds: video.duration }));
  if (video.resolution) {
    const resolution = el("span", "", { "data-testid": "card-resolution" });
    if (RESOLUTIONS[video.resolution]) setText(resolution, RESOLUTIONS[video.resolution]);
    else resolution.textContent = video.resolution;
    specs.appendChild(resolution);
  }
  if (typeof video.audio === "boolean") specs.appendChild(el("span", "sound-part")).appendChild(soundMark(video.audio));
  if (typeof video.price_credits === "number") specs.appendChild(labelled("span", "price-tag", "credits.amount", { amount: video.price_credits }));
  return specs;
}

function actionButton(action, key, className) {
  const button = el("button", "button small " + (className || "secondary"), { type: "button", "data-action": action });
  return setText(button, key);
}

// "The provider keeps it N more days" under a finished video (highlighted in the last two days),
// or why an expired one no longer plays.
function renderExpiry(video) {
  if (video.status !== "completed") return null;
  if (isExpired(video)) return labelled("p", "expiry expired", "card.expired");
  const until = Date.parse(video.expires_at || "");
  if (!until) return null;
  const left = until - Date.now();
  const node = el("p", "expiry", { "data-testid": "expiry" });
  if (left <= DAY_MS) setText(node, "card.expires_today");
  else setText(node, "card.expires_in", { days: Math.ceil(left / DAY_MS) });
  node.dataset.days = String(Math.max(0, Math.ceil(left / DAY_MS)));
  if (left <= 2 * DAY_MS) node.classList.add("soon");
  setAttr(node, "title", "card.expiry_hint");
  return node;
}

// The public link of a shared video: open it, copy it, or stop sharing.
function renderShare(video) {
  const box = el("div", "share-box", { "data-testid": "share" });
  box.appendChild(labelled("span", "share-label", "card.shared"));
  const link = el("a", "share-url", { href: video.share_url, target: "_blank", rel: "noopener", "data-action": "open-share", "data-testid": "share-url" });
  link.textContent = video.share_url;
  setAttr(link, "title", "card.share_open");
  box.appendChild(link);
  if (typeof video.share_views === "number") {
    const views = el("span", "share-views", { "data-testid": "share-views" });
    views.dataset.count = String(video.share_views);
    setText(views, video.share_views === 1 ? "card.share_view_one" : "card.share_views", { count: video.share_views });
    box.appendChild(views);
  }
  const buttons = el("div", "share-actions");
  buttons.appendChild(actionButton("copy-share", "card.share_copy"));
  buttons.appendChild(actionButton("unshare", "card.unshare", "ghost"));
  box.appendChild(buttons);
  if (video.embed_code) {
    const embedId = "embed-" + video.id;
    const embedLabel = labelled("label", "share-label embed-label", "card.embed");
    embedLabel.htmlFor = embedId;
    box.appendChild(embedLabel);
    const embedRow = el("div", "embed-row");
    const code = el("input", "embed-code", { id: embedId, type: "text", readonly: "", spellcheck: "false", "data-testid": "embed-code" });
    code.value = video.embed_code;
    embedRow.appendChild(code);
    embedRow.appendChild(actionButton("copy-embed", "card.embed_copy"));
    box.appendChild(embedRow);
  }
  return box;
}

// The line under a running video: how long it has taken against how long the model usually
// takes. A bar fills only when the provider reports a figure (most models report none).
function renderRunning(video) {
  const row = el("div", "progress-row", { "data-testid": "running" });
  const track = el("div", "progress-track", { role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100" });
  setAttr(track, "aria-label", "card.progress");
  track.appendChild(el("span", "progress-fill"));
  row.appendChild(track);
  row.appendChild(el("span", "progress-text", { "data-testid": "elapsed" }));
  updateRunning(row, video);
  return row;
}

function updateRunning(row, video) {
  const track = row.querySelector(".progress-track");
  const text = row.querySelector(".progress-text");
  const progress = Math.max(0, Math.min(100, Math.round(Number(video.progress) || 0)));
  const model = M.find(video.model);
  const typical = model && model.typical_seconds > 0 ? model.typical_seconds : null;
  // Time in the queue is not generation time: count from the send when there is one.
  const started = Date.parse(video.sent_at || video.created_at || "");
  const elapsed = started ? Math.max(0, (Date.now() - started) / 1000) : 0;
  const status = t("status." + (STATUSES.includes(video.status) ? video.status : "pending"));
  const over = typical !== null && elapsed > typical;
  const params = { status: status, elapsed: clock(elapsed) };
  if (typical === null) setText(text, "card.running_plain", params);
  else setText(text, over ? "card.running_long" : "card.running", Object.assign(params, { typical: clock(typical) }));
  if (progress > 0) text.appendChild(labelled("span", "progress-value", "card.percent", { value: progress }));
  row.classList.toggle("overdue", over);
  track.classList.toggle("indeterminate", progress === 0);
  track.querySelector(".progress-fill").style.width = progress > 0 ? progress + "%" : "";
  if (progress > 0) track.setAttribute("aria-valuenow", String(progress));
  else track.removeAttribute("aria-valuenow");
  track.setAttribute("aria-valuetext", text.textContent);
  text.dataset.elapsed = String(Math.floor(elapsed));
}

// "thứ 3" / "3rd".
function ordinal(position) {
  let rule = "other";
  try { rule = new Intl.PluralRules(P.language(), { type: "ordinal" }).select(position); } catch (error) { rule = "other"; }
  return t(ORDINALS[rule] || ORDINALS.other, { n: position });
}

// A rough human wait: "khoảng 20 giây" (to 5 s), "khoảng 2 phút", "khoảng 1 giờ"; "sắp được gửi" at 0.
export function roughWait(seconds) {
  const whole = Math.max(0, Math.round(Number(seconds) || 0));
  if (whole === 0) return t("card.wait_soon");
  const fives = Math.ceil(whole / 5) * 5;
  if (fives < 60) return t("card.wait_seconds", { seconds: fives });
  if (whole < 3570) return t("card.wait_minutes", { minutes: Math.max(1, Math.round(whole / 60)) });
  return t("card.wait_hours", { hours: Math.round(whole / 3600) });
}

// The line under a queued video: its place in Phim's queue and a rough wait, moved by the change feed.
function renderQueue(video) {
  const row = el("div", "queue-row", { "data-testid": "queue" });
  row.appendChild(P.icon(HOURGLASS, 14));
  row.appendChild(el("span", "queue-text", { "data-testid": "queue-text" }));
  setAttr(row, "title", "card.queue_hint");
  updateQueue(row, video);
  return row;
}

function updateQueue(row, video) {
  const text = row.querySelector(".queue-text");
  const position = Number(video.queue_position);
  if (position >= 1) {
    setText(text, "card.queued", { status: t("status.queued"), place: ordinal(position), wait: roughWait(video.estimated_start_seconds) });
    text.dataset.position = String(position);
    text.dataset.wait = String(Math.max(0, Number(video.estimated_start_seconds) || 0));
  } else {
    setText(text, "status.queued");
    delete text.dataset.position;
    delete text.dataset.wait;
  }
}

function cardShell(video, className) {
  return el("article", className, {
    id: "video-" + video.id, "data-id": video.id, "data-status": video.status, "data-mode": video.mode || "",
    "data-model": video.model || "", "data-aspect": video.aspect_ratio || "", "data-testid": "video-card"
  });
}

// A sent video the person stopped waiting for: one line (what it was, that it will still come).
function renderSetAside(video) {
  const card = cardShell(video, "card card-set-aside");
  card.dataset.stoppedWaiting = "true";
  const body = el("div", "card-body");
  const line = el("p", "set-aside-note", { "data-testid": "stopped-waiting" });
  line.appendChild(P.icon(HOURGLASS, 14));
  line.appendChild(labelled("span", "set-aside-text", "card.stopped_waiting"));
  body.appendChild(line);
  const prompt = el("p", "prompt set-aside-prompt", { "data-testid": "prompt" });
  prompt.textContent = video.prompt || "";
  body.appendChild(prompt);
  body.appendChild(renderSpecs(video));
  card.appendChild(body);
  return card;
}

// A question asked in place of the card's buttons (hidden until asked): the words, a way back, the act.
// `modifier`: an extra class for the row, or null.
function question(testid, modifier, key, back, act) {
  const row = el("div", modifier ? "confirm-row " + modifier : "confirm-row", { "data-testid": testid, role: "group" });
  row.hidden = true;
  row.appendChild(labelled("span", "confirm-question", key));
  row.appendChild(actionButton(back[0], back[1]));
  row.appendChild(actionButton(act[0], act[1], "danger-solid"));
  return row;
}

export function renderCard(video) {
  if (isSetAside(video)) return renderSetAside(video);
  const card = cardShell(video, "card");
  card.appendChild(renderMedia(video));
  const body = el("div", "card-body");

  const meta = el("div", "card-meta");
  const status = STATUSES.includes(video.status) ? video.status : "pending";
  meta.appendChild(setText(el("span", "badge badge-" + status, { "data-testid": "status" }), "status." + status));
  if (video.created_at) meta.appendChild(P.timeElement(video.created_at));
  body.appendChild(meta);

  if (video.status === "queued") body.appendChild(renderQueue(video));
  else if (isSent(video)) body.appendChild(renderRunning(video));

  const prompt = el("p", "prompt", { "data-testid": "prompt" });
  prompt.textContent = video.prompt || "";
  body.appendChild(prompt);
  const toggle = el("button", "link prompt-toggle", { type: "button", "data-action": "expand" });
  setText(toggle, "card.more");
  toggle.hidden = true;
  body.appendChild(toggle);

  body.appendChild(renderSpecs(video));
  const expiry = renderExpiry(video);
  if (expiry) body.appendChild(expiry);

  if (video.status === "submitting") body.appendChild(labelled("p", "note", "card.confirming"));
  if (video.status === "failed") {
    const failure = el("p", "failure", { role: "status", "data-testid": "failure" });
    const reason = el("span", "failure-message");
    reason.textContent = (video.failure && video.failure.message) || t("card.failed_generic");
    failure.appendChild(reason);
    if (video.credits_refunded) {
      failure.appendChild(document.createTextNode(" "));
      failure.appendChild(labelled("span", "refunded", "card.refunded"));
    }
    body.appendChild(failure);
  } else if (video.status === "canceled" && video.credits_refunded) {
    const canceled = el("p", "failure canceled", { role: "status" });
    canceled.appendChild(labelled("span", "refunded", "card.refunded"));
    body.appendChild(canceled);
  }

  if (isPlayable(video) && video.share_url) body.appendChild(renderShare(video));

  const actions = el("div", "card-actions");
  if (isPlayable(video)) {
    const download = el("a", "button small secondary", { "data-action": "download", download: "", target: "_blank", rel: "noopener" });
    download.href = mediaSource(video);
    actions.appendChild(setText(download, "card.download"));
    if (!video.share_url) actions.appendChild(actionButton("share", "card.share"));
  }
  // Cancel says what it costs: queued, it refunds at once; sent, it asks first (see confirm-stop).
  if (video.status === "queued") actions.appendChild(actionButton("cancel", "card.cancel_refund"));
  if (isSent(video)) actions.appendChild(actionButton("ask-stop", "card.cancel"));
  if (video.status === "failed" || video.status === "canceled") actions.appendChild(actionButton("retry", "card.retry"));
  actions.appendChild(actionButton("delete", "card.delete", "ghost danger push-end"));
  body.appendChild(actions);

  body.appendChild(question("confirm-delete", null, "card.confirm_delete", ["keep", "card.keep"], ["confirm-delete", "card.delete"]));
  if (isSent(video)) {
    body.appendChild(question("confirm-stop", "confirm-stop", "card.confirm_stop", ["keep-waiting", "card.keep_waiting"], ["confirm-stop", "card.stop_waiting"]));
  }

  card.appendChild(body);
  return card;
}

// Brings an unfinished card's line up to date: a queued one's place and wait, a running one's
// elapsed time and the provider's figure if any.
export function refreshRunning(card, video) {
  if (!video) return;
  const queue = card.querySelector(".queue-row");
  if (queue && video.status === "queued") updateQueue(queue, video);
  const row = card.querySelector(".progress-row");
  if (row && isSent(video)) updateRunning(row, video);
}

// Names the cards' models again (the catalog arrived or changed language).
export function rename(card, video) {
  const name = card.querySelector(".card-model");
  if (name && video) name.textContent = M.nameOf(video.model);
  refreshRunning(card, video);
}

// Shows "more" under a prompt only when the prompt is cut off.
export function decorate(card) {
  const prompt = card.querySelector(".prompt");
  const toggle = card.querySelector(".prompt-toggle");
  if (!prompt || !toggle) return;
  toggle.hidden = !card.classList.contains("expanded") && !(prompt.scrollHeight > prompt.clientHeight + 1);
}
