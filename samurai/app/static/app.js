// samurai app: the page. Plain JS, no external assets. Scrubbing reads cached frames and masks
// from the server (never the model); model work goes through the server's one worker.
"use strict";
const token = new URLSearchParams(location.search).get("token");
const app = { sid: null, summary: null, t: 0, labels: new Map(), images: new Map(),
              hidden: new Set(), selected: null, busy: false, drag: null, source: null };
window.samuraiApp = app;  // for tests and the curious
const $ = (id) => document.getElementById(id);
const ALPHA = 0.45;

function q(url) { return token ? url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : url; }

async function api(method, url, body) {
  const headers = {};
  if (token) headers["X-Samurai-Token"] = token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = { error: text }; }
  if (!r.ok) throw new Error((data && data.error) || r.statusText);
  return data;
}

function say(text, error) { const m = $("msg"); m.textContent = text; m.className = error ? "error" : ""; }
async function guard(fn) { try { return await fn(); } catch (e) { say(e.message, true); } }

// ---------------------------------------------------------------- folders and sessions
let where = { root: null, path: "" };
async function showFolder(root, path) {
  where = { root, path };
  const crumbs = $("crumbs"); crumbs.textContent = "";
  const top = document.createElement("span"); top.textContent = "folders"; top.onclick = () => showRoots();
  crumbs.append(top);
  if (root !== null) {
    crumbs.append(" / ");
    const r = document.createElement("span"); r.textContent = app.roots[root].name; r.onclick = () => showFolder(root, "");
    crumbs.append(r);
    if (path) crumbs.append(" / " + path);
  }
  const list = $("files"); list.textContent = "";
  const entries = await api("GET", `/api/list?root=${root}&path=${encodeURIComponent(path)}`);
  for (const e of entries) {
    const li = document.createElement("li"); li.className = "entry"; li.dataset.path = e.path;
    li.textContent = e.name;
    const k = document.createElement("span"); k.className = "kind"; k.textContent = e.kind; li.append(k);
    li.onclick = () => guard(() => e.kind === "folder" ? showFolder(root, e.path) : openSource(root, e.path));
    list.append(li);
  }
}
async function showRoots() {
  app.roots = await api("GET", "/api/roots");
  if (app.roots.length === 1) return showFolder(0, "");
  where = { root: null, path: "" };
  $("crumbs").textContent = "folders";
  const list = $("files"); list.textContent = "";
  for (const r of app.roots) {
    const li = document.createElement("li"); li.className = "entry"; li.textContent = r.name;
    li.onclick = () => guard(() => showFolder(r.root, "")); list.append(li);
  }
}
async function showSessions() {
  const list = $("sessions"); list.textContent = "";
  for (const s of await api("GET", "/api/sessions")) {
    const li = document.createElement("li"); li.className = "entry"; li.dataset.sid = s.id;
    li.textContent = `${s.name} (${s.frames})`;
    li.onclick = () => guard(() => load(s.id)); list.append(li);
  }
}
async function openSource(root, path) {
  say("opening " + path + " …");
  const s = await api("POST", "/api/open", { root, path });
  await load(s.id);
  say("opened " + s.name);
  showSessions();
}
$("upload").onchange = () => guard(async () => {
  const f = $("upload").files[0]; if (!f) return;
  say("uploading " + f.name + " …");
  const headers = token ? { "X-Samurai-Token": token } : {};
  const r = await fetch(`/api/upload?name=${encodeURIComponent(f.name)}`, { method: "POST", headers, body: f });
  const data = await r.json();
  if (!r.ok) throw new Error(data.error);
  await load(data.id); showSessions(); say("opened " + f.name);
});

// ---------------------------------------------------------------- one session
async function load(sid) {
  app.sid = sid; app.labels.clear(); app.images.clear();
  await refresh();
  const s = app.summary;
  $("video-name").textContent = s.name;
  $("view").width = s.width; $("view").height = s.height;
  $("frame").max = s.frames - 1;
  await seek(Math.min(app.t, s.frames - 1));
  if (s.job && (s.job.state === "queued" || s.job.state === "running")) follow();
  else showStatus(s.status);
}
async function refresh() {
  app.summary = await api("GET", `/api/sessions/${app.sid}`);
  const ids = Object.keys(app.summary.objects);
  if (!ids.includes(String(app.selected))) app.selected = ids.length ? Number(ids[ids.length - 1]) : null;
  showObjects(); showCalibration(); drawCurves();
}
function showCalibration() {
  const s = app.summary, sp = s.spacing, own = sp && sp.from !== "entered";
  $("spacing").value = sp ? (sp.cm[0] === sp.cm[1] ? `${sp.cm[0]}` : `${sp.cm[0]},${sp.cm[1]}`) : "";
  $("spacing").disabled = !!own;
  $("spacing-source").textContent = sp ? `pixel spacing ${sp.cm.join(" × ")} cm, ${sp.source}` :
    "no pixel spacing: areas are in pixels (px²); enter the spacing in cm per pixel to get cm²";
  $("view-name").value = s.view || "";
  $("curve-axis").textContent = sp ? `area (${s.area_unit})` : `area (${s.area_unit}: pixels, no spacing known)`;
}
$("set-calibration").onclick = () => guard(async () => {
  if (!app.sid) return;
  const body = { view: $("view-name").value };
  if (!$("spacing").disabled) body.spacing = $("spacing").value;
  app.summary = await api("POST", `/api/sessions/${app.sid}/calibration`, body);
  showCalibration(); drawCurves();
  say(app.summary.spacing ? `spacing ${app.summary.spacing.cm.join(" × ")} cm per pixel; areas in cm²` : "no spacing: areas in px²");
});
function colour(oid) { const p = app.summary.palette; return p[(oid - 1) % p.length]; }
function css(c) { return `rgb(${c[0]},${c[1]},${c[2]})`; }
function showObjects() {
  const list = $("objects"); list.textContent = "";
  for (const [oid, o] of Object.entries(app.summary.objects)) {
    const li = document.createElement("li"); li.dataset.obj = oid;
    const show = document.createElement("input"); show.type = "checkbox"; show.checked = !app.hidden.has(Number(oid));
    show.title = "show this structure"; show.className = "toggle";
    show.onchange = () => { show.checked ? app.hidden.delete(Number(oid)) : app.hidden.add(Number(oid)); render(); drawCurves(); };
    const pick = document.createElement("input"); pick.type = "radio"; pick.name = "selected"; pick.className = "pick";
    pick.checked = Number(oid) === app.selected; pick.title = "correct this structure with clicks";
    pick.onchange = () => { app.selected = Number(oid); };
    const sw = document.createElement("span"); sw.className = "swatch"; sw.style.background = css(colour(Number(oid)));
    li.append(show, pick, sw, `${o.name} (${oid})`); list.append(li);
  }
}
function showStatus(st) {
  $("status").textContent = st ? `${st.state}${st.message ? ": " + st.message : ""}` : "";
}

async function frameImage(t) {
  let img = app.images.get(t);
  if (!img) {
    img = new Image(); img.src = q(`/api/sessions/${app.sid}/frame/${t}`);
    app.images.set(t, img);
  }
  if (!img.complete) await img.decode();
  return img;
}
async function labelsOf(t) {
  if (app.labels.has(t)) return app.labels.get(t);
  const headers = token ? { "X-Samurai-Token": token } : {};
  const r = await fetch(`/api/sessions/${app.sid}/labels/${t}`, { headers });
  const lab = r.status === 200 ? new Uint8Array(await r.arrayBuffer()) : null;
  app.labels.set(t, lab);
  return lab;
}
async function seek(t) {
  app.t = t; $("frame").value = t;
  $("frame-label").textContent = `${t} / ${app.summary.frames - 1}`;
  await render(); drawCurves(); showDecision();
}
async function render() {
  if (!app.sid) return;
  const t = app.t, view = $("view"), ctx = view.getContext("2d");
  const [img, lab] = await Promise.all([frameImage(t), labelsOf(t)]);
  if (t !== app.t) return;  // scrubbed on meanwhile
  ctx.drawImage(img, 0, 0);
  if (lab) {
    const data = ctx.getImageData(0, 0, view.width, view.height), px = data.data;
    const rgb = {};
    for (const oid of Object.keys(app.summary.objects)) if (!app.hidden.has(Number(oid))) rgb[oid] = colour(Number(oid));
    for (let i = 0; i < lab.length; i++) {
      const c = lab[i] && rgb[lab[i]];
      if (c) for (let k = 0; k < 3; k++) px[4 * i + k] = (1 - ALPHA) * px[4 * i + k] + ALPHA * c[k];
    }
    ctx.putImageData(data, 0, 0);
  }
  if (app.drag && app.drag.to) {
    const [a, b] = [app.drag.from, app.drag.to];
    ctx.strokeStyle = "#ff0"; ctx.lineWidth = 1;
    ctx.strokeRect(Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.abs(b[0] - a[0]), Math.abs(b[1] - a[1]));
  }
}
function drawCurves() {
  const cv = $("curves"), ctx = cv.getContext("2d");
  ctx.clearRect(0, 0, cv.width, cv.height);
  const s = app.summary; if (!s) return;
  const n = s.frames, pad = 20;
  let max = 1;
  for (const [oid, a] of Object.entries(s.areas)) if (!app.hidden.has(Number(oid))) for (const v of a) if (v !== null) max = Math.max(max, v);
  const x = (t) => pad + (cv.width - 2 * pad) * (n > 1 ? t / (n - 1) : 0.5);
  const y = (v) => cv.height - pad - (cv.height - 2 * pad) * v / max;
  ctx.fillStyle = "#666"; ctx.font = "10px sans-serif";
  ctx.fillText(`max ${s.spacing ? max.toFixed(2) : max} ${s.area_unit}`, pad, 12);
  for (const [oid, a] of Object.entries(s.areas)) {
    if (app.hidden.has(Number(oid))) continue;
    ctx.strokeStyle = css(colour(Number(oid))); ctx.lineWidth = 1.5; ctx.beginPath();
    let on = false;
    a.forEach((v, t) => { if (v === null) { on = false; return; } on ? ctx.lineTo(x(t), y(v)) : ctx.moveTo(x(t), y(v)); on = true; });
    ctx.stroke();
  }
  ctx.strokeStyle = "#000"; ctx.lineWidth = 1; ctx.beginPath();
  ctx.moveTo(x(app.t), pad / 2); ctx.lineTo(x(app.t), cv.height - pad / 2); ctx.stroke();
}
async function showDecision() {
  const body = document.querySelector("#decision tbody"); body.textContent = "";
  const t = app.t, m = await api("GET", `/api/sessions/${app.sid}/meta/${t}`);
  if (t !== app.t) return;
  const f = (v) => (v === null || v === undefined) ? "–" : (typeof v === "number" ? v.toFixed(3) : v);
  for (const [oid, d] of Object.entries(m.decisions)) {
    const tr = document.createElement("tr"); tr.dataset.obj = oid;
    const name = (app.summary.objects[oid] || { name: oid }).name;
    const cells = d.prompt ? [name, "prompt", "", "", "", ""] :
      [name, d.chosen, f(d.predicted_iou), f(d.motion_iou), f(d.object_score), (d.memory_frames || []).join(" ")];
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.append(td); }
    body.append(tr);
  }
}
$("frame").oninput = () => guard(() => seek(Number($("frame").value)));
document.addEventListener("keydown", (e) => {
  if (!app.sid || e.target.tagName === "INPUT" && e.target.type !== "range") return;
  if (e.key === "ArrowRight") guard(() => seek(Math.min(app.t + 1, app.summary.frames - 1)));
  if (e.key === "ArrowLeft") guard(() => seek(Math.max(app.t - 1, 0)));
});

// ---------------------------------------------------------------- prompts and corrections
function mode() { return document.querySelector("input[name=mode]:checked").value; }
function pixel(e) {
  const r = $("view").getBoundingClientRect(), s = app.summary;
  const px = (e.clientX - r.left) * s.width / r.width, py = (e.clientY - r.top) * s.height / r.height;
  return [Math.max(0, Math.min(s.width - 1, px)), Math.max(0, Math.min(s.height - 1, py))];
}
async function afterPrompt(frame) {
  app.labels.delete(frame); await refresh(); await seek(app.t);
}
$("view").onmousedown = (e) => { if (app.sid && mode() === "box") app.drag = { from: pixel(e), to: null }; };
$("view").onmousemove = (e) => { if (app.drag) { app.drag.to = pixel(e); render(); } };
$("view").onmouseup = (e) => guard(async () => {
  if (!app.sid) return;
  if (mode() === "box") {
    const d = app.drag; app.drag = null;
    if (!d) return;
    const to = pixel(e);
    if (Math.abs(to[0] - d.from[0]) < 2 || Math.abs(to[1] - d.from[1]) < 2) { render(); return say("drag a box around the structure", true); }
    const name = $("name").value.trim();
    const r = await api("POST", `/api/sessions/${app.sid}/box`, { frame: app.t, name, box: [...d.from, ...to] });
    app.selected = r.obj;
    say(`box for ${name} on frame ${app.t}`);
    return afterPrompt(app.t);
  }
  if (app.selected === null) return say("draw a box first, or choose a structure on the right", true);
  const [x, y] = pixel(e);
  await api("POST", `/api/sessions/${app.sid}/click`, { frame: app.t, obj: app.selected, x, y, positive: mode() === "pos" });
  say(`${mode() === "pos" ? "positive" : "negative"} click on frame ${app.t}; Propagate to track from here`);
  return afterPrompt(app.t);
});
$("find").onclick = () => guard(async () => {
  if (!app.sid) return;
  say("finding chambers …");
  const names = $("find-names").value.split(",").map((s) => s.trim()).filter((s) => s);
  const r = await api("POST", `/api/sessions/${app.sid}/find`, { frame: app.t, names });
  say("found " + r.found.join(", ")); await afterPrompt(app.t);
});

// ---------------------------------------------------------------- jobs
$("propagate").onclick = () => guard(async () => {
  if (!app.sid) return;
  await api("POST", `/api/sessions/${app.sid}/propagate`, {});
  follow();
});
function follow() {
  if (app.source) app.source.close();
  const sid = app.sid, es = new EventSource(q(`/api/sessions/${sid}/events`));
  app.source = es; app.busy = true; document.body.dataset.busy = "1";
  es.onmessage = (ev) => {
    const job = JSON.parse(ev.data);
    if (!job || sid !== app.sid) return;
    $("progress").max = Math.max(job.total, 1); $("progress").value = job.done;
    $("status").textContent = `${job.kind} ${job.state}: ${job.done}/${job.total} ${job.message}`;
    if (job.state !== "queued" && job.state !== "running") {
      es.close(); app.source = null;
      if (job.state === "error") say(job.message, true); else say(`${job.kind} ${job.state}`);
      app.labels.clear();
      guard(async () => { await refresh(); await seek(app.t); app.busy = false; document.body.dataset.busy = "0"; });
    }
  };
  es.onerror = () => { es.close(); app.busy = false; document.body.dataset.busy = "0"; };
}
$("undo").onclick = () => guard(async () => {
  if (!app.sid) return;
  const r = await api("POST", `/api/sessions/${app.sid}/undo`);
  say(`undone: frames from ${r.from} are as before`); app.labels.clear(); await refresh(); await seek(app.t);
});
async function exportAs(kind) {
  if (!app.sid) return;
  const r = await api("POST", `/api/sessions/${app.sid}/export`, { kind });
  const files = r.files ? ` (${r.files.join(", ")})` : "";
  say("wrote " + r.path + files + (r.notes && r.notes.length ? "; " + r.notes.join("; ") : ""));
  $("msg").dataset.path = r.path;
  if (r.report) $("msg").dataset.report = r.report;
}
$("export-png").onclick = () => guard(() => exportAs("png"));
$("export-train").onclick = () => guard(() => exportAs("training"));

guard(async () => {
  const info = await api("GET", "/api/info"), m = info.model;
  if (m.name) $("model").textContent = "model " + m.name + (m.adapter ? " + adapter" : "");
  if (m.untrained) { $("model").textContent = "UNTRAINED MODEL (--random-weights): masks are meaningless"; $("model").className = "untrained"; }
  await showRoots(); await showSessions();
});
