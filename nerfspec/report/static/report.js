/* nerfspec report page: builds every section from the JSON in #report-data.
 * Inlined before it: uPlot, the three.js bundle (pages with meshes), ui.js, mesh.js, compare.js.
 * window.nerfspecReport exposes the charts and mesh viewers it made, for inspection. */
(function () {
  "use strict";

  const { el, isNum, fmt, fmtInt, fmtCount, fmtDuration, fmtBytes, slug, notesBox, table, cards, chart,
          PALETTE, meshViewer, link, compareSections } = window.nerfspecUI;
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const state = { data: data, charts: window.nerfspecUI.charts, viewers: window.nerfspecUI.viewers, ready: false };
  window.nerfspecReport = state;

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

  // -- run sections -------------------------------------------------------------------------
  const runs = data.runs || [];
  const multi = runs.length > 1;
  const label = (r) => r.label || r.name;

  /* Throughput: run_info.json's mean over the run where training recorded it, else the mean of
   * the last logged points. */
  function samplesPerS(run) {
    const recorded = run.info && run.info.samples_per_s ? run.info.samples_per_s.value : null;
    return isNum(recorded) ? recorded : run.summary.samples_per_s;
  }

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
      isNum(samplesPerS(run)) && { key: "samples-per-s", label: "samples / s", value: fmtCount(samplesPerS(run)),
        detail: [isNum(val("samples_per_s")) ? "mean over the run" : "mean of the last 10 logged",
                 isNum(run.summary.samples_per_ray) ? fmt(run.summary.samples_per_ray, 1) + " per ray at the end" : null].filter(Boolean).join("; ") },
      { key: "parameters", label: "parameters", value: fmtCount(val("parameters")) },
      device && { key: "device", label: "device", value: device, detail: val("device_name") || from("device") },
      isNum(val("peak_memory_gb")) && { key: "memory", label: "peak GPU memory", value: fmt(val("peak_memory_gb")), unit: "GiB" },
      mesh && isNum(mesh.chamfer_l1) && { key: "chamfer", label: "Chamfer-L1", value: fmt(mesh.chamfer_l1, 4) },
      mesh && isNum(mesh.fscore) && { key: "fscore", label: "F-score", value: fmt(mesh.fscore, 3), detail: isNum(mesh.fscore_tau) ? "at " + mesh.fscore_tau + " scene units" : null },
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
      { key: "sps", label: "samples/s", get: samplesPerS, fmt: fmtCount },
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

  // size [w, h], where known, reserves the image's box before it loads, so lazy images further
  // down do not move the page (and do load when scrolled to)
  function figure(src, caption, alt, size) {
    const attrs = { src: src, alt: alt || caption, loading: "lazy", decoding: "async" };
    if (size) { attrs.width = size[0]; attrs.height = size[1]; }
    return el("figure", {}, [
      src ? el("img", attrs)
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
      const size = (evals.find((e) => e && e.size) || {}).size || null;
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
          grid.appendChild(figure(gt ? gt.gt : null, "ground truth", null, size));
          grid.appendChild(figure(v.render, "render", null, size));
          grid.appendChild(figure(v.error, "error" + (isNum(v.max_error) ? " (max " + fmt(v.max_error, 3) + ")" : ""), null, size));
        } else {
          grid.style.gridTemplateColumns = "repeat(" + (list.length + 1) + ", minmax(0, 320px))";
          grid.appendChild(figure(gt ? gt.gt : null, "ground truth", null, size));
          evals.forEach((e, i) => { const v = byView(e, k) || {}; grid.appendChild(figure(v.render, label(list[i]), null, size)); });
          grid.appendChild(el("div"));
          evals.forEach((e, i) => { const v = byView(e, k) || {}; grid.appendChild(figure(v.error, "error " + label(list[i]), null, size)); });
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

  function camerasSection(list) {
    const items = [];
    list.forEach((r) => (r.evals || []).forEach((e) => { if (e.cameras) items.push({ run: r, cams: e.cameras }); }));
    if (!items.length) return;
    const s = section("cameras", "Cameras", "Training cameras of a run that refined its poses or trained on perturbed " +
      "ones (nerfspec/poses/), aligned to the reference by a similarity; errors per camera are in metrics.json. " +
      "Test PSNR is after test-time pose optimisation, with the field frozen.");
    const err = (c, key, k) => (c[key] ? c[key][k] : null);
    s.appendChild(table([
      { key: "run", label: "run", get: (it) => label(it.run), num: false },
      { key: "reference", label: "reference", get: (it) => it.cams.reference, num: false },
      { key: "rot0", label: "rotation before (°)", get: (it) => err(it.cams, "before_refinement", "rotation_deg"), fmt: (x) => fmt(x, 3) },
      { key: "rot", label: "rotation after (°)", get: (it) => err(it.cams, "errors", "rotation_deg"), fmt: (x) => fmt(x, 3) },
      { key: "t0", label: "translation before", get: (it) => err(it.cams, "before_refinement", "translation"), fmt: (x) => fmt(x, 4) },
      { key: "t", label: "translation after", get: (it) => err(it.cams, "errors", "translation"), fmt: (x) => fmt(x, 4) },
      { key: "psnr0", label: "PSNR without test-time poses", get: (it) => it.cams.psnr_before_pose_optimisation, fmt: (x) => fmt(x, 2) },
    ], items, { name: "cameras" }));
    s.appendChild(el("div", { class: "videos" }, items.filter((it) => it.cams.plot).map((it) => el("figure", {}, [
      el("img", { src: it.cams.plot, alt: "cameras", loading: "lazy" }),
      el("figcaption", { text: (multi ? label(it.run) + ": " : "") + "black: reference, red: loaded, blue: refined" }),
    ]))));
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
    if (key === "rays_per_s" || key === "samples_per_s") return fmtInt(value) + " per s (mean over the run)";
    if (key === "peak_memory_gb") return fmt(value) + " GiB";
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
    if (data.compare) compareSections(data.compare, sum, section);
    else if (multi) sum.appendChild(runsTable(runs));
    else if (runs.length) sum.appendChild(runSummaryCards(runs[0]));
    const pageNotes = (data.notes || []).concat(multi ? [] : (runs[0] ? runs[0].notes || [] : []));
    const n = notesBox(pageNotes);
    if (n) sum.appendChild(n);
    curvesSection(runs);
    viewsSection(runs);
    videosSection(runs);
    camerasSection(runs);
    meshesSection(runs);
    detailsSection(runs);
    app.appendChild(el("footer", { text: "nerfspec " + data.version + " · generated " + data.generated +
      " · charts: uPlot, mesh viewer: three.js (MIT licences, see nerfspec/report/vendor)" }));
    state.ready = true;
  }

  build();
})();
