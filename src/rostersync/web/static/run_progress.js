// The run page follows a running sync: it asks the API for the run's progress every second,
// says it in the page's live region, and reloads the page when the run ends, so the counts and
// the Approve and Discard buttons appear. Without JavaScript the page shows the last recorded
// progress and a refresh link.
(function () {
  "use strict";
  var section = document.getElementById("progress");
  var url = section && section.getAttribute("data-progress-url");
  if (!url) { return; }
  var region = document.getElementById("run-progress");
  var POLL_MS = 1000;

  function table() {
    var found = document.getElementById("run-progress-records");
    if (found) { return found.tBodies[0]; }
    var t = document.createElement("table");
    t.id = "run-progress-records";
    t.innerHTML = '<caption class="visually-hidden">Records pulled so far, per collection</caption>' +
      '<thead><tr><th scope="col">Collection</th><th scope="col">Records pulled</th></tr></thead><tbody></tbody>';
    region.insertAdjacentElement("afterend", t);
    return t.tBodies[0];
  }

  function show(progress) {
    if (region.textContent !== progress.summary) { region.textContent = progress.summary; }
    var asOf = document.getElementById("run-progress-asof");
    if (asOf && progress.updated_at) {
      asOf.textContent = progress.updated_at.slice(11, 19) + " UTC";
    }
    var names = Object.keys(progress.records);
    if (!names.length) { return; }
    var body = table();
    body.textContent = "";
    names.forEach(function (name) {
      var row = body.insertRow();
      var th = document.createElement("th");
      th.scope = "row";
      th.textContent = name;
      row.appendChild(th);
      row.insertCell().textContent = String(progress.records[name]);
    });
  }

  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (progress) {
        show(progress);
        if (progress.finished) {
          window.location.replace(window.location.pathname);
        } else {
          window.setTimeout(poll, POLL_MS);
        }
      })
      .catch(function () {
        // Signed out, or the server went away: the refresh link still works.
      });
  }

  window.setTimeout(poll, POLL_MS);
})();
