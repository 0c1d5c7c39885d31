// The batch page: while the batch is queued or running, show its progress; reload the
// page (with the per-file table) when it is done or failed.
(function () {
  var table = document.getElementById("batch");
  if (!table) { return; }
  var state = table.getAttribute("data-state");
  if (state !== "queued" && state !== "running") { return; }
  var url = table.getAttribute("data-status-url");
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var bar = document.getElementById("batch-progress");
        bar.style.width = data.progress + "%";
        bar.textContent = data.processed + " / " + data.total;
        document.getElementById("batch-state").textContent = data.state_label;
        if (data.state === "done" || data.state === "failed") { window.location.reload(); }
        else { setTimeout(poll, 1000); }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  poll();
}());
