// A few lines of glue for the console: close the side panel, mark the open row, report errors.
(function () {
  function closePanel(event) {
    var panel = document.getElementById("panel");
    if (!panel || !panel.contains(event.target.closest("[data-close-panel]"))) return;
    event.preventDefault();
    panel.innerHTML = "";
    markRow(null);
    var list = document.querySelector("#requests-table, #policies-table, #flows-table, #people-table, #groups-table");
    if (list) history.pushState({}, "", list.getAttribute("hx-get"));
  }
  function markRow(id) {
    document.querySelectorAll("tr[data-request], tr[data-row]").forEach(function (tr) {
      tr.classList.toggle("selected", (tr.dataset.request || tr.dataset.row) === id);
    });
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-close-panel]")) closePanel(event);
  });
  document.addEventListener("keydown", function (event) {
    var close = document.querySelector("#panel [data-close-panel]");
    if (event.key === "Escape" && close) close.click();
  });
  document.addEventListener("htmx:afterSettle", function () {
    var open = document.querySelector("#panel [data-request], #panel [data-row]");
    markRow(open ? open.dataset.request || open.dataset.row : null);
  });
  // A row menu closes once one of its links starts loading (no inline handlers: see the CSP).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var menu = event.target.closest && event.target.closest("details.row-menu");
    if (menu) menu.open = false;
  });
  // Requests: how many rows are ticked for a bulk decision; the header box ticks the whole page.
  function countSelected() {
    var count = document.querySelector("[data-bulk-count]");
    if (!count) return;
    var ticked = document.querySelectorAll("input[name=ids][form=bulk-form]:checked").length;
    var all = document.querySelector("[data-bulk-scope]");
    count.textContent = all && all.checked ? "All matching requests chosen" :
      ticked ? ticked + " selected" : count.dataset.none;
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-select-all]")) {
      document.querySelectorAll("input[name=ids][form=bulk-form]").forEach(function (box) {
        box.checked = event.target.checked;
      });
    }
    if (event.target.matches("[data-select-all], input[name=ids], [data-bulk-scope]")) countSelected();
  });
  // htmx keeps a copy of the page for the back button. A style="" that a browser extension or a
  // screenshot tool set on an element would come back as an inline style the CSP refuses (one
  // console error per element), so the copy keeps none; our own pages never carry one. In
  // serialized HTML every "<" opens a tag and quotes inside values are &quot;: only attributes match.
  document.addEventListener("htmx:historyItemCreated", function (event) {
    var item = event.detail.item;
    item.content = item.content.replace(/(<[a-zA-Z][^>]*?)\sstyle="[^"]*"/g, "$1");
  });
  document.addEventListener("htmx:responseError", function (event) {
    var toast = document.getElementById("toast");
    var xhr = event.detail.xhr;
    toast.innerHTML = "";
    var box = document.createElement("div");
    box.textContent = xhr.status === 403 ? "You may not do that." :
      xhr.status === 404 ? "That request no longer exists or is not yours to see." :
      "Something went wrong (" + xhr.status + "). Try again.";
    toast.appendChild(box);
    setTimeout(function () { toast.innerHTML = ""; }, 5000);
  });
})();
