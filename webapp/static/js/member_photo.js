// The member page's photo header: while the latest processing is queued or running, poll
// its state; when done, show the new thumbnail; when refused or failed, the reason.
(function () {
  var header = document.getElementById("member-file-header");
  if (!header) { return; }
  var statusUrl = header.getAttribute("data-status-url");
  var photoUrl = header.getAttribute("data-photo-url");
  var img = document.getElementById("member-photo");
  function show(data) {
    var latest = data.latest;
    if (latest) {
      document.getElementById("photo-status").style.display = "";
      var state = document.getElementById("photo-state");
      state.textContent = latest.state_label;
      state.setAttribute("data-state", latest.state);
      document.getElementById("photo-file").textContent = latest.file_name || "";
      document.getElementById("photo-reason").textContent = latest.reason || "";
    }
    if (data.current && img.getAttribute("data-version") !== data.current.version) {
      img.src = photoUrl + "?size=thumb&v=" + encodeURIComponent(data.current.version);
      img.setAttribute("data-version", data.current.version);
      img.style.display = "";
      document.getElementById("member-photo-none").style.display = "none";
      var crop = document.getElementById("photo-crop-link");
      if (crop) { crop.style.display = ""; }
    }
    return !latest || (latest.state !== "queued" && latest.state !== "processing");
  }
  function poll() {
    fetch(statusUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) { if (!show(data)) { setTimeout(poll, 1000); } })
      .catch(function () { setTimeout(poll, 3000); });
  }
  var state = document.getElementById("photo-state").getAttribute("data-state");
  if (state === "queued" || state === "processing") { poll(); }
}());
