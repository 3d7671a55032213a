/* The report's own script, no framework: draws every chart from its JSON element and
   makes the tables marked "sortable" sortable and the ones named by a filter bar filterable.
   Every figure is data parsed with JSON.parse, never code. */
(function () {
  "use strict";

  var template = document.getElementById("chart-template");
  if (template !== null) {
    var shared = JSON.parse(template.textContent);
    var config = {
      responsive: true,
      displaylogo: false,
      modeBarButtonsToRemove: ["select2d", "lasso2d"]
    };
    document.querySelectorAll("script[type='application/json'][data-chart]").forEach(function (node) {
      var figure = JSON.parse(node.textContent);
      figure.layout.template = shared;
      Plotly.newPlot(document.getElementById(node.getAttribute("data-chart")), figure.data,
        figure.layout, config);
    });
  }

  // A cell's sort key: its data-sort attribute (numbers, outcome ranks), else its text.
  function key(row, column) {
    var cell = row.cells[column];
    var value = cell === undefined ? "" : cell.getAttribute("data-sort");
    return value === null ? cell.textContent.trim() : value;
  }

  // Numbers as numbers, empty keys last whatever the direction, other text by locale.
  function compare(a, b, direction) {
    if (a === "" || b === "") { return a === b ? 0 : (a === "" ? 1 : -1); }
    var x = Number(a), y = Number(b);
    var order = (isNaN(x) || isNaN(y)) ? a.localeCompare(b) : x - y;
    return order * direction;
  }

  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (head, column) {
      head.addEventListener("click", function () {
        var direction = head.getAttribute("aria-sort") === "ascending" ? -1 : 1;
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        head.setAttribute("aria-sort", direction === 1 ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r, s) { return compare(key(r, column), key(s, column), direction); });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });

  document.querySelectorAll("[data-filter-for]").forEach(function (bar) {
    var table = document.getElementById(bar.getAttribute("data-filter-for"));
    var text = bar.querySelector("input");
    var tag = bar.querySelector("select");
    var shown = bar.querySelector(".shown");
    function apply() {
      var words = text.value.toLowerCase().split(/\s+/).filter(Boolean);
      var wanted = tag === null ? "" : tag.value;
      var rows = table.tBodies[0].rows, count = 0;
      Array.prototype.forEach.call(rows, function (row) {
        var content = row.textContent.toLowerCase();
        var tags = (row.getAttribute("data-tags") || "").split(" ");
        var keep = words.every(function (w) { return content.indexOf(w) >= 0; }) &&
          (wanted === "" || tags.indexOf(wanted) >= 0);
        row.hidden = !keep;
        count += keep ? 1 : 0;
      });
      shown.textContent = count + " of " + rows.length + " shown";
    }
    text.addEventListener("input", apply);
    if (tag !== null) { tag.addEventListener("change", apply); }
    apply();
  });
})();
