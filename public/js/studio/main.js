// The studio: the gallery of videos (live from /api/v1/videos/changes) above, the composer below. Wires the modules together.
import * as M from "./models.js";
import * as feed from "./feed.js";
import * as composer from "./composer.js";
import * as chips from "./chips.js";

const P = window.Phim;
const loading = document.getElementById("gallery-loading");
const demoHint = document.getElementById("demo-hint");

composer.init({ applyVideo: feed.applyVideo });
feed.setRetry(composer.retry);
// A video the provider refused for its model: the catalog now says so; ask for it again.
feed.onFailure((video) => {
  if (video.failure && video.failure.code === "model_unavailable") composer.reloadModels();
});
M.onChange(() => {
  demoHint.hidden = !M.isDemo();
  feed.refreshAll();
});

P.onMe(composer.update);
P.onLanguage(() => {
  composer.update();
  chips.load();
  composer.reloadModels(); // descriptions and availability reasons come in the page's language
  feed.refreshAll();
  feed.reread();
});

P.start({ signedIn: true, page: "studio" }).then(() => {
  composer.update();
  const models = M.load().catch((error) => {
    composer.catalogFailed();
    throw error;
  });
  chips.load();
  const list = feed.loadFirst().then(() => {
    loading.hidden = true;
    feed.showLinkedCard();
  });
  Promise.all([models, list]).catch((error) => {
    loading.hidden = true;
    P.showError(error);
  }).then(() => feed.schedulePoll());
}, () => {
  loading.hidden = true;
});
