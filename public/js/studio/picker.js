// The model picker: a button naming the chosen model and a list of every offered model saying what it does and costs.
import * as M from "./models.js";

const P = window.Phim;
const { t, el, setText } = P;

const button = document.getElementById("model-button");
const buttonName = document.getElementById("model-button-name");
const buttonNote = document.getElementById("model-button-note");
const list = document.getElementById("model-list");
const SOUND = { optional: "model.sound_optional", always: "model.sound_always", none: "model.sound_none" };

let chosenId = null;
let onChoose = () => {};

// handler(model): a person chose an available model.
export function init(handler) { onChoose = handler; }

// "4.500 – 28.700 tín dụng", or one figure when every video of the model costs the same.
function priceText(node, model) {
  const range = M.priceRange(model);
  if (!range) return setText(node, "model.no_price");
  node.dataset.min = String(range.min);
  node.dataset.max = String(range.max);
  return range.min === range.max ? setText(node, "credits.amount", { amount: range.min })
    : setText(node, "model.price_range", { from: range.min, to: range.max });
}

function imageKey(model) {
  if (!M.takesImage(model)) return "model.image_no";
  return M.takesText(model) ? "model.image_yes" : "model.image_only";
}

function fact(key, params, className) {
  return setText(el("span", "model-fact" + (className ? " " + className : "")), key, params);
}

function renderOption(model) {
  const available = model.available !== false;
  const option = el("button", "model-option", {
    type: "button", role: "option", id: "model-option-" + model.id, "data-model": model.id, "data-testid": "model-option",
    "aria-selected": String(model.id === chosenId), "data-available": String(available), tabindex: "-1"
  });
  if (!available) option.setAttribute("aria-disabled", "true");
  const head = el("span", "model-option-head");
  const name = el("strong", "model-option-name", { "data-testid": "model-option-name" });
  name.textContent = model.name;
  head.appendChild(name);
  if (model.default) head.appendChild(setText(el("span", "mark mark-default"), "model.default"));
  if (!available) head.appendChild(setText(el("span", "mark mark-paused"), "model.paused"));
  head.appendChild(priceText(el("span", "model-option-price", { "data-testid": "model-price" }), model));
  option.appendChild(head);
  if (model.description) {
    const description = el("span", "model-option-description");
    description.textContent = model.description;
    option.appendChild(description);
  }
  const facts = el("span", "model-option-facts");
  facts.appendChild(fact(SOUND[model.audio] || "model.sound_none", null, "sound-" + model.audio)).dataset.testid = "model-sound";
  facts.appendChild(fact(imageKey(model), null, M.takesImage(model) ? "image-yes" : "image-no")).dataset.testid = "model-image";
  facts.appendChild(fact("model.durations", { list: (model.durations || []).join(" · ") })).dataset.testid = "model-durations";
  const resolutions = el("span", "model-fact", { "data-testid": "model-resolutions" });
  resolutions.textContent = (model.resolutions || []).join(" · ");
  facts.appendChild(resolutions);
  if (model.typical_seconds > 0) facts.appendChild(fact("model.typical", { time: clockText(model.typical_seconds) }));
  option.appendChild(facts);
  if (!available) {
    const why = el("span", "model-option-paused", { "data-testid": "model-unavailable" });
    why.textContent = t("model.paused_no_reason");
    option.appendChild(why);
  }
  return option;
}

function clockText(seconds) {
  return Math.floor(seconds / 60) + ":" + String(Math.floor(seconds % 60)).padStart(2, "0");
}

// Draws the list again from the catalog, with `id` marked as chosen.
export function render(id) {
  chosenId = id;
  while (list.firstChild) list.firstChild.remove();
  list.appendChild(setText(el("p", "model-list-heading", { id: "model-list-heading" }), "composer.models_heading"));
  const box = el("div", "model-options", { role: "listbox", "aria-labelledby": "model-list-heading" });
  M.offered().forEach((model) => box.appendChild(renderOption(model)));
  list.appendChild(box);
  const model = M.find(id);
  delete buttonName.dataset.i18n;
  buttonName.textContent = model ? model.name : "";
  setText(buttonNote, "composer.model");
  button.disabled = !model;
  button.dataset.model = model ? model.id : "";
  button.classList.toggle("paused", !!model && model.available === false);
}

// The button's words when there is nothing to choose from (loading, or the catalog failed).
export function showState(key) {
  setText(buttonName, key);
  buttonNote.textContent = "";
  button.disabled = true;
}

const options = () => Array.from(list.querySelectorAll(".model-option"));

// The list opens upwards from the composer, as tall as the room below the top bar allows; on a
// phone it covers the composer too (there is little room above it).
function place() {
  const composer = list.parentElement.getBoundingClientRect();
  const header = document.getElementById("topbar");
  const top = header ? header.getBoundingClientRect().bottom : 0;
  const phone = window.innerWidth <= 760;
  list.style.top = phone ? top + 8 + "px" : "";
  list.style.maxHeight = (phone ? window.innerHeight - top - 16 : Math.max(200, Math.min(620, composer.top - top - 16))) + "px";
}

window.addEventListener("resize", () => { if (!list.hidden) place(); });

export function open() {
  if (button.disabled) return;
  place();
  list.hidden = false;
  button.setAttribute("aria-expanded", "true");
  const current = list.querySelector('.model-option[aria-selected="true"]') || options()[0];
  if (current) {
    current.focus({ preventScroll: true });
    if (current.offsetTop + current.offsetHeight > list.scrollTop + list.clientHeight) list.scrollTop = current.offsetTop - 40;
  }
}

export function close(focusButton) {
  if (list.hidden) return;
  list.hidden = true;
  button.setAttribute("aria-expanded", "false");
  if (focusButton) button.focus();
}

button.addEventListener("click", () => (list.hidden ? open() : close(false)));
button.addEventListener("keydown", (event) => {
  if (event.key === "ArrowUp" || event.key === "ArrowDown") {
    event.preventDefault();
    open();
  }
});

list.addEventListener("click", (event) => {
  const option = event.target.closest(".model-option");
  if (!option || option.getAttribute("aria-disabled") === "true") return;
  const model = M.find(option.dataset.model);
  close(true);
  if (model) onChoose(model);
});

list.addEventListener("keydown", (event) => {
  const all = options();
  const index = all.indexOf(document.activeElement);
  let next = null;
  if (event.key === "ArrowDown") next = all[Math.min(all.length - 1, index + 1)];
  else if (event.key === "ArrowUp") next = all[Math.max(0, index - 1)];
  else if (event.key === "Home") next = all[0];
  else if (event.key === "End") next = all[all.length - 1];
  else if (event.key === "Escape") { event.preventDefault(); close(true); return; }
  else if (event.key === "Tab") { close(false); return; }
  if (next) {
    event.preventDefault();
    next.focus();
  }
});

// A click anywhere else closes the list.
document.addEventListener("click", (event) => {
  if (!list.hidden && !list.contains(event.target) && !button.contains(event.target)) close(false);
});

export const isOpen = () => !list.hidden;
