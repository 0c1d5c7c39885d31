// The crop screen: Cropper.js on the reduced upright original, held to 3:4; the box is
// sent in the original's pixels (the job cuts the photo again from the original).
(function () {
  var image = document.getElementById("crop-image");
  if (!image || typeof Cropper === "undefined") { return; }
  var originalWidth = parseInt(image.getAttribute("data-original-width"), 10);
  var fields = ["left", "top", "width", "height"];
  var cropper = null;
  var factor = 1;
  var dragging = false;
  function show(d) {
    if (!d || !(d.width > 0) || !(d.height > 0)) { return; }
    var width = Math.round(d.width / factor);
    if (width <= 0) { return; }
    var values = {
      left: Math.max(0, Math.round(d.x / factor)),
      top: Math.max(0, Math.round(d.y / factor)),
      width: width,
      height: Math.round(width * 4 / 3)
    };
    fields.forEach(function (name) {
      document.getElementById("crop-" + name).value = values[name];
    });
  }
  function start() {
    factor = image.naturalWidth / originalWidth;  // preview pixels per original pixel
    var initial = {};
    fields.forEach(function (name) {
      initial[name] = parseInt(image.getAttribute("data-" + name), 10) * factor;
    });
    cropper = new Cropper(image, {
      aspectRatio: 3 / 4,
      viewMode: 1,
      autoCropArea: 1,
      zoomable: false,
      rotatable: false,
      scalable: false,
      data: { x: initial.left, y: initial.top, width: initial.width, height: initial.height },
      ready: function () { image.setAttribute("data-ready", "1"); },
      // Only a person's drag changes the form: Cropper also re-lays itself out on a
      // window resize (or a full-page screenshot), and the box it reports while doing so
      // drifts by rounding or, mid-layout, is empty. What is saved is what was chosen.
      cropstart: function () { dragging = true; },
      crop: function (event) { if (dragging) { show(event.detail); } },
      cropend: function () { dragging = false; }
    });
    window.memberCropper = cropper;  // for the browser test and a person's console
  }
  if (image.complete && image.naturalWidth) { start(); } else { image.addEventListener("load", start); }
}());
