// The maps' push (pages/_push_map.py): each tick's counts arrive as a server-sent event of type
// "map" (the same bytes for every screen of the area), on the wall's own stream for the wall's map
// (assets/push.js hands it here) or on the map's own stream for every other map. The message goes
// into the map's push store; applyPush writes it into the layers' hideouts (counts only: the
// shapes came with the page; assets/map.js styles them) as a poll's reply would.
// pollMap, on the map's tick, opens the map's stream and raises the map's poll only when push is
// not bringing its counts (it cannot connect, or fell silent for 2.5 ticks); with
// CITYWALL_TRANSPORT=poll (no "push" in the map's scope) every tick, as before. A message against
// another signature than the map holds (it missed one) asks for the map's own delta with one poll.
(function () {
  "use strict";
  const LIVE_TICKS = 2.5;  // no message applied for this many ticks: the map polls
  const RESYNC_TICKS = 3;  // one poll of its own at most this often (a newer poll would drop the reply in flight)
  const POLL = "cw-map-poll", PUSH = "cw-map-push";  // components/ids.py MAP_POLL, MAP_PUSH
  const maps = {};  // map key -> what this screen knows of its push
  const streams = {};  // a map's own stream, by url

  function noUpdate() { return window.dash_clientside.no_update; }
  function outputKey() {  // the key of the map whose (MATCH) callback runs
    const out = window.dash_clientside.callback_context.outputs_list;
    const first = Array.isArray(out) ? out[0] : out;
    return first && first.id && first.id.id;
  }
  function entry(key) {
    if (!maps[key]) {
      maps[key] = { push: false, lang: null, refreshMs: 5000, lastMs: null, received: 0, applied: 0,
                    polls: 0, resyncs: 0, resyncAt: null, sig: null };
    }
    return maps[key];
  }
  function live(m) { return m.lastMs !== null && Date.now() - m.lastMs < LIVE_TICKS * m.refreshMs; }

  // A map event: to every pushed map of that area and language on the page. False: none here.
  function onMapEvent(event) {
    let msg = null;
    try { msg = JSON.parse(event.data); } catch (e) { return true; }
    if (!msg || typeof msg.area !== "string") { return true; }
    let used = false;
    document.querySelectorAll(".cw-map[data-key]").forEach(function (node) {
      const key = node.getAttribute("data-key");
      const m = maps[key];
      if (!m || !m.push || node.getAttribute("data-code") !== msg.area || m.lang !== msg.lang) { return; }
      used = true;
      m.received += 1;
      window.dash_clientside.set_props({ type: PUSH, id: key }, { data: msg });
    });
    return used;
  }
  window.citywallPushEvents = Object.assign({}, window.citywallPushEvents, { map: onMapEvent });

  function close(s) {
    if (s.es) { s.es.close(); s.es = null; }
    if (s.timer) { clearTimeout(s.timer); s.timer = null; }
    if (streams[s.url] === s) { delete streams[s.url]; }
  }
  function open(s) {
    s.timer = null;
    const es = new EventSource(s.url);  // same origin: the session cookie goes with it
    s.es = es;
    s.opened += 1;
    s.state = "connecting";
    es.onopen = function () { s.state = "open"; };
    es.addEventListener("map", function (event) {
      if (!onMapEvent(event)) { close(s); return; }  // its map left the page
      s.failures = 0;
      s.state = "open";
    });
    es.onerror = function () {
      if (es.readyState !== EventSource.CLOSED) { s.state = "reconnecting"; return; }  // the browser retries
      // Refused for good (an HTTP error, a proxy's own page, too many streams): poll, try again later.
      es.close();
      if (s.es === es) { s.es = null; }
      s.failures += 1;
      s.state = "failed";
      const delay = window.citywallPush.retryDelay(s.failures);  // assets/push.js: the wall's rule
      s.timer = setTimeout(function () { if (streams[s.url] === s && !s.es) { open(s); } }, delay);
    };
  }
  function ensure(url) {
    if (!url || streams[url] || typeof window.EventSource !== "function") { return; }
    const s = { url: url, es: null, timer: null, state: "off", failures: 0, opened: 0 };
    streams[url] = s;
    open(s);
  }
  function resync(key, m) {  // the map holds another signature than the message's base: one poll of its own
    if (m.resyncAt !== null && Date.now() - m.resyncAt < RESYNC_TICKS * m.refreshMs) { return; }
    m.resyncAt = Date.now();
    m.resyncs += 1;
    m.polls += 1;
    window.dash_clientside.set_props({ type: POLL, id: key }, { data: m.polls });
  }
  function withCounts(hideout, part) {  // a hideout with a message's counts set and deleted
    const counts = Object.assign({}, (hideout && hideout.counts) || {}, part.set || {});
    (part.del || []).forEach(function (code) { delete counts[code]; });
    return Object.assign({}, hideout, { counts: counts });
  }

  // A page left (or kept in the back/forward cache) closes its streams: a cached page's open stream
  // would keep one of the browser's six connections to this server, and a few district pages opened
  // one after the other starved the next page's own requests (56 s for a page load in a test).
  // pollMap opens the stream again on the page's next tick if it comes back.
  window.addEventListener("pagehide", function () {
    Object.keys(streams).forEach(function (url) { close(streams[url]); });
  });

  window.citywallMapPush = { maps: maps, streams: streams };  // what the tests read
  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    citywallMapPush: {
      pollMap: function (n, scope) {
        const key = outputKey();
        const m = entry(key);
        const push = scope && scope.push;
        m.push = !!push;
        m.lang = scope && scope.lang;
        if (push) {
          m.refreshMs = (push.refresh_s || 5) * 1000;
          ensure(push.url);  // none: the wall's map, on the wall's own stream
        }
        if (!n) { return noUpdate(); }  // the page load's call: the layout holds this tick's map
        if (push && live(m)) { return noUpdate(); }
        m.polls += 1;
        return m.polls;
      },
      applyPush: function (msg, areas, cells, points, sig, error) {
        const nu = noUpdate();
        const key = outputKey();
        const m = entry(key);
        if (!msg || !m.push) { return [nu, nu, nu, nu, nu, nu]; }
        if (msg.error) {  // the server could not read this tick: as a failed poll shows it
          m.lastMs = Date.now();
          return [nu, nu, nu, nu, msg.error, nu];
        }
        const clear = error ? "" : nu;
        m.sig = sig;
        if (msg.sig === sig) {  // already held (a heartbeat, or a poll brought it)
          m.lastMs = Date.now();
          m.resyncAt = null;
          return [nu, nu, nu, nu, clear, nu];
        }
        if (msg.base === null || msg.base === undefined || msg.base !== sig) {
          resync(key, m);
          return [nu, nu, nu, nu, nu, nu];
        }
        let nextAreas = msg.areas ? withCounts(areas, msg.areas) : nu;
        if (msg.breaks !== null && msg.breaks !== undefined) {
          nextAreas = Object.assign({}, nextAreas === nu ? areas : nextAreas, { breaks: msg.breaks });
        }
        const nextCells = msg.cells ? withCounts(cells, msg.cells) : nu;
        let nextPoints = nu;
        if (msg.points) {
          const gone = new Set(msg.points.remove || []);
          const kept = ((points && points.features) || []).filter(function (f) {
            return !gone.has(f.properties && f.properties.iid);
          });
          nextPoints = { type: "FeatureCollection", features: kept.concat(msg.points.add || []) };
        }
        m.applied += 1;
        m.lastMs = Date.now();
        m.resyncAt = null;
        m.sig = msg.sig;
        return [nextAreas, nextCells, nextPoints, msg.legend || nu, clear, msg.sig];
      },
    },
  });
})();
