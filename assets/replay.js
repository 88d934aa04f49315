// The wall's replay control (components/replay.py create_replay_banner, issue 15 item 2): the slider
// over the kept last 24 h, play/pause at 1x/10x/60x, the moment in the URL (history.replaceState:
// the address can be shared and reloads the same moment). The moment's minute goes to the server
// through the wall's own scope store and poll (pages/wall.py refresh_wall reads the wall as of it)
// and through the map's scope store (pages/_map.py refresh_map). Kiosk walls never run this: a
// kiosk URL carrying ?at= shows the live wall and loses ?at= here (dropReplay).
(function () {
  const MINUTE = 60000;
  const formats = {};
  const partsOf = function (ms, tz) {
    let format = formats[tz];
    if (!format) {
      try {
        format = new Intl.DateTimeFormat("en-CA", {timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
          hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"});
      } catch (e) {
        format = new Intl.DateTimeFormat("en-CA", {timeZone: "UTC", year: "numeric", month: "2-digit",
          day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"});
      }
      formats[tz] = format;
    }
    const out = {};
    format.formatToParts(new Date(ms)).forEach(function (p) { out[p.type] = p.value; });
    return out;
  };
  // "2026-12-04 03:10" (the banner; with seconds while playing at 1x) and "2026-12-04T03:10" (?at=):
  // the city's own clock, what components/replay.py local_label and at_param write.
  const label = function (ms, tz, seconds) {
    const p = partsOf(ms, tz);
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + (seconds ? ":" + p.second : "");
  };
  const param = function (ms, tz) {
    const p = partsOf(ms, tz);
    return p.year + "-" + p.month + "-" + p.day + "T" + p.hour + ":" + p.minute;
  };
  const utcMinute = function (ms) {  // what the server reads (an offset: never the browser's zone)
    return new Date(Math.floor(ms / MINUTE) * MINUTE).toISOString().slice(0, 16) + "Z";
  };
  const writeUrl = function (st) {
    const url = new URL(window.location.href);
    url.searchParams.set("at", param(st.atMs, st.tz));
    if (st.speed !== 1) { url.searchParams.set("speed", String(st.speed)); } else { url.searchParams.delete("speed"); }
    const next = url.pathname + url.search + url.hash;
    if (next !== window.location.pathname + window.location.search + window.location.hash) {
      window.history.replaceState(window.history.state, "", next);
    }
  };
  // The moment's minute to the server, once per minute the moment passes, and never while the wall's
  // reply for the last one is still out: playing faster than the server reads, the wall steps through
  // the minutes it can read (skipping the others) instead of queueing requests behind each other.
  const send = function (st) {
    const minute = Math.floor(st.atMs / MINUTE);
    if (minute === st.sentMinute) { return; }
    if (st.waiting && Date.now() - st.waiting < 4 * st.refreshMs) { return; }  // (a lost reply: ask again)
    st.sentMinute = minute;
    st.waiting = Date.now();
    const at = utcMinute(st.atMs);
    const set = window.dash_clientside.set_props;
    (st.scopes || []).forEach(function (entry) {
      set(entry[0], {data: Object.assign({}, entry[1], {at: at})});
    });
    const poll = window.__citywallPoll;  // assets/citywall.js pollWall: this reply is wanted now
    if (poll) {
      poll.n += 1;
      poll.sent = Date.now();
      poll.due = poll.sent + st.refreshMs;
      set("wall-poll", {data: poll.n});
    }
    (st.ticks || []).forEach(function (id) {  // the map's next refresh now, not at its next tick
      st.tickN += 1;
      set(id, {n_intervals: st.tickN});
    });
  };
  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    citywallReplay: {
      control: function (value, playClicks, speedClicks, nTimer, cfg) {
        if (!cfg) { return window.dash_clientside.no_update; }
        const st = (window.__citywallReplay = window.__citywallReplay || {
          startMs: cfg.start_ms, endMs: cfg.end_ms, atMs: cfg.at_ms, speed: cfg.speed || 1, playing: false,
          tz: cfg.tz || "UTC", refreshMs: (cfg.refresh_s || 5) * 1000, sentMinute: Math.floor(cfg.at_ms / MINUTE),
          scopes: cfg.scopes || [], ticks: cfg.ticks || [], tickN: 1000000, lastTickMs: null, shownSlider: value,
        });
        const set = window.dash_clientside.set_props;
        const ctx = window.dash_clientside.callback_context;
        const fired = (ctx && ctx.triggered ? ctx.triggered : []).map(function (t) { return t.prop_id; });
        const firedBy = function (part) { return fired.some(function (id) { return id.indexOf(part) >= 0; }); };
        const now = Date.now();
        // The wall's last reply (assets/citywall.js statusBar keeps it; not an input here: Dash would hold this
        // callback, and the moment with it, until every pending server reply is in).
        const status = window.__citywall && window.__citywall.seen;
        if (st.waiting && status && status.replay &&
            (status.ok === false || status.at === utcMinute(st.sentMinute * MINUTE))) {  // the asked minute's reply
          st.waiting = null;
        }
        if (firedBy("replay-slider.value") && typeof value === "number" && value !== st.shownSlider) {
          st.atMs = Math.min(st.endMs, st.startMs + value * MINUTE);  // the operator moved the moment
          st.shownSlider = value;
        }
        (ctx && ctx.triggered ? ctx.triggered : []).forEach(function (t) {  // a speed button (pattern id)
          if (!t.value || String(t.prop_id).indexOf('"replay-speed"') < 0) { return; }
          let speed = null;
          try { speed = Number(JSON.parse(String(t.prop_id).replace(/\.n_clicks$/, "")).id); } catch (e) { speed = null; }
          if ([1, 10, 60].indexOf(speed) >= 0) { st.speed = speed; }
        });
        if (firedBy("replay-play.n_clicks") && playClicks) {
          st.playing = !st.playing;
          if (st.playing && st.atMs >= st.endMs) { st.atMs = st.startMs; }  // from the start again
          st.lastTickMs = now;
        }
        if (firedBy("replay-timer.n_intervals") && st.playing) {  // the real time since the last step, at speed
          const elapsed = st.lastTickMs === null ? cfg.tick_ms || 1000 : now - st.lastTickMs;
          st.atMs = Math.min(st.endMs, st.atMs + elapsed * st.speed);
          st.lastTickMs = now;
          if (st.atMs >= st.endMs) { st.playing = false; }  // the newest kept minute: the replay stops there
        }
        const labels = cfg.labels || {};
        set("replay-moment", {children: label(st.atMs, st.tz, st.playing && st.speed === 1)});
        set("replay-play", {children: st.playing ? labels.pause : labels.play,
                            className: "replay__play" + (st.playing ? " replay__play--on" : "")});
        [1, 10, 60].forEach(function (s) {
          set({type: "replay-speed", id: s}, {className: "replay__speed" + (s === st.speed ? " replay__speed--on" : "")});
        });
        writeUrl(st);
        send(st);
        // the clock runs while playing, and while a minute's reply is out (then the latest moment is asked for)
        set("replay-timer", {disabled: !st.playing && !st.waiting});
        const minute = Math.round((st.atMs - st.startMs) / MINUTE);
        if (minute !== st.shownSlider) {
          st.shownSlider = minute;
          set("replay-slider", {value: minute});
        }
        return label(st.atMs, st.tz, true) + (st.playing ? " playing " + st.speed + "x" : " paused");
      },
      // A kiosk URL carrying ?at= or ?speed=: the wall is live; the address loses them, so a reload
      // (or the rotation's next round) stays live too.
      dropReplay: function (keys) {
        if (!Array.isArray(keys)) { return window.dash_clientside.no_update; }
        const url = new URL(window.location.href);
        let dropped = false;
        keys.forEach(function (key) { if (url.searchParams.has(key)) { url.searchParams.delete(key); dropped = true; } });
        if (dropped) { window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash); }
        return dropped ? "dropped" : "none";
      },
      // What the status bar's clock shows on a replayed wall: the moment, not the wall clock.
      moment: function () {
        const st = window.__citywallReplay;
        return st ? st.atMs : null;
      },
    },
  });
})();
