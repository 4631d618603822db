/* nerfspec report page: the mesh viewers (three.js, bundled as window.NerfspecThree). A mesh's
 * PLY arrives base64-encoded in window.NERFSPEC_BLOBS from a script in the assets folder (pages
 * opened from file:// may not fetch files). Viewers are listed in nerfspecUI.viewers. */
(function () {
  "use strict";

  const { el, isNum, fmt, fmtInt, fmtBytes } = window.nerfspecUI;
  const viewers = [];
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
    for (const v of viewers) if (v.home && !v.moved) { v.home(); v.render(); }
  }
  function syncCameras(from) {
    if (!link.on || link.busy) return;
    link.busy = true;
    for (const v of viewers) {
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
    viewers.push(rec);
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
      controls.addEventListener("start", () => { for (const v of viewers) v.moved = true; });
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

  Object.assign(window.nerfspecUI, { meshViewer, viewers, link });
})();
