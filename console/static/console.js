// Refreshes a server-rendered block in place (the 状況 page): the server escapes every name, this script
// only swaps the block it asked for. A lost session (redirect to /login) reloads the page. When the console
// cannot be reached (the daemon serving it stopped) or answers with an error, the block turns grey and the
// page says so: an open 状況 page never stays green on old data.
(function () {
  "use strict";
  function refresh(el) {
    var url = el.getAttribute("data-refresh");
    var every = parseInt(el.getAttribute("data-every"), 10) || 5000;
    var banner = document.querySelector("[data-offline]");
    function offline(yes) {
      el.classList.toggle("offline", yes);
      if (banner) { banner.hidden = !yes; }
    }
    function tick() {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "text/html"}})
        .then(function (r) {
          if (r.redirected || r.status === 401) { window.location.reload(); return null; }
          if (!r.ok) { offline(true); return null; }
          return r.text();
        })
        .then(function (html) { if (html !== null) { el.innerHTML = html; offline(false); } })
        .catch(function () { offline(true); })
        .then(function () { window.setTimeout(tick, every); });
    }
    window.setTimeout(tick, every);
  }
  // A large site's charts and timeline: fetched once after the page (its states) is shown.
  function load(el) {
    fetch(el.getAttribute("data-load"), {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) { el.innerHTML = html; } })
      .catch(function () { /* the page keeps its states; reloading tries again */ });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh]").forEach(refresh);
    document.querySelectorAll("[data-load]").forEach(load);
  });
})();
