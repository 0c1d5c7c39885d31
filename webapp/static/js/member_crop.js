// The crop screen: Cropper.js on the reduced upright original, held to 3:4; the box is
// sent in the original's pixels (the job cuts the photo again from the original).
(function () {
  var image = document.getElementById("crop-image");
  if (!image || typeof Cropper === "undefined") { return; }
  var originalWidth = parseInt(image.getAttribute("data-original-width"), 10);
  var fields = ["left", "top", "width", "height"];
  var cropper = null;
  function start() {
    var factor = image.naturalWidth / originalWidth;  // preview pixels per original pixel
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
      crop: function (event) {
        var d = event.detail;
        var width = Math.round(d.width / factor);
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
    });
    window.memberCropper = cropper;  // for the browser test and a person's console
  }
  if (image.complete && image.naturalWidth) { start(); } else { image.addEventListener("load", start); }
}());
