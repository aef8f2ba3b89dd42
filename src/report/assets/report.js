// turnkey report: sortable, filterable, paged tables from the JSON embedded
// in the page. No libraries, nothing loaded from elsewhere.
"use strict";
(function () {
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) { Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); }); }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  // Numbers sort as numbers, latencies by their unit ("2.500 µs" < "1.000 ms"),
  // intervals without their sign ("±0.42%"); "-" (not measured) sorts last.
  var UNITS = { "ns": 1e-6, "µs": 1e-3, "ms": 1, "s": 1e3 };
  function key(v, numeric) {
    if (!numeric) { return v.toLowerCase(); }
    var x = parseFloat(v.replace(/^[±<]+/, ""));
    if (isNaN(x)) { return null; }
    var unit = / (ns|µs|ms|s)$/.exec(v);
    return unit ? x * UNITS[unit[1]] : x;
  }
  function badgeClass(kind, v) {
    if (kind === "status") { return "badge st-" + v; }
    if (kind === "check") { return v === "-" ? "" : "badge ck-" + v; }
    if (kind === "stability") {
      if (v === "-") { return ""; }
      return v.indexOf("unstable") === 0 ? "badge stab-unstable" : "badge stab-stable";
    }
    return "";
  }
  function Table(root, data) {
    var cols = data.columns, all = data.rows;
    var state = { sort: -1, desc: false, text: "", selects: {}, page: 0, size: data.pageSize || 100 };
    var controls = el("div", { "class": "controls" });
    var search = el("input", { type: "search", placeholder: "filter rows (any column)", "aria-label": "filter" });
    search.addEventListener("input", function () { state.text = search.value.toLowerCase(); state.page = 0; render(); });
    controls.appendChild(search);
    cols.forEach(function (c, i) {
      if (!c.filter) { return; }
      var values = Array.from(new Set(all.map(function (r) { return r[i]; }))).sort();
      if (values.length < 2) { return; }
      var sel = el("select", { "aria-label": c.title, "data-column": c.title });
      sel.appendChild(el("option", { value: "" }, "all " + c.title));
      values.forEach(function (v) { sel.appendChild(el("option", { value: v }, v)); });
      sel.addEventListener("change", function () { state.selects[i] = sel.value; state.page = 0; render(); });
      controls.appendChild(sel);
    });
    var size = el("select", { "aria-label": "rows per page" });
    [25, 50, 100, 500, 0].forEach(function (n) {
      var o = el("option", { value: String(n) }, n ? n + " per page" : "all rows");
      if (n === state.size) { o.selected = true; }
      size.appendChild(o);
    });
    size.addEventListener("change", function () { state.size = parseInt(size.value, 10); state.page = 0; render(); });
    controls.appendChild(size);
    root.appendChild(controls);

    var wrap = el("div", { "class": "tablewrap" });
    var table = el("table", { "class": "results", id: root.id + "-table" });
    var thead = el("thead"), hr = el("tr");
    cols.forEach(function (c, i) {
      var th = el("th", { "class": c.numeric ? "num" : "", scope: "col", title: "sort by " + c.title }, c.title);
      th.addEventListener("click", function () {
        if (state.sort === i) { state.desc = !state.desc; } else { state.sort = i; state.desc = false; }
        render();
      });
      hr.appendChild(th);
    });
    thead.appendChild(hr);
    table.appendChild(thead);
    var tbody = el("tbody");
    table.appendChild(tbody);
    wrap.appendChild(table);
    root.appendChild(wrap);
    var pager = el("div", { "class": "pager" });
    var prev = el("button", { type: "button" }, "\u2190 previous");
    var next = el("button", { type: "button" }, "next \u2192");
    var info = el("span", { "class": "pageinfo" });
    prev.addEventListener("click", function () { state.page -= 1; render(); });
    next.addEventListener("click", function () { state.page += 1; render(); });
    pager.appendChild(prev); pager.appendChild(next); pager.appendChild(info);
    root.appendChild(pager);

    var text = all.map(function (r) { return r.join("\u0001").toLowerCase(); });
    function visible() {
      var out = [];
      for (var i = 0; i < all.length; i++) {
        if (state.text && text[i].indexOf(state.text) < 0) { continue; }
        var ok = true;
        for (var c in state.selects) { if (state.selects[c] && all[i][c] !== state.selects[c]) { ok = false; break; } }
        if (ok) { out.push(i); }
      }
      if (state.sort >= 0) {
        var s = state.sort, numeric = cols[s].numeric, dir = state.desc ? -1 : 1;
        var keys = {};
        out.forEach(function (i) { keys[i] = key(all[i][s], numeric); });
        out.sort(function (a, b) {
          var x = keys[a], y = keys[b];
          if (x === y) { return a - b; }
          if (x === null) { return 1; }
          if (y === null) { return -1; }
          return x < y ? -dir : dir;
        });
      }
      return out;
    }
    function render() {
      var rows = visible();
      var size = state.size || rows.length || 1;
      var pages = Math.max(1, Math.ceil(rows.length / size));
      state.page = Math.min(Math.max(0, state.page), pages - 1);
      var start = state.page * size, end = Math.min(rows.length, start + size);
      var frag = document.createDocumentFragment();
      for (var k = start; k < end; k++) {
        var r = all[rows[k]];
        var tr = el("tr", { "class": "row" });
        cols.forEach(function (c, i) {
          var v = r[i];
          var td = el("td", { "class": c.numeric ? "num" : (c.kind === "error" ? "err" : "") });
          var b = badgeClass(c.kind, v);
          if (b) { td.appendChild(el("span", { "class": b }, v)); }
          else { td.textContent = v; }
          if (c.kind === "error" && v) { td.title = v; }
          tr.appendChild(td);
        });
        frag.appendChild(tr);
      }
      tbody.textContent = "";
      tbody.appendChild(frag);
      Array.prototype.forEach.call(hr.children, function (th, i) {
        th.classList.toggle("sorted-asc", i === state.sort && !state.desc);
        th.classList.toggle("sorted-desc", i === state.sort && state.desc);
      });
      info.textContent = (rows.length ? (start + 1) + "\u2013" + end : "0") + " of " + rows.length +
        " rows" + (rows.length !== all.length ? " (filtered from " + all.length + ")" : "") +
        (pages > 1 ? ", page " + (state.page + 1) + " of " + pages : "");
      prev.disabled = state.page === 0;
      next.disabled = state.page >= pages - 1;
      root.setAttribute("data-shown", String(end - start));
      root.setAttribute("data-matching", String(rows.length));
    }
    render();
  }
  document.querySelectorAll("script[type='application/json'][data-table]").forEach(function (s) {
    var root = document.getElementById(s.getAttribute("data-table"));
    if (root) { root.textContent = ""; Table(root, JSON.parse(s.textContent)); }
  });
})();
