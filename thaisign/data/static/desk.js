// thaisign desk: the language switch, dropping letters or folders, printing. Works without it too.
(function () {
  "use strict";
  var root = document.documentElement;

  function setLang(lang) {
    root.classList.remove("show-th", "show-en");
    root.classList.add("show-" + lang);
    root.lang = lang;
    document.cookie = "thaisign_lang=" + lang + "; path=/; SameSite=Strict";
    document.querySelectorAll("input[name=lang]").forEach(function (i) { i.value = lang; });
    document.querySelectorAll("a[href*='lang=']").forEach(function (a) {
      a.href = a.href.replace(/lang=(th|en)/, "lang=" + lang);
    });
  }

  function readEntries(entry, out) {
    return new Promise(function (resolve) {
      if (entry.isFile) {
        entry.file(function (f) { out.push(f); resolve(); }, function () { resolve(); });
      } else if (entry.isDirectory) {
        var reader = entry.createReader();
        var all = [];
        (function more() {
          reader.readEntries(function (batch) {
            if (!batch.length) {
              Promise.all(all.map(function (e) { return readEntries(e, out); })).then(resolve);
            } else { all = all.concat(Array.prototype.slice.call(batch)); more(); }
          }, function () { resolve(); });
        })();
      } else { resolve(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var sw = document.getElementById("lang-switch");
    if (sw) {
      sw.addEventListener("click", function () {
        setLang(root.classList.contains("show-th") ? "en" : "th");
      });
    }
    var printButton = document.getElementById("print");
    if (printButton) { printButton.addEventListener("click", function () { window.print(); }); }

    var form = document.getElementById("upload");
    var input = document.getElementById("letters");
    if (!form || !input) { return; }
    ["dragenter", "dragover"].forEach(function (ev) {
      form.addEventListener(ev, function (e) { e.preventDefault(); form.classList.add("over"); });
    });
    form.addEventListener("dragleave", function () { form.classList.remove("over"); });
    form.addEventListener("drop", function (e) {
      e.preventDefault();
      form.classList.remove("over");
      var items = e.dataTransfer.items;
      var files = [];
      var waits = [];
      if (items && items.length && items[0].webkitGetAsEntry) {
        for (var i = 0; i < items.length; i++) {
          var entry = items[i].webkitGetAsEntry();
          if (entry) { waits.push(readEntries(entry, files)); }
        }
      } else {
        files = Array.prototype.slice.call(e.dataTransfer.files);
      }
      Promise.all(waits).then(function () {
        var dt = new DataTransfer();
        files.forEach(function (f) { if (/\.pdf$/i.test(f.name)) { dt.items.add(f); } });
        if (!dt.files.length) { return; }
        input.files = dt.files;
        form.submit();
      });
    });
  });
})();
