// Customer pages: bulk selection, extra contact rows, confirmations, Ctrl+Enter for notes.
(function () {
  "use strict";
  function updateBulk() {
    const form = document.getElementById("bulk-form");
    if (!form) return;
    const boxes = form.querySelectorAll("input[name=ids]");
    const checked = form.querySelectorAll("input[name=ids]:checked").length;
    const count = form.querySelector("[data-bulk-count]");
    const scope = form.querySelector("[data-bulk-scope]");
    const matching = form.querySelector("[data-select-matching]");
    // "All matching" lasts only while the whole page stays selected.
    if (scope && checked !== boxes.length) scope.value = "selected";
    const everyone = scope && scope.value === "matching";
    if (count) count.textContent = everyone ? matching.textContent.replace(/^Select /, "").replace(/ customers$/, "") + " customers selected" : checked ? checked + " selected" : "No customer selected";
    if (matching) matching.hidden = everyone || checked !== boxes.length;
    const all = form.querySelector("[data-select-all]");
    if (all) { all.checked = checked > 0 && checked === boxes.length; all.indeterminate = checked > 0 && checked < boxes.length; }
    const action = form.querySelector("[data-bulk-action]");
    form.querySelectorAll("[data-bulk-for]").forEach(function (el) {
      el.hidden = !action || !el.dataset.bulkFor.split(" ").includes(action.value);
    });
    const bar = form.querySelector("[data-bulk-bar]");
    if (bar) bar.classList.toggle("has-selection", checked > 0 || everyone);
    const submit = form.querySelector("[data-bulk-submit]");
    if (submit) {
      submit.disabled = !checked || !action || !action.value;
      submit.textContent = everyone ? "Apply to all matching" : "Apply to selected";
    }
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-select-all]")) {
      document.querySelectorAll("#bulk-form input[name=ids]").forEach(function (box) { box.checked = event.target.checked; });
    }
    if (event.target.closest("#bulk-form")) updateBulk();
  });
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form.id === "bulk-form") {
      const action = form.querySelector("[data-bulk-action]");
      if (action && action.value === "delete") {
        const scope = form.querySelector("[data-bulk-scope]");
        const n = scope && scope.value === "matching" ? "every matching" : form.querySelectorAll("input[name=ids]:checked").length;
        if (!window.confirm("Delete " + n + " customer(s)? This cannot be undone.")) event.preventDefault();
      }
    }
  });
  document.addEventListener("click", function (event) {
    const matching = event.target.closest("[data-select-matching]");
    if (matching) {
      const scope = matching.form.querySelector("[data-bulk-scope]");
      if (scope) scope.value = "matching";
      updateBulk();
      return;
    }
    const confirmer = event.target.closest("[data-confirm]");
    if (confirmer && !window.confirm(confirmer.dataset.confirm)) { event.preventDefault(); return; }
    const adder = event.target.closest("[data-add-row]");
    if (adder) {
      const name = adder.dataset.addRow;
      const total = document.getElementById("id_" + name + "-TOTAL_FORMS");
      const template = document.querySelector("template[data-row-template='" + name + "']");
      const rows = document.querySelector("[data-rows='" + name + "']");
      if (!total || !template || !rows) return;
      const index = parseInt(total.value, 10);
      const wrapper = document.createElement("div");
      wrapper.innerHTML = template.innerHTML.replace(/__prefix__/g, String(index));
      const row = wrapper.firstElementChild;
      rows.appendChild(row);
      total.value = String(index + 1);
      const first = row.querySelector("input, select");
      if (first) first.focus();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.matches("[data-submit-on-ctrl-enter]")) {
      event.preventDefault();
      event.target.form.requestSubmit();
    }
  });
  // On a phone the list's filters start folded (unless some are active), so the first
  // rows show without scrolling; without JavaScript they simply stay open.
  function foldFiltersOnPhone() {
    if (!window.matchMedia("(max-width: 640px)").matches) return;
    document.querySelectorAll("details[data-fold-on-phone]").forEach(function (box) {
      const active = Array.from(box.querySelectorAll("input, select")).some(function (el) {
        return el.type !== "checkbox" && el.value;
      });
      if (!active) box.open = false;
    });
  }
  document.addEventListener("DOMContentLoaded", function () { updateBulk(); foldFiltersOnPhone(); });
})();
