// Scanning a QR code with the device's camera or from a photo (html5-qrcode, npm), for the venue's
// and the distributor's desks: `apticScan(found)` shows the scanning block (#scan) and calls
// `found(text, say)` with what was read; `say(name, extra)` writes the block's message `name`
// (its data-* attributes hold the French sentences) in #scan-status. Typing always works.
window.apticScan = function (found) {
  "use strict";
  var scan = document.getElementById("scan");
  var status = document.getElementById("scan-status");
  if (!scan || !status || !window.Html5Qrcode) return null;
  scan.hidden = false;
  var reader = new Html5Qrcode("reader", { verbose: false });
  var running = false;
  var say = function (name, extra) {
    status.textContent = scan.dataset[name] + (extra ? " " + extra : "");
  };
  var read = function (text) { found(text, say); };

  document.getElementById("scan-start").addEventListener("click", function () {
    if (running) {
      reader.stop().then(function () { running = false; });
      return;
    }
    reader.start({ facingMode: "environment" }, { fps: 10 }, function (text) {
      read(text);
      reader.stop().then(function () { running = false; });
    }).then(function () {
      running = true;
    }).catch(function () {
      say("msgNoCamera");
    });
  });

  document.getElementById("scan-file").addEventListener("change", function (event) {
    var file = event.target.files && event.target.files[0];
    if (!file) return;
    say("msgReading");
    reader.scanFile(file, false).then(read).catch(function () {
      say("msgUnreadable");
    });
    event.target.value = "";
  });
  return say;
};
