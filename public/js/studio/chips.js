// The style chips above the prompt (operator-editable presets): a chip adds its words, a pressed chip takes them out.
const P = window.Phim;
const { el } = P;

const stylesBox = document.getElementById("styles");
const promptBox = document.getElementById("prompt");
let edited = () => {};

// edited(): called after a chip changed the prompt.
export function init(onEdited) { edited = onEdited; }

// What is sent is exactly what the box shows, so a chip is "on" when its words are in the box.
const hasWords = (words) => !!words && promptBox.value.includes(words);

export function sync() {
  stylesBox.querySelectorAll(".chip").forEach((chip) => {
    chip.setAttribute("aria-pressed", hasWords(chip.dataset.text) ? "true" : "false");
  });
}

function toggleStyle(words) {
  let value = promptBox.value;
  if (hasWords(words)) {
    if (value.includes(", " + words)) value = value.replace(", " + words, "");
    else if (value.includes(words + ", ")) value = value.replace(words + ", ", "");
    else value = value.replace(words, "");
    value = value.replace(/^[\s,]+/, "").replace(/[\s,]+$/, "");
  } else {
    value = value.replace(/[\s,]+$/, "");
    value = value ? value + ", " + words : words;
  }
  promptBox.value = value;
  edited();
  sync();
  promptBox.focus();
  promptBox.setSelectionRange(promptBox.value.length, promptBox.value.length);
}

// The chips come from the server, named in the page's language (asked again on a switch).
export function load() {
  return P.api("GET", "/styles").then((answer) => {
    while (stylesBox.firstChild) stylesBox.firstChild.remove();
    ((answer && answer.data) || []).forEach((style) => {
      if (!style || !style.prompt_text) return;
      const chip = el("button", "chip", { type: "button", "data-key": style.key, "data-testid": "style-chip", "aria-pressed": "false" });
      chip.dataset.text = style.prompt_text;
      chip.textContent = style.name || style.key;
      chip.title = style.prompt_text;
      stylesBox.appendChild(chip);
    });
    stylesBox.hidden = !stylesBox.firstChild;
    sync();
  }, () => {
    stylesBox.hidden = true; // no chips is no loss: the prompt box works without them
  });
}

stylesBox.addEventListener("click", (event) => {
  const chip = event.target.closest(".chip");
  if (chip && stylesBox.contains(chip)) toggleStyle(chip.dataset.text);
});
