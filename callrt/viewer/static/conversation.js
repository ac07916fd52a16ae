/* callrt trace viewer — the call's header and its conversation, from the summary Python wrote.
 *
 * The page never derives an outcome or a turn itself: `callrt.viewer.summary` did, and inlined
 * it as JSON (`#trace-summary`). This file draws it: the outcome header, and the conversation
 * as chat bubbles in the call's direction, each linked to its bar on the timeline (a caller
 * turn to its utterance by onset, an AI turn to its playout by item id).
 */
(function (root) {
  'use strict';

  const WHO = { caller: 'caller', ai: 'AI', note: 'server note', action: 'booking request', noise: 'noise', event: 'call' };
  const COUNTS = [
    ['barge_ins', 'barge-ins'],
    ['ignored_noises', 'ignored noises'],
    ['silence_prompts', 'silence prompts'],
    ['restarts', 'restarts'],
    ['claims_cut', 'claims cut'],
  ];
  const ONSET_SLACK_MS = 60;

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    if (attrs) for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function item(label, valueText, attrs) {
    const box = el('span', Object.assign({ class: 'hdr-item' }, attrs || {}));
    box.appendChild(el('span', { class: 'hdr-label' }, label));
    box.appendChild(el('bdi', { class: 'hdr-value' }, valueText));
    return box;
  }

  function renderHeader(summary, box, clock) {
    box.textContent = '';
    const outcome = summary.outcome || {};
    const badge = el('span', { id: 'outcome', class: 'outcome ' + (outcome.kind || ''), 'data-kind': outcome.kind || '' });
    badge.appendChild(el('bdi', {}, outcome.words || '?'));
    box.appendChild(badge);
    const caller = summary.caller || {};
    /* Phone and name isolated apart: a Hebrew name must not reorder the digits of the number. */
    const who = item('caller', caller.phone || (caller.name ? '' : 'unknown'), { id: 'hdr-caller' });
    who.lastChild.setAttribute('dir', 'ltr');
    if (caller.name) who.appendChild(el('bdi', { class: 'hdr-value hdr-name', dir: 'auto' }, caller.name));
    box.appendChild(who);
    box.appendChild(item('business', String(summary.business || '?'), { id: 'hdr-business' }));
    if (summary.started) box.appendChild(item('started', String(summary.started).replace('T', ' ').slice(0, 19) + ' UTC'));
    box.appendChild(item('duration', clock(summary.duration_ms || 0), { id: 'hdr-duration' }));
    const counts = el('span', { class: 'hdr-counts', id: 'hdr-counts' });
    for (const [key, label] of COUNTS) {
      const n = (summary.counts || {})[key] || 0;
      counts.appendChild(el('span', { class: 'count-chip' + (n ? ' nonzero' : ''), 'data-count': key }, label + ' ' + n));
    }
    box.appendChild(counts);
  }

  /* Each conversation entry's bar on the timeline, and each bar's entry. */
  function link(entries, speech) {
    const callerBars = speech.caller.filter((s) => s.kind === 'speech');
    for (const entry of entries) {
      let seg = null;
      if (entry.kind === 'caller') {
        seg = callerBars.find((s) => Math.abs(Number(s.ev.at_ms) - entry.t) <= ONSET_SLACK_MS || Math.abs(s.t0 - entry.t) <= ONSET_SLACK_MS) || null;
      } else if (entry.kind === 'ai') {
        seg = speech.ai.find((s) => s.ev.item_id === entry.item_id) || null;
      } else if (entry.kind === 'noise') {
        seg = speech.caller.find((s) => s.kind === 'noise' && Math.abs(s.t0 - entry.t) <= ONSET_SLACK_MS) || null;
      }
      entry.seg = seg;
      if (seg) seg.entry = entry;
    }
  }

  function bubbleText(entry) {
    const text = el('div', { class: 'text', dir: 'auto' });
    if (entry.kind === 'ai' && entry.interrupted) {
      text.appendChild(el('span', { class: 'heard' }, entry.heard));
      const rest = String(entry.text).slice(String(entry.heard).length);
      if (rest) text.appendChild(el('span', { class: 'unheard', title: 'the caller did not hear this' }, rest));
    } else {
      text.textContent = entry.text;
    }
    return text;
  }

  function render(summary, speech, box, clock, onPick) {
    const entries = summary.conversation || [];
    link(entries, speech);
    box.textContent = '';
    box.setAttribute('dir', summary.direction === 'rtl' ? 'rtl' : 'ltr');
    if (summary.language) box.setAttribute('lang', summary.language);
    entries.forEach((entry, i) => {
      const cls = 'turn ' + entry.kind + (entry.interrupted ? ' interrupted' : '') + (entry.seg ? ' linked' : '');
      const bubble = el('div', { class: cls, 'data-i': String(i), 'data-kind': entry.kind, tabindex: '-1' });
      const meta = el('div', { class: 'meta' });
      meta.appendChild(el('span', { class: 'who' }, entry.kind === 'note' && entry.note ? 'note · ' + entry.note : WHO[entry.kind] || entry.kind));
      meta.appendChild(el('span', { class: 'time' }, clock(entry.t)));
      bubble.appendChild(meta);
      bubble.appendChild(bubbleText(entry));
      if (entry.kind === 'ai' && entry.interrupted) {
        bubble.appendChild(
          el('div', { class: 'cut' }, 'interrupted: the caller heard ' + (entry.heard_ms / 1000).toFixed(1) + ' of ' + (entry.audio_ms / 1000).toFixed(1) + ' s'),
        );
      }
      bubble.addEventListener('click', () => onPick(entry));
      entry.el = bubble;
      box.appendChild(bubble);
    });
    if (!entries.length) box.appendChild(el('p', { class: 'hint' }, 'Nobody said anything on this call.'));
    let current = null;
    return {
      entries,
      /* Mark the entry that `t` (or the selected bar's own entry) belongs to, and bring it into view. */
      highlight(entry) {
        if (current && current.el) current.el.classList.remove('current');
        current = entry;
        if (!entry || !entry.el) return;
        entry.el.classList.add('current');
        entry.el.scrollIntoView({ block: 'nearest' });
      },
      at(t) {
        let found = null;
        for (const entry of entries) {
          if (entry.t > t + 0.5) break;
          found = entry;
        }
        return found;
      },
    };
  }

  root.CallrtConversation = { renderHeader, render, WHO };
})(typeof window !== 'undefined' ? window : globalThis);
