// classicseg annotate: plain JS, no network beyond this page's own server.
"use strict";
const S = { state: null, frame: 0, tool: "box", drag: null, busy: false, img: null, mask: null, scrib: null };
const $ = (id) => document.getElementById(id);
const view = $("view"), draw = $("draw"), tl = $("timeline");

function status(text) { $("status").textContent = text; }

async function api(path, body) {
  const opts = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" },
                                             body: JSON.stringify(body) };
  const r = await fetch(path, opts);
  const data = await r.json();
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

function loadImage(src) {
  return new Promise((ok, bad) => { const im = new Image(); im.onload = () => ok(im); im.onerror = bad;
                                    im.src = src + "?t=" + Date.now(); });
}

async function refreshState() {
  S.state = await api("/api/state");
  drawTimeline();
}

async function showFrame(j) {
  const st = S.state;
  S.frame = Math.max(0, Math.min(st.frames - 1, j));
  $("frameinfo").textContent = `frame ${S.frame} / ${st.frames - 1} (${st.names[S.frame]})` +
    (st.keyframes.includes(S.frame) ? " [keyframe]" : "");
  [S.img, S.mask, S.scrib] = await Promise.all([loadImage(`/frame/${S.frame}`), loadImage(`/mask/${S.frame}`),
                                                loadImage(`/scribbles/${S.frame}`)]);
  render();
  drawTimeline();
  document.body.dataset.frame = String(S.frame);
  document.body.dataset.ready = "1";
}

function render() {
  const ctx = view.getContext("2d");
  ctx.drawImage(S.img, 0, 0);
  ctx.globalAlpha = 0.45; ctx.drawImage(S.mask, 0, 0);
  ctx.globalAlpha = 0.9; ctx.drawImage(S.scrib, 0, 0);
  ctx.globalAlpha = 1.0;
  draw.getContext("2d").clearRect(0, 0, draw.width, draw.height);
}

function drawTimeline() {
  const st = S.state; if (!st) return;
  const w = tl.width = Math.max(view.getBoundingClientRect().width, 400), h = tl.height;
  const ctx = tl.getContext("2d");
  ctx.clearRect(0, 0, w, h);
  const n = st.frames, bw = w / n;
  const top = Math.max(...st.uncertainty, 1e-6);
  for (let j = 0; j < n; j++) {           // uncertainty bars
    const v = st.uncertainty[j] / top;
    ctx.fillStyle = "#c84"; ctx.fillRect(j * bw, h - 28 * v - 8, Math.max(bw - 1, 1), 28 * v);
  }
  for (const k of st.suggested) { ctx.fillStyle = "#fd3"; ctx.fillRect(k * bw, 0, Math.max(bw, 2), 6); }
  for (const k of st.keyframes) { ctx.fillStyle = "#4c4"; ctx.fillRect(k * bw, h - 8, Math.max(bw, 2), 8); }
  ctx.strokeStyle = "#fff"; ctx.strokeRect(S.frame * bw, 0, Math.max(bw, 2), h);
}

function toImage(ev) {
  const r = draw.getBoundingClientRect();
  return [(ev.clientX - r.left) * draw.width / r.width, (ev.clientY - r.top) * draw.height / r.height];
}

async function act(label, fn) {
  if (S.busy) return;
  S.busy = true; status(label + "...");
  try { const out = await fn(); await refreshState(); await showFrame(S.frame);
        status(label + ": done" + (out && out.recomputed !== undefined ?
                                   ` (${out.recomputed} frames in ${out.seconds} s)` : "") +
               (out && out.path ? ` -> ${out.path}` : ""));
        document.body.dataset.last = label; return out; }
  catch (e) { status(label + ": " + e.message); document.body.dataset.error = e.message; }
  finally { S.busy = false; }
}

draw.addEventListener("mousedown", (ev) => {
  S.drag = { start: toImage(ev), points: [toImage(ev)] };
});
draw.addEventListener("mousemove", (ev) => {
  if (!S.drag) return;
  const p = toImage(ev), ctx = draw.getContext("2d");
  S.drag.points.push(p);
  ctx.clearRect(0, 0, draw.width, draw.height);
  if (S.tool === "box") {
    const [x0, y0] = S.drag.start;
    ctx.strokeStyle = "#ff0"; ctx.lineWidth = 2; ctx.strokeRect(x0, y0, p[0] - x0, p[1] - y0);
  } else {
    ctx.strokeStyle = S.tool === "fg" ? "#f33" : S.tool === "bg" ? "#33f" : "#fff";
    ctx.lineWidth = 2 * Number($("radius").value); ctx.lineCap = "round";
    ctx.beginPath(); S.drag.points.forEach(([x, y], i) => i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)); ctx.stroke();
  }
});
draw.addEventListener("mouseup", (ev) => {
  if (!S.drag) return;
  const d = S.drag; S.drag = null; d.points.push(toImage(ev));
  const body = { frame: S.frame, id: Number($("objid").value) };
  if (S.tool === "box") {
    const [x0, y0] = d.start, [x1, y1] = d.points[d.points.length - 1];
    body.box = [Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0)];
  } else {
    body.strokes = [{ label: S.tool, radius: Number($("radius").value), points: d.points }];
  }
  act(S.tool, () => api("/api/seed", body));
});

document.querySelectorAll("button.tool").forEach((b) => b.addEventListener("click", () => {
  S.tool = b.dataset.tool;
  document.querySelectorAll("button.tool").forEach((o) => o.classList.toggle("on", o === b));
}));
$("undo").onclick = () => act("undo", () => api("/api/undo", {}));
$("propagate").onclick = () => act("propagate", () => api("/api/propagate", {}));
$("save").onclick = () => act("save", () => api("/api/save", { format: $("format").value }));
$("prev").onclick = () => showFrame(S.frame - 1);
$("next").onclick = () => showFrame(S.frame + 1);
tl.addEventListener("click", (ev) => {
  const r = tl.getBoundingClientRect();
  showFrame(Math.floor((ev.clientX - r.left) / r.width * S.state.frames));
});
document.addEventListener("keydown", (ev) => {
  if (ev.key === "ArrowLeft") showFrame(S.frame - 1);
  if (ev.key === "ArrowRight") showFrame(S.frame + 1);
  if (ev.key === "z" && (ev.ctrlKey || ev.metaKey)) $("undo").click();
});

(async () => {
  await refreshState();
  view.width = draw.width = S.state.width; view.height = draw.height = S.state.height;
  await showFrame(0);
})();
