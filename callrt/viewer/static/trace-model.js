/* callrt trace viewer — the model: JSON lines in, indexed timeline out. No DOM here.
 *
 * `CallrtTrace.parse(text)` reads a trace (docs/trace-format.md); malformed or cut-off
 * lines are counted and skipped. `CallrtTrace.build(events)` turns the events into what the
 * page draws: lanes, arrows (mailbox messages matched send→recv by (mailbox, id), and external
 * I/O between a peer and its actor), speech segments, markers, mailbox depth series and the
 * call-log rows. Unknown event kinds are kept as log rows, never dropped.
 */
(function (root) {
  'use strict';

  const ACTORS = ['audio', 'realtime', 'nlp', 'booking', 'supervisor'];
  const PEERS = { caller: 'caller line', model: 'model' };
  /* Senders that are not actors but stand for a peer (the line pump forwards caller frames). */
  const LANE_ALIASES = { line: 'caller', caller: 'caller', twilio: 'caller', model: 'model', openai: 'model' };
  /* The actor that talks to each peer when an io event does not name one. */
  const PEER_ACTOR = { caller: 'audio', model: 'realtime' };
  /* Events drawn elsewhere than in the call-log list. */
  const NOT_LOG = new Set(['send', 'recv', 'audio', 'io']);

  const MARKERS = {
    barge_in: { label: 'barge-in', color: '#dc2626' },
    silence: { label: 'silence prompt', color: '#ea580c' },
    note: { label: 'server note', color: '#7c3aed' },
    booking: { label: 'booking', color: '#16a34a' },
    false_claim: { label: 'false claim cut', color: '#db2777' },
    guard: { label: 'guard skip', color: '#78716c' },
    crash: { label: 'crash', color: '#b91c1c' },
    restart: { label: 'restart', color: '#0369a1' },
    escalate: { label: 'escalation', color: '#a21caf' },
    disconnect: { label: 'disconnect', color: '#92400e' },
    fault: { label: 'injected fault', color: '#f59e0b' },
    call_end: { label: 'call end', color: '#111827' },
  };

  function parse(text) {
    const events = [];
    let bad = 0;
    let start = 0;
    const n = text.length;
    while (start < n) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = n;
      if (end > start) {
        const line = text.slice(start, end).trim();
        if (line) {
          try {
            const ev = JSON.parse(line);
            if (ev && typeof ev === 'object' && !Array.isArray(ev)) events.push(ev);
            else bad++;
          } catch (e) {
            bad++;
          }
        }
      }
      start = end + 1;
    }
    return { events, bad };
  }

  function num(v, fallback) {
    return typeof v === 'number' && isFinite(v) ? v : fallback;
  }

  /* A segment [t0, t1] that ended no later than `recordedAt`. `atMs` is its start, unless that
   * would put its end after the moment it was recorded: then `atMs` is its end. */
  function segment(atMs, durationMs, recordedAt) {
    const d = Math.max(0, num(durationMs, 0));
    const at = num(atMs, recordedAt);
    const t0 = at + d > recordedAt + 1 ? at - d : at;
    return { t0: Math.max(0, t0), t1: Math.max(0, t0) + d };
  }

  function lowerBound(arr, t, key) {
    let lo = 0;
    let hi = arr.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (arr[mid][key] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  function build(events) {
    const model = {
      header: {},
      events,
      lanes: [],
      laneIndex: new Map(),
      arrows: [],
      maxSpan: 0,
      types: new Map(),
      markers: [],
      speech: { caller: [], ai: [] },
      states: [],
      depth: new Map(),
      drops: [],
      logs: [],
      start: 0,
      end: 0,
      counts: { events: events.length, messages: 0, io: 0, undelivered: 0 },
    };
    function lane(name) {
      const id = LANE_ALIASES[name] || String(name || '?');
      let i = model.laneIndex.get(id);
      if (i === undefined) {
        i = model.lanes.length;
        model.lanes.push({ id, label: PEERS[id] || id, kind: ACTORS.includes(id) ? 'actor' : id in PEERS ? 'peer' : 'other' });
        model.laneIndex.set(id, i);
      }
      return i;
    }
    lane('caller');
    ACTORS.forEach(lane);

    const pending = new Map();
    const utterances = [];
    const fallbackUtterances = [];
    const noise = [];
    const fallbackNoise = [];
    const playouts = [];
    const fallbackPlayouts = [];
    const notes = [];
    const noteSends = [];
    let lastState = null;
    let tMax = 0;

    function addDepth(mailbox, t, depth, owner) {
      if (typeof depth !== 'number') return;
      let series = model.depth.get(mailbox);
      /* `owner`: the actor whose mailbox it is, so the depth panel follows the actor filter. */
      if (!series) model.depth.set(mailbox, (series = { mailbox, owner: LANE_ALIASES[owner] || String(owner || ''), t: [], d: [], max: 0 }));
      series.t.push(t);
      series.d.push(depth);
      if (depth > series.max) series.max = depth;
    }
    function marker(cat, t, text, ev) {
      model.markers.push({ cat, t, text: text || MARKERS[cat].label, ev });
    }
    function arrow(kind, t0, t1, from, to, type, ev, extra) {
      const a = { kind, t0, t1, from, to, type: String(type || '?'), ev, recv: null, undelivered: false };
      if (extra) Object.assign(a, extra);
      model.arrows.push(a);
      model.types.set(a.type, (model.types.get(a.type) || 0) + 1);
      return a;
    }

    let rank = 0;
    let prevT = NaN;
    for (let i = 0; i < events.length; i++) {
      const ev = events[i];
      ev._i = i;
      const kind = String(ev.ev || '');
      const t = num(ev.t, 0);
      /* Order among events at the same instant (common in virtual time): the page spreads them apart. */
      rank = t === prevT ? rank + 1 : 0;
      prevT = t;
      ev._r = rank;
      if (t > tMax) tMax = t;
      if (kind === 'trace_start') {
        model.header = ev;
        continue;
      }
      if (!NOT_LOG.has(kind) && kind !== 'trace_end') model.logs.push(ev);
      switch (kind) {
        case 'send': {
          const a = arrow('msg', t, t, lane(ev.frm), lane(ev.to), ev.type, ev, { mailbox: ev.mailbox, id: ev.id });
          model.counts.messages++;
          pending.set(ev.mailbox + '\u0000' + ev.id, a);
          addDepth(ev.mailbox, t, ev.depth, ev.to);
          const f = ev.fields || {};
          if (ev.type === 'UtteranceEnded') fallbackUtterances.push({ ...segment(f.at_ms, f.duration_ms, t), ev });
          else if (ev.type === 'NoiseIgnored') fallbackNoise.push({ ...segment(f.at_ms, f.duration_ms, t), ev });
          else if (ev.type === 'PlayoutFinished') fallbackPlayouts.push({ t0: t - num(f.heard_ms, 0), t1: t, interrupted: false, ev });
          else if (ev.type === 'BargeIn') fallbackPlayouts.push({ t0: t - num(f.audio_end_ms, 0), t1: t, interrupted: true, ev });
          else if (ev.type === 'ServerNote') noteSends.push(ev);
          else if (ev.type === 'BookingRequest') marker('booking', t, 'request ' + (f.kind || ''), ev);
          break;
        }
        case 'recv': {
          const key = ev.mailbox + '\u0000' + ev.id;
          const a = pending.get(key);
          if (a) {
            pending.delete(key);
            a.t1 = t;
            a.recv = ev;
            if (t - a.t0 > model.maxSpan) model.maxSpan = t - a.t0;
          }
          addDepth(ev.mailbox, t, ev.depth, ev.to);
          break;
        }
        case 'audio':
          addDepth(ev.mailbox, t, ev.depth, ev.to);
          if (num(ev.dropped, 0) > 0) model.drops.push({ t, mailbox: ev.mailbox, dropped: ev.dropped, ev });
          break;
        case 'io': {
          const peer = ev.peer === 'model' ? 'model' : 'caller';
          const actor = lane(ev.actor || PEER_ACTOR[peer]);
          const p = lane(peer);
          const inbound = ev.dir === 'in';
          arrow('io', t, t, inbound ? p : actor, inbound ? actor : p, ev.type, ev);
          model.counts.io++;
          break;
        }
        case 'utterance':
          utterances.push({ ...segment(ev.at_ms, ev.duration_ms, t), ev });
          break;
        case 'ignored_segment':
          noise.push({ ...segment(ev.at_ms, ev.duration_ms, t), ev });
          break;
        case 'playout':
          playouts.push({ t0: t - num(ev.heard_ms, 0), t1: t, interrupted: ev.finished === false, ev });
          break;
        case 'audio_state':
          if (lastState) lastState.t1 = t;
          lastState = { t0: t, t1: null, state: String(ev.state || '?'), ev };
          model.states.push(lastState);
          break;
        case 'barge_in':
          marker('barge_in', t, 'barge-in', ev);
          break;
        case 'realtime': {
          const what = String(ev.what || '');
          if (what === 'silence_prompt' || what === 'silence_goodbye') marker('silence', t, what.replace('_', ' '), ev);
          else if (what === 'model_disconnected') marker('disconnect', t, 'model disconnected', ev);
          else if (what === 'guard_skip') marker('guard', t, 'guard skip', ev);
          else if (what === 'false_claim_cut') marker('false_claim', t, 'false claim cut', ev);
          else if (what === 'note_injected') notes.push(ev);
          break;
        }
        case 'io_error':
        case 'line_closed':
          marker('disconnect', t, kind.replace('_', ' '), ev);
          break;
        case 'fault':
          marker('fault', t, 'fault ' + (ev.kind || '') + ' ' + (ev.actor || ''), ev);
          break;
        case 'crash':
          marker('crash', t, 'crash ' + (ev.actor || ''), ev);
          if (ev.actor) lane(ev.actor);
          break;
        case 'restart':
          marker('restart', t, 'restart ' + (ev.actor || ''), ev);
          break;
        case 'escalate':
          marker('escalate', t, (ev.action || 'escalate') + ' ' + (ev.actor || ''), ev);
          break;
        case 'call_end':
          marker('call_end', t, 'end: ' + (ev.by || '') + ' ' + (ev.reason || ''), ev);
          break;
        default:
          break;
      }
    }
    if (lastState) lastState.t1 = tMax;

    /* Notes: what the model was actually given if the realtime actor reported it, else what was sent. */
    const noteEvents = notes.length ? notes : noteSends;
    for (const ev of noteEvents) {
      const f = ev.fields || ev;
      const kind = String(f.kind || f.note || '');
      const text = String(f.text || '');
      const booked = /^appointment_/.test(kind) || /^appointment_/.test(text);
      marker(booked ? 'booking' : 'note', num(ev.t, 0), (kind || text || 'note').slice(0, 60), ev);
    }
    for (const a of pending.values()) {
      a.undelivered = true;
      model.counts.undelivered++;
    }

    model.speech.caller = (utterances.length ? utterances : fallbackUtterances)
      .map((s) => ({ ...s, kind: 'speech' }))
      .concat((noise.length ? noise : fallbackNoise).map((s) => ({ ...s, kind: 'noise' })));
    model.speech.ai = playouts.length ? playouts : fallbackPlayouts;
    model.speech.caller.sort((a, b) => a.t0 - b.t0);
    model.speech.ai.sort((a, b) => a.t0 - b.t0);

    /* Peers last, after every actor (and any other sender), so external traffic frames the call. */
    lane('model');
    const modelLane = model.laneIndex.get('model');
    const order = model.lanes.map((l, i) => i).filter((i) => i !== modelLane).concat([modelLane]);
    const remap = new Array(model.lanes.length);
    order.forEach((oldIndex, newIndex) => (remap[oldIndex] = newIndex));
    model.lanes = order.map((i) => model.lanes[i]);
    model.laneIndex = new Map(model.lanes.map((l, i) => [l.id, i]));
    for (const a of model.arrows) {
      a.from = remap[a.from];
      a.to = remap[a.to];
    }

    /* Arrows sorted by start time (stable: equal times keep trace order) for culling and stepping. */
    model.arrows.sort((a, b) => a.t0 - b.t0 || a.ev._i - b.ev._i);
    model.arrows.forEach((a, i) => (a.index = i));
    model.markers.sort((a, b) => a.t - b.t);
    model.end = Math.max(tMax, 1);
    return model;
  }

  root.CallrtTrace = { parse, build, lowerBound, segment, ACTORS, MARKERS };
})(typeof window !== 'undefined' ? window : globalThis);
