/* callrt trace viewer — call-log rows as sentences. No DOM here.
 *
 * `CallrtLogText.sentence(ev)` gives `{ lead, quote }`: `lead` is what happened, in English,
 * `quote` (optional) is text from the call (a transcript, a note, a log line), which the page
 * shows in its own bidi-isolated box so a Hebrew quote is laid out and clipped on its own.
 * `PERIODIC` are the kinds written on a clock rather than by something happening.
 */
(function (root) {
  'use strict';

  const PERIODIC = new Set(['frame_lag', 'audio']);

  function clock(ms) {
    const v = Math.max(0, Number(ms) || 0) / 1000;
    return Math.floor(v / 60) + ':' + (v % 60).toFixed(1).padStart(4, '0');
  }
  function ms(v) {
    return Math.round(Number(v) || 0) + ' ms';
  }
  function value(v) {
    return v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  /* key=value for whatever a sentence does not name: never raw JSON for the whole event. */
  function pairs(ev, skip) {
    const out = [];
    for (const k in ev) {
      if (k[0] === '_' || ['t', 'seq', 'ev', 'actor', 'what'].includes(k) || (skip && skip.includes(k))) continue;
      out.push(k + '=' + value(ev[k]));
    }
    return out.join(', ');
  }
  function said(lead, text) {
    return { lead, quote: String(text || '') };
  }

  const REALTIME = {
    user_turn: (e) => said('caller said', e.text),
    ai_turn: (e) => said(e.interrupted ? 'AI said (interrupted)' : 'AI said', e.text),
    note_injected: (e) => said('note to the model (' + (e.kind || 'note') + ')', String(e.text || '').replace(/^\[SERVER\] /, '')),
    false_claim_cut: (e) => said('cut a false ' + (e.claim || '') + ' claim', e.text),
    response_create: (e) => ({ lead: 'asked the model for a reply (' + (e.reason || '?') + ')' }),
    response_created: (e) => ({ lead: 'the model started reply ' + (e.response_id || '') + (e.reason ? ' (' + e.reason + ')' : '') }),
    response_done: (e) => ({ lead: 'reply ' + (e.response_id || '') + ' done: ' + (e.status || '?') }),
    response_deferred: (e) => ({ lead: 'reply deferred' + (e.reason ? ' (' + e.reason + ')' : '') }),
    guard_skip: (e) => ({ lead: 'held back a reply (' + (e.reason || '?') + '): ' + (e.pending || '') + ' still pending' }),
    cancel: (e) => ({ lead: 'cancelled reply ' + (e.response_id || '') + ' (' + (e.why || '?') + ')' }),
    cancel_skipped: (e) => ({ lead: 'nothing to cancel (' + (e.why || '?') + ')' }),
    truncate: (e) => ({ lead: 'truncated item ' + (e.item_id || '') + ' at ' + ms(e.audio_end_ms) + ' heard' }),
    silence_prompt: () => ({ lead: 'asked the silent caller whether they are still there' }),
    silence_goodbye: () => ({ lead: 'said goodbye to the silent caller' }),
    model_connected: (e) => ({ lead: 'connected to the model' + (e.dialect ? ' (' + e.dialect + ')' : '') }),
    model_disconnected: (e) => ({ lead: 'the model disconnected' + (e.why ? ': ' + e.why : '') }),
    model_error: (e) => said('model error ' + (e.code || ''), e.message),
    hangup_requested: (e) => ({ lead: 'asked to hang up after the playout (' + (e.reason || '?') + ')' }),
  };

  const KINDS = {
    log: (e) => said('', e.msg),
    realtime: (e) => (REALTIME[e.what] ? REALTIME[e.what](e) : { lead: String(e.what || 'realtime') + ' ' + pairs(e) }),
    utterance: (e) => ({ lead: 'the caller spoke for ' + ms(e.duration_ms) + ' from ' + clock(e.at_ms) + ' (rms ' + Math.round(e.rms || 0) + ')' }),
    ignored_segment: (e) =>
      ({ lead: 'ignored a noise of ' + ms(e.duration_ms) + ' (rms ' + Math.round(e.rms || 0) + ')' + (e.interrupted_ai ? ', over the AI' : '') }),
    barge_in: (e) =>
      ({ lead: 'barge-in: the caller spoke at ' + clock(e.speech_at_ms) + '; the AI was cut after the caller heard ' + ms(e.audio_end_ms) }),
    playout: (e) => ({ lead: 'the caller heard ' + ms(e.heard_ms) + ' of ' + (e.item_id || 'an AI item') + (e.finished === false ? ' (cut short)' : '') }),
    audio_state: (e) => ({ lead: 'audio: ' + (e.state || '?') + (e.why ? ' (' + e.why + ')' : '') }),
    silence_elapsed: (e) => ({ lead: ms(e.silence_ms) + ' of silence' }),
    frame_lag: (e) =>
      ({ lead: 'frame lag p50 ' + (e.p50_ms !== undefined ? e.p50_ms : '?') + ' ms, p99 ' + (e.p99_ms !== undefined ? e.p99_ms : '?') + ' ms over ' + (e.n || 0) + ' frames' + (e.final ? ' (final)' : '') }),
    dtmf: (e) => ({ lead: 'the caller pressed ' + (e.digit || '?') }),
    actor_start: (e) => ({ lead: 'started' + (e.attempt ? ' (attempt ' + e.attempt + ')' : '') }),
    actor_stop: (e) => ({ lead: 'stopped (' + (e.why || '?') + ')' }),
    crash: (e) => said('crashed (attempt ' + (e.attempt || 0) + ')', e.error),
    restart: (e) => ({ lead: 'restarted (attempt ' + e.attempt + ', after ' + (e.backoff_s || 0) + ' s)' }),
    escalate: (e) => ({ lead: 'kept failing (' + (e.restarts_in_window || '?') + ' restarts): ' + (e.action || '?') }),
    fault: (e) => ({ lead: 'injected fault: ' + (e.kind || '?') + (e.actor ? ' in ' + e.actor : '') + (e.ms ? ' for ' + ms(e.ms) : '') }),
    call_start: (e) => ({ lead: 'call started: business ' + (e.business_id !== undefined ? e.business_id : '?') + ', language ' + (e.language || '?') }),
    call_end: (e) => ({ lead: 'call ended by ' + (e.by || '?') + ' (' + (e.reason || '?') + ') after ' + clock(e.duration_ms) }),
    line: (e) => ({ lead: 'caller line: ' + (e.kind || '?') + (pairs(e, ['kind']) ? ' — ' + pairs(e, ['kind']) : '') }),
    line_closed: (e) => ({ lead: 'caller line closed during ' + (e.during || '?') + ': ' + (e.why || '?') }),
    io_error: (e) => said('I/O error with the ' + (e.peer || '?'), e.error),
    caller: (e) => ({ lead: 'the simulated caller: ' + (e.what || '?') + ' (' + pairs(e) + ')' }),
  };

  function sentence(ev) {
    const fn = KINDS[ev.ev];
    if (fn) return fn(ev);
    return { lead: String(ev.ev || 'event') + (pairs(ev) ? ': ' + pairs(ev) : '') };
  }

  root.CallrtLogText = { sentence, PERIODIC, clock };
})(typeof window !== 'undefined' ? window : globalThis);
