// The map page: "near me" (the browser's position, never sent anywhere but this site) and the
// Leaflet map drawn from the list of venues already on the page. Without JavaScript, or when
// tiles do not load, the list is the page.
(function () {
  "use strict";
  var nearMe = document.getElementById("near-me");
  var status = document.getElementById("near-me-status");
  if (nearMe && navigator.geolocation) {
    nearMe.hidden = false;
    nearMe.addEventListener("click", function () {
      status.textContent = status.dataset.searching;
      navigator.geolocation.getCurrentPosition(function (position) {
        var params = new URLSearchParams();
        params.set("lat", position.coords.latitude.toFixed(5));
        params.set("lon", position.coords.longitude.toFixed(5));
        var category = document.getElementById("categorie");
        if (category && category.value) params.set("categorie", category.value);
        window.location.href = "/carte?" + params.toString();
      }, function () {
        status.textContent = status.dataset.unavailable;
      }, { timeout: 10000, maximumAge: 600000 });
    });
  }
  var element = document.getElementById("map");
  if (!element || !window.L) return;  // no map without JavaScript: the list is the page
  element.hidden = false;
  var items = Array.prototype.slice.call(document.querySelectorAll(".venues li[data-lat]"));
  var map = L.map(element, { scrollWheelZoom: false });
  L.tileLayer(element.dataset.tiles, {
    maxZoom: 19,
    attribution: element.dataset.attribution
  }).addTo(map);
  var points = [];
  items.forEach(function (item) {
    var point = [parseFloat(item.dataset.lat), parseFloat(item.dataset.lon)];
    points.push(point);
    var link = document.createElement("a");
    link.href = item.dataset.url;
    link.textContent = item.dataset.name;
    L.marker(point, { title: item.dataset.name, alt: item.dataset.name }).addTo(map).bindPopup(link);
  });
  if (points.length === 1) map.setView(points[0], 14);
  else if (points.length) map.fitBounds(points, { padding: [30, 30], maxZoom: 14 });
  else map.setView([46.6, 2.4], 5);  // France
})();
