#!/usr/bin/env bash
# Rebuild nerfspec/report/vendor/ from npm at the pinned versions below: uPlot as published
# (IIFE build + CSS) and one IIFE bundle of the three.js parts the mesh viewer uses (classic
# scripts run from file:// pages; ES modules do not). Needs node and npm; run from the repo root.
set -euo pipefail
THREE=0.187.0
UPLOT=1.6.32
ESBUILD=0.28.2
dest="$(cd "$(dirname "$0")/.." && pwd)/nerfspec/report/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --silent --save-exact "three@$THREE" "uplot@$UPLOT" "esbuild@$ESBUILD"
cat > entry.js <<'JS'
export {
  WebGLRenderer, Scene, PerspectiveCamera, Mesh, MeshStandardMaterial, MeshBasicMaterial,
  AmbientLight, DirectionalLight, HemisphereLight, Color, Box3, Vector3, Sphere, DoubleSide,
} from 'three';
export { PLYLoader } from 'three/examples/jsm/loaders/PLYLoader.js';
export { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
JS
./node_modules/.bin/esbuild entry.js --bundle --minify --format=iife --global-name=NerfspecThree \
  --banner:js="/*! three.js $THREE (MIT, LICENSE-three): WebGLRenderer, PLYLoader, OrbitControls; bundled with esbuild $ESBUILD */" \
  --log-level=warning --outfile="$dest/three-viewer.min.js"
cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css "$dest/"
cp node_modules/three/LICENSE "$dest/LICENSE-three"
cp node_modules/uplot/LICENSE "$dest/LICENSE-uplot"
echo "vendored three $THREE and uPlot $UPLOT into $dest"
