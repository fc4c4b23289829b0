// The distributor's desk: scanning a booklet with the camera or from a photo (html5-qrcode, npm).
// A printed booklet carries its coupons' QR codes ("<coupon serial>:<code>"): the coupon's serial
// finds its booklet among those listed (assigned to this distributor), and the booklet's serial
// fills the form. The security code is dropped. Typing always works, and the server decides.
(function () {
  "use strict";
  var scan = document.getElementById("scan");
  var field = document.getElementById("serial");
  var status = document.getElementById("scan-status");
  if (!scan || !field || !window.Html5Qrcode) return;
  scan.hidden = false;
  var reader = new Html5Qrcode("reader", { verbose: false });
  var running = false;
  var say = function (name, extra) {
    status.textContent = scan.dataset[name] + (extra ? " " + extra : "");
  };

  // the coupon's sequence number: its 10 first digits (the 11th is a check digit)
  function sequence(serial) {
    return parseInt(String(serial).slice(0, 10), 10);
  }

  function bookletOf(coupon) {
    var wanted = sequence(coupon);
    var rows = document.querySelectorAll("#booklets tr[data-serial]");
    for (var i = 0; i < rows.length; i++) {
      var first = sequence(rows[i].dataset.first);
      var last = sequence(rows[i].dataset.last);
      if (first <= wanted && wanted <= last) return rows[i].dataset.serial;
    }
    return null;
  }

  function found(text) {
    var value = String(text).trim().toUpperCase().split(":")[0].replace(/[\s.\-]/g, "");
    if (/^B[0-9]{9}$/.test(value)) {
      field.value = value;
      say("msgFound", value);
      return;
    }
    if (!/^[0-9]{11}$/.test(value)) {
      say("msgNotBooklet");
      return;
    }
    var booklet = bookletOf(value);
    if (booklet) {
      field.value = booklet;
      say("msgFound", booklet);
    } else {
      field.value = value; // the server says why it cannot be handed out
      say("msgNotAssigned");
    }
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
