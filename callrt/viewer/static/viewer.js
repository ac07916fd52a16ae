/* callrt trace viewer — the page: loads a trace, draws swimlanes on a canvas, handles input.
 *
 * Rows, top to bottom: time ruler, markers, caller speech, AI playout, one lane per actor
 * (the caller line first and the model last), mailbox depth. Only what lies in the visible
 * time range is drawn, with one canvas path per colour, so tens of thousands of messages
 * stay smooth. Text panels (fields, call log, conversation) are DOM with dir="auto" for Hebrew.
 * The header and the conversation come from the summary Python inlined (conversation.js).
 */
(function () {
  'use strict';
  const T = window.CallrtTrace;
  const LogText = window.CallrtLogText;
  const Conversation = window.CallrtConversation;
  const $ = (id) => document.getElementById(id);

  const ROW = { ruler: 22, markers: 40, speech: 16, laneMin: 26, laneMax: 90, depth: 74, depthClosed: 18 };
  /* Marker labels at (nearly) the same moment stack on these lines of the marker row. */
  const MARKER_LABEL_LINES = 3;
  const PALETTE = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#0891b2', '#0f766e', '#4f46e5', '#65a30d',
    '#c026d3', '#0d9488', '#b45309', '#854d0e', '#0284c7', '#7c3aed', '#15803d', '#a16207'];
  const LANE_FILL = { actor: '#ffffff', peer: '#f4f6f9', other: '#fafaf5' };
  const HEADS_BELOW = 4000; /* arrowheads only when fewer arrows are visible: they cost more than lines */
  const LABELS_BELOW = 300;
  const PICK_PX = 6;
  /* Events at the same instant are drawn this far apart, in trace order, when zoomed in enough. */
  const TIE_PX = 6;
  const TIE_BELOW = 1000;
  const TIE_MAX_RANK = 60;

  const S = {
    model: null,
    bad: 0,
    view: { t0: 0, t1: 1 },
    laneOn: [],
    typeOn: new Map(),
    markerOn: {},
    typeColor: new Map(),
    tiePx: 0,
    sel: null,
    rows: [],
    laneY: [],
    W: 0,
    H: 0,
    dpr: 1,
    markerLabels: [],
    logRows: [],
    hidePeriodic: true,
    depthOpen: true,
    summary: null,
    conv: null,
    drawQueued: false,
    stats: { ready: false, loadMs: 0, parseMs: 0, buildMs: 0, firstRenderMs: 0, lastDrawMs: 0, maxDrawMs: 0, draws: 0 },
  };
  const canvas = $('canvas');
  const ctx = canvas.getContext('2d');
  const wrap = $('canvas-wrap');

  // ---------------------------------------------------------------- utilities

  function hashColor(name) {
    let h = 0;
    for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) | 0;
    return PALETTE[Math.abs(h) % PALETTE.length];
  }
  function typeColor(type) {
    let c = S.typeColor.get(type);
    if (!c) S.typeColor.set(type, (c = hashColor(type)));
    return c;
  }
  function fmtTime(ms, step) {
    const neg = ms < 0;
    const v = Math.abs(ms);
    const m = Math.floor(v / 60000);
    const s = (v % 60000) / 1000;
    const digits = step === undefined || step < 1 ? 3 : step < 10 ? 3 : step < 100 ? 2 : step < 1000 ? 1 : 0;
    const sec = s.toFixed(digits).padStart(digits ? 3 + digits : 2, '0');
    return (neg ? '-' : '') + m + ':' + sec;
  }
  function lowerBoundNum(arr, t) {
    let lo = 0;
    let hi = arr.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (arr[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    if (attrs) for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function x(t) {
    return ((t - S.view.t0) * S.W) / (S.view.t1 - S.view.t0);
  }
  /* The x of an event: its time, plus its rank among events at the same instant. */
  function xe(ev) {
    return x(ev.t || 0) + Math.min(ev._r || 0, TIE_MAX_RANK) * S.tiePx;
  }
  function tAt(px) {
    return S.view.t0 + (px * (S.view.t1 - S.view.t0)) / S.W;
  }
  function laneName(i) {
    return S.model.lanes[i] ? S.model.lanes[i].label : '?';
  }
  function arrowShown(a) {
    return S.laneOn[a.from] && S.laneOn[a.to] && S.typeOn.get(a.type) !== false;
  }
  function requestDraw() {
    if (S.drawQueued) return;
    S.drawQueued = true;
    requestAnimationFrame(() => {
      S.drawQueued = false;
      draw();
    });
  }

  // ---------------------------------------------------------------- view

  function totalSpan() {
    return Math.max(S.model.end, 10);
  }
  function setView(t0, t1) {
    const total = totalSpan();
    const margin = total * 0.05;
    let span = Math.min(Math.max(t1 - t0, 2), total + 2 * margin);
    if (t0 < -margin) t0 = -margin;
    if (t0 + span > total + margin) t0 = total + margin - span;
    S.view.t0 = t0;
    S.view.t1 = t0 + span;
    requestDraw();
  }
  function fit() {
    const total = totalSpan();
    setView(-total * 0.01, total * 1.01);
  }
  function zoom(factor, atT) {
    const v = S.view;
    const center = atT === undefined ? (v.t0 + v.t1) / 2 : atT;
    setView(center - (center - v.t0) * factor, center + (v.t1 - center) * factor);
  }
  function pan(fraction) {
    const span = S.view.t1 - S.view.t0;
    setView(S.view.t0 + span * fraction, S.view.t1 + span * fraction);
  }
  function centre(t) {
    const span = S.view.t1 - S.view.t0;
    setView(t - span / 2, t + span / 2);
  }
  function reveal(t) {
    const v = S.view;
    const span = v.t1 - v.t0;
    if (t < v.t0 + span * 0.05 || t > v.t1 - span * 0.05) setView(t - span / 2, t + span / 2);
  }

  // ---------------------------------------------------------------- layout

  function layout() {
    const rows = [];
    let y = ROW.ruler;
    const push = (row) => {
      row.y = y;
      y += row.h;
      rows.push(row);
      return row;
    };
    push({ key: 'markers', label: 'markers', h: ROW.markers, cls: 'aux' });
    push({ key: 'speech-caller', label: 'caller speech', h: ROW.speech, cls: 'aux' });
    push({ key: 'speech-ai', label: 'AI playout', h: ROW.speech, cls: 'aux' });
    const shown = S.model.lanes.map((l, i) => i).filter((i) => S.laneOn[i]);
    const depthH = S.depthOpen ? ROW.depth : ROW.depthClosed;
    const free = S.H - y - depthH;
    const laneH = Math.max(ROW.laneMin, Math.min(ROW.laneMax, Math.floor(free / Math.max(1, shown.length))));
    S.laneY = S.model.lanes.map(() => null);
    for (const i of shown) {
      const lane = S.model.lanes[i];
      const row = push({ key: 'lane', lane: i, id: lane.id, label: lane.label, h: laneH, cls: lane.kind });
      S.laneY[i] = row.y + row.h / 2;
    }
    /* The depth panel keeps its height: space freed by hidden actors goes to the lanes, not to it. */
    push({ key: 'depth', label: 'mailbox depth ' + (S.depthOpen ? '▾' : '▸'), h: depthH, cls: 'aux toggle' });
    S.rows = rows;
    const gutter = $('gutter');
    gutter.textContent = '';
    for (const row of rows) {
      const label = el('div', { class: 'lane-label ' + row.cls, 'data-row': row.key }, row.label);
      if (row.id) label.setAttribute('data-lane', row.id);
      if (row.key === 'depth') {
        label.title = 'collapse / expand (d)';
        label.addEventListener('click', toggleDepth);
      }
      label.style.top = row.y + 'px';
      label.style.height = row.h + 'px';
      gutter.appendChild(label);
    }
  }
  function toggleDepth() {
    S.depthOpen = !S.depthOpen;
    layout();
    requestDraw();
  }
  function rowAt(y) {
    for (const row of S.rows) if (y >= row.y && y < row.y + row.h) return row;
    return null;
  }
  function row(key) {
    return S.rows.find((r) => r.key === key);
  }

  function resize() {
    S.dpr = window.devicePixelRatio || 1;
    S.W = Math.max(1, wrap.clientWidth);
    S.H = Math.max(1, wrap.clientHeight);
    canvas.width = Math.round(S.W * S.dpr);
    canvas.height = Math.round(S.H * S.dpr);
    if (S.model) {
      layout();
      draw();
    }
  }

  // ---------------------------------------------------------------- drawing

  function visibleArrows(fn) {
    const arrows = S.model.arrows;
    const v = S.view;
    let i = T.lowerBound(arrows, v.t0 - S.model.maxSpan, 't0');
    for (; i < arrows.length; i++) {
      const a = arrows[i];
      if (a.t0 > v.t1) break;
      if (a.t1 < v.t0 || !arrowShown(a)) continue;
      fn(a);
    }
  }

  function drawRuler() {
    const span = S.view.t1 - S.view.t0;
    const target = span / Math.max(1, S.W / 110);
    const pow = Math.pow(10, Math.floor(Math.log10(target)));
    const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= target) || 10 * pow;
    ctx.fillStyle = '#f3f4f6';
    ctx.fillRect(0, 0, S.W, ROW.ruler);
    ctx.strokeStyle = '#e5e7eb';
    ctx.fillStyle = '#4b5563';
    ctx.font = '11px ui-monospace, "DejaVu Sans Mono", monospace';
    ctx.textBaseline = 'middle';
    ctx.beginPath();
    for (let t = Math.ceil(S.view.t0 / step) * step; t <= S.view.t1; t += step) {
      const px = Math.round(x(t)) + 0.5;
      ctx.moveTo(px, ROW.ruler - 6);
      ctx.lineTo(px, S.H);
      ctx.fillText(fmtTime(t, step), px + 3, ROW.ruler / 2);
    }
    ctx.stroke();
  }

  function drawLanes() {
    for (const r of S.rows) {
      if (r.key !== 'lane') continue;
      ctx.fillStyle = LANE_FILL[r.cls] || '#fff';
      ctx.fillRect(0, r.y, S.W, r.h);
      ctx.fillStyle = '#e5e7eb';
      ctx.fillRect(0, r.y, S.W, 1);
      ctx.fillStyle = '#d1d5db';
      ctx.fillRect(0, Math.round(r.y + r.h / 2), S.W, 1);
    }
    /* The AudioActor's state machine as coloured bands behind its lane. */
    const audio = S.rows.find((r) => r.id === 'audio');
    if (!audio) return;
    ctx.font = '10px system-ui, sans-serif';
    ctx.textBaseline = 'top';
    for (const s of S.model.states) {
      if (s.t1 < S.view.t0 || s.t0 > S.view.t1) continue;
      const x0 = Math.max(0, x(s.t0));
      const x1 = Math.min(S.W, x(s.t1));
      ctx.globalAlpha = 0.13;
      ctx.fillStyle = hashColor(s.state);
      ctx.fillRect(x0, audio.y + 1, Math.max(1, x1 - x0), audio.h - 1);
      ctx.globalAlpha = 0.8;
      if (x1 - x0 > 60) ctx.fillText(s.state, x0 + 3, audio.y + 2);
      ctx.globalAlpha = 1;
    }
  }

  function drawSpeech() {
    const tracks = [
      [row('speech-caller'), S.model.speech.caller],
      [row('speech-ai'), S.model.speech.ai],
    ];
    for (const [r, segs] of tracks) {
      ctx.fillStyle = '#f9fafb';
      ctx.fillRect(0, r.y, S.W, r.h);
      for (const s of segs) {
        if (s.t1 < S.view.t0 || s.t0 > S.view.t1) continue;
        const x0 = x(s.t0);
        const w = Math.max(1.5, x(s.t1) - x0);
        ctx.fillStyle = s.kind === 'noise' ? '#9ca3af' : r.key === 'speech-ai' ? '#3b82f6' : '#22c55e';
        ctx.fillRect(x0, r.y + 3, w, r.h - 6);
        if (s.interrupted) {
          ctx.fillStyle = '#dc2626';
          ctx.fillRect(x0 + w - 2, r.y + 1, 3, r.h - 2);
        }
      }
    }
  }

  function shownDepthSeries() {
    return [...S.model.depth.values()].filter((s) => {
      const lane = S.model.laneIndex.get(s.owner);
      return lane === undefined || S.laneOn[lane];
    });
  }

  function drawDepth() {
    const r = row('depth');
    ctx.fillStyle = '#fcfcfd';
    ctx.fillRect(0, r.y, S.W, r.h);
    ctx.fillStyle = '#e5e7eb';
    ctx.fillRect(0, r.y, S.W, 1);
    if (!S.depthOpen) return;
    const series = shownDepthSeries();
    const max = Math.max(1, ...series.map((s) => s.max));
    const top = r.y + 16;
    const h = r.h - 22;
    const yOf = (d) => top + h - (d / max) * h;
    ctx.lineWidth = 1.25;
    for (const s of series) {
      ctx.strokeStyle = hashColor('mailbox:' + s.mailbox);
      ctx.beginPath();
      let i = Math.max(0, lowerBoundNum(s.t, S.view.t0) - 1);
      let prevY = yOf(s.d[i] || 0);
      ctx.moveTo(Math.max(0, x(s.t[i] || 0)), prevY);
      /* A step line, one vertical stroke per pixel column (its min..max), however many points fall in it. */
      let col = NaN;
      let lo = prevY;
      let hi = prevY;
      for (; i < s.t.length; i++) {
        const px = Math.round(x(s.t[i]));
        const py = yOf(s.d[i]);
        if (px !== col) {
          if (col === col) {
            ctx.lineTo(col, lo);
            ctx.lineTo(col, hi);
            ctx.lineTo(col, prevY);
          }
          ctx.lineTo(px, prevY);
          col = px;
          lo = hi = prevY;
        }
        lo = Math.min(lo, py);
        hi = Math.max(hi, py);
        prevY = py;
        if (s.t[i] > S.view.t1) break;
      }
      if (col === col) {
        ctx.lineTo(col, lo);
        ctx.lineTo(col, hi);
        ctx.lineTo(col, prevY);
      }
      ctx.lineTo(S.W, prevY);
      ctx.stroke();
    }
    ctx.lineWidth = 1;
    ctx.fillStyle = '#dc2626';
    for (const d of S.model.drops) if (d.t >= S.view.t0 && d.t <= S.view.t1) ctx.fillRect(x(d.t) - 1, r.y + 1, 2, 6);
    /* Legend: mailbox names in their colours, and the scale. */
    ctx.font = '10.5px system-ui, sans-serif';
    ctx.textBaseline = 'top';
    let lx = 6;
    for (const s of series) {
      ctx.fillStyle = hashColor('mailbox:' + s.mailbox);
      const label = s.mailbox + ' ≤' + s.max;
      ctx.fillText(label, lx, r.y + 3);
      lx += ctx.measureText(label).width + 12;
    }
    ctx.fillStyle = '#6b7280';
    ctx.textAlign = 'right';
    ctx.fillText('max ' + max, S.W - 6, r.y + 3);
    ctx.textAlign = 'left';
  }

  function arrowGeometry(a) {
    const x0 = xe(a.ev);
    return { x0, y0: S.laneY[a.from], x1: a.recv ? xe(a.recv) : x0, y1: S.laneY[a.to] };
  }

  function drawArrows(count) {
    const heads = count < HEADS_BELOW;
    const lines = new Map();
    const fills = new Map();
    const dashed = new Path2D();
    /* Zoomed out, many arrows of one lane pair fall on the same pixels: draw each such line once. */
    const pairs = S.model.lanes.length;
    const lastX0 = new Float64Array(pairs * pairs).fill(NaN);
    const lastX1 = new Float64Array(pairs * pairs).fill(NaN);
    visibleArrows((a) => {
      const g = arrowGeometry(a);
      const pair = a.from * pairs + a.to;
      const rx0 = Math.round(g.x0);
      const rx1 = Math.round(g.x1);
      if (!heads && lastX0[pair] === rx0 && lastX1[pair] === rx1) return;
      lastX0[pair] = rx0;
      lastX1[pair] = rx1;
      const c = typeColor(a.type);
      let p = lines.get(c);
      if (!p) lines.set(c, (p = new Path2D()));
      const path = a.undelivered ? dashed : p;
      if (a.from === a.to) {
        path.moveTo(g.x0, g.y0);
        path.lineTo(g.x0 + 3, g.y0 - 8);
        path.lineTo(Math.max(g.x1, g.x0 + 6), g.y0 - 8);
        path.lineTo(g.x1, g.y1);
      } else {
        path.moveTo(g.x0, g.y0);
        path.lineTo(g.x1, g.y1);
      }
      if (heads) {
        let f = fills.get(c);
        if (!f) fills.set(c, (f = new Path2D()));
        arrowHead(f, g, 6);
      }
    });
    ctx.lineWidth = 1.1;
    for (const [c, p] of lines) {
      ctx.strokeStyle = c;
      ctx.stroke(p);
    }
    for (const [c, f] of fills) {
      ctx.fillStyle = c;
      ctx.fill(f);
    }
    ctx.setLineDash([4, 3]);
    ctx.strokeStyle = '#9ca3af';
    ctx.stroke(dashed);
    ctx.setLineDash([]);
    if (count < LABELS_BELOW) drawArrowLabels();
  }

  function arrowHead(path, g, size) {
    let dx = g.x1 - g.x0;
    let dy = g.y1 - g.y0;
    if (Math.abs(dx) < 0.01 && Math.abs(dy) < 0.01) dy = 1;
    const len = Math.hypot(dx, dy);
    dx /= len;
    dy /= len;
    path.moveTo(g.x1, g.y1);
    path.lineTo(g.x1 - dx * size - dy * size * 0.45, g.y1 - dy * size + dx * size * 0.45);
    path.lineTo(g.x1 - dx * size + dy * size * 0.45, g.y1 - dy * size - dx * size * 0.45);
    path.closePath();
  }

  function drawArrowLabels() {
    ctx.font = '10.5px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    const lastRight = new Map();
    visibleArrows((a) => {
      const g = arrowGeometry(a);
      const key = a.from;
      const lx = g.x0 + 4;
      if ((lastRight.get(key) || -1e9) > lx) return;
      const ly = g.y0 + (g.y1 > g.y0 ? 8 : -8);
      const w = ctx.measureText(a.type).width;
      ctx.fillStyle = 'rgba(255,255,255,0.85)';
      ctx.fillRect(lx - 1, ly - 6, w + 2, 12);
      ctx.fillStyle = typeColor(a.type);
      ctx.fillText(a.type, lx, ly);
      lastRight.set(key, lx + w + 6);
    });
  }

  function markerShown(m) {
    return S.markerOn[m.cat] !== false;
  }

  function drawMarkers() {
    const r = row('markers');
    S.markerLabels = [];
    const bottom = row('depth').y;
    ctx.fillStyle = '#fafafa';
    ctx.fillRect(0, r.y, S.W, r.h);
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    const lineH = (r.h - 4) / MARKER_LABEL_LINES;
    const lastRight = new Array(MARKER_LABEL_LINES).fill(-1e9);
    const from = T.lowerBound(S.model.markers, S.view.t0, 't');
    for (let i = from; i < S.model.markers.length; i++) {
      const m = S.model.markers[i];
      if (m.t > S.view.t1) break;
      if (!markerShown(m)) continue;
      const color = T.MARKERS[m.cat].color;
      const px = Math.round(xe(m.ev)) + 0.5;
      ctx.globalAlpha = 0.45;
      ctx.fillStyle = color;
      ctx.fillRect(px - 0.5, r.y + r.h, 1, bottom - r.y - r.h);
      ctx.globalAlpha = 1;
      ctx.beginPath();
      ctx.moveTo(px, r.y + 14);
      ctx.lineTo(px - 5, r.y + 3);
      ctx.lineTo(px + 5, r.y + 3);
      ctx.closePath();
      ctx.fill();
      /* The first line where the label fits right of its flag; none free: the tooltip has it. */
      const line = lastRight.findIndex((right) => px + 7 > right);
      if (line >= 0) {
        ctx.fillStyle = color;
        ctx.fillText(m.text, px + 7, r.y + 2 + lineH * (line + 0.5));
        lastRight[line] = px + 7 + ctx.measureText(m.text).width + 8;
        S.markerLabels.push({ m, line });
      }
    }
  }

  function selectionTime() {
    const s = S.sel;
    if (!s) return null;
    if (s.kind === 'arrow') return s.a.t0;
    if (s.kind === 'marker') return s.m.t;
    if (s.kind === 'speech') return s.s.t0;
    if (s.kind === 'turn') return s.entry.t;
    return typeof s.ev.t === 'number' ? s.ev.t : null;
  }

  function drawSelection() {
    const s = S.sel;
    if (!s) return;
    if (s.kind === 'arrow' && arrowShown(s.a)) {
      const g = arrowGeometry(s.a);
      ctx.strokeStyle = '#111827';
      ctx.fillStyle = '#111827';
      ctx.lineWidth = 3;
      ctx.beginPath();
      ctx.moveTo(g.x0, g.y0);
      ctx.lineTo(g.x1, g.y1);
      ctx.stroke();
      const head = new Path2D();
      arrowHead(head, g, 9);
      ctx.fill(head);
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.arc(g.x0, g.y0, 3.5, 0, Math.PI * 2);
      ctx.fill();
      ctx.font = 'bold 11px system-ui, sans-serif';
      ctx.textBaseline = 'middle';
      const label = s.a.type + '  ' + laneName(s.a.from) + ' → ' + laneName(s.a.to);
      const lx = Math.min(Math.max(4, (g.x0 + g.x1) / 2 + 6), S.W - ctx.measureText(label).width - 8);
      const ly = (g.y0 + g.y1) / 2 - 10;
      ctx.fillStyle = 'rgba(253,230,138,0.95)';
      ctx.fillRect(lx - 3, ly - 8, ctx.measureText(label).width + 6, 16);
      ctx.fillStyle = '#111827';
      ctx.fillText(label, lx, ly);
      return;
    }
    if (s.kind === 'speech') {
      const r = row(S.model.speech.ai.includes(s.s) ? 'speech-ai' : 'speech-caller');
      ctx.strokeStyle = '#111827';
      ctx.lineWidth = 2;
      ctx.strokeRect(x(s.s.t0) - 1, r.y + 1, Math.max(3, x(s.s.t1) - x(s.s.t0)) + 2, r.h - 2);
      ctx.lineWidth = 1;
    }
    const t = selectionTime();
    if (t === null) return;
    const at = s.kind === 'event' ? xe(s.ev) : s.kind === 'marker' ? xe(s.m.ev) : x(t);
    ctx.fillStyle = '#111827';
    ctx.fillRect(Math.round(at), ROW.ruler, 1.5, S.H - ROW.ruler);
  }

  function draw() {
    if (!S.model) return;
    const started = performance.now();
    ctx.setTransform(S.dpr, 0, 0, S.dpr, 0, 0);
    ctx.clearRect(0, 0, S.W, S.H);
    let visible = 0;
    visibleArrows(() => visible++);
    S.tiePx = visible < TIE_BELOW ? TIE_PX : 0;
    drawLanes();
    drawRuler();
    drawSpeech();
    drawDepth();
    drawArrows(visible);
    drawMarkers();
    drawSelection();
    const ms = performance.now() - started;
    S.stats.lastDrawMs = ms;
    S.stats.maxDrawMs = Math.max(S.stats.maxDrawMs, ms);
    S.stats.draws++;
    S.stats.visibleArrows = visible;
  }

  // ---------------------------------------------------------------- picking

  function distToSegment(px, py, g) {
    const dx = g.x1 - g.x0;
    const dy = g.y1 - g.y0;
    const len2 = dx * dx + dy * dy;
    const u = len2 ? Math.max(0, Math.min(1, ((px - g.x0) * dx + (py - g.y0) * dy) / len2)) : 0;
    return Math.hypot(px - (g.x0 + u * dx), py - (g.y0 + u * dy));
  }

  function pick(px, py) {
    const r = rowAt(py);
    if (!r) return null;
    if (r.key === 'markers') {
      let best = null;
      let bestD = PICK_PX + 1;
      for (const m of S.model.markers) {
        if (!markerShown(m)) continue;
        const d = Math.abs(xe(m.ev) - px);
        if (d < bestD) {
          best = m;
          bestD = d;
        }
      }
      return best && { kind: 'marker', m: best };
    }
    if (r.key === 'speech-caller' || r.key === 'speech-ai') {
      const segs = r.key === 'speech-ai' ? S.model.speech.ai : S.model.speech.caller;
      const t = tAt(px);
      const slack = (3 * (S.view.t1 - S.view.t0)) / S.W;
      const s = segs.find((s) => s.t0 - slack <= t && t <= s.t1 + slack);
      return s && { kind: 'speech', s, who: r.key === 'speech-ai' ? 'AI playout' : s.kind === 'noise' ? 'ignored noise' : 'caller speech' };
    }
    if (r.key !== 'lane') return null;
    let best = null;
    let bestD = PICK_PX;
    visibleArrows((a) => {
      const d = distToSegment(px, py, arrowGeometry(a));
      if (d <= bestD) {
        best = a;
        bestD = d;
      }
    });
    return best && { kind: 'arrow', a: best };
  }

  // ---------------------------------------------------------------- details panel

  function flatten(value, prefix, out, depth) {
    if (value !== null && typeof value === 'object' && depth < 6) {
      const keys = Object.keys(value);
      if (!keys.length) out.push([prefix, Array.isArray(value) ? '[]' : '{}']);
      for (const k of keys) {
        const key = Array.isArray(value) ? prefix + '[' + k + ']' : prefix ? prefix + '.' + k : k;
        flatten(value[k], key, out, depth + 1);
      }
    } else {
      out.push([prefix, typeof value === 'string' ? value : JSON.stringify(value)]);
    }
    return out;
  }

  function rest(ev, skip) {
    const out = {};
    for (const k in ev) if (k !== '_i' && k !== '_r' && !skip.includes(k)) out[k] = ev[k];
    return out;
  }

  /* What was said on a bar or turn: the caller's words, or the AI's and what the caller heard of them. */
  function wordsRows(entry) {
    if (entry.kind === 'ai') {
      const rows = [['AI said', String(entry.text)]];
      if (entry.interrupted) rows.push(['caller heard', String(entry.heard)], ['cut', 'after ' + Math.round(entry.heard_ms) + ' of ' + Math.round(entry.audio_ms) + ' ms']);
      return rows;
    }
    return [[entry.kind === 'caller' ? 'said' : entry.kind === 'note' ? 'note' : 'text', String(entry.text)]];
  }

  function showDetails() {
    const box = $('fields');
    box.textContent = '';
    const s = S.sel;
    if (!s) {
      $('details-title').textContent = 'Details';
      box.appendChild(el('p', { class: 'hint' }, 'Click a message, marker or speech segment.'));
      return;
    }
    let title;
    let head;
    let rows = [];
    if (s.kind === 'arrow') {
      const a = s.a;
      title = a.type;
      head = laneName(a.from) + ' → ' + laneName(a.to) + (a.kind === 'io' ? '  (external I/O)' : '');
      if (a.kind === 'msg') {
        rows.push(['sent at', fmtTime(a.t0) + '  (' + a.t0 + ' ms)']);
        rows.push(['received at', a.recv ? fmtTime(a.t1) + '  (+' + (a.t1 - a.t0).toFixed(3) + ' ms)' : 'never (still queued)']);
        rows.push(['mailbox', String(a.mailbox)], ['id', String(a.id)], ['seq', String(a.ev.seq)]);
        rows.push(['depth after send', String(a.ev.depth)]);
        if (a.recv) rows.push(['depth after recv', String(a.recv.depth)]);
        flatten(a.ev.fields || {}, 'fields', rows, 0);
      } else {
        rows.push(['at', fmtTime(a.t0) + '  (' + a.t0 + ' ms)']);
        flatten(rest(a.ev, ['t', 'ev']), '', rows, 0);
      }
    } else if (s.kind === 'marker') {
      title = T.MARKERS[s.m.cat].label;
      head = s.m.text;
      rows.push(['at', fmtTime(s.m.t)]);
      flatten(rest(s.m.ev, ['t']), '', rows, 0);
    } else if (s.kind === 'speech') {
      title = s.who;
      head = fmtTime(s.s.t0) + ' – ' + fmtTime(s.s.t1) + '  (' + Math.round(s.s.t1 - s.s.t0) + ' ms)';
      if (s.s.entry) rows.push(...wordsRows(s.s.entry));
      else if (s.kind === 'speech' && s.s.kind !== 'noise') rows.push(['words', '(no transcript: not transcribed, or the trace ends first)']);
      flatten(rest(s.s.ev, []), '', rows, 0);
    } else if (s.kind === 'turn') {
      title = Conversation.WHO[s.entry.kind] || s.entry.kind;
      head = fmtTime(s.entry.t);
      rows.push(...wordsRows(s.entry));
    } else {
      title = String(s.ev.ev || 'event');
      head = s.ev.actor ? String(s.ev.actor) : '';
      rows.push(['at', fmtTime(s.ev.t || 0)]);
      flatten(rest(s.ev, ['t', 'ev']), '', rows, 0);
    }
    $('details-title').textContent = title;
    $('details-title').setAttribute('dir', 'auto');
    if (head) box.appendChild(el('div', { class: 'head', dir: 'auto' }, head));
    const table = el('table', { id: 'fields-table' });
    for (const [k, v] of rows) {
      const tr = el('tr', { 'data-key': k });
      tr.appendChild(el('td', { class: 'k' }, k));
      tr.appendChild(el('td', { class: 'v', dir: 'auto' }, v));
      table.appendChild(tr);
    }
    box.appendChild(table);
  }

  function select(sel, opts) {
    S.sel = sel;
    showDetails();
    const t = selectionTime();
    if (t !== null && opts && opts.center) centre(t);
    else if (t !== null && opts && opts.reveal) reveal(t);
    if (t !== null && opts && opts.syncLog) scrollLogTo(t);
    if (S.conv && !(opts && opts.fromTurn)) S.conv.highlight(t === null ? null : sel.kind === 'speech' && sel.s.entry ? sel.s.entry : S.conv.at(t));
    renderLog();
    requestDraw();
  }

  // ---------------------------------------------------------------- call log (virtualised)

  const LOG_ROW = 20;
  function logMessage(ev) {
    const said = LogText.sentence(ev);
    const box = el('span', { class: 'msg' });
    if (said.lead) box.appendChild(el('span', { class: 'lead' }, said.lead));
    if (said.quote !== undefined) box.appendChild(el('bdi', { class: 'quote', dir: 'auto' }, said.quote));
    box.title = (said.lead ? said.lead + ' ' : '') + (said.quote || '');
    return box;
  }
  function rebuildLog() {
    const laneOff = new Set(S.model.lanes.filter((l, i) => !S.laneOn[i]).map((l) => l.id));
    S.logRows = S.model.logs.filter(
      (ev) => (!ev.actor || !laneOff.has(ev.actor)) && !(S.hidePeriodic && LogText.PERIODIC.has(ev.ev)),
    );
    $('log-spacer').style.height = S.logRows.length * LOG_ROW + 'px';
    $('log-count').textContent = S.logRows.length + ' rows';
    renderLog();
  }
  function renderLog() {
    const scroller = $('log-scroll');
    const first = Math.max(0, Math.floor(scroller.scrollTop / LOG_ROW) - 4);
    const last = Math.min(S.logRows.length, first + Math.ceil(scroller.clientHeight / LOG_ROW) + 8);
    const box = $('log-rows');
    box.textContent = '';
    box.style.top = first * LOG_ROW + 'px';
    const selEv = S.sel && S.sel.kind === 'event' ? S.sel.ev : null;
    for (let i = first; i < last; i++) {
      const ev = S.logRows[i];
      const rowEl = el('div', { class: 'log-row ' + String(ev.ev || '') + (ev === selEv ? ' selected' : ''), 'data-i': String(i) });
      rowEl.appendChild(el('span', { class: 't' }, fmtTime(ev.t || 0)));
      rowEl.appendChild(el('span', { class: 'kind' }, String(ev.ev || '')));
      rowEl.appendChild(el('span', { class: 'actor' }, String(ev.actor || ev.peer || '')));
      rowEl.appendChild(logMessage(ev));
      box.appendChild(rowEl);
    }
  }
  function scrollLogTo(t) {
    const i = T.lowerBound(S.logRows, t, 't');
    const scroller = $('log-scroll');
    const top = i * LOG_ROW;
    if (top < scroller.scrollTop || top > scroller.scrollTop + scroller.clientHeight - LOG_ROW) {
      scroller.scrollTop = Math.max(0, top - scroller.clientHeight / 3);
    }
  }

  // ---------------------------------------------------------------- filters

  function check(container, attrs, label, color, count, checked, onChange) {
    const lab = el('label');
    const input = el('input', Object.assign({ type: 'checkbox' }, attrs));
    input.checked = checked;
    input.addEventListener('change', () => onChange(input.checked));
    lab.appendChild(input);
    if (color) {
      const sw = el('span', { class: 'swatch' });
      sw.style.background = color;
      lab.appendChild(sw);
    }
    lab.appendChild(el('span', { dir: 'auto' }, label));
    if (count !== undefined) lab.appendChild(el('span', { class: 'count' }, String(count)));
    container.appendChild(lab);
  }

  function buildFilters() {
    const m = S.model;
    const laneCounts = m.lanes.map(() => 0);
    for (const a of m.arrows) {
      laneCounts[a.from]++;
      if (a.to !== a.from) laneCounts[a.to]++;
    }
    const lanes = $('filter-lanes');
    m.lanes.forEach((lane, i) =>
      check(lanes, { 'data-lane': lane.id }, lane.label, null, laneCounts[i], true, (on) => {
        S.laneOn[i] = on;
        layout();
        rebuildLog();
        requestDraw();
      }),
    );
    const markers = $('filter-markers');
    const markerCounts = {};
    for (const mk of m.markers) markerCounts[mk.cat] = (markerCounts[mk.cat] || 0) + 1;
    for (const cat of Object.keys(T.MARKERS)) {
      if (!markerCounts[cat]) continue;
      check(markers, { 'data-marker': cat }, T.MARKERS[cat].label, T.MARKERS[cat].color, markerCounts[cat], true, (on) => {
        S.markerOn[cat] = on;
        requestDraw();
      });
    }
    if (!markers.childNodes.length) markers.appendChild(el('p', { class: 'hint' }, 'none in this trace'));
    const types = $('filter-types');
    const sorted = [...m.types.entries()].sort((p, q) => q[1] - p[1] || (p[0] < q[0] ? -1 : 1));
    for (const [type, count] of sorted) {
      check(types, { 'data-type': type }, type, typeColor(type), count, true, (on) => {
        S.typeOn.set(type, on);
        requestDraw();
      });
    }
    const setAll = (on) => (ev) => {
      ev.preventDefault();
      for (const input of types.querySelectorAll('input')) input.checked = on;
      for (const type of m.types.keys()) S.typeOn.set(type, on);
      requestDraw();
    };
    $('types-all').addEventListener('click', setAll(true));
    $('types-none').addEventListener('click', setAll(false));
  }

  // ---------------------------------------------------------------- keyboard and mouse

  function stepArrow(dir) {
    const arrows = S.model.arrows;
    let i;
    if (S.sel && S.sel.kind === 'arrow') i = S.sel.a.index + dir;
    else {
      const t = selectionTime();
      const from = t === null ? (dir > 0 ? S.view.t0 : S.view.t1) : t;
      i = T.lowerBound(arrows, from, 't0') - (dir < 0 ? 1 : 0);
    }
    for (; i >= 0 && i < arrows.length; i += dir) {
      if (arrowShown(arrows[i])) return select({ kind: 'arrow', a: arrows[i] }, { reveal: true, syncLog: true });
    }
  }
  function edgeArrow(dir) {
    const arrows = S.model.arrows;
    for (let i = dir > 0 ? 0 : arrows.length - 1; i >= 0 && i < arrows.length; i += dir) {
      if (arrowShown(arrows[i])) return select({ kind: 'arrow', a: arrows[i] }, { reveal: true, syncLog: true });
    }
  }
  function stepMarker(dir) {
    const ms = S.model.markers;
    const t = selectionTime();
    const cur = S.sel && S.sel.kind === 'marker' ? ms.indexOf(S.sel.m) : -1;
    let i = cur >= 0 ? cur + dir : t === null ? (dir > 0 ? 0 : ms.length - 1) : T.lowerBound(ms, t + (dir > 0 ? 0.001 : 0), 't') - (dir < 0 ? 1 : 0);
    for (; i >= 0 && i < ms.length; i += dir) {
      if (markerShown(ms[i])) return select({ kind: 'marker', m: ms[i] }, { reveal: true, syncLog: true });
    }
  }

  function onKey(e) {
    const tag = e.target && e.target.tagName;
    if ((tag === 'INPUT' && e.target.type !== 'checkbox') || tag === 'TEXTAREA' || e.ctrlKey || e.metaKey || e.altKey) return;
    const anchor = selectionTime();
    const k = e.key;
    if (k === 'ArrowRight' && e.shiftKey) pan(0.2);
    else if (k === 'ArrowLeft' && e.shiftKey) pan(-0.2);
    else if (k === 'ArrowRight') stepArrow(1);
    else if (k === 'ArrowLeft') stepArrow(-1);
    else if (k === 'ArrowDown') stepMarker(1);
    else if (k === 'ArrowUp') stepMarker(-1);
    else if (k === ']') pan(0.2);
    else if (k === '[') pan(-0.2);
    else if (k === '+' || k === '=') zoom(0.5, anchor === null ? undefined : anchor);
    else if (k === '-' || k === '_') zoom(2, anchor === null ? undefined : anchor);
    else if (k === '0') fit();
    else if (k === 'Home') edgeArrow(1);
    else if (k === 'End') edgeArrow(-1);
    else if (k === '?') $('help').hidden = !$('help').hidden;
    else if (k === 'd') toggleDepth();
    else if (k === 'Escape') {
      $('help').hidden = true;
      select(null);
    } else return;
    e.preventDefault();
  }

  function tooltipText(hit) {
    if (hit.kind === 'arrow') {
      const a = hit.a;
      const lat = a.recv ? '  +' + (a.t1 - a.t0).toFixed(1) + ' ms' : a.kind === 'msg' ? '  (not received)' : '';
      return a.type + '  ' + laneName(a.from) + ' → ' + laneName(a.to) + '  @' + fmtTime(a.t0) + lat;
    }
    if (hit.kind === 'marker') return hit.m.text + '  @' + fmtTime(hit.m.t);
    return hit.who + '  ' + fmtTime(hit.s.t0) + ' (' + Math.round(hit.s.t1 - hit.s.t0) + ' ms)';
  }

  function bindInput() {
    let drag = null;
    const tip = $('tooltip');
    const local = (e) => {
      const r = wrap.getBoundingClientRect();
      return [e.clientX - r.left, e.clientY - r.top];
    };
    wrap.addEventListener('pointerdown', (e) => {
      wrap.focus();
      const [px] = local(e);
      drag = { px, t0: S.view.t0, t1: S.view.t1, moved: false, id: e.pointerId };
      wrap.setPointerCapture(e.pointerId);
    });
    wrap.addEventListener('pointermove', (e) => {
      const [px, py] = local(e);
      if (drag) {
        const dx = px - drag.px;
        if (Math.abs(dx) > 3) drag.moved = true;
        if (drag.moved) {
          wrap.classList.add('dragging');
          tip.hidden = true;
          const dt = (dx * (drag.t1 - drag.t0)) / S.W;
          setView(drag.t0 - dt, drag.t1 - dt);
        }
        return;
      }
      const hit = pick(px, py);
      tip.hidden = !hit;
      if (hit) {
        tip.textContent = tooltipText(hit);
        tip.style.left = Math.min(px + 12, S.W - tip.offsetWidth - 4) + 'px';
        tip.style.top = py + 14 + 'px';
      }
    });
    wrap.addEventListener('pointerleave', () => (tip.hidden = true));
    wrap.addEventListener('pointerup', (e) => {
      const [px, py] = local(e);
      const wasClick = drag && !drag.moved;
      drag = null;
      wrap.classList.remove('dragging');
      if (wasClick) select(pick(px, py), { syncLog: true });
    });
    wrap.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        const [px] = local(e);
        const horizontal = e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY);
        if (horizontal) pan((e.shiftKey ? e.deltaY : e.deltaX) / Math.max(200, S.W));
        else zoom(Math.exp(Math.max(-2, Math.min(2, e.deltaY * 0.0015))), tAt(px));
      },
      { passive: false },
    );
    document.addEventListener('keydown', onKey);
    $('zoom-in').addEventListener('click', () => zoom(0.5));
    $('zoom-out').addEventListener('click', () => zoom(2));
    $('zoom-fit').addEventListener('click', fit);
    $('help-button').addEventListener('click', () => ($('help').hidden = !$('help').hidden));
    $('log-scroll').addEventListener('scroll', renderLog, { passive: true });
    $('hide-periodic').addEventListener('change', (e) => {
      S.hidePeriodic = e.target.checked;
      rebuildLog();
    });
    $('log-rows').addEventListener('click', (e) => {
      const rowEl = e.target.closest('.log-row');
      if (!rowEl) return;
      const ev = S.logRows[Number(rowEl.getAttribute('data-i'))];
      if (ev) select({ kind: 'event', ev }, { reveal: true });
    });
    new ResizeObserver(resize).observe(wrap);
    window.addEventListener('resize', () => renderLog());
  }

  // ---------------------------------------------------------------- loading

  function summary(model) {
    const h = model.header || {};
    const meta = h.meta && typeof h.meta === 'object' ? h.meta : {};
    const parts = [];
    if (h.call_sid) parts.push(String(h.call_sid));
    for (const k of Object.keys(meta)) {
      const v = meta[k];
      if (v !== null && typeof v !== 'object') parts.push(k + ': ' + v);
    }
    if (h.wall_start) parts.push(String(h.wall_start).replace('T', ' ').slice(0, 19) + ' UTC');
    parts.push(fmtTime(model.end));
    return parts.join(' · ');
  }

  function statusLine() {
    const c = S.model.counts;
    const st = S.stats;
    return (
      c.events.toLocaleString('en') + ' events · ' + c.messages.toLocaleString('en') + ' messages' +
      (c.undelivered ? ' (' + c.undelivered + ' never received)' : '') + ' · ' + c.io.toLocaleString('en') +
      ' external I/O · ' + S.model.markers.length + ' markers' + (S.bad ? ' · ' + S.bad + ' unreadable lines skipped' : '') +
      ' · parsed in ' + Math.round(st.parseMs) + ' ms, first frame at ' + Math.round(st.firstRenderMs) + ' ms · press ? for keys'
    );
  }

  function speechWho(seg) {
    return S.model.speech.ai.includes(seg) ? 'AI playout' : seg.kind === 'noise' ? 'ignored noise' : 'caller speech';
  }
  function pickTurn(entry) {
    const opts = { center: true, syncLog: true, fromTurn: true };
    if (entry.seg) select({ kind: 'speech', s: entry.seg, who: speechWho(entry.seg) }, opts);
    else select({ kind: 'turn', entry }, opts);
    S.conv.highlight(entry);
  }
  function showSummary() {
    const inline = $('trace-summary');
    if (!inline) {
      $('call-header').textContent = 'No call summary in this page.';
      return;
    }
    S.summary = JSON.parse(inline.textContent);
    Conversation.renderHeader(S.summary, $('call-header'), fmtTime);
    S.conv = Conversation.render(S.summary, S.model.speech, $('turns'), fmtTime, pickTurn);
  }

  async function traceText() {
    const inline = $('trace-data');
    if (inline) return inline.textContent;
    const config = JSON.parse($('trace-config').textContent);
    const response = await fetch(config.src, { cache: 'no-store' });
    if (!response.ok) throw new Error('could not load ' + config.src + ': HTTP ' + response.status);
    return response.text();
  }

  async function load() {
    if (location.protocol === 'file:') $('back-link').hidden = true;
    bindInput();
    const text = await traceText();
    S.stats.loadMs = performance.now();
    let t = performance.now();
    const parsed = T.parse(text);
    S.stats.parseMs = performance.now() - t;
    t = performance.now();
    S.model = T.build(parsed.events);
    S.stats.buildMs = performance.now() - t;
    S.bad = parsed.bad;
    S.laneOn = S.model.lanes.map(() => true);
    $('summary').textContent = summary(S.model);
    $('summary').title = $('summary').textContent;
    showSummary();
    buildFilters();
    S.W = Math.max(1, wrap.clientWidth);
    S.H = Math.max(1, wrap.clientHeight);
    resize();
    fit();
    rebuildLog();
    draw();
    S.stats.firstRenderMs = performance.now();
    S.stats.ready = true;
    $('status').textContent = statusLine();
    document.body.setAttribute('data-state', 'ready');
  }

  /* A small read-only handle for tests and for poking at a trace from the devtools console. */
  window.__traceViewer = {
    stats: S.stats,
    get model() {
      return S.model;
    },
    get view() {
      return { t0: S.view.t0, t1: S.view.t1 };
    },
    get selection() {
      return S.sel ? { kind: S.sel.kind, type: S.sel.a ? S.sel.a.type : null, index: S.sel.a ? S.sel.a.index : null } : null;
    },
    /* Page coordinates of a point on arrow `index` (for a real mouse click), or null if not drawn. */
    arrowClientPoint(index) {
      const a = S.model.arrows[index];
      if (!a || !arrowShown(a)) return null;
      const g = arrowGeometry(a);
      const r = wrap.getBoundingClientRect();
      return { x: r.left + (g.x0 + g.x1) / 2, y: r.top + (g.y0 + g.y1) / 2 };
    },
    showRange(t0, t1) {
      setView(t0, t1);
      draw();
    },
    /* Page coordinates of the middle of speech bar `index` of `track` ('caller' or 'ai'), or null off screen. */
    speechClientPoint(track, index) {
      const seg = S.model.speech[track][index];
      const r = row(track === 'ai' ? 'speech-ai' : 'speech-caller');
      if (!seg || !r) return null;
      const mid = (Math.max(x(seg.t0), 0) + Math.min(x(seg.t1), S.W)) / 2;
      if (mid < 0 || mid > S.W) return null;
      const box = wrap.getBoundingClientRect();
      return { x: box.left + mid, y: box.top + r.y + r.h / 2 };
    },
    /* The mailboxes the depth panel draws (it follows the actor filter). */
    get depthSeries() {
      return shownDepthSeries().map((s) => s.mailbox);
    },
    get logRows() {
      return S.logRows.length;
    },
    get markerLabels() {
      return S.markerLabels.map((l) => ({ cat: l.m.cat, text: l.m.text, t: l.m.t, line: l.line }));
    },
  };

  load().catch((err) => {
    const status = $('status');
    status.textContent = 'Cannot show this trace: ' + (err && err.message ? err.message : err);
    status.className = 'error';
    document.body.setAttribute('data-state', 'error');
  });
})();
