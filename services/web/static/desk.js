// The desk: scanning a coupon's QR code ("<serial>:<code>") with the camera or from a photo,
// with html5-qrcode (npm). It only fills the form: typing always works, and the server decides.
(function () {
  "use strict";
  var scan = document.getElementById("scan");
  var list = document.getElementById("coupons");
  var rows = document.getElementById("rows");
  var status = document.getElementById("scan-status");
  if (!scan || !list || !window.Html5Qrcode) return;
  scan.hidden = false;
  var reader = new Html5Qrcode("reader", { verbose: false });
  var running = false;
  var say = function (name, extra) {
    status.textContent = scan.dataset[name] + (extra ? " " + extra : "");
  };

  function emptyRow() {
    var items = list.querySelectorAll("li.coupon");
    for (var i = 0; i < items.length; i++) {
      var serial = items[i].querySelector("input[name^='serial_']");
      var code = items[i].querySelector("input[name^='code_']");
      if (!serial.value && !code.value) return items[i];
    }
    var last = items[items.length - 1];
    var index = items.length;
    var copy = last.cloneNode(true);
    copy.className = "coupon";
    copy.dataset.index = index;
    var outcome = copy.querySelector(".outcome");
    if (outcome) outcome.remove();
    copy.querySelectorAll("label").forEach(function (label) {
      var kind = label.htmlFor.split("_")[0];
      label.htmlFor = kind + "_" + index;
      label.textContent = label.textContent.replace(/\d+\s*$/, String(index + 1));
    });
    copy.querySelectorAll("input").forEach(function (input) {
      var kind = input.name.split("_")[0];
      input.name = input.id = kind + "_" + index;
      input.value = "";
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    });
    list.appendChild(copy);
    rows.value = String(index + 1);
    return copy;
  }

  function found(text) {
    var parts = String(text).trim().split(":");
    if (parts.length !== 2) {
      say("msgNotCoupon");
      return;
    }
    var row = emptyRow();
    row.querySelector("input[name^='serial_']").value = parts[0];
    row.querySelector("input[name^='code_']").value = parts[1];
    say("msgAdded", parts[0]);
  }

  document.getElementById("scan-start").addEventListener("click", function () {
    if (running) {
      reader.stop().then(function () { running = false; });
      return;
    }
    reader.start({ facingMode: "environment" }, { fps: 10 }, function (text) {
      found(text);
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
    reader.scanFile(file, false).then(found).catch(function () {
      say("msgUnreadable");
    });
    event.target.value = "";
  });
})();
