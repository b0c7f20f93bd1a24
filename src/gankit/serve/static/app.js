// gankit studio: plain JS, no build step. window.studio.renders counts images shown (tests wait on it).
"use strict";
const $ = (id) => document.getElementById(id);
const studio = { models: [], current: null, renders: 0, errors: 0, pending: {}, timers: {} };
window.studio = studio;

function status(msg, isError, isWarning) {
  const el = $("status");
  el.textContent = msg || "";
  el.className = isError ? "error" : (isWarning && msg ? "warning" : "");
  if (isError) studio.errors += 1;
}

async function fail(resp) {
  let msg = `${resp.status} ${resp.statusText}`;
  try { msg = (await resp.json()).error || msg; } catch (e) { /* not JSON */ }
  throw new Error(msg);
}

// Fetch an image into <img id=imgId>; a newer request for the same image cancels the older one.
async function showImage(imgId, url, init, linkId, fileName) {
  if (studio.pending[imgId]) studio.pending[imgId].abort();
  const ctl = new AbortController();
  studio.pending[imgId] = ctl;
  const img = $(imgId);
  img.classList.add("loading");
  try {
    const resp = await fetch(url, { ...(init || {}), signal: ctl.signal });
    if (!resp.ok) await fail(resp);
    const blob = await resp.blob();
    const old = img.dataset.blob;
    const src = URL.createObjectURL(blob);
    await new Promise((ok, bad) => { img.onload = ok; img.onerror = () => bad(new Error("not an image")); img.src = src; });
    if (old) URL.revokeObjectURL(old);
    img.dataset.blob = src;
    if (linkId) { $(linkId).href = src; $(linkId).download = fileName; }
    studio.renders += 1;
    img.dataset.version = String(studio.renders);
    status(resp.headers.get("X-Gankit-Warning") || "", false, true);  // e.g. a face unlike the training faces
    return src;
  } catch (e) {
    if (e.name !== "AbortError") status(e.message, true);
    return null;
  } finally {
    if (studio.pending[imgId] === ctl) { delete studio.pending[imgId]; img.classList.remove("loading"); }
  }
}

function later(key, fn, ms) {
  clearTimeout(studio.timers[key]);
  studio.timers[key] = setTimeout(fn, ms === undefined ? 120 : ms);
}

function api(path) { return `/api/models/${encodeURIComponent(studio.current.id)}${path}`; }

function describe(m) {
  let s = `${m.family}${m.preset ? ` (${m.preset})` : ""} · ${m.data_label} · step ${m.step}`;
  if (m.best && m.best.fid !== undefined && m.best.fid !== null) s += ` · best FID ${Number(m.best.fid).toFixed(2)}`;
  return s;
}

// ------------------------------------------------------------------ noise models
function sliderValues() {
  return Array.from(document.querySelectorAll("#sliders input")).map((el) => Number(el.value));
}

function noiseQuery() {
  const q = new URLSearchParams({ seed: $("seed").value || "0", n: $("count").value, truncation: $("truncation").value });
  const vals = sliderValues();
  if (vals.some((v) => v !== 0)) q.set("sliders", vals.join(","));
  if (studio.current.conditional && $("class").value !== "") q.set("cls", $("class").value);
  return q;
}

function refreshGrid() {
  if (studio.current.kind !== "noise") return null;
  const q = noiseQuery();
  const name = `${studio.current.family}-seed${q.get("seed")}.png`;
  return showImage("grid", api(`/sample.png?${q}`), null, "download-grid", name);
}

function refreshInterp() {
  if (studio.current.kind !== "noise") return null;
  const q = new URLSearchParams({ seed_a: $("seed").value || "0", seed_b: $("seed-b").value || "1",
    steps: $("frames").value, truncation: $("truncation").value, mode: $("mode").value });
  if (studio.current.conditional && $("class").value !== "") q.set("cls", $("class").value);
  const name = `${studio.current.family}-interp-${q.get("seed_a")}-${q.get("seed_b")}.png`;
  return showImage("interp", api(`/interpolate.png?${q}`), null, "download-interp", name);
}

function setupNoise(m) {
  const box = $("sliders");
  box.innerHTML = "";
  for (let i = 0; i < m.sliders; i++) {
    const lab = document.createElement("label");
    lab.innerHTML = `d${i + 1} <input type="range" min="-3" max="3" step="0.1" value="0" data-index="${i}"> <output>0.0</output>`;
    const input = lab.querySelector("input");
    input.addEventListener("input", () => { lab.querySelector("output").textContent = Number(input.value).toFixed(1); later("grid", refreshGrid); });
    box.appendChild(lab);
  }
  $("class-row").hidden = !m.conditional;
  const sel = $("class");
  sel.innerHTML = '<option value="">one per image</option>';
  (m.classes || []).forEach((c, i) => { const o = document.createElement("option"); o.value = String(i); o.textContent = `${i}: ${c}`; sel.appendChild(o); });
  refreshGrid();
  refreshInterp();
}

// ------------------------------------------------------------------ text models
function refreshText() {
  if (studio.current.kind !== "text") return null;
  const caption = $("caption").value.trim();
  if (!caption) { status("type a caption", true); return null; }
  const q = new URLSearchParams({ caption, seed: $("text-seed").value || "0", n: $("text-count").value });
  if ($("stage1").checked) q.set("stage1", "true");
  const slug = caption.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40) || "caption";
  return showImage("text-grid", api(`/text.png?${q}`), null, "download-text", `${slug}-seed${q.get("seed")}.png`);
}

function refreshTextInterp() {
  if (studio.current.kind !== "text") return null;
  const a = $("caption").value.trim(), b = $("caption-b").value.trim();
  if (!a || !b) return null;
  const q = new URLSearchParams({ caption_a: a, caption_b: b, seed: $("text-seed").value || "0", steps: $("text-frames").value });
  if ($("stage1").checked) q.set("stage1", "true");
  return showImage("text-interp", api(`/text-interpolate.png?${q}`), null, "download-text-interp", "caption-walk.png");
}

function setupText(m) {
  $("stage1-row").hidden = !(m.outputs || []).includes("stage1");  // a stage-II StackGAN shows its stage-I drafts
  $("stage1").checked = false;
  refreshText();
  refreshTextInterp();
}

// ------------------------------------------------------------------ 3D (voxel) models
function voxelQuery() {
  const q = new URLSearchParams({ seed: $("voxel-seed").value || "0", n: $("voxel-count").value,
    threshold: $("voxel-threshold").value || "0.5" });
  if (studio.current.conditional && $("voxel-class").value !== "") q.set("cls", $("voxel-class").value);
  return q;
}

function meshUrl() {
  const q = voxelQuery();
  q.set("index", $("mesh-index").value || "0");
  return api(`/mesh.${$("mesh-format").value}?${q}`);
}

function refreshVoxels() {
  if (studio.current.kind !== "voxel") return null;
  const q = voxelQuery();
  const n = Number(q.get("n"));
  const sel = $("mesh-index");
  const keep = Math.min(Number(sel.value || 0), n - 1);
  sel.innerHTML = Array.from({ length: n }, (_, i) => `<option value="${i}">${i + 1}</option>`).join("");
  sel.value = String(keep);
  $("download-mesh").href = meshUrl();
  const stem = `${studio.current.family}-seed${q.get("seed")}`;
  const t = new URLSearchParams(q);
  t.set("frames", "16");  // 16 renders per shape keep a seed change quick; the API's default is 24
  showImage("turntable", api(`/turntable.gif?${t}`), null, "download-gif", `${stem}-turntable.gif`);
  return showImage("views", api(`/views.png?${q}`), null, "download-views", `${stem}-views.png`);
}

async function downloadMesh(e) {
  e.preventDefault();
  const url = meshUrl();
  try {
    const resp = await fetch(url);
    if (!resp.ok) await fail(resp);
    const src = URL.createObjectURL(await resp.blob());
    const a = document.createElement("a");
    a.href = src;
    a.download = `${studio.current.family}-seed${$("voxel-seed").value || 0}-${$("mesh-index").value}.${$("mesh-format").value}`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(src), 10000);
    status("");
  } catch (err) { status(err.message, true); }
}

function setupVoxel(m) {
  $("voxel-class-row").hidden = !m.conditional;
  const sel = $("voxel-class");
  sel.innerHTML = '<option value="">one per shape</option>';
  (m.classes || []).forEach((c, i) => { const o = document.createElement("option"); o.value = String(i); o.textContent = `${i}: ${c}`; sel.appendChild(o); });
  refreshVoxels();
}

// ------------------------------------------------------------------ image models (an upload goes in)
function resetUpload(m, what) {
  $("limits").textContent = `${what}; inputs up to ${(m.max_input_pixels / 1e6).toFixed(2)} megapixels`;
  for (const id of ["in-img", "out-img", "cmp-in", "cmp-out"]) { $(id).removeAttribute("src"); }
  studio.file = null;
}

function setupTranslate(m) {
  const dirs = m.directions || [];
  if (dirs.length < 2) $("direction-row").hidden = true;  // one direction: nothing to pick
  $("direction").innerHTML = dirs.map((d) => `<option>${d}</option>`).join("");
  resetUpload(m, `translates ${dirs.join(" / ")}`);
}

function setupUpscale(m) { resetUpload(m, `enlarges x${m.scale}`); }

function setupAge(m) {  // the output is a square crop at the model's size: no pixel-aligned compare
  const opts = (m.classes || []).map((c) => `<option>${c}</option>`).join("");
  $("age-target").innerHTML = '<option value="all">every age (strip, input first)</option>' + opts;
  $("age-source").innerHTML = opts;
  $("age-source").value = m.source;
  $("age-steps").max = String(m.max_steps);
  $("age-steps").value = String(m.steps);
  const what = m.detect_faces ? "the largest face is cropped first" : "the whole picture";
  resetUpload(m, `re-ages a face (${what}, at ${m.size} px)`);
}

async function runImage() {
  if (!studio.file || !belongs($("image-panel"), studio.current.kind)) return null;
  const form = new FormData();
  form.append("file", studio.file, studio.file.name || "upload.png");
  if (!$("direction-row").hidden) form.append("direction", $("direction").value);
  if (!$("age-row").hidden) {
    form.append("target", $("age-target").value);
    form.append("source", $("age-source").value);
    form.append("steps", $("age-steps").value || "0");
  }
  const stem = (studio.file.name || "image").replace(/\.[^.]*$/, "");
  const src = await showImage("out-img", api("/apply"), { method: "POST", body: form }, "download-out",
    `${stem}-${studio.current.family}.png`);
  if (src) $("cmp-out").src = src;
  return src;
}

function takeFile(file) {
  if (!file) return;
  studio.file = file;
  if (studio.inputUrl) URL.revokeObjectURL(studio.inputUrl);
  const url = URL.createObjectURL(file);
  studio.inputUrl = url;
  $("in-img").src = url;
  $("cmp-in").src = url;
  runImage();
}

function setupDrop() {
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); takeFile(e.dataTransfer.files[0]); });
  $("file").addEventListener("change", (e) => takeFile(e.target.files[0]));
  $("direction").addEventListener("change", runImage);
  for (const id of ["age-target", "age-source", "age-steps"]) $(id).addEventListener("change", runImage);
  const pos = () => { $("cmp-out").style.clipPath = `inset(0 0 0 ${$("compare-pos").value}%)`; };
  $("compare-pos").addEventListener("input", pos);
  pos();
}

// ------------------------------------------------------------------ the run's pictures
function scoreTable(info) {
  const rows = [];
  if (info.best) {
    const b = info.best;
    rows.push(`<tr><td>best during training (step ${b.step})</td><td>FID ${Number(b.fid).toFixed(2)}${b.kid !== undefined ? `, KID ${Number(b.kid).toFixed(4)}` : ""}</td><td>${b.extractor || ""}, n=${b.n || "?"}</td></tr>`);
  }
  for (const c of info.cards || []) {
    const s = Object.entries(c.scores).filter(([, v]) => typeof v === "number").map(([k, v]) => `${k} ${v.toFixed(3)}`).join(", ");
    rows.push(`<tr><td>${c.file}</td><td>${s}</td><td>${c.extractor || ""}${c.n_fake ? `, n=${c.n_fake}` : ""}</td></tr>`);
  }
  return rows.length ? `<table><tr><th>score card</th><th>scores</th><th>measured with</th></tr>${rows.join("")}</table>`
    : '<p class="muted">no scores recorded for this run (train with train.eval_every or run gankit eval)</p>';
}

async function loadRun() {
  const m = studio.current;
  const resp = await fetch(api("/run"));
  if (!resp.ok) { status("could not list the run's files", true); return; }
  const info = await resp.json();
  if (studio.current !== m) return;
  $("scores").innerHTML = scoreTable(info);
  const names = info.files.map((f) => f.name);
  const url = (n) => info.files.find((f) => f.name === n).url;
  $("loss-fig").hidden = !names.includes("loss.png");
  if (!$("loss-fig").hidden) $("loss-img").src = url("loss.png");
  const grids = names.filter((n) => n.startsWith("samples/"));
  $("samples-box").hidden = grids.length === 0;
  const slider = $("sample-step");
  slider.max = String(Math.max(0, grids.length - 1));
  slider.value = slider.max;
  const show = () => { const n = grids[Number(slider.value)]; if (n) { $("sample-img").src = url(n); $("sample-name").textContent = n.replace("samples/", ""); } };
  slider.oninput = show;
  show();
  $("health-box").hidden = !info.health;
  $("health").textContent = info.health || "";
}

// ------------------------------------------------------------------ model picker
// One panel per pipeline: the elements a modality's panel shows carry data-for="<modality> ..."; PANELS sets the
// panel up. A modality without an entry (a pipeline the page has no controls for) shows the run's pictures only.
const PANELS = { noise: setupNoise, text: setupText, voxel: setupVoxel, translate: setupTranslate,
  upscale: setupUpscale, age: setupAge };

function belongs(el, kind) { return el.dataset.for.split(" ").includes(kind); }

function pick(id) {
  const m = studio.models.find((x) => x.id === id);
  if (!m) return;
  for (const t of Object.values(studio.timers)) clearTimeout(t);  // nothing queued for the previous model runs now
  for (const c of Object.values(studio.pending)) c.abort();
  studio.current = m;
  $("model-info").textContent = `${m.kind} model · ${m.preset || ""} preset · ${m.shape ? m.shape.join("×") : ""}` +
    (m.ema ? " · EMA weights" : "");
  for (const el of document.querySelectorAll("[data-for]")) el.hidden = !belongs(el, m.kind);
  if (PANELS[m.kind]) PANELS[m.kind](m);
  loadRun();
}

async function init() {
  const resp = await fetch("/api/models");
  if (!resp.ok) { status("could not list the models", true); return; }
  studio.models = (await resp.json()).models;
  $("model").innerHTML = studio.models.map((m) => `<option value="${m.id}">${describe(m)}</option>`).join("");
  $("model").addEventListener("change", (e) => pick(e.target.value));
  $("seed").addEventListener("input", () => later("grid", () => { refreshGrid(); refreshInterp(); }));
  $("random-seed").addEventListener("click", () => { $("seed").value = String(Math.floor(Math.random() * 1e6)); refreshGrid(); refreshInterp(); });
  $("count").addEventListener("change", refreshGrid);
  $("class").addEventListener("change", () => { refreshGrid(); refreshInterp(); });
  $("truncation").addEventListener("input", () => { $("truncation-value").textContent = Number($("truncation").value).toFixed(2); later("grid", () => { refreshGrid(); refreshInterp(); }); });
  $("reset-sliders").addEventListener("click", () => { document.querySelectorAll("#sliders input").forEach((el) => { el.value = "0"; el.nextElementSibling.textContent = "0.0"; }); refreshGrid(); });
  for (const id of ["seed-b", "frames", "mode"]) $(id).addEventListener("change", refreshInterp);
  $("caption").addEventListener("input", () => later("text", () => { refreshText(); refreshTextInterp(); }, 300));
  $("text-seed").addEventListener("input", () => later("text", () => { refreshText(); refreshTextInterp(); }));
  $("text-count").addEventListener("change", refreshText);
  $("stage1").addEventListener("change", () => { refreshText(); refreshTextInterp(); });
  $("caption-b").addEventListener("input", () => later("text-interp", refreshTextInterp, 300));
  $("text-frames").addEventListener("change", refreshTextInterp);
  $("voxel-seed").addEventListener("input", () => later("voxels", refreshVoxels, 200));
  $("voxel-random").addEventListener("click", () => { $("voxel-seed").value = String(Math.floor(Math.random() * 1e6)); refreshVoxels(); });
  for (const id of ["voxel-count", "voxel-class", "voxel-threshold"]) $(id).addEventListener("change", refreshVoxels);
  for (const id of ["mesh-index", "mesh-format"]) $(id).addEventListener("change", () => { $("download-mesh").href = meshUrl(); });
  $("download-mesh").addEventListener("click", downloadMesh);
  setupDrop();
  if (studio.models.length) pick(studio.models[0].id);
  studio.ready = true;
}

init();
