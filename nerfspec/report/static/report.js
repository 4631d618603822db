/* nerfspec report page: builds every section from the JSON in #report-data.
 * Libraries (inlined before this script): uPlot (charts), NerfspecThree (three.js bundle with
 * PLYLoader and OrbitControls; present only when the page has meshes).
 * window.nerfspecReport exposes the charts and mesh viewers it made, for inspection. */
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("report-data").textContent);
  const state = { data: data, charts: [], viewers: [], ready: false };
  window.nerfspecReport = state;
  const PALETTE = ["#2f5fd0", "#d9480f", "#2b8a3e", "#ae3ec9", "#e8590c", "#0c8599", "#c2255c",
                   "#5c940d", "#1864ab", "#862e9c"];

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

  // -- page frame ---------------------------------------------------------------------------
  const toc = el("nav", { class: "toc", "aria-label": "sections" });
  const main = el("main");
  function section(id, title, hint) {
    const s = el("section", { id: id }, [el("h2", { text: title })]);
    if (hint) s.appendChild(el("p", { class: "hint", text: hint }));
    toc.appendChild(el("a", { href: "#" + id, text: title }));
    main.appendChild(s);
    return s;
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

  /* spec: {title, tag, xLabel, yLabel, series: [{label, xs, ys}], logX, logY, xTicks: labels} */
  function chart(parent, spec) {
    const box = el("div", { class: "chart", "data-chart": spec.tag || spec.title });
    parent.appendChild(box);
    const record = { tag: spec.tag || spec.title, title: spec.title, series: spec.series.map((s) => s.label), plot: null };
    state.charts.push(record);
    if (typeof uPlot === "undefined") {
      box.appendChild(el("div", { class: "missing", text: "chart library missing" }));
      return record;
    }
    const npoints = Math.max.apply(null, spec.series.map((s) => s.xs.length).concat([0]));
    const positive = spec.series.every((s) => s.ys.every((y) => y === null || y > 0));
    const logY = spec.logY && positive;
    const xAxis = { label: spec.xLabel, size: 40 };
    if (spec.xTicks) {
      xAxis.values = (u, vals) => vals.map((v) => (Number.isInteger(v) && spec.xTicks[v] !== undefined ? spec.xTicks[v] : ""));
      xAxis.splits = () => spec.xTicks.map((_, i) => i);
      xAxis.rotate = -30;
      xAxis.size = 64;
    }
    const opts = {
      title: spec.title,
      width: Math.max(240, (box.clientWidth || 360) - 8),
      height: spec.height || 200,
      scales: { x: { time: false, distr: spec.logX ? 3 : 1, log: 2 }, y: { distr: logY ? 3 : 1 } },
      axes: [xAxis, { label: spec.yLabel || "", size: 56 }],
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

  // -- run sections -------------------------------------------------------------------------
  const runs = data.runs || [];
  const multi = runs.length > 1;
  const label = (r) => r.label || r.name;

  function runSummaryCards(run) {
    const ev = (run.evals || [])[0];
    const info = run.info || {};
    const val = (k) => (info[k] ? info[k].value : null);
    const mesh = run.mesh && run.mesh.metrics;
    const device = [val("device"), val("precision")].filter(Boolean).join(" · ");
    const from = (k) => (info[k] && info[k].source !== "run_info" ? "from the " + info[k].source : null);
    return cards([
      ev && { key: ev.split + "-psnr", label: ev.split + " PSNR", value: fmt(ev.psnr), unit: "dB",
              detail: (ev.views || []).length + " views" + (isNum(ev.step) ? " at step " + fmtInt(ev.step) : "") },
      ev && { key: ev.split + "-ssim", label: ev.split + " SSIM", value: fmt(ev.ssim, 4) },
      isNum(run.summary.train_psnr) && { key: "train-psnr", label: "train PSNR", value: fmt(run.summary.train_psnr), unit: "dB", detail: "last logged batch" },
      { key: "steps", label: "steps", value: fmtInt(val("step")) },
      { key: "time", label: "training time", value: fmtDuration(val("elapsed_s")), detail: from("elapsed_s") },
      isNum(run.summary.samples_per_s) && { key: "samples-per-s", label: "samples / s", value: fmtCount(run.summary.samples_per_s),
                                            detail: isNum(run.summary.samples_per_ray) ? fmt(run.summary.samples_per_ray, 1) + " samples per ray (last)" : null },
      { key: "parameters", label: "parameters", value: fmtCount(val("parameters")) },
      device && { key: "device", label: "device", value: device, detail: from("device") },
      mesh && isNum(mesh.chamfer_l1) && { key: "chamfer", label: "Chamfer-L1", value: fmt(mesh.chamfer_l1, 4) },
      mesh && isNum(mesh.fscore) && { key: "fscore", label: "F-score", value: fmt(mesh.fscore, 3), detail: isNum(mesh.tau) ? "tau " + mesh.tau : null },
      mesh && isNum(mesh.iou) && { key: "iou", label: "IoU (solid)", value: fmt(mesh.iou, 3) },
    ]);
  }

  function runsTable(list) {
    const first = (r) => (r.evals || [])[0] || {};
    const v = (r, k) => (r.info && r.info[k] ? r.info[k].value : null);
    const best = Math.max.apply(null, list.map((r) => (isNum(first(r).psnr) ? first(r).psnr : -Infinity)));
    return table([
      { key: "run", label: "run", get: label, num: false },
      { key: "encoding", label: "mapping", get: (r) => r.encoding, num: false },
      { key: "psnr", label: "PSNR (dB)", get: (r) => first(r).psnr, fmt: (x) => fmt(x), cls: (r) => (first(r).psnr === best ? "best" : null) },
      { key: "ssim", label: "SSIM", get: (r) => first(r).ssim, fmt: (x) => fmt(x, 4) },
      { key: "split", label: "split", get: (r) => first(r).split, num: false },
      { key: "steps", label: "steps", get: (r) => v(r, "step"), fmt: fmtInt },
      { key: "time", label: "training time", get: (r) => v(r, "elapsed_s"), fmt: fmtDuration },
      { key: "sps", label: "samples/s", get: (r) => r.summary.samples_per_s, fmt: fmtCount },
      { key: "params", label: "parameters", get: (r) => v(r, "parameters"), fmt: fmtCount },
      { key: "device", label: "device", get: (r) => v(r, "device"), num: false },
    ], list, { name: "runs" });
  }

  function curvesSection(list) {
    const tags = [];
    list.forEach((r) => Object.keys(r.scalars || {}).forEach((t) => { if (!tags.includes(t)) tags.push(t); }));
    if (!tags.length) return;
    const s = section("curves", "Training curves",
      "From the runs' TensorBoard logs. Drag across a chart to zoom, double-click to reset; hover for values.");
    // the figures people look at first lead; every other tag follows by name
    const FIRST = ["train/psnr", "train/loss", "val/psnr", "train/samples_per_s", "train/samples_per_ray",
                   "train/rays_per_s", "train/lr", "train/occupied_fraction"];
    const rank = (t) => (FIRST.includes(t) ? FIRST.indexOf(t) : FIRST.length);
    const groups = {};
    tags.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)).forEach((t) => {
      const g = t.includes("/") ? t.split("/")[0] : "other";
      (groups[g] = groups[g] || []).push(t);
    });
    const order = ["train", "val"].filter((g) => groups[g]).concat(Object.keys(groups).filter((g) => g !== "train" && g !== "val"));
    for (const g of order) {
      s.appendChild(el("h3", { text: g }));
      const grid = el("div", { class: "charts" });
      s.appendChild(grid);
      for (const tag of groups[g]) {
        const series = list.filter((r) => r.scalars && r.scalars[tag]).map((r) => ({
          label: multi ? label(r) : tag, xs: r.scalars[tag].step, ys: r.scalars[tag].value,
          color: PALETTE[list.indexOf(r) % PALETTE.length],
        }));
        chart(grid, { title: tag, tag: tag, xLabel: "step", series: series, logY: /loss/.test(tag) });
      }
    }
  }

  function figure(src, caption, alt) {
    return el("figure", {}, [
      src ? el("img", { src: src, alt: alt || caption, loading: "lazy", decoding: "async" })
          : el("div", { class: "missing", text: "not available" }),
      el("figcaption", { text: caption, title: caption }),
    ]);
  }

  function viewsSection(list) {
    const splits = [];
    list.forEach((r) => (r.evals || []).forEach((e) => { if (!splits.includes(e.split)) splits.push(e.split); }));
    if (!splits.length) return;
    const s = section("views", "Evaluated views",
      "Ground truth on the eval background | render | per-pixel error (mean absolute error over RGB). " +
      "PSNR and SSIM are those of the run's metrics.json. Click a table row to jump to its view.");
    s.appendChild(el("div", { class: "legend-bar" }, [el("span", { text: "error 0" }), el("img", { src: data.colorbar, alt: "error colour scale" }),
      el("span", { text: fmt(data.error_vmax, 2) + " and above" })]));
    for (const split of splits) {
      const evals = list.map((r) => (r.evals || []).find((e) => e.split === split) || null);
      const indices = [];
      evals.forEach((e) => e && e.views.forEach((v) => { if (!indices.includes(v.view)) indices.push(v.view); }));
      indices.sort((a, b) => a - b);
      const head = evals.map((e, i) => (e ? label(list[i]) + ": " + fmt(e.psnr) + " dB, SSIM " + fmt(e.ssim, 4) +
        " over " + e.views.length + " views" + (isNum(e.step) ? " (step " + fmtInt(e.step) + ")" : "") : label(list[i]) + ": not evaluated"));
      s.appendChild(el("h3", { text: split + " split" }));
      s.appendChild(el("div", { class: "muted split-lines" }, head.map((t) => el("div", { text: t }))));
      const byView = (e, k) => (e ? e.views.find((v) => v.view === k) || null : null);
      const rows = indices.map((k) => {
        const row = { view: k };
        evals.forEach((e, i) => {
          const v = byView(e, k);
          row["psnr" + i] = v ? v.psnr : null;
          row["ssim" + i] = v ? v.ssim : null;
          row["err" + i] = v ? v.max_error : null;
        });
        return row;
      });
      const cols = [{ key: "view", label: "view", fmt: (x) => String(x) }];
      evals.forEach((e, i) => {
        const p = multi ? label(list[i]) + " " : "";
        cols.push({ key: "psnr" + i, label: p + "PSNR", fmt: (x) => fmt(x) });
        cols.push({ key: "ssim" + i, label: p + "SSIM", fmt: (x) => fmt(x, 4) });
        if (!multi) cols.push({ key: "err" + i, label: "max error", fmt: (x) => fmt(x, 3) });
      });
      const id = (k) => "view-" + slug(split) + "-" + k;
      s.appendChild(table(cols, rows, { name: "views-" + split, scroll: true, onRow: (row) => {
        const card = document.getElementById(id(row.view));
        if (!card) return;
        card.scrollIntoView({ block: "center" });
        card.classList.add("flash");
        setTimeout(() => card.classList.remove("flash"), 1200);
      } }));
      const gallery = el("div", { class: "views" });
      s.appendChild(gallery);
      for (const k of indices) {
        const gt = evals.map((e) => byView(e, k)).find((v) => v && v.gt);
        const caption = evals.map((e, i) => {
          const v = byView(e, k);
          return (multi ? label(list[i]) + " " : "") + (v ? fmt(v.psnr) + " dB / " + fmt(v.ssim, 4) : "–");
        }).join(" · ");
        const card = el("div", { class: "view", id: id(k), "data-view": k, "data-split": split }, [
          el("div", { class: "caption" }, [el("strong", { text: "view " + k }), " · " + caption]),
        ]);
        const grid = el("div", { class: "grid" });
        card.appendChild(grid);
        if (!multi) {
          const v = byView(evals[0], k) || {};
          grid.style.gridTemplateColumns = "repeat(3, minmax(0, 400px))";
          grid.appendChild(figure(gt ? gt.gt : null, "ground truth"));
          grid.appendChild(figure(v.render, "render"));
          grid.appendChild(figure(v.error, "error" + (isNum(v.max_error) ? " (max " + fmt(v.max_error, 3) + ")" : "")));
        } else {
          grid.style.gridTemplateColumns = "repeat(" + (list.length + 1) + ", minmax(0, 320px))";
          grid.appendChild(figure(gt ? gt.gt : null, "ground truth"));
          evals.forEach((e, i) => { const v = byView(e, k) || {}; grid.appendChild(figure(v.render, label(list[i]))); });
          grid.appendChild(el("div"));
          evals.forEach((e, i) => { const v = byView(e, k) || {}; grid.appendChild(figure(v.error, "error " + label(list[i]))); });
        }
        gallery.appendChild(card);
      }
    }
  }

  function videosSection(list) {
    const items = [];
    list.forEach((r) => (r.videos || []).forEach((v) => items.push({ run: r, video: v })));
    if (!items.length) return;
    const s = section("video", "Video", "Rendered camera paths (nerfspec render).");
    s.appendChild(el("div", { class: "videos" }, items.map((it) => el("figure", {}, [
      el("video", { src: it.video.url, controls: true, loop: true, muted: true, playsinline: true, preload: "auto" }),
      el("figcaption", { text: (multi ? label(it.run) + ": " : "") + it.video.name + " (" + fmtBytes(it.video.bytes) + ")" }),
    ]))));
  }

  // -- mesh viewers (three.js) --------------------------------------------------------------
  const scripts = {};
  function loadScript(url) {
    if (!scripts[url]) {
      scripts[url] = new Promise((resolve, reject) => {
        const tag = el("script", { src: url });
        tag.onload = resolve;
        tag.onerror = () => reject(new Error("could not load " + url + " (is the assets folder beside the page?)"));
        document.head.appendChild(tag);
      });
    }
    return scripts[url];
  }
  function base64ToBuffer(text) {
    const bin = atob(text);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return bytes.buffer;
  }
  function webglAvailable() {
    try {
      const c = document.createElement("canvas");
      return !!(c.getContext("webgl2") || c.getContext("webgl"));
    } catch (e) {
      return false;
    }
  }

  /* Viewers move together (link.on) and start framed on the union of every loaded mesh's
   * bounding sphere, so meshes of one scene appear at one scale. */
  const link = { on: true, busy: false, sphere: null };
  function frameAll(sphere) {
    link.sphere = link.sphere ? link.sphere.clone().union(sphere) : sphere.clone();
    for (const v of state.viewers) if (v.home && !v.moved) { v.home(); v.render(); }
  }
  function syncCameras(from) {
    if (!link.on || link.busy) return;
    link.busy = true;
    for (const v of state.viewers) {
      if (v === from || !v.camera) continue;
      v.camera.position.copy(from.camera.position);
      v.camera.up.copy(from.camera.up);
      v.controls.target.copy(from.controls.target);
      v.controls.update();
      v.render();
    }
    link.busy = false;
  }

  function meshViewer(entry) {
    const T = window.NerfspecThree;
    const rec = { key: entry.key, label: entry.label, ready: false, empty: false, error: null, renders: 0 };
    state.viewers.push(rec);
    const status = el("div", { class: "status", text: "loading mesh…" });
    const box = el("div", { class: "canvas" }, [status]);
    const bar = el("div", { class: "bar" }, [el("span", { class: "title", text: entry.label })]);
    const m = entry.metrics || {};
    const stats = el("div", { class: "stats", text: fmtInt(entry.vertices) + " vertices · " + fmtInt(entry.faces) + " faces · " + fmtBytes(entry.bytes) +
      (isNum(m.chamfer_l1) ? " · Chamfer-L1 " + fmt(m.chamfer_l1, 4) : "") + (isNum(m.fscore) ? " · F-score " + fmt(m.fscore, 3) : "") +
      (isNum(m.iou) ? " · IoU " + fmt(m.iou, 3) : "") + (isNum(m.threshold) ? " · threshold " + m.threshold : "") });
    const wrap = el("div", { class: "viewer", "data-mesh": entry.key }, [box, bar, stats]);
    const fail = (msg) => { rec.error = msg; status.textContent = msg; };
    if (!entry.faces) {
      rec.empty = true;
      rec.ready = true;
      status.textContent = "empty mesh: no surface at this density threshold";
      return wrap;
    }
    if (!T) { fail("mesh viewer library missing"); return wrap; }
    if (!webglAvailable()) { fail("this browser has no WebGL: the mesh cannot be shown"); return wrap; }
    loadScript(entry.script).then(() => {
      const blob = (window.NERFSPEC_BLOBS || {})[entry.key];
      if (!blob) throw new Error("mesh data missing from " + entry.script);
      const geometry = new T.PLYLoader().parse(base64ToBuffer(blob));
      if (!geometry.getAttribute("normal")) geometry.computeVertexNormals();
      const hasColours = !!geometry.getAttribute("color");
      geometry.computeBoundingSphere();
      const sphere = geometry.boundingSphere;
      const renderer = new T.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
      renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
      renderer.setClearColor(0xeef0f4, 1);
      box.replaceChildren(renderer.domElement);
      const scene = new T.Scene();
      const camera = new T.PerspectiveCamera(35, 4 / 3, sphere.radius / 100, sphere.radius * 100);
      camera.up.set(0, 0, 1);  // Blender scenes: z up
      scene.add(new T.HemisphereLight(0xffffff, 0x6a7080, 1.6));
      const sun = new T.DirectionalLight(0xffffff, 1.6);
      sun.position.set(1, -1, 2);
      camera.add(sun);
      scene.add(camera);
      const lit = new T.MeshStandardMaterial({ vertexColors: hasColours, color: hasColours ? 0xffffff : 0xb8c0cc,
                                               roughness: 0.9, metalness: 0, side: T.DoubleSide });
      const flat = new T.MeshBasicMaterial({ vertexColors: hasColours, color: hasColours ? 0xffffff : 0xb8c0cc, side: T.DoubleSide });
      const mesh = new T.Mesh(geometry, lit);
      scene.add(mesh);
      const controls = new T.OrbitControls(camera, renderer.domElement);
      rec.home = () => {
        const frame = link.sphere || sphere;
        const d = frame.radius / Math.sin((camera.fov * Math.PI) / 360) * 1.1;
        controls.target.copy(frame.center);
        camera.position.set(frame.center.x + 0.55 * d, frame.center.y - 0.7 * d, frame.center.z + 0.45 * d);
        link.busy = true;  // framing is not a user move: do not sync it
        controls.update();
        link.busy = false;
      };
      rec.render = () => { renderer.render(scene, camera); rec.renders += 1; };
      rec.camera = camera;
      rec.controls = controls;
      const resize = () => {
        const w = box.clientWidth || 320, h = box.clientHeight || 240;
        renderer.setSize(w, h, false);
        camera.aspect = w / h;
        camera.updateProjectionMatrix();
        rec.render();
      };
      controls.addEventListener("start", () => { for (const v of state.viewers) v.moved = true; });
      controls.addEventListener("change", () => { rec.render(); syncCameras(rec); });
      const toggle = (text, checked, disabled, onchange) => {
        const input = el("input", { type: "checkbox", checked: checked, disabled: disabled });
        input.addEventListener("change", () => { onchange(input.checked); rec.render(); });
        return el("label", { class: "toggle" }, [input, text]);
      };
      const setColours = (on) => { for (const mat of [lit, flat]) { mat.vertexColors = on && hasColours; mat.color.set(on && hasColours ? 0xffffff : 0xb8c0cc); mat.needsUpdate = true; } };
      bar.appendChild(toggle("colours", hasColours, !hasColours, setColours));
      bar.appendChild(toggle("lighting", true, false, (on) => { mesh.material = on ? lit : flat; }));
      bar.appendChild(toggle("wireframe", false, false, (on) => { lit.wireframe = on; flat.wireframe = on; }));
      bar.appendChild(el("button", { type: "button", text: "reset view", onclick: () => { rec.home(); rec.render(); syncCameras(rec); } }));
      resize();
      frameAll(sphere);
      if (typeof ResizeObserver !== "undefined") new ResizeObserver(resize).observe(box);
      rec.ready = true;
    }).catch((e) => fail(String(e.message || e)));
    return wrap;
  }

  function meshesSection(list) {
    const entries = [];
    const seen = new Set();
    list.forEach((r) => { if (r.mesh) entries.push(Object.assign({}, r.mesh, { label: label(r) })); });
    list.forEach((r) => {
      if (r.gt_mesh && !seen.has(r.gt_mesh.script)) {
        seen.add(r.gt_mesh.script);
        entries.push(r.gt_mesh);
      }
    });
    if (!list.some((r) => r.mesh)) return;
    const s = section("mesh", "Mesh", "Extracted surface (nerfspec mesh) and, for generated scenes, the ground truth. " +
      "Drag to orbit, scroll to zoom, right-drag to pan.");
    const linkBox = el("input", { type: "checkbox", checked: true });
    linkBox.addEventListener("change", () => { link.on = linkBox.checked; });
    if (entries.length > 1) s.appendChild(el("p", {}, el("label", { class: "toggle" }, [linkBox, "move the cameras together"])));
    const metrics = list.filter((r) => r.mesh && r.mesh.metrics);
    s.appendChild(el("div", { class: "viewers" }, entries.map(meshViewer)));
    if (metrics.length) {
      s.appendChild(el("h3", { text: "Geometry against the ground truth" }));
      s.appendChild(table([
        { key: "run", label: "run", get: label, num: false },
        { key: "chamfer_l1", label: "Chamfer-L1", get: (r) => r.mesh.metrics.chamfer_l1, fmt: (x) => fmt(x, 4) },
        { key: "fscore", label: "F-score", get: (r) => r.mesh.metrics.fscore, fmt: (x) => fmt(x, 3) },
        { key: "precision", label: "precision", get: (r) => r.mesh.metrics.precision, fmt: (x) => fmt(x, 3) },
        { key: "recall", label: "recall", get: (r) => r.mesh.metrics.recall, fmt: (x) => fmt(x, 3) },
        { key: "iou", label: "IoU (solid)", get: (r) => r.mesh.metrics.iou, fmt: (x) => fmt(x, 3) },
        { key: "iou_density", label: "IoU (density)", get: (r) => r.mesh.metrics.iou_density, fmt: (x) => fmt(x, 3) },
        { key: "threshold", label: "threshold", get: (r) => r.mesh.metrics.threshold, fmt: (x) => (isNum(x) ? String(x) : "–") },
        { key: "resolution", label: "resolution", get: (r) => r.mesh.metrics.resolution, fmt: fmtInt },
        { key: "components", label: "components", get: (r) => r.mesh.metrics.components, fmt: fmtInt },
      ], metrics, { name: "mesh-metrics" }));
    }
  }

  function infoValue(key, value) {
    if (key === "elapsed_s") return fmtDuration(value) + " (" + fmt(value, 1) + " s)";
    if (key === "parameters") return fmtInt(value);
    if (key === "dataset" && value && typeof value === "object") {
      const parts = [value.root];
      if (isNum(value.train_views)) parts.push(value.train_views + " train views");
      if (isNum(value.width) && isNum(value.height)) parts.push(value.width + "×" + value.height);
      return parts.filter(Boolean).join(" · ");
    }
    if (value && typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function detailsSection(list) {
    const s = section("details", multi ? "Runs in detail" : "Run details",
      "Facts marked 'run_info' were recorded by training; others were recovered from the config, checkpoint or logs.");
    for (const r of list) {
      if (multi) s.appendChild(el("h3", { text: label(r) }));
      s.appendChild(el("p", { class: "muted", text: r.dir }));
      const rows = Object.entries(r.info || {}).map(([k, v]) => ({ key: k, value: infoValue(k, v.value), source: v.source }));
      s.appendChild(table([
        { key: "key", label: "fact", num: false },
        { key: "value", label: "value", num: false },
        { key: "source", label: "from", num: false },
      ], rows, { kv: true, name: "info-" + r.name }));
      s.appendChild(el("details", {}, [el("summary", { text: "config.toml (resolved)" }), el("pre", { class: "config", text: r.config_toml })]));
      const n = multi ? notesBox(r.notes) : null;  // a single run's notes are in the summary
      if (n) s.appendChild(n);
    }
  }

  // -- comparison sections ------------------------------------------------------------------
  /* Turbo colour map (the polynomial fit nerfspec uses for depth and error images). */
  const TURBO = [[0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943],
                 [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604],
                 [0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973]];
  function turbo(x) {
    x = Math.min(1, Math.max(0, x));
    return TURBO.map((c) => Math.round(255 * Math.min(1, Math.max(0, c.reduce((acc, a, k) => acc + a * Math.pow(x, k), 0)))));
  }

  /* The comparison's summary goes into the Summary section ``s``; its curves, spectra and
   * sweeps get sections of their own. */
  function compareSections(cmp, s) {
    const st = cmp.setup || {};
    const budget = [st.max_steps ? st.max_steps + " steps" : null, st.max_minutes ? st.max_minutes + " min" : null].filter(Boolean).join(" and ");
    s.appendChild(el("p", { class: "muted", text: "Scene " + (st.scene || "?") + "; budget " + (budget || "from the config") +
      " per run; seeds " + (st.seeds || []).join(", ") + "; device " + (st.device || "?") + "; torch " + (st.torch || "?") +
      (isNum(cmp.wall_s) ? "; the whole comparison took " + fmtDuration(cmp.wall_s) : "") + ". Test PSNR on the test split; swept parameters chosen on val." }));
    const fields = cmp.fields || [];
    const best = Math.max.apply(null, fields.map((f) => (isNum(f.test_psnr) ? f.test_psnr : -Infinity)));
    s.appendChild(table([
      { key: "label", label: "mapping", num: false },
      { key: "test_psnr", label: "test PSNR (dB)", fmt: (x, f) => fmt(x) + (isNum(f.test_psnr_std) ? " ± " + fmt(f.test_psnr_std) : ""),
        cls: (f) => (f.test_psnr === best ? "best" : null) },
      { key: "test_ssim", label: "SSIM", fmt: (x) => fmt(x, 4) },
      { key: "val_psnr", label: "val PSNR", fmt: (x) => fmt(x) },
      { key: "steps", label: "steps", fmt: fmtInt },
      { key: "train_s", label: "train time", fmt: fmtDuration },
      { key: "samples_per_s", label: "samples/s", fmt: fmtCount },
      { key: "params", label: "parameters", fmt: fmtInt },
      { key: "runs", label: "runs", fmt: fmtInt },
    ], fields, { name: "fields" }));
    if ((cmp.runs || []).length > fields.length) {
      s.appendChild(el("h3", { text: "Every run" }));
      s.appendChild(table([
        { key: "run", label: "run", num: false },
        { key: "field", label: "mapping", num: false },
        { key: "value", label: "swept value", fmt: (x, r) => (r.sweep ? r.sweep + "=" + x + (r.selected ? " (chosen)" : "") : "–") },
        { key: "seed", label: "seed", fmt: fmtInt },
        { key: "test_psnr", label: "test PSNR", fmt: (x) => fmt(x) },
        { key: "test_ssim", label: "SSIM", fmt: (x) => fmt(x, 4) },
        { key: "val_psnr", label: "val PSNR", fmt: (x) => fmt(x) },
        { key: "steps", label: "steps", fmt: fmtInt },
        { key: "train_s", label: "train time", fmt: fmtDuration },
        { key: "samples_per_s", label: "samples/s", fmt: fmtCount },
      ], cmp.runs, { name: "compare-runs", rowClass: (r) => (r.sweep && r.selected ? "chosen" : null) }));
    }

    const curves = fields.filter((f) => f.curve && f.curve.psnr && f.curve.psnr.length);
    if (curves.length) {
      const c = section("psnr-curves", "PSNR during training",
        "Test PSNR of a subset of the test views at evenly spaced points of each run's budget.");
      const grid = el("div", { class: "charts" });
      c.appendChild(grid);
      chart(grid, { title: "PSNR against training time", tag: "compare/psnr_vs_time", xLabel: "minutes", yLabel: "dB",
                    series: curves.map((f) => ({ label: f.label, xs: f.curve.elapsed_s.map((t) => t / 60), ys: f.curve.psnr })) });
      chart(grid, { title: "PSNR against steps", tag: "compare/psnr_vs_steps", xLabel: "step", yLabel: "dB",
                    series: curves.map((f) => ({ label: f.label, xs: f.curve.step, ys: f.curve.psnr })) });
    }

    const labels = cmp.band_labels || [];
    const spectra = fields.filter((f) => f.spectrum_db && f.spectrum_db.length);
    if (labels.length && spectra.length) {
      const sp = section("spectrum", "Residual spectrum",
        "Power of the residual (render − ground truth) per frequency band of the curve views, in dB (10 log10; lower is better). " +
        "Rows: bands named by their period in pixels, low frequencies at the bottom; columns: training steps. One colour scale for every mapping.");
      const all = [].concat.apply([], spectra.map((f) => [].concat.apply([], f.spectrum_db))).filter(isNum);
      const lo = Math.min.apply(null, all), hi = Math.max.apply(null, all);
      const grid = el("div", { class: "heatmaps" });
      sp.appendChild(grid);
      for (const f of spectra) {
        const t = el("table", { class: "heat", "data-heatmap": f.field }, [el("caption", { text: f.label })]);
        for (let b = f.spectrum_db.length - 1; b >= 0; b--) {
          const tr = el("tr", {}, [el("th", { text: labels[b] || "band " + b, scope: "row" })]);
          f.spectrum_db[b].forEach((v, j) => {
            const rgb = turbo(hi > lo ? (v - lo) / (hi - lo) : 0.5);
            const light = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 140;
            tr.appendChild(el("td", { text: fmt(v, 0), title: labels[b] + ", step " + fmtInt(f.curve.step[j]) + ": " + fmt(v, 2) + " dB",
              style: "background: rgb(" + rgb.join(",") + "); color: " + (light ? "#000" : "#fff"), "data-value": v }));
          });
          t.appendChild(tr);
        }
        t.appendChild(el("tr", {}, [el("th", { text: "step" })].concat(f.curve.step.map((x) => el("th", { text: fmtInt(x) })))));
        grid.appendChild(el("div", { class: "table-wrap" }, t));
      }
      sp.appendChild(el("p", { class: "hint", text: "scale: " + fmt(lo, 1) + " dB (dark blue) to " + fmt(hi, 1) + " dB (dark red)" }));
      const g2 = el("div", { class: "charts" });
      sp.appendChild(g2);
      chart(g2, { title: "Residual spectrum at the end of training", tag: "compare/spectrum_final", xLabel: "band (period)", yLabel: "dB",
                  xTicks: labels, series: spectra.map((f) => ({ label: f.label, xs: f.spectrum_db.map((_, b) => b), ys: f.spectrum_db.map((row) => row[row.length - 1]) })) });
    }

    const sweeps = Object.entries(cmp.sweeps || {});
    if (sweeps.length) {
      const sw = section("sweeps", "Sweeps", "Each swept value's mean val and test PSNR over seeds; the value with the best val PSNR is chosen.");
      for (const [fld, c] of sweeps) {
        sw.appendChild(el("h3", { text: c.key + " (chosen by " + c.by + " PSNR: " + c.value + ")" }));
        const grid = el("div", { class: "charts" });
        sw.appendChild(grid);
        const xs = c.table.map((t) => t.value);
        const logX = Math.min.apply(null, xs) > 0 && Math.max.apply(null, xs) / Math.min.apply(null, xs) >= 4;
        chart(grid, { title: c.key + " sweep", tag: "compare/sweep_" + fld, xLabel: c.key, yLabel: "PSNR (dB)", logX: logX, series: [
          { label: "val (mean)", xs: xs, ys: c.table.map((t) => t.val_psnr) },
          { label: "test (mean)", xs: xs, ys: c.table.map((t) => t.test_psnr), dash: [5, 4] },
        ] });
        sw.appendChild(table([
          { key: "value", label: c.key.split(".").pop(), fmt: (x) => String(x) },
          { key: "val_psnr", label: "val PSNR", fmt: (x) => fmt(x) },
          { key: "test_psnr", label: "test PSNR", fmt: (x) => fmt(x) },
          { key: "seeds", label: "seeds", fmt: fmtInt },
        ], c.table, { name: "sweep-" + fld, rowClass: (t) => (t.value === c.value ? "chosen" : null) }));
      }
    }

    const bandNames = [];
    fields.forEach((f) => Object.keys(f.band_psnr || {}).forEach((n) => { if (!bandNames.includes(n)) bandNames.push(n); }));
    if (bandNames.length) {
      const bp = section("bands", "Per-band PSNR", "Test PSNR inside each of the scene's grating bands.");
      bp.appendChild(table([{ key: "label", label: "mapping", num: false }].concat(bandNames.map((n) => (
        { key: "band_" + n, label: n, get: (f) => (f.band_psnr || {})[n], fmt: (x) => fmt(x) }))), fields, { name: "bands" }));
    }
  }

  // -- the page -----------------------------------------------------------------------------
  function build() {
    const app = document.getElementById("app");
    app.replaceChildren();
    const header = el("header", { class: "top" }, [
      el("h1", {}, [el("span", { class: "brand", text: "nerfspec · " }), data.title]),
      el("div", { class: "sub", text: data.subtitle }),
    ]);
    app.appendChild(header);
    app.appendChild(toc);
    app.appendChild(main);
    const sum = section("summary", "Summary");
    if (data.compare) compareSections(data.compare, sum);
    else if (multi) sum.appendChild(runsTable(runs));
    else if (runs.length) sum.appendChild(runSummaryCards(runs[0]));
    const pageNotes = (data.notes || []).concat(multi ? [] : (runs[0] ? runs[0].notes || [] : []));
    const n = notesBox(pageNotes);
    if (n) sum.appendChild(n);
    curvesSection(runs);
    viewsSection(runs);
    videosSection(runs);
    meshesSection(runs);
    detailsSection(runs);
    app.appendChild(el("footer", { text: "nerfspec " + data.version + " · generated " + data.generated +
      " · charts: uPlot, mesh viewer: three.js (MIT licences, see nerfspec/report/vendor)" }));
    state.ready = true;
  }

  build();
})();
