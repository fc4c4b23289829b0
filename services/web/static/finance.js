// A running settlement or expiry run: the page reloads itself every few seconds to show its
// progress, until the run is done. Without JavaScript, the "Actualiser" link does the same;
// "?auto=0" (the link "Arrêter l'actualisation automatique") stops it.
(function () {
  "use strict";
  var progress = document.getElementById("progress");
  if (!progress || !progress.dataset.refresh) {
    return;
  }
  if (new URLSearchParams(window.location.search).get("auto") === "0") {
    return;
  }
  window.setTimeout(function () {
    window.location.reload();
  }, Number(progress.dataset.refresh) * 1000);
})();
