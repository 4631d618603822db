/* nerfspec report page, shared pieces: DOM builder, number formats, sortable tables, summary
 * cards, uPlot charts and the turbo colour map, as window.nerfspecUI. Charts it draws are
 * listed in nerfspecUI.charts. */
(function () {
  "use strict";

  // Matplotlib's tab10: ten hues that stay apart (two oranges here made basic and rffca look alike)
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                   "#7f7f7f", "#bcbd22", "#17becf"];

  // -- small helpers ------------------------------------------------------------------------
  function el(tag, props, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k === "html") node.innerHTML = v;
      else if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of [].concat(children || [])) {
      if (c === null || c === undefined || c === false) continue;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return node;
  }
  const isNum = (x) => typeof x === "number" && isFinite(x);
  function fmt(x, digits) {
    return isNum(x) ? x.toFixed(digits === undefined ? 2 : digits) : "–";
  }
  function fmtInt(x) {
    return isNum(x) ? Math.round(x).toLocaleString("en-US") : "–";
  }
  function fmtCount(x) {
    if (!isNum(x)) return "–";
    if (Math.abs(x) >= 1e6) return (x / 1e6).toFixed(2) + "M";
    if (Math.abs(x) >= 1e4) return (x / 1e3).toFixed(1) + "k";
    return fmtInt(x);
  }
  function fmtDuration(s) {
    if (!isNum(s)) return "–";
    if (s < 60) return s.toFixed(1) + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
    return Math.floor(s / 3600) + " h " + Math.round((s % 3600) / 60) + " min";
  }
  function fmtBytes(n) {
    if (!isNum(n)) return "–";
    if (n < 1024) return n + " B";
    if (n < 1 << 20) return (n / 1024).toFixed(1) + " KiB";
    return (n / (1 << 20)).toFixed(1) + " MiB";
  }
  function slug(s) {
    return String(s).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
  }

  function notesBox(notes) {
    if (!notes || !notes.length) return null;
    return el("div", { class: "notes", role: "note" }, [
      el("strong", { text: "Notes" }),
      el("ul", {}, notes.map((n) => el("li", { text: n }))),
    ]);
  }

  // -- sortable tables ----------------------------------------------------------------------
  /* columns: [{key, label, fmt(value,row) -> text, num (default true), cls(row) -> class}];
   * rows: objects. Cells carry data-key and data-value (the raw number) for sorting. */
  function table(columns, rows, opts) {
    opts = opts || {};
    const thead = el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col", text: c.label, title: c.title }))));
    const tbody = el("tbody");
    for (const row of rows) {
      const tr = el("tr", { class: opts.rowClass ? opts.rowClass(row) : null });
      for (const c of columns) {
        const v = typeof c.get === "function" ? c.get(row) : row[c.key];
        const text = c.fmt ? c.fmt(v, row) : (v === null || v === undefined ? "–" : String(v));
        const num = c.num !== false;
        const td = el("td", { class: [num ? null : "text", c.cls ? c.cls(row) : null].filter(Boolean).join(" ") || null,
                              "data-key": c.key, "data-value": v === null || v === undefined ? "" : String(v), text: text });
        tr.appendChild(td);
      }
      if (opts.onRow) {
        tr.style.cursor = "pointer";
        tr.addEventListener("click", () => opts.onRow(row));
      }
      tbody.appendChild(tr);
    }
    const t = el("table", { class: "data" + (opts.kv ? " kv" : ""), "data-table": opts.name || null }, [thead, tbody]);
    thead.querySelectorAll("th").forEach((th, i) => th.addEventListener("click", () => sortBy(t, i, columns[i].num !== false)));
    return el("div", { class: "table-wrap" + (opts.scroll ? " scroll" : "") }, t);
  }
  function sortBy(t, col, numeric) {
    const th = t.tHead.rows[0].cells[col];
    const dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    for (const other of t.tHead.rows[0].cells) other.removeAttribute("aria-sort");
    th.setAttribute("aria-sort", dir);
    const rows = Array.from(t.tBodies[0].rows);
    const key = (r) => {
      const v = r.cells[col].getAttribute("data-value");
      if (!numeric) return v;
      return v === "" ? NaN : parseFloat(v);
    };
    rows.sort((a, b) => {
      const x = key(a), y = key(b);
      if (numeric) {
        if (isNaN(x) && isNaN(y)) return 0;
        if (isNaN(x)) return 1;  // missing values last either way
        if (isNaN(y)) return -1;
        return dir === "ascending" ? x - y : y - x;
      }
      return dir === "ascending" ? String(x).localeCompare(y) : String(y).localeCompare(x);
    });
    rows.forEach((r) => t.tBodies[0].appendChild(r));
  }

  function cards(items) {
    return el("div", { class: "cards" }, items.filter(Boolean).map((c) =>
      el("div", { class: "card", "data-card": c.key || slug(c.label) }, [
        el("div", { class: "label", text: c.label }),
        el("div", { class: "value" }, [el("span", { class: "num", text: c.value }), c.unit ? el("span", { class: "unit", text: c.unit }) : null]),
        c.detail ? el("div", { class: "detail", text: c.detail }) : null,
      ])));
  }

  // -- charts (uPlot) -----------------------------------------------------------------------
  /* One x array for several series with x values of their own: the sorted union, with null
   * where a series has no point (spanGaps joins its line across them). */
  function align(series) {
    const set = new Set();
    series.forEach((s) => s.xs.forEach((x) => set.add(x)));
    const xs = Array.from(set).sort((a, b) => a - b);
    const at = new Map(xs.map((x, i) => [x, i]));
    const ys = series.map((s) => {
      const a = new Array(xs.length).fill(null);
      s.xs.forEach((x, i) => { a[at.get(x)] = s.ys[i]; });
      return a;
    });
    return [xs].concat(ys);
  }

  /* spec: {title, tag, xLabel, yLabel, series: [{label, xs, ys}], logX, logY, xTicks: labels,
   * wide: span the whole row} */
  function chart(parent, spec) {
    const box = el("div", { class: "chart" + (spec.wide ? " wide" : ""), "data-chart": spec.tag || spec.title });
    parent.appendChild(box);
    const record = { tag: spec.tag || spec.title, title: spec.title, series: spec.series.map((s) => s.label), plot: null };
    charts.push(record);
    if (typeof uPlot === "undefined") {
      box.appendChild(el("div", { class: "missing", text: "chart library missing" }));
      return record;
    }
    const npoints = Math.max.apply(null, spec.series.map((s) => s.xs.length).concat([0]));
    const positive = spec.series.every((s) => s.ys.every((y) => y === null || y > 0));
    const logY = spec.logY && positive;
    // uPlot's default tick labels keep at most 3 decimals (0.0015 shows as 0.001): label
    // small values with their significant digits instead
    const tickValues = (u, vals) => vals.map((v) => (v === null || v === undefined ? "" :
      (Math.abs(v) >= 1000 ? v.toLocaleString("en-US") : String(+v.toPrecision(6)))));
    const xAxis = { label: spec.xLabel, size: 40, values: tickValues };
    if (spec.xTicks) {
      xAxis.values = (u, vals) => vals.map((v) => (Number.isInteger(v) && spec.xTicks[v] !== undefined ? spec.xTicks[v] : ""));
      xAxis.splits = () => spec.xTicks.map((_, i) => i);
    }
    const opts = {
      title: spec.title,
      width: Math.max(240, (box.clientWidth || 360) - 8),
      height: spec.height || 200,
      scales: { x: { time: false, distr: spec.logX ? 3 : 1, log: 2 }, y: { distr: logY ? 3 : 1 } },
      axes: [xAxis, { label: spec.yLabel || "", size: 56, values: tickValues }],
      cursor: { drag: { x: true, y: false }, focus: { prox: 24 } },
      legend: { live: true },
      series: [{ label: spec.xLabel || "x", value: (u, v) => (v === null || v === undefined ? "–" : (spec.xTicks ? spec.xTicks[v] : +v.toPrecision(6))) }].concat(
        spec.series.map((s, i) => ({
          label: s.label, stroke: s.color || PALETTE[i % PALETTE.length], width: 1.6, spanGaps: true,
          dash: s.dash, points: { show: npoints <= 40, size: 5 },
          value: (u, v) => (v === null || v === undefined ? "–" : (+v.toPrecision(5)).toString()),
        }))),
    };
    const plot = new uPlot(opts, align(spec.series), box);
    record.plot = plot;
    if (typeof ResizeObserver !== "undefined") {
      new ResizeObserver(() => {
        const w = Math.max(240, box.clientWidth - 8);
        if (Math.abs(w - plot.width) > 2) plot.setSize({ width: w, height: plot.height });
      }).observe(box);
    }
    return record;
  }

  /* Turbo colour map (the polynomial fit nerfspec uses for depth and error images). */
  const TURBO = [[0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943],
                 [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604],
                 [0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973]];
  function turbo(x) {
    x = Math.min(1, Math.max(0, x));
    return TURBO.map((c) => Math.round(255 * Math.min(1, Math.max(0, c.reduce((acc, a, k) => acc + a * Math.pow(x, k), 0)))));
  }

  const charts = [];
  window.nerfspecUI = { PALETTE, el, isNum, fmt, fmtInt, fmtCount, fmtDuration, fmtBytes, slug, notesBox,
                        table, cards, chart, turbo, charts };
})();
