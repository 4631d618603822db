/* nerfspec report page: the sections of a ``nerfspec compare`` folder (per-mapping summary,
 * PSNR curves, residual-spectrum heatmaps, sweeps, per-band PSNR). */
(function () {
  "use strict";

  const { el, isNum, fmt, fmtInt, fmtCount, fmtDuration, table, chart, turbo } = window.nerfspecUI;

  /* The comparison's summary goes into the Summary section ``s``; its curves, spectra and
   * sweeps get sections of their own, made by ``section(id, title, hint)``. */
  function compareSections(cmp, s, section) {
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
                  xTicks: labels, wide: true, series: spectra.map((f) => ({ label: f.label, xs: f.spectrum_db.map((_, b) => b), ys: f.spectrum_db.map((row) => row[row.length - 1]) })) });
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

  window.nerfspecUI.compareSections = compareSections;
})();
