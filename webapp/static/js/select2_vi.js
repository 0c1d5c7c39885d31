// Select2's texts in Vietnamese, served from here (no CDN). Loaded after select2.min.js
// and before the page is ready, so FAB's own set-up (ab.js) already picks them up; its
// English placeholders ("Select", "Select a State") are replaced as it passes them.
(function ($) {
  "use strict";
  if (!$ || !$.fn || !$.fn.select2) {
    return;
  }
  var vietnamese = {
    errorLoading: function () { return "Không tải được kết quả."; },
    inputTooLong: function (args) {
      return "Vui lòng xóa bớt " + (args.input.length - args.maximum) + " ký tự";
    },
    inputTooShort: function (args) {
      return "Vui lòng nhập thêm ít nhất " + (args.minimum - args.input.length) + " ký tự";
    },
    loadingMore: function () { return "Đang tải thêm kết quả…"; },
    maximumSelected: function (args) { return "Chỉ chọn được tối đa " + args.maximum + " mục"; },
    noResults: function () { return "Không tìm thấy kết quả"; },
    searching: function () { return "Đang tìm…"; },
    removeAllItems: function () { return "Xóa tất cả các mục đã chọn"; },
    removeItem: function () { return "Xóa mục này"; },
    search: function () { return "Tìm kiếm"; }
  };
  var placeholder = "— Chọn —";
  $.fn.select2.defaults.set("language", vietnamese);
  var original = $.fn.select2;
  var translated = function (options) {
    var args = Array.prototype.slice.call(arguments);
    if (options && typeof options === "object" && /^Select\b/.test(options.placeholder || "")) {
      args[0] = $.extend({}, options, { placeholder: placeholder, language: vietnamese });
    }
    return original.apply(this, args);
  };
  $.extend(translated, original);  // keeps select2.defaults and select2.amd
  $.fn.select2 = translated;
})(window.jQuery);
