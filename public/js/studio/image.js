// The composer's reference image: picked or dropped, previewed, cropped in the browser to the chosen frame, uploaded on submit.
import { ratioValue } from "./models.js";

const P = window.Phim;
const { t, setText } = P;

const MAX_IMAGE_BYTES = 10 * 1024 * 1024;
const IMAGE_TYPES = ["image/jpeg", "image/png", "image/webp"];
const RATIO_TOLERANCE = 0.05;

const form = document.getElementById("composer");
const imageInput = document.getElementById("image-input");
const attachButton = document.getElementById("attach");
const attachment = document.getElementById("attachment");
const preview = document.getElementById("attachment-preview");
const attachmentName = document.getElementById("attachment-name");
const ratioNote = document.getElementById("ratio-note");
const ratioText = document.getElementById("ratio-text");
const cropButton = document.getElementById("crop-image");

// A file chosen here (uploaded on submit), or an earlier upload reused by "try again".
const image = { file: null, uploadId: null, previewUrl: null, width: 0, height: 0 };
let hooks = { frame: () => "16:9", changed: () => {}, error: () => {}, clearError: () => {} };

// frame(): the chosen ratio ("16:9"); changed(): the image came or went; error(text) / clearError().
export function init(given) { hooks = Object.assign(hooks, given); }

export const attached = () => !!(image.file || image.uploadId);

function showImage(previewUrl, name) {
  if (image.previewUrl && image.previewUrl.startsWith("blob:")) URL.revokeObjectURL(image.previewUrl);
  image.previewUrl = previewUrl;
  if (previewUrl) preview.src = previewUrl;
  else preview.removeAttribute("src");
  attachmentName.textContent = name || "";
  attachment.hidden = !previewUrl;
  image.width = 0;
  image.height = 0;
  checkRatio();
  hooks.changed();
}

// The image's size, known once the preview has loaded.
preview.addEventListener("load", () => {
  if (!image.previewUrl) return;
  image.width = preview.naturalWidth;
  image.height = preview.naturalHeight;
  checkRatio();
});

// The crop that fits the frame's ratio in the middle of the image, or null when it already fits.
function cropFor(width, height, frame) {
  const target = ratioValue(frame);
  if (!width || !height || Math.abs(width / height / target - 1) <= RATIO_TOLERANCE) return null;
  let w = width;
  let h = height;
  if (width / height > target) w = Math.round(height * target);
  else h = Math.round(width / target);
  return { x: Math.floor((width - w) / 2), y: Math.floor((height - h) / 2), width: w, height: h };
}

// Says when a chosen image does not have the frame's shape, and offers to crop it (files only:
// an earlier upload reused by "try again" is sent as it is).
export function checkRatio() {
  const frame = hooks.frame();
  const crop = image.file ? cropFor(image.width, image.height, frame) : null;
  ratioNote.hidden = !crop;
  ratioNote.dataset.frame = frame;
  if (!crop) return;
  setText(ratioText, "composer.ratio_mismatch", { width: image.width, height: image.height, ratio: frame });
  cropButton.disabled = false;
}

// Cuts the middle of the image to the frame's ratio in a canvas and attaches the result instead.
function cropImage() {
  const frame = hooks.frame();
  const crop = cropFor(image.width, image.height, frame);
  const file = image.file;
  if (!crop || !file) return;
  cropButton.disabled = true;
  const canvas = document.createElement("canvas");
  canvas.width = crop.width;
  canvas.height = crop.height;
  canvas.getContext("2d").drawImage(preview, crop.x, crop.y, crop.width, crop.height, 0, 0, crop.width, crop.height);
  const type = file.type === "image/png" ? "image/png" : "image/jpeg";
  canvas.toBlob((blob) => {
    if (image.file !== file) return; // another image was chosen meanwhile
    if (!blob) {
      cropButton.disabled = false;
      hooks.error(t("composer.crop_failed"));
      return;
    }
    const base = (file.name || "image").replace(/\.[^.]*$/, "").replace(/-\d+x\d+$/, "");
    attachFile(new File([blob], base + "-" + frame.replace(":", "x") + (type === "image/png" ? ".png" : ".jpg"), { type: type }));
  }, type, 0.92);
}

cropButton.addEventListener("click", cropImage);

export function clear() {
  image.file = null;
  image.uploadId = null;
  imageInput.value = "";
  showImage(null, "");
}

// Checks type and size here first, so a wrong file never travels.
export function attachFile(file) {
  if (!file) return;
  if (attachButton.hidden) return; // the chosen model takes no image
  if (!IMAGE_TYPES.includes(file.type)) {
    hooks.error(t("composer.image_type"));
    imageInput.value = "";
    return;
  }
  if (file.size > MAX_IMAGE_BYTES) {
    hooks.error(t("composer.image_size", { limit: 10 }));
    imageInput.value = "";
    return;
  }
  hooks.clearError();
  image.file = file;
  image.uploadId = null;
  showImage(URL.createObjectURL(file), file.name);
}

// "Try again" with an image: reuses the earlier upload, or fetches the picture and attaches it anew.
export function reuse(video) {
  clear();
  if (video.mode !== "image_to_video") return;
  if (video.upload_id) {
    image.uploadId = video.upload_id;
    showImage(video.image_url, "");
  } else if (video.image_url) {
    fetch(video.image_url, { credentials: "same-origin" }).then((response) => {
      if (!response.ok) throw new Error(String(response.status));
      return response.blob();
    }).then((blob) => {
      const type = IMAGE_TYPES.includes(blob.type) ? blob.type : "image/png";
      attachFile(new File([blob], "reference." + type.split("/")[1], { type: type }));
    }).catch(() => hooks.error(t("composer.image_again")));
  }
}

// Offers the image button only for a model that takes a starting image.
export function allow(allowed) {
  attachButton.hidden = !allowed;
  form.classList.toggle("no-image", !allowed);
}

export function ensureUpload() {
  if (image.uploadId || !image.file) return Promise.resolve(image.uploadId);
  const body = new FormData();
  body.append("file", image.file, image.file.name || "image");
  const file = image.file;
  return P.api("POST", "/uploads", { body: body }).then((upload) => {
    if (image.file === file) image.uploadId = upload.id;
    return upload.id;
  });
}

attachButton.addEventListener("click", () => imageInput.click());
document.getElementById("remove-image").addEventListener("click", clear);
imageInput.addEventListener("change", () => attachFile(imageInput.files && imageInput.files[0]));
form.addEventListener("dragover", (event) => {
  if (attachButton.hidden) return;
  if (event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files")) {
    event.preventDefault();
    form.classList.add("dragging");
  }
});
form.addEventListener("dragleave", (event) => {
  // Moving over a child fires dragleave too: only leaving the composer itself ends the highlight.
  if (!event.relatedTarget || !form.contains(event.relatedTarget)) form.classList.remove("dragging");
});
form.addEventListener("drop", (event) => {
  form.classList.remove("dragging");
  const file = event.dataTransfer && event.dataTransfer.files && event.dataTransfer.files[0];
  if (file && !attachButton.hidden) {
    event.preventDefault();
    attachFile(file);
  }
});
