// Shows the as-of date, the period or the delegate list, as the chosen report needs.
(function () {
  var select = document.getElementById("report");
  if (!select) { return; }
  function toggle(selector, visible) {
    var nodes = document.querySelectorAll(selector);
    for (var i = 0; i < nodes.length; i++) { nodes[i].style.display = visible ? "" : "none"; }
  }
  function update() {
    var option = select.options[select.selectedIndex];
    var period = option.getAttribute("data-period");
    toggle(".report-as-of", period === "as_of");
    toggle(".report-period", period === "period");
    toggle(".report-delegates", option.getAttribute("data-delegates") === "1");
  }
  select.addEventListener("change", update);
  update();
}());
