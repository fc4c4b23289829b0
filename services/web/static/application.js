// The application form: "Utiliser la position de ce lieu" puts the browser's position in the
// form (hidden lat/lon). Without it, or without JavaScript, the server places the venue by its
// postcode.
(function () {
  "use strict";
  var box = document.getElementById("locate");
  var status = document.getElementById("locate-status");
  if (!box || !navigator.geolocation) return;
  box.hidden = false;
  document.getElementById("locate-button").addEventListener("click", function () {
    navigator.geolocation.getCurrentPosition(function (position) {
      document.getElementById("lat").value = position.coords.latitude.toFixed(5);
      document.getElementById("lon").value = position.coords.longitude.toFixed(5);
      status.textContent = box.dataset.msgLocated;
    }, function () {
      status.textContent = box.dataset.msgNoPosition;
    }, { enableHighAccuracy: true, timeout: 15000 });
  });
})();
