// Sorting, filtering and best/tie marks of the leaderboards; without script the tables stay
// as rendered (sorted by T, then by top-1; marks computed over all rows).
(function () {
  "use strict";
  function num(td) {
    var v = td ? td.getAttribute("data-v") : null;
    return v === null || v === "" ? null : parseFloat(v);
  }
  function sort(table, col, th) {
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    rows.sort(function (a, b) {
      var x = num(a.cells[col]), y = num(b.cells[col]);
      if (x !== null || y !== null) {
        if (x === null) { return 1; }
        if (y === null) { return -1; }
        return dir * (x - y);
      }
      return dir * a.cells[col].textContent.localeCompare(b.cells[col].textContent);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    table.classList.add("sorted");
  }
  function remark(table) {
    var heads = table.tHead.rows[0].cells, rows = Array.prototype.filter.call(
      table.tBodies[0].rows, function (r) { return !r.hidden; });
    Array.prototype.forEach.call(heads, function (th, col) {
      var better = th.getAttribute("data-better");
      if (!better) { return; }
      var best = null;
      rows.forEach(function (r) {
        var v = num(r.cells[col]);
        if (v !== null && (best === null || (better === "higher" ? v > num(best) : v < num(best)))) { best = r.cells[col]; }
      });
      var blo = best && best.hasAttribute("data-lo") ? parseFloat(best.getAttribute("data-lo")) : num(best);
      var bhi = best && best.hasAttribute("data-hi") ? parseFloat(best.getAttribute("data-hi")) : num(best);
      Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
        var td = r.cells[col], v = num(td), mark = td.querySelector(".mark"), kind = "";
        if (!r.hidden && v !== null && best !== null) {
          var lo = td.hasAttribute("data-lo") ? parseFloat(td.getAttribute("data-lo")) : v;
          var hi = td.hasAttribute("data-hi") ? parseFloat(td.getAttribute("data-hi")) : v;
          kind = td === best ? "best" : (lo <= bhi && hi >= blo ? "tie" : "");
        }
        td.classList.remove("best", "tie");
        if (kind) { td.classList.add(kind); }
        if (mark) { mark.textContent = kind === "best" ? "★" : kind === "tie" ? "≈" : ""; }
      });
    });
  }
  function filters(table) {
    var box = document.getElementById(table.getAttribute("data-filters-box"));
    if (!box) { return; }
    var keys = table.getAttribute("data-filters").split(","), selects = [];
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    function apply() {
      rows.forEach(function (r) {
        r.hidden = !selects.every(function (s) { return !s.value || r.getAttribute("data-" + s.name) === s.value; });
      });
      remark(table);
    }
    keys.forEach(function (key) {
      var seen = {}, values = [];
      rows.forEach(function (r) {
        var v = r.getAttribute("data-" + key);
        if (v !== null && !seen[v]) { seen[v] = true; values.push(v); }
      });
      if (values.length < 2) { return; }
      values.sort(function (a, b) { return isNaN(a) || isNaN(b) ? a.localeCompare(b) : a - b; });
      var label = document.createElement("label"), select = document.createElement("select");
      select.name = key;
      select.add(new Option("all", ""));
      values.forEach(function (v) { select.add(new Option(v, v)); });
      select.addEventListener("change", apply);
      label.appendChild(document.createTextNode(box.getAttribute("data-title-" + key) || key));
      label.appendChild(select);
      box.appendChild(label);
      selects.push(select);
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sort(table, col, th); });
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sort(table, col, th); } });
    });
    if (table.hasAttribute("data-filters")) { filters(table); }
  });
}());
