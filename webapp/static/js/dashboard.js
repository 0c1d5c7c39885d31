// The dashboard's charts (Chart.js from the project's static files), from the figures
// the page carries as JSON: nothing is fetched from elsewhere.
(function () {
  var source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var f = data.figures, labels = data.labels;
  var charts = {};
  function bar(id, names, datasets, options) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    charts[id] = new Chart(canvas, {
      type: "bar",
      data: { labels: names, datasets: datasets },
      options: Object.assign({ animation: false, responsive: true }, options || {})
    });
  }
  var kinds = data.increases.map(function (k) { return ["+", k[0], k[1]]; })
    .concat(data.decreases.map(function (k) { return ["−", k[0], k[1]]; }));
  function moves(year, sign, key) {
    var side = sign === "+" ? year.increases : year.decreases;
    return (side && side[key]) || 0;
  }
  bar("chart-movements", kinds.map(function (k) { return k[0] + " " + k[2]; }), [
    { label: labels.this, data: kinds.map(function (k) { return moves(f.this_year, k[0], k[1]); }) },
    { label: labels.last, data: kinds.map(function (k) { return moves(f.last_year, k[0], k[1]); }) }
  ], { indexAxis: "y" });
  var bands = Object.keys(f.pyramid);
  bar("chart-pyramid", bands, [
    { label: labels.male, data: bands.map(function (b) { return -(f.pyramid[b].male || 0); }) },
    { label: labels.female, data: bands.map(function (b) { return f.pyramid[b].female || 0; }) }
  ], {
    indexAxis: "y",
    scales: { x: { stacked: true, ticks: { callback: function (v) { return Math.abs(v); } } }, y: { stacked: true } },
    plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + Math.abs(c.raw); } } } }
  });
  Object.keys(f.dimensions).forEach(function (key) {
    var counts = f.composition[key] || {};
    var names = Object.keys(counts);
    bar("chart-" + key, names, [{ label: f.dimensions[key], data: names.map(function (n) { return counts[n]; }) }],
      { plugins: { legend: { display: false } } });
  });
  window.dashboardCharts = charts;  // for the browser test
}());
