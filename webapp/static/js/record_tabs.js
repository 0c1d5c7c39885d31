// The tabs and sections of one record's page (member, unit): FAB's ab_keep_tab.js keeps
// the last tab in localStorage for every page, so the next member opened on the tab the
// previous one was left on. Here the open tab is remembered per page address, for this
// browser tab only (sessionStorage): coming back to the same record after adding or
// deleting a row returns to its tab; another record opens on its details.
$(function () {
  var key = "dangvien:tab:" + window.location.pathname;
  $('a[data-toggle="tab"]').on("shown.bs.tab", function () {
    sessionStorage.setItem(key, $(this).attr("href"));
  });
  var last = sessionStorage.getItem(key);
  var link = last ? $('a[data-toggle="tab"]').filter(function () {
    return $(this).attr("href") === last;
  }) : $();
  if (link.length) {
    link.first().tab("show");
  } else {
    $('a[data-toggle="tab"]').first().tab("show");
  }
});
