// The wall fleet (issue 15, item 4): each tab is one screen, its id kept across its reloads and a
// kiosk's rotation (handed over through sessionStorage as the page goes, taken back by the next page
// of the tab: a duplicated tab, which copies sessionStorage while its original lives, gets an id of
// its own). The page's tick callback sends it with every tick (pages/_fleet.py: no request of its
// own); when the tab closes or leaves CityWall it says goodbye with one keepalive request, so /walls
// shows it gone, not OFFLINE.
(function () {
  const KEY = "citywall-screen";
  const ID = /^[0-9a-f]{32}$/;
  let tabId = null;  // this document's screen id (kept when the app navigates between its pages)
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
    goodbye();
  });
  // Navigated inside the app to a page that does not beat (the incident list, say): a goodbye too.
  window.setInterval(function () {
    if (current && !document.querySelector(".cw-fleet-marker")) { goodbye(); }
  }, 1000);

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    citywallFleet: {
      screen: function (seed) {
        if (!seed || typeof seed.id !== "string") { return null; }
        if (!tabId) { tabId = handedOver() || seed.id; }
        current = Object.assign({}, seed, {id: tabId, load: seed.id});  // load: this page load's own id
        return current;
      },
    },
  });
})();
