// Live filtering of the district list. Without JavaScript the Filter button submits the box to
// the server instead, so the page works either way.
(function () {
  "use strict";
  var box = document.getElementById("district-filter");
  var select = document.getElementById("district");
  var count = document.getElementById("district-count");
  var button = document.getElementById("filter-button");
  if (!box || !select) { return; }
  var all = Array.prototype.map.call(select.options, function (o) {
    return { value: o.value, text: o.text, key: o.text.toLowerCase() };
  });
  if (button) { button.hidden = true; }
  function render() {
    var needle = box.value.trim().toLowerCase();
    var shown = 0;
    var fragment = document.createDocumentFragment();
    for (var i = 0; i < all.length; i++) {
      if (!needle || all[i].key.indexOf(needle) !== -1) {
        fragment.appendChild(new Option(all[i].text, all[i].value));
        shown++;
      }
    }
    select.textContent = "";
    select.appendChild(fragment);
    if (shown === 1) { select.selectedIndex = 0; }
    count.textContent = shown + (shown === 1 ? " district" : " districts") + " listed.";
  }
  box.addEventListener("input", render);
  box.form.addEventListener("submit", function (event) { event.preventDefault(); select.focus(); });
})();
