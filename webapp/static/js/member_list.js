// The member list's unit filter: a Select2 box (FAB's own copy, served locally) that asks
// the server for the units of the user's scope matching what is typed. Choosing a unit,
// or ticking "include sub-units", applies the filter; the advanced filter form keeps it.
(function ($) {
  var select = $("#member-unit");
  if (!select.length || !$.fn.select2) { return; }
  var form = $("#member-quick-search");
  select.select2({
    width: "resolve",
    allowClear: true,
    placeholder: select.data("placeholder"),
    minimumInputLength: 0,
    // Select2's own words are English: the page's translations instead.
    language: {
      noResults: function () { return select.data("no-results"); },
      searching: function () { return select.data("searching"); },
      loadingMore: function () { return select.data("more"); },
      errorLoading: function () { return select.data("no-results"); }
    },
    ajax: {
      url: select.data("choices-url"),
      dataType: "json",
      delay: 250,
      data: function (params) { return { q: params.term || "", page: params.page || 1 }; },
      processResults: function (data) { return data; }
    }
  });
  select.on("change", function () { form.submit(); });
  $("#member-subunits").on("change", function () { if (select.val()) { form.submit(); } });
  // FAB's advanced filter form sends only its own rows: carry the unit filter along.
  $("#filter_form").on("submit", function () {
    var filterForm = $(this);
    filterForm.find("input.member-unit-kept").remove();
    if (select.val()) {
      filterForm.append($("<input type='hidden' class='member-unit-kept' name='unit'>").val(select.val()));
      if ($("#member-subunits").is(":checked")) {
        filterForm.append("<input type='hidden' class='member-unit-kept' name='subunits' value='1'>");
      }
    }
  });
}(jQuery));
