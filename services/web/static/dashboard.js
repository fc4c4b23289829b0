// The sponsor's dashboard: a bar chart drawn from each table (the table is the source and stays
// beside it; the chart is a picture with its label), and the venues' map drawn from the list.
// Without JavaScript, the tables and the list are the page.
(function () {
  "use strict";
  var COLOURS = ["#0b4f9c", "#0d6b32", "#a4161a", "#6b3fa0", "#8a5a00"];

  function number(cell) {
    var value = parseInt(cell.textContent.replace(/\s/g, ""), 10);
    return isNaN(value) ? null : value;
  }

  if (window.Chart) {
    Array.prototype.forEach.call(document.querySelectorAll("canvas.chart"), function (canvas) {
      var table = document.getElementById(canvas.dataset.table);
      if (!table) return;
      var heads = Array.prototype.slice.call(table.querySelectorAll("thead th")).slice(1);
      var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr:not([data-suppressed])"));
      if (!rows.length) return;  // nothing but "moins de 5": the table says it
      var labels = rows.map(function (row) { return row.querySelector("th").textContent.trim(); });
      // the first column counts beneficiaries: the chart shows the coupons
      var datasets = heads.slice(1).map(function (head, i) {
        return {
          label: head.textContent.trim(),
          backgroundColor: COLOURS[i % COLOURS.length],
          data: rows.map(function (row) { return number(row.querySelectorAll("td")[i + 1]); })
        };
      });
      canvas.parentNode.hidden = false;
      new window.Chart(canvas, {
        type: "bar",
        data: { labels: labels, datasets: datasets },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }
        }
      });
    });
  }

  var element = document.getElementById("map");
  if (!element || !window.L) return;
  var items = Array.prototype.slice.call(document.querySelectorAll(".venues-used li[data-lat]"));
  if (!items.length) return;
  element.hidden = false;
  var map = L.map(element, { scrollWheelZoom: false });
  L.tileLayer(element.dataset.tiles, { maxZoom: 19, attribution: element.dataset.attribution }).addTo(map);
  var points = items.map(function (item) {
    var point = [parseFloat(item.dataset.lat), parseFloat(item.dataset.lon)];
    L.marker(point, { title: item.dataset.name, alt: item.dataset.name }).addTo(map)
      .bindPopup(document.createTextNode(item.textContent));
    return point;
  });
  if (points.length === 1) map.setView(points[0], 13);
  else map.fitBounds(points, { padding: [30, 30], maxZoom: 13 });
})();
