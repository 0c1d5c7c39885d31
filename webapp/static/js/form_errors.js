// A refused form (FAB renders each field's errors under it, in an .alert-danger) opens on
// a banner listing every error with a link to its field, and the first one in view: a
// 4-page member form is over 3,000 px tall and its errors would otherwise sit unseen.
(function () {
  var script = document.getElementById("form-errors-script");
  var forms = document.querySelectorAll("form");
  forms.forEach(function (form) {
    var errors = Array.prototype.filter.call(
      form.querySelectorAll(".alert.alert-danger"),
      function (alert) { return alert.closest("td, .form-group") !== null; }
    );
    if (!errors.length) { return; }
    var banner = document.createElement("div");
    banner.className = "alert alert-danger";
    banner.id = "form-error-banner";
    banner.setAttribute("role", "alert");
    // Kept in sight under the menu bar while the first error is scrolled to.
    banner.style.position = "sticky";
    banner.style.top = "55px";
    banner.style.zIndex = "20";
    var title = document.createElement("strong");
    title.textContent = script ? script.getAttribute("data-title") : "";
    banner.appendChild(title);
    var list = document.createElement("ul");
    errors.forEach(function (alert, index) {
      var cell = alert.closest("td, .form-group");
      var field = cell.querySelector("input:not([type=hidden]), select, textarea");
      var row = alert.closest("tr");
      var label = row ? row.querySelector("label, th") : null;
      var item = document.createElement("li");
      var link = document.createElement("a");
      var id = field && field.id ? field.id : "form-error-" + index;
      if (!field || !field.id) { alert.id = id; }
      link.href = "#" + id;
      link.className = "form-error-link";
      link.textContent = (label ? label.textContent.replace(/\s*\*\s*$/, "").trim() + ": " : "") +
        alert.textContent.trim().replace(/\s+/g, " ");
      link.addEventListener("click", function (event) {
        event.preventDefault();
        (field || alert).scrollIntoView({ block: "center" });
        if (field) { field.focus(); }
      });
      item.appendChild(link);
      list.appendChild(item);
    });
    banner.appendChild(list);
    form.insertBefore(banner, form.firstChild);
    var first = errors[0].closest("td, .form-group");
    var target = first.querySelector("input:not([type=hidden]), select, textarea") || errors[0];
    target.scrollIntoView({ block: "center" });
  });
}());
