// The wall fleet (issue 15, item 4): each tab is one screen, its id kept across its reloads and a
// kiosk's rotation (handed over through sessionStorage as the page goes, taken back by the next page
// of the tab: a duplicated tab, which copies sessionStorage while its original lives, gets an id of
// its own). A screen whose tab died without handing over (a crash, a killed or restarted browser)
// takes its id back from localStorage: each screen name's tab keeps a lease there, renewed every
// second, and a page without a handover adopts the id of a lease nobody renewed for LEASE_MS (one
// still renewed is another live tab: the new page is a screen of its own). The page's tick callback
// sends it with every tick (pages/_fleet.py: no request of its own); when the tab closes or leaves
// CityWall it says goodbye with one keepalive request, so /walls shows it gone, not OFFLINE.
(function () {
  const KEY = "citywall-screen";
  const LEASES = "citywall-screens";  // localStorage: {screen name: {id, at}}, one per name this browser shows
  const LEASE_MS = 3000;  // a lease not renewed for 3 s (renewed every second): its tab is gone
  const MAX_LEASES = 20;
  const ID = /^[0-9a-f]{32}$/;
  let tabId = null;  // this document's screen id (kept when the app navigates between its pages)
  let leaseName = null;  // the screen name this tab holds its lease under ("" for a screen without one)
  let current = null;  // the fleet store of the page shown now, with that id
  let moving = false;  // the page goes to another page of this site (a reload, a kiosk's next page, a board)

  if (window.navigation) {  // the Navigation API (Chromium): where a leaving page goes
    window.navigation.addEventListener("navigate", function (event) {
      try {
        const to = new URL(event.destination.url);
        moving = !event.destination.sameDocument && to.origin === window.location.origin && !event.downloadRequest;
      } catch (e) { moving = false; }
    });
  }

  function handedOver() {
    try {
      const id = window.sessionStorage.getItem(KEY);
      window.sessionStorage.removeItem(KEY);
      return id && ID.test(id) ? id : null;
    } catch (e) { return null; }
  }

  function handOver(id) {
    try { window.sessionStorage.setItem(KEY, id); } catch (e) { /* private mode: a new screen after a reload */ }
  }

  function leases() {
    try {
      const found = JSON.parse(window.localStorage.getItem(LEASES) || "{}");
      return found && typeof found === "object" && !Array.isArray(found) ? found : {};
    } catch (e) { return {}; }
  }

  function adopted(name) {  // the id of this screen's last tab, when no live tab renews it
    const lease = leases()[name];
    const free = lease && typeof lease.id === "string" && ID.test(lease.id) && typeof lease.at === "number"
      && Date.now() - lease.at > LEASE_MS;
    return free ? lease.id : null;
  }

  function renew() {  // this tab holds its screen's id now
    if (!tabId || leaseName === null) { return; }
    const all = leases();
    all[leaseName] = {id: tabId, at: Date.now()};
    const names = Object.keys(all).sort(function (a, b) { return all[b].at - all[a].at; });
    names.slice(MAX_LEASES).forEach(function (name) { delete all[name]; });
    try { window.localStorage.setItem(LEASES, JSON.stringify(all)); } catch (e) { /* private mode: none kept */ }
  }

  function goodbye() {
    if (!current) { return; }
    const config = document.getElementById("_dash-config");
    let prefix = "/";
    try { prefix = JSON.parse(config.textContent).requests_pathname_prefix || "/"; } catch (e) { /* default */ }
    const body = {
      output: "cw-fleet-bye-target.title",
      outputs: {id: "cw-fleet-bye-target", property: "title"},
      inputs: [{id: "cw-fleet-bye", property: "data", value: Object.assign({}, current, {moving: moving})}],
      changedPropIds: ["cw-fleet-bye.data"],
      state: [],
    };
    try {
      fetch(prefix + "_dash-update-component", {method: "POST", keepalive: true, credentials: "same-origin",
        headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    } catch (e) { /* the screen goes OFFLINE on /walls instead of gone */ }
    current = null;
  }

  window.addEventListener("pagehide", function () {
    if (tabId) { handOver(tabId); }  // the tab's next page (a reload, a kiosk's next wall) is this screen
    goodbye();  // (its lease is left to lapse: a new tab during the reload must not take this id)
  });
  // Navigated inside the app to a page that does not beat (the incident list, say): a goodbye too.
  window.setInterval(function () {
    if (current && !document.querySelector(".cw-fleet-marker")) { goodbye(); }
    if (tabId) { renew(); }  // (on a page of the app that does not beat too: the tab still holds its id)
  }, 1000);

  // The screen shown now, for the wall's push stream (assets/push.js): a pushed wall polls no more,
  // so its stream beats for it (pages/_push.py).
  window.citywallFleet = {current: function () { return current; }};

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    citywallFleet: {
      screen: function (seed) {
        if (!seed || typeof seed.id !== "string") { return null; }
        if (!tabId) {
          leaseName = typeof seed.name === "string" ? seed.name : "";
          tabId = handedOver() || adopted(leaseName) || seed.id;
        }
        current = Object.assign({}, seed, {id: tabId, load: seed.id});  // load: this page load's own id
        renew();
        return current;
      },
    },
  });
})();
