// Polls the report run's status endpoint until the run is done or failed.
(function () {
  var table = document.getElementById("report-run");
  if (!table) { return; }
  var url = table.getAttribute("data-status-url");
  function show(data) {
    var state = document.getElementById("run-state");
    state.textContent = data.state_label;
    state.setAttribute("data-state", data.state);
    var bar = document.getElementById("run-progress");
    bar.style.width = data.progress + "%";
    bar.setAttribute("aria-valuenow", data.progress);
    document.getElementById("run-progress-text").textContent = data.progress + "%";
    var message = document.getElementById("run-message");
    if (message && data.message) {
      message.textContent = data.message.text;
      message.className = "alert alert-" + data.message.alert;
    }
    bar.className = "progress-bar" + (data.state === "failed" ? " progress-bar-danger" : data.state === "done" ? " progress-bar-success" : " progress-bar-striped active");
    if (data.error) {
      document.getElementById("run-error-row").style.display = "";
      document.getElementById("run-error").textContent = data.error;
    }
    document.getElementById("run-rows").textContent = data.row_count === null ? "" : data.row_count;
    document.getElementById("run-seconds").textContent = data.seconds === null ? "" : data.seconds.toFixed(1) + " s";
    if (data.download_url) {
      var link = document.getElementById("run-download");
      link.href = data.download_url;
      link.style.display = "";
    }
    if (data.state !== "queued" && data.state !== "running") {
      var cancel = document.getElementById("run-cancel-form");
      if (cancel) { cancel.style.display = "none"; }
    }
    return data.state === "done" || data.state === "failed" || data.state === "cancelled";
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) { if (!show(data)) { setTimeout(poll, 1000); } })
      .catch(function () { setTimeout(poll, 3000); });
  }
  poll();
}());
