// The import page: while its dry run or commit runs, show the progress; reload the page
// (with the row table) when the job is done.
(function () {
  var table = document.getElementById("import");
  if (!table || table.getAttribute("data-active") !== "yes") { return; }
  var url = table.getAttribute("data-status-url");
  var active = ["queued", "running", "committing"];
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var bar = document.getElementById("import-progress");
        if (bar) { bar.style.width = data.progress + "%"; bar.textContent = data.progress + "%"; }
        document.getElementById("import-state").textContent = data.state_label;
        if (active.indexOf(data.state) < 0) { window.location.reload(); }
        else { setTimeout(poll, 1000); }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  poll();
}());
