// Searchable pickers of people and groups: Tom Select over each <select multiple data-picker>.
// Without JavaScript the native list stays, and the form posts the same names and values.
// Tom Select builds its markup from render functions with no style="" in them, and positions its
// dropdown through element.style, which the Content-Security-Policy allows.
(function () {
  "use strict";

  function start(root) {
    var scope = root && root.querySelectorAll ? root : document;
    scope.querySelectorAll("select[data-picker]").forEach(function (select) {
      if (select.tomselect) return;
      new TomSelect(select, {
        plugins: { remove_button: { title: "Remove" } },
        // The search input stays after the chips, placeholder and all: hiding it once the
        // picker loses focus shrinks the box under the next click (hidePlaceholder).
        placeholder: select.dataset.placeholder || "",
        hidePlaceholder: false,
        maxOptions: 50,
        // Search as each key is typed (the options are all in the page): Enter right after
        // typing picks the first match instead of submitting the form.
        refreshThrottle: 0,
        closeAfterSelect: true,
      });
    });
    // "Hold Ctrl to choose several" is for the plain list only.
    scope.querySelectorAll("[data-picker-hint]").forEach(function (hint) {
      hint.hidden = true;
    });
  }

  // htmx keeps a copy of the page for the back button: store the plain lists, not the pickers'
  // markup (a restored copy would show pickers with nothing behind them). Taking a picker apart
  // puts back the options the server sent, so the choices made since are written into the list
  // (kept in the copy too), and the pickers still on the page are rebuilt once the copy is taken.
  document.addEventListener("htmx:beforeHistorySave", function () {
    document.querySelectorAll("select[data-picker]").forEach(function (select) {
      if (!select.tomselect) return;
      var chosen = select.tomselect.items.slice();
      select.tomselect.destroy();
      Array.prototype.forEach.call(select.options, function (option) {
        option.defaultSelected = option.selected = chosen.indexOf(option.value) !== -1;
      });
    });
    queueMicrotask(function () { start(document); });
  });

  htmx.onLoad(start);
})();
