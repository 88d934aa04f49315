// The wall's push stream (pages/_push.py): each tick's reply arrives by server-sent events, the
// same bytes for every screen of the scope, and is written with dash_clientside.set_props into the
// same stores a poll's reply fills (the wall's delta, health, alarms, status, applied tick and
// takeover), so applyWall, statusBar and applyTakeover do what they do for a poll.
// citywall.js pollWall opens it (ensure) and does not poll while it is live; when it cannot
// connect (a proxy refuses it, the server is gone) the wall polls as before and the stream is
// tried again later. A message is a delta against the tick before (``base``): a screen holding
// another tick (it missed one) asks for its own reply with one poll instead.
(function () {
  const FIRST_RETRY_MS = 10000;  // after a refusal; doubled each time up to MAX_BACKOFF_MS (the wall polls meanwhile)
  const MAX_BACKOFF_MS = 60000;
  const LIVE_TICKS = 2.5;  // no message for this many ticks (one may be skipped when its render is late): poll
  const push = {
    url: null, cfg: null, es: null, timer: null, state: "off",
    lastMs: null, applied: null, lastTick: null, received: 0, resyncs: 0, resyncAt: null, failures: 0, opened: 0, seen: [],
    live: function (refreshMs) {
      return this.es !== null && this.lastMs !== null && Date.now() - this.lastMs < LIVE_TICKS * refreshMs;
    },
    // How long a refused stream waits before it is tried again (its screen polls meanwhile); the
    // maps' streams (assets/map_push.js) follow the same rule.
    retryDelay: function (failures) {
      return Math.min(MAX_BACKOFF_MS, FIRST_RETRY_MS * Math.pow(2, Math.min(failures - 1, 5)));
    },
    noteApplied: function (tick) {  // a poll's reply applied this tick
      this.resyncAt = null;
      if (typeof tick === "number" && (this.applied === null || tick > this.applied)) { this.applied = tick; }
    },
    ensure: function (cfg) {
      const url = (cfg && typeof cfg.push_url === "string" && cfg.push_url) || null;
      this.cfg = cfg;
      if (url === this.url) { return; }
      this.close();
      this.url = url;
      if (url && typeof window.EventSource === "function") { this.open(); }
    },
    close: function () {
      if (this.es) { this.es.close(); this.es = null; }
      if (this.timer) { clearTimeout(this.timer); this.timer = null; }
      this.state = "off";
    },
    open: function () {
      const self = this;
      self.timer = null;
      // The wall fleet's screen store (assets/fleet.js), so the stream beats for this screen on /walls.
      const screen = window.citywallFleet && window.citywallFleet.current();
      self.screenSent = !!screen;
      const url = screen ? self.url + (self.url.indexOf("?") >= 0 ? "&" : "?") + "screen=" +
        encodeURIComponent(JSON.stringify(screen)) : self.url;
      const es = new EventSource(url);  // same origin: the session cookie goes with it
      self.es = es;
      // Other events on the same stream (assets/map_push.js: the wall's map's counts, type "map").
      const extra = window.citywallPushEvents || {};
      Object.keys(extra).forEach(function (type) { es.addEventListener(type, extra[type]); });
      self.opened += 1;
      self.state = "connecting";
      es.onopen = function () { self.state = "open"; };
      es.onmessage = function (event) { self.onMessage(event); };
      es.onerror = function () {
        if (es.readyState !== EventSource.CLOSED) { self.state = "reconnecting"; return; }  // the browser retries
        // Refused for good (an HTTP error, a proxy's own page, too many streams): poll, try again later.
        es.close();
        if (self.es === es) { self.es = null; }
        self.failures += 1;
        self.state = "failed";
        self.timer = setTimeout(function () { if (self.url && !self.es) { self.open(); } }, self.retryDelay(self.failures));
      };
    },
    onMessage: function (event) {
      if (!document.querySelector(".wall")) { this.close(); this.url = null; return; }  // the wall was left
      if (!this.screenSent && window.citywallFleet && window.citywallFleet.current()) {
        // Opened before the page knew its fleet screen: open again with it (its newest message comes at once).
        if (this.es) { this.es.close(); this.es = null; }
        this.open();
        return;
      }
      let msg = null;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      if (!msg || !Array.isArray(msg.props) || typeof msg.tick !== "number") { return; }
      this.failures = 0;
      this.state = "open";
      this.received += 1;
      const delta = msg.base !== null && msg.base !== undefined;
      this.seen.push([msg.tick, msg.base, this.applied, Date.now() - msg.ready_ms]);  // the last few, for a test
      if (this.seen.length > 20) { this.seen.shift(); }
      if (delta) {
        if (this.applied === null) { return; }  // the page's own first reply is still on its way
        if (msg.tick <= this.applied) { this.lastMs = Date.now(); return; }  // a poll brought this tick already
        if (this.applied !== msg.base) {
          // One poll of its own, not one per message: a newer poll would make Dash drop the reply of
          // the one in flight, and on a slow server no reply would ever land.
          const refreshMs = ((this.cfg && this.cfg.refresh_s) || 5) * 1000;
          if (this.resyncAt === null || Date.now() - this.resyncAt > 3 * refreshMs) {
            this.resyncAt = Date.now();
            this.resync();
          }
          return;
        }
      }
      const setProps = window.dash_clientside.set_props;
      msg.props.forEach(function (p) {
        if (!Array.isArray(p) || p.length !== 3) { return; }
        const props = {};
        props[p[1]] = p[2];
        setProps(p[0], props);
      });
      if (delta) { this.applied = msg.tick; }
      this.lastTick = msg.tick;
      this.lastMs = Date.now();  // live: only while messages are applied (a skipped one leaves the watchdog polling)
    },
    resync: function () {  // this screen holds another tick than the message's base: one poll of its own
      const st = window.__citywallPoll;
      this.resyncs += 1;
      if (!st) { return; }
      st.n += 1;
      st.sent = Date.now();
      window.dash_clientside.set_props((this.cfg && this.cfg.poll_id) || "wall-poll", {data: st.n});
    },
  };
  // A page left (or kept in the back/forward cache) closes its stream, as the maps' do (assets/map_push.js):
  // a cached page's open stream keeps one of the browser's six connections to this server. ensure()
  // opens it again on the next tick if the page comes back.
  window.addEventListener("pagehide", function () { push.close(); push.url = null; });
  window.citywallPush = push;
})();
