// The model catalog as GET /api/v1/models gives it: the only place the studio learns models, their options and prices.
const P = window.Phim;

let catalog = { models: [], withdrawn: [], demo: false };
let loaded = false;
const listeners = [];

// The words for the frame ratios the API names ("16:9"), and the shape drawn beside them.
// A ratio not listed here is still offered, shown as the API writes it.
export const RATIOS = {
  "16:9": { key: "aspect.landscape", shape: "landscape" },
  "9:16": { key: "aspect.portrait", shape: "portrait" },
  "1:1": { key: "aspect.square", shape: "square" }
};

// Width over height of a ratio written "W:H" (1 when it cannot be read).
export function ratioValue(ratio) {
  const match = /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(String(ratio || ""));
  return match && Number(match[2]) > 0 ? Number(match[1]) / Number(match[2]) : 1;
}

// Asks the server again (in the page's language) and tells the listeners.
export function load() {
  return P.api("GET", "/models").then((answer) => {
    catalog = {
      models: (answer && Array.isArray(answer.models)) ? answer.models : [],
      withdrawn: (answer && Array.isArray(answer.withdrawn)) ? answer.withdrawn : [],
      demo: !!answer && answer.demo === true
    };
    loaded = true;
    listeners.forEach((listener) => listener(catalog));
    return catalog;
  });
}

export const isLoaded = () => loaded;
export const offered = () => catalog.models;
export const isDemo = () => catalog.demo;
export const onChange = (listener) => listeners.push(listener);

export function find(id) {
  return catalog.models.find((model) => model.id === id) || null;
}

// The name a video's model goes by: an offered model, or one withdrawn that old videos still carry.
export function nameOf(id) {
  const known = find(id) || catalog.withdrawn.find((model) => model.id === id);
  return known ? known.name : String(id || "");
}

// The first offered model that replaces a withdrawn one (null when none is offered).
export function replacementFor(id) {
  const gone = catalog.withdrawn.find((model) => model.id === id);
  return ((gone && gone.replacements) || []).map(find).find((model) => model && model.available !== false) || null;
}

export function defaultModel() {
  return catalog.models.find((model) => model.default === true) || catalog.models[0] || null;
}

export const takesImage = (model) => !!model && (model.modes || []).includes("image_to_video");
export const takesText = (model) => !!model && (model.modes || []).includes("text_to_video");

// Whether a video of this model has sound, given what the person asked for.
export function audioFor(model, wanted) {
  if (!model) return false;
  if (model.audio === "always") return true;
  if (model.audio === "none") return false;
  return !!wanted;
}

// The credits for one video with these options, or null when the model has no such price.
export function priceOf(model, choice) {
  if (!model) return null;
  const audio = audioFor(model, choice.audio);
  const row = (model.prices || []).find((price) => Number(price.duration) === Number(choice.duration)
    && price.resolution === choice.resolution && price.audio === audio);
  return row && typeof row.credits === "number" ? row.credits : null;
}

// The cheapest and dearest video of a model: {min, max}, or null when it has no price.
export function priceRange(model) {
  const credits = ((model && model.prices) || []).map((price) => price.credits).filter((value) => typeof value === "number");
  return credits.length ? { min: Math.min(...credits), max: Math.max(...credits) } : null;
}
