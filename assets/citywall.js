// CityWall's browser-side pieces: the live clock, the connection badge, and the wall's delta.
// Offline is decided here, from the time the last successful refresh ARRIVED in this browser,
// so it works when the server (or the network) is gone.
const RETURN_GRACE_MS = 10000;  // a kiosk wall back from a board does not reopen it for this long
// what a kiosk wall keeps on its board and back, and through its rotation ("screen": its name in the wall fleet)
const KIOSK_PARAMS = ["kiosk", "rotate", "playlist", "lang", "screen"];
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  citywall: {
    // Kiosk playlist: after rotate_s go to the next page of the playlist, keeping kiosk mode.
    kiosk: function (cfg) {
      if (!cfg || !cfg.rotate_s || !cfg.playlist || cfg.playlist.length === 0 || window.__citywallRotate) {
        return window.dash_clientside.no_update;
      }
      // Only this site's own paths (the server already keeps only its pages: components/links.py
      // own_path); "//host", "/\\host", "https:" or "javascript:" never leave the wall.
      const origin = window.location.origin;
      const playlist = cfg.playlist.filter(function (p) {
        if (typeof p !== "string" || !/^\/(?![\/\\])/.test(p) || /[\u0000-\u0020\\]/.test(p)) { return false; }
        try { return new URL(p, origin).origin === origin; } catch (e) { return false; }
      });
      if (playlist.length === 0) { return window.dash_clientside.no_update; }
      const here = window.location.pathname + window.location.search;
      const params = new URLSearchParams(window.location.search);
      const index = playlist.findIndex(function (p) { return p.split("?")[0] === window.location.pathname; });
      const next = playlist[(index + 1) % playlist.length];
      const url = new URL(next, origin);
      KIOSK_PARAMS.forEach(function (key) {
        if (params.has(key) && !url.searchParams.has(key)) { url.searchParams.set(key, params.get(key)); }
      });
      window.__citywallRotate = setTimeout(function () {
        if (url.pathname + url.search !== here) { window.location.assign(url.toString()); }
        else { window.location.reload(); }
      }, cfg.rotate_s * 1000);
      return "rotating every " + cfg.rotate_s + " s";
    },
    // When the wall polls. The server computes each tick window's data once, at the window's
    // start (data_access/cache.py keep_warm); polling at a random phase would add up to a whole
    // tick of delay on top of the window's own. So each screen polls just after the next window's
    // data is ready: window start (server clock, skew allowed for) + when it was ready last time
    // + a margin + this screen's own share of the spread. No reply (server gone): every refresh_s.
    pollWall: function (n, status, cfg) {
      const c = cfg || {};
      const refreshMs = (c.refresh_s || 5) * 1000;
      // The page load's own call of the wall callback is the first poll: the watchdog starts from it.
      const st = (window.__citywallPoll = window.__citywallPoll || {
        n: 0, due: Date.now() + refreshMs, sent: Date.now(), seen: null, share: Math.random(), timer: null,
      });
      const poll = function () {  // raise the counter the server callback listens to
        st.n += 1;
        st.sent = Date.now();
        st.due = st.sent + refreshMs;  // until the reply says better
        return st.n;
      };
      const now = Date.now();
      if (status && status !== st.seen) {
        st.seen = status;
        if (status.ok && typeof status.now_ms === "number" && typeof status.tick === "number") {
          const skew = status.now_ms - now;  // how far the server's clock is ahead of this one
          const ready = Math.min(status.ready_ms || 0, refreshMs / 2);
          let due = (status.tick + 1) * refreshMs + ready + (c.margin_ms || 100)
            + st.share * (c.spread_s || 0) * 1000 - skew;
          while (due > now + refreshMs * 1.5) { due -= refreshMs; }  // a clock far off: stay about one tick away
          st.due = Math.max(due, st.sent + refreshMs / 4);  // a late reply never makes the screen poll in a burst
          // A timer, not the next check of the interval: the poll leaves on time to the millisecond.
          if (st.timer) { clearTimeout(st.timer); }
          st.timer = setTimeout(function () {
            st.timer = null;
            window.dash_clientside.set_props(c.poll_id || "wall-poll", {data: poll()});
          }, Math.max(0, st.due - now));
        }
      }
      // The watchdog: no reply (server or network gone) means a poll every refresh_s.
      if (!st.timer && now >= st.due) { return poll(); }
      return window.dash_clientside.no_update;
    },
    // The wall's tick: the server sends only what changed since the tick this screen applied
    // (components/wall.py wall_delta); this writes it into the tiles laid out at page load.
    // Those nodes are never a Dash callback's output, so React never overwrites them.
    applyWall: function (delta) {
      if (!delta) { return window.dash_clientside.no_update; }
      const SVG = "http://www.w3.org/2000/svg";
      const LEVELS = "0123456789abcdefghijklmnopqrstuvwxyz";  // components/vital_panel.py SPARK_LEVELS
      const byData = function (root, attr, key) {
        return root.querySelector("[" + attr + '="' + (window.CSS && CSS.escape ? CSS.escape(key) : key) + '"]');
      };
      const wall = document.querySelector(".wall") || document;
      const setText = function (node, text) { if (node && node.textContent !== text) { node.textContent = text; } };
      const tiles = delta.tiles || {};
      Object.keys(tiles).forEach(function (id) {
        const frame = byData(wall, "data-indicator", id);
        const s = tiles[id];
        if (!frame || !Array.isArray(s)) { return; }
        frame.className = s[0];
        if (window.__citywallMarked && window.__citywallMarked[id]) { frame.classList.add("tile--scenario"); }
        const symbol = frame.querySelector(".tile__symbol");
        setText(symbol, s[1]);
        if (symbol) { symbol.title = s[2]; }
        setText(frame.querySelector(".tile__number"), s[3]);
        const origin = frame.querySelector(".tile__origin");
        if (origin) { setText(origin, s[4]); origin.hidden = !s[4]; }
        setText(frame.querySelector(".tile__change"), s[5]);
      });
      const ages = delta.ages || {};
      Object.keys(ages).forEach(function (id) {
        const frame = byData(wall, "data-indicator", id);
        if (frame) { setText(frame.querySelector(".tile__age"), String(ages[id])); }
      });
      const sparks = delta.sparks || {};
      Object.keys(sparks).forEach(function (id) {
        const frame = byData(wall, "data-indicator", id);
        const box = frame && frame.querySelector(".tile__spark");
        if (!box) { return; }
        const code = String(sparks[id] || "");
        while (box.firstChild) { box.removeChild(box.firstChild); }
        if (code.length < 2) { return; }
        const last = code.length - 1;
        const points = [];
        for (let i = 0; i < code.length; i++) {
          const level = LEVELS.indexOf(code[i]);
          if (level >= 0) { points.push((i * 120 / last).toFixed(1) + "," + (28 - level * 26 / 35).toFixed(1)); }
        }
        const svg = document.createElementNS(SVG, "svg");
        svg.setAttribute("viewBox", "0 0 120 30");
        svg.setAttribute("preserveAspectRatio", "none");
        const line = document.createElementNS(SVG, "polyline");
        line.setAttribute("points", points.join(" "));
        svg.appendChild(line);
        box.appendChild(svg);
      });
      const dims = delta.dims || {};
      Object.keys(dims).forEach(function (dim) {
        const panel = byData(wall, "data-dimension", dim);
        const score = panel && panel.querySelector(".panel__score");
        if (score) { setText(score, dims[dim][0]); score.className = dims[dim][1]; }
      });
      const strip = document.getElementById("wall-strip");
      if (strip) {
        const kpis = delta.kpis || {};
        Object.keys(kpis).forEach(function (key) {
          const kpi = byData(strip, "data-kpi", key);
          if (kpi) { kpi.className = "kpi kpi--" + kpis[key][1]; setText(kpi.querySelector(".kpi__value"), kpis[key][0]); }
        });
        const error = strip.querySelector(".strip__error");
        if (error) { setText(error, delta.err || ""); error.hidden = !delta.err; }
        strip.classList.toggle("wall__strip--failed", !!delta.err);
      }
      window.dash_clientside.citywall.tilePages(wall);
      return "tick " + delta.tick;
    },
    // The takeover (components/takeover.py takeover_state): the banner's lines, the marked tiles
    // and, on a kiosk wall, the scenario board instead of the rotation while a takeover stands.
    applyTakeover: function (data, kiosk) {
      if (!data) { return window.dash_clientside.no_update; }
      const items = Array.isArray(data.items) ? data.items : [];
      const labels = data.labels || {};
      const box = document.getElementById("wall-takeover-items");
      const pending = items.some(function (item) { return item && item.pending; });
      if (box) {
        while (box.firstChild) { box.removeChild(box.firstChild); }
        const span = function (cls, text) {
          const node = document.createElement("span");
          node.className = cls;
          node.textContent = text == null ? "" : String(text);  // text only, never markup
          return node;
        };
        // One line on a wall: more lines squeeze the tiles' values into their delta row at 1080p; the
        // others (pending ones first in the store) are counted on it.
        const more = (data.more || 0) + Math.max(0, items.length - 1);
        items.slice(0, 1).forEach(function (item) {
          const line = document.createElement("div");
          line.className = "takeover__item" + (item.pending ? " takeover__item--pending" : " takeover__item--acked");
          line.setAttribute("data-scenario", String(item.key || ""));
          line.appendChild(span("takeover__tag", item.pending ? labels.title : labels.active));
          line.appendChild(span("takeover__name", item.name));
          line.appendChild(span("takeover__area", item.area));
          line.appendChild(span("takeover__reason", item.reason));
          line.appendChild(span("takeover__since", item.since));
          if (!item.pending) { line.appendChild(span("takeover__acked", labels.acked)); }
          box.appendChild(line);
        });
        if (more) {
          (box.lastChild || box).appendChild(span("takeover__more", String(labels.more || "+{n}").replace("{n}", more)));
        }
      }
      document.body.classList.toggle("cw-takeover", items.length > 0);
      document.body.classList.toggle("cw-takeover--pending", pending);
      const marked = {};
      (Array.isArray(data.marked) ? data.marked : []).forEach(function (id) { marked[id] = true; });
      window.__citywallMarked = marked;
      document.querySelectorAll(".wall [data-indicator]").forEach(function (frame) {
        frame.classList.toggle("tile--scenario", !!marked[frame.getAttribute("data-indicator")]);
      });
      // A kiosk wall: the rotation stops and the board of the first pending takeover is shown; the
      // board goes back to this wall (its kiosk parameters kept) when the takeover ends.
      // A board that just sent this wall back (the takeover ended or was acknowledged) is not
      // opened again from a reply computed before that (stale by a tick at most).
      const first = items.find(function (item) { return item && item.pending; });
      let returned = null;
      try { returned = JSON.parse(window.sessionStorage.getItem("citywallReturned") || "null"); } catch (e) { returned = null; }
      const justBack = !!(returned && first && returned.key === first.key && Date.now() - returned.at < RETURN_GRACE_MS);
      if (kiosk && kiosk.kiosk && typeof data.board === "string" && data.board && !justBack) {
        const origin = window.location.origin;
        let url = null;
        try { url = new URL(data.board, origin); } catch (e) { url = null; }
        if (url && url.origin === origin && /^\/(?![\/\\])/.test(data.board)) {
          if (window.__citywallRotate && window.__citywallRotate !== "takeover") {
            clearTimeout(window.__citywallRotate);
          }
          window.__citywallRotate = "takeover";  // kiosk() schedules no rotation from now on
          const params = new URLSearchParams(window.location.search);
          const back = new URLSearchParams(window.location.search);
          KIOSK_PARAMS.forEach(function (key) {
            if (params.has(key)) { url.searchParams.set(key, params.get(key)); }
            back.delete(key);  // the board hands them back (takeoverReturn): "back" stays short
          });
          const rest = back.toString();
          url.searchParams.set("back", window.location.pathname + (rest ? "?" + rest : ""));
          url.searchParams.set("takeover", String(data.scope || ""));
          if (!window.__citywallTakenOver) {
            window.__citywallTakenOver = true;
            window.location.assign(url.toString());
          }
          return "takeover " + url.pathname;
        }
      }
      return pending ? "takeover pending" : (items.length ? "scenario active" : "none");
    },
    // A scenario board a kiosk wall opened: back to that wall when the takeover no longer stands.
    takeoverReturn: function (state, cfg) {
      if (!state || state.pending !== false || !cfg || typeof cfg.back !== "string") {
        return window.dash_clientside.no_update;
      }
      const origin = window.location.origin;
      if (!/^\/(?![\/\\])/.test(cfg.back) || /[\u0000-\u0020\\]/.test(cfg.back)) {
        return window.dash_clientside.no_update;
      }
      let url = null;
      try { url = new URL(cfg.back, origin); } catch (e) { return window.dash_clientside.no_update; }
      if (url.origin !== origin) { return window.dash_clientside.no_update; }
      const params = new URLSearchParams(window.location.search);
      KIOSK_PARAMS.forEach(function (key) {  // the wall's kiosk mode, rotation and language, as it left them
        if (params.has(key)) { url.searchParams.set(key, params.get(key)); }
      });
      if (!window.__citywallReturning) {
        window.__citywallReturning = true;
        try {
          window.sessionStorage.setItem("citywallReturned", JSON.stringify(
            {key: String(cfg.scenario_id) + ":" + String(cfg.area_code), at: Date.now()}));
        } catch (e) { /* no session storage: the wall may open the board once more, then come back */ }
        window.location.assign(url.toString());
      }
      return "back to " + url.pathname;
    },
    // A panel with more tiles than fit (components/vital_panel.py TILES_PER_PAGE) keeps its first
    // ones in place and turns the rest (data-page) through its last place every data-page-s seconds,
    // on the clock, so every screen shows the same; its title says which ("⟳ 1/3"). ``page``: show
    // that page now (a test measuring each).
    tilePages: function (root, page) {
      const now = Date.now();
      (root || document).querySelectorAll(".panel--paged").forEach(function (panel) {
        const pages = parseInt(panel.getAttribute("data-pages") || "1", 10) || 1;
        const seconds = parseInt(panel.getAttribute("data-page-s") || "15", 10) || 15;
        const shown = String(typeof page === "number" ? page % pages : Math.floor(now / (seconds * 1000)) % pages);
        if (panel.getAttribute("data-shown") === shown) { return; }
        panel.setAttribute("data-shown", shown);
        panel.querySelectorAll(".tile[data-page]").forEach(function (tile) {
          tile.hidden = tile.getAttribute("data-page") !== shown;
        });
        const label = panel.querySelector(".panel__page");
        if (label) { label.textContent = "\u27f3 " + (Number(shown) + 1) + "/" + pages; }
      });
    },
    statusBar: function (nClock, status, conn) {
      const cfg = conn || {};
      const labels = cfg.labels || {};
      const refreshMs = (cfg.refresh_s || 5) * 1000;
      const state = (window.__citywall = window.__citywall || { lastOkMs: null, lastAsOf: null, seen: null });
      if (status && status !== state.seen) {
        state.seen = status;
        // A deploy changed the app: reload once so the wall runs the new code and assets.
        // Twice in a row: during a rolling deploy a balancer alternating between old and new
        // hosts must not reload the wall on every tick.
        if (status.version) {
          if (!state.version) { state.version = status.version; }
          state.newer = status.version !== state.version ? (state.newer || 0) + 1 : 0;
          if (state.newer >= 2) { window.location.reload(); }
        }
        if (status.ok) {
          state.lastOkMs = Date.now();
          state.lastAsOf = status.as_of || state.lastAsOf;
        }
      }
      let clock = "--:--:--";
      // A replayed wall (issue 15): its clock is the moment replayed (assets/replay.js), never the wall clock.
      const replayed = cfg.replay && window.dash_clientside.citywallReplay
        ? window.dash_clientside.citywallReplay.moment() : null;
      try {
        clock = new Intl.DateTimeFormat(cfg.lang === "en" ? "en-GB" : "zh-CN", {
          timeZone: cfg.timezone || "UTC", hour: "2-digit", minute: "2-digit", second: "2-digit",
          hour12: false,
        }).format(replayed === null ? new Date() : new Date(replayed));
      } catch (e) { /* unknown zone: keep the placeholder rather than break the page */ }
      const asOf = state.lastAsOf || "--:--:--";
      const silentMs = state.lastOkMs === null ? null : Date.now() - state.lastOkMs;
      if (state.lastOkMs === null) {
        if (status && status.ok === false) {
          return [clock, labels.db_unavailable || "DATABASE UNAVAILABLE", "badge badge--offline", asOf];
        }
        return [clock, labels.connecting || "CONNECTING", "badge badge--connecting", asOf];
      }
      // A refresh missed: ask the server whether this screen may still read (a revoked kiosk
      // token answers 401 to every refresh; say so instead of a plain OFFLINE). Once per tick.
      if (silentMs > 1.5 * refreshMs && cfg.session_url && !state.asking &&
          (!state.askedMs || Date.now() - state.askedMs > refreshMs)) {
        state.asking = true;
        state.askedMs = Date.now();
        fetch(cfg.session_url, {credentials: "same-origin", cache: "no-store"})
          .then(function (reply) { return reply.json(); })
          .then(function (body) { state.access = body && body.state; })
          .catch(function () { /* the server is away: OFFLINE says enough */ })
          .then(function () { state.asking = false; });
      }
      if (silentMs <= 1.5 * refreshMs) { state.access = null; }
      if (state.access === "revoked") {
        document.body.classList.add("is-offline");
        return [clock, labels.access_revoked || "ACCESS REVOKED", "badge badge--offline badge--revoked", asOf];
      }
      if (silentMs > 3 * refreshMs) {
        const text = (labels.offline || "OFFLINE") + " · " + (labels.last_good_data || "last good data") + " " + asOf;
        document.body.classList.add("is-offline");
        return [clock, text, "badge badge--offline", asOf];
      }
      document.body.classList.remove("is-offline");
      if (cfg.replay) {  // issue 15: a replay is never shown as live (nor as OFFLINE for being in the past)
        return [clock, labels.replay || "REPLAY", "badge badge--replay", asOf];
      }
      return [clock, labels.live || "LIVE", "badge badge--live", asOf];
    },
  },
});
