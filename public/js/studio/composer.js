// The composer: the chosen model's options only, the live price from its prices, and submitting (once, whatever the clicks).
import * as M from "./models.js";
import * as picker from "./picker.js";
import * as image from "./image.js";
import * as chips from "./chips.js";

const P = window.Phim;
const { t, el, setText } = P;

// Errors after which what the page knows of the models is stale: ask for the catalog again.
const CATALOG_ERRORS = ["model_unavailable", "unknown_model", "model_retired", "image_not_offered", "image_required", "audio_not_offered",
                        "audio_always_on", "invalid_duration", "invalid_aspect_ratio", "invalid_resolution", "prompt_too_long"];

const form = document.getElementById("composer");
const promptBox = document.getElementById("prompt");
const submitButton = document.getElementById("submit");
const priceAmount = document.getElementById("price-amount");
const priceBox = document.getElementById("price");
const priceEach = document.getElementById("price-each");
const balanceAfter = document.getElementById("balance-after");
const insufficient = document.getElementById("insufficient");
const insufficientText = document.getElementById("insufficient-text");
const blocked = document.getElementById("blocked");
const charCount = document.getElementById("char-count");
const composerError = document.getElementById("composer-error");
const composerErrorText = document.getElementById("composer-error-text");
const composerErrorLink = document.getElementById("composer-error-link");
const variantsSelect = document.getElementById("variants");
const ratioBox = document.getElementById("ratio-options");
const durationBox = document.getElementById("duration-options");
const resolutionBox = document.getElementById("resolution-options");
const audioToggle = document.getElementById("audio-toggle");
const audioBox = document.getElementById("audio");
const audioAlways = document.getElementById("audio-always");

// What the person chose; `model` is the catalog's entry.
const state = { model: null, duration: null, ratio: null, resolution: null, audio: false };
// One key per submit attempt; kept when the network failed, so a second click cannot make a second video.
let attemptKey = null;
let busy = false;
let applyVideo = () => {};
let catalogState = "composer.models_loading";

// Prompt length as the server counts it (characters a person sees, not UTF-16 units).
const segmenter = typeof Intl !== "undefined" && Intl.Segmenter ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;
function promptLength(text) {
  if (!segmenter) return Array.from(text).length;
  let count = 0;
  for (const _ of segmenter.segment(text)) count++; // eslint-disable-line no-unused-vars
  return count;
}

// ---------------------------------------------------------------- Options

function segment(name, value, checked, label) {
  const item = el("label", "segment");
  const input = el("input", "", { type: "radio", name: name, value: String(value) });
  input.checked = checked;
  item.appendChild(input);
  label.forEach((part) => item.appendChild(part));
  return item;
}

function fill(box, items) {
  while (box.firstChild) box.firstChild.remove();
  items.forEach((item) => box.appendChild(item));
  box.classList.toggle("single", items.length === 1);
}

// Draws the chosen model's lengths, frames and resolutions, and its sound choice where it has one.
function renderOptions() {
  const model = state.model;
  fill(ratioBox, (model ? model.aspect_ratios : []).map((ratio) => {
    const known = M.RATIOS[ratio];
    const shape = el("span", "shape shape-" + (known ? known.shape : "landscape"), { "aria-hidden": "true" });
    const label = el("span", "segment-label");
    if (known) setText(label, known.key);
    else label.textContent = ratio;
    const item = segment("aspect_ratio", ratio, ratio === state.ratio, [shape, label]);
    item.title = ratio;
    return item;
  }));
  fill(durationBox, (model ? model.durations : []).map((seconds) =>
    segment("duration", seconds, seconds === state.duration, [setText(el("span", "segment-label"), "duration.seconds", { seconds: seconds })])));
  fill(resolutionBox, (model ? model.resolutions : []).map((resolution) => {
    const label = el("span", "segment-label");
    label.textContent = resolution;
    return segment("resolution", resolution, resolution === state.resolution, [label]);
  }));
  audioToggle.hidden = !model || model.audio !== "optional";
  audioAlways.hidden = !model || model.audio !== "always";
  audioBox.checked = M.audioFor(model, state.audio);
}

// Makes `model` the chosen one, keeping the options that still apply and the model's defaults otherwise.
function choose(model, keepAudio) {
  const previous = state.model;
  state.model = model;
  if (model) {
    if (!model.durations.includes(state.duration)) state.duration = model.defaults.duration;
    if (!model.aspect_ratios.includes(state.ratio)) state.ratio = model.defaults.aspect_ratio;
    if (!model.resolutions.includes(state.resolution)) state.resolution = model.defaults.resolution;
    const bothOptional = previous && previous.audio === "optional" && model.audio === "optional";
    if (!keepAudio && !bothOptional) state.audio = model.defaults.audio;
    if (!M.takesImage(model) && image.attached()) {
      image.clear();
      showComposerError(t("composer.no_image_model", { name: model.name }));
    }
    image.allow(M.takesImage(model));
  }
  picker.render(model ? model.id : null);
  renderOptions();
  image.checkRatio();
  attemptKey = null;
  update();
}

// The catalog arrived again: the chosen model stays if still offered (its prices and availability
// may have changed), else the default takes its place and the composer says so.
function catalogChanged() {
  const current = state.model && M.find(state.model.id);
  if (!M.offered().length) {
    state.model = null;
    catalogState = "composer.models_none";
    picker.showState(catalogState);
    renderOptions();
    update();
    return;
  }
  if (state.model && !current) showComposerError(t("composer.model_gone", { old: state.model.name, name: M.defaultModel().name }));
  choose(current || M.defaultModel(), !!current);
}

export function reloadModels() {
  return M.load().catch(() => { if (!M.isLoaded()) catalogFailed(); });
}

// ---------------------------------------------------------------- Price and what stops a submit

// How many videos one submit makes (1 to 4): each its own video, held and charged on its own.
function variantCount() {
  const count = Number(variantsSelect.value);
  return count >= 1 && count <= 4 ? Math.floor(count) : 1;
}

// Why the composer cannot send right now, as [key, params], or null.
function obstacle(length, max) {
  const model = state.model;
  if (!model) return [catalogState, null];
  if (model.available === false) {
    return ["composer.model_unavailable_plain", { name: model.name }];
  }
  if (length > max) return ["composer.prompt_too_long", { name: model.name, max: max }];
  if (!M.takesText(model) && !image.attached()) return ["composer.image_required", { name: model.name }];
  return null;
}

function currentPrice() {
  return M.priceOf(state.model, { duration: state.duration, resolution: state.resolution, audio: state.audio });
}

export function update() {
  const price = currentPrice();
  const count = variantCount();
  const account = P.me();
  const credits = account && typeof account.credits === "number" ? account.credits : null;
  const max = state.model ? state.model.prompt_max_length : 0;
  const length = promptLength(promptBox.value.trim());
  const stop = obstacle(length, max);
  let short = false;
  priceEach.hidden = true;
  balanceAfter.hidden = false;
  if (price === null) {
    priceAmount.dataset.value = "";
    priceAmount.textContent = state.model ? "—" : "…";
    if (state.model && !stop) setText(balanceAfter, "composer.price_unavailable");
    else balanceAfter.textContent = "";
  } else {
    const total = price * count;
    P.setNumber(priceAmount, total);
    priceAmount.dataset.each = String(price);
    if (count > 1) {
      setText(priceEach, "composer.price_each", { count: count, each: price });
      priceEach.hidden = false;
    }
    if (credits !== null && credits < total) {
      short = true;
      if (count > 1) setText(insufficientText, "composer.insufficient_many", { count: count, needed: total, available: credits });
      else setText(insufficientText, "composer.insufficient", { needed: total, available: credits });
    } else if (credits !== null) {
      if (count > 1) setText(balanceAfter, "composer.balance_after_many", { count: count, amount: credits - total });
      else setText(balanceAfter, "composer.balance_after", { amount: credits - total });
    } else {
      balanceAfter.textContent = "";
    }
  }
  if (stop) setText(blocked, stop[0], stop[1] || undefined);
  blocked.hidden = !stop;
  if (stop) balanceAfter.hidden = true;
  priceBox.classList.toggle("many", count > 1);
  priceBox.classList.toggle("unavailable", price === null || short);
  insufficient.hidden = !short || !!stop;
  if (short) balanceAfter.hidden = true;
  submitButton.disabled = busy || price === null || short || !!stop;
  if (state.model) setText(charCount, "composer.char_count", { count: length, max: max });
  else charCount.textContent = "";
  charCount.classList.toggle("near-limit", max > 0 && length > max * 0.9 && length <= max);
  charCount.classList.toggle("over-limit", max > 0 && length > max);
  form.classList.toggle("has-image", image.attached());
}

// ---------------------------------------------------------------- Errors

function showComposerError(message, withCreditsLink) {
  composerErrorText.textContent = message;
  composerErrorLink.hidden = !withCreditsLink;
  composerError.hidden = false;
}

function hideComposerError() { composerError.hidden = true; }

document.getElementById("composer-error-close").addEventListener("click", hideComposerError);

// ---------------------------------------------------------------- Submit

function growPrompt() {
  promptBox.style.height = "auto";
  promptBox.style.height = Math.min(promptBox.scrollHeight + 2, 240) + "px";
  promptBox.style.overflowY = promptBox.scrollHeight + 2 > 240 ? "auto" : "hidden";
}

function setBusy(value) {
  busy = value;
  form.classList.toggle("busy", value);
  submitButton.setAttribute("aria-busy", value ? "true" : "false");
  update();
}

function submit() {
  if (busy) return;
  picker.close(false);
  hideComposerError();
  const prompt = promptBox.value.trim();
  if (!prompt) {
    showComposerError(t("composer.prompt_required"));
    promptBox.focus();
    return;
  }
  if (submitButton.disabled || currentPrice() === null) return;
  const model = state.model;
  setBusy(true);
  attemptKey = attemptKey || P.uuid();
  const key = attemptKey;
  const count = variantCount();
  image.ensureUpload().then((uploadId) => {
    const body = { prompt: prompt, model: model.id, duration: state.duration, aspect_ratio: state.ratio,
                   resolution: state.resolution, audio: M.audioFor(model, state.audio) };
    if (uploadId) body.upload_id = uploadId;
    const headers = { "Idempotency-Key": key };
    if (count === 1) return P.api("POST", "/videos", { body: body, headers: headers }).then((made) => ({ videos: [made] }));
    body.variants = count;
    return P.api("POST", "/videos/batch", { body: body, headers: headers });
  }).then((answer) => {
    attemptKey = null;
    const made = (answer && answer.videos) || [];
    // Oldest first, so the batch ends up in its order at the top of the gallery.
    made.slice().reverse().forEach((video) => applyVideo(video, "top"));
    if (answer && answer.refused) {
      showComposerError(answer.refused.message, answer.refused.code === "insufficient_credits");
      if (CATALOG_ERRORS.includes(answer.refused.code)) reloadModels();
    }
    if (made.length > 0) {
      promptBox.value = "";
      image.clear();
      growPrompt();
      chips.sync();
      window.scrollTo({ top: 0, behavior: "smooth" });
    }
    P.refreshMe().catch(() => {});
  }, (error) => {
    if (error.status !== 0) attemptKey = null; // the server answered: a new click is a new attempt
    showComposerError(error.message, error.code === "insufficient_credits");
    if (error.code === "insufficient_credits") P.refreshMe().catch(() => {});
    if (CATALOG_ERRORS.includes(error.code)) reloadModels();
  }).then(() => setBusy(false));
}

// "Try again": the video's prompt, model and options go back into the composer. A model no
// longer offered gives way to one that replaces it (or the default), and the composer says so.
export function retry(video) {
  if (!video) return;
  hideComposerError();
  promptBox.value = video.prompt || "";
  let model = M.find(video.model);
  if (!model) {
    model = M.replacementFor(video.model) || M.defaultModel();
    if (model) showComposerError(t("composer.model_gone", { old: M.nameOf(video.model), name: model.name }));
  }
  state.duration = video.duration;
  state.ratio = video.aspect_ratio;
  state.resolution = video.resolution;
  state.audio = video.audio === true;
  choose(model, true);
  if (M.takesImage(model)) image.reuse(video);
  else image.clear();
  growPrompt();
  update();
  chips.sync();
  promptBox.focus();
  promptBox.setSelectionRange(promptBox.value.length, promptBox.value.length);
}

// ---------------------------------------------------------------- Wiring

// applyVideo(video, mode): shows a video the composer just made.
export function init(handlers) {
  applyVideo = handlers.applyVideo;
  picker.init((model) => choose(model, false));
  picker.showState(catalogState);
  image.init({
    frame: () => state.ratio || "16:9",
    changed: () => { attemptKey = null; update(); },
    error: showComposerError,
    clearError: hideComposerError
  });
  chips.init(() => { attemptKey = null; growPrompt(); update(); });
  M.onChange(catalogChanged);
  growPrompt();
  update();
}

// The catalog could not be read: say so on the picker, and ask again in a while.
let retryTimer = null;
export function catalogFailed() {
  catalogState = "composer.models_failed";
  picker.showState(catalogState);
  update();
  clearTimeout(retryTimer);
  retryTimer = setTimeout(reloadModels, 5000);
}

form.addEventListener("submit", (event) => { event.preventDefault(); submit(); });
promptBox.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); submit(); }
});
promptBox.addEventListener("input", () => { attemptKey = null; growPrompt(); update(); chips.sync(); });
form.addEventListener("change", (event) => {
  const target = event.target;
  if (target.id === "image-input") return;
  attemptKey = null;
  if (target.name === "aspect_ratio") { state.ratio = target.value; image.checkRatio(); }
  else if (target.name === "duration") state.duration = Number(target.value);
  else if (target.name === "resolution") state.resolution = target.value;
  else if (target.name === "audio") state.audio = target.checked;
  update();
});
