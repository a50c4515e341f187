// Rapport's small progressive enhancements: sidebar toggle, Ctrl-K palette, keyboard
// navigation in search suggestions, htmx error handling, and the data-* behaviours below
// that replace inline on*= and hx-on handlers (the Content-Security-Policy runs no inline
// script). Everything works without it.
(function () {
  "use strict";

  // htmx 2 drops the body of any 4xx/5xx answer. Our forms answer invalid input (400,
  // 422) and a stale write (409) with the form and its message, so those are swapped in
  // like a success; any other failure is announced, so a failed save never looks saved.
  if (window.htmx) {
    window.htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "(400|409|422)", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
      { code: "...", swap: false },
    ];
  }
  function announceFailure(text) {
    const content = document.getElementById("content");
    if (!content) return;
    let box = document.getElementById("htmx-failure");
    if (!box) {
      box = document.createElement("div");
      box.id = "htmx-failure";
      box.className = "messages";
      box.setAttribute("role", "alert");
      content.prepend(box);
    }
    box.innerHTML = "";
    const message = document.createElement("div");
    message.className = "message message-error";
    message.textContent = text;
    box.appendChild(message);
  }
  document.addEventListener("htmx:responseError", function (event) {
    const status = event.detail.xhr.status;
    announceFailure(status === 403 ? "You may not do that: nothing was changed."
      : status === 404 ? "That record no longer exists: nothing was changed."
      : "The server could not do that (error " + status + "): nothing was changed. Try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    announceFailure("The server could not be reached: nothing was changed. Check the connection and try again.");
  });
  document.addEventListener("click", function (event) {
    const toggle = event.target.closest("[data-toggle-sidebar]");
    if (toggle) {
      const sidebar = document.getElementById("sidebar");
      const open = sidebar.classList.toggle("open");
      toggle.setAttribute("aria-expanded", String(open));
    }
    // Close the user menu when clicking elsewhere.
    document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
    if (!event.target.closest(".global-search")) {
      const box = document.getElementById("search-suggestions");
      if (box) box.innerHTML = "";
    }
  });

  const palette = () => document.getElementById("palette");
  function openPalette() {
    const p = palette();
    if (!p) return;
    p.hidden = false;
    const input = document.getElementById("palette-input");
    input.value = "";
    document.getElementById("palette-results").innerHTML = "";
    input.focus();
  }
  function closePalette() { const p = palette(); if (p) p.hidden = true; }

  function moveSelection(container, step) {
    const items = Array.from(container.querySelectorAll(".suggestion"));
    if (!items.length) return;
    let index = items.findIndex((el) => el.classList.contains("selected"));
    if (index >= 0) items[index].classList.remove("selected");
    index = (index + step + items.length) % items.length;
    items[index].classList.add("selected");
    items[index].scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k") {
      event.preventDefault();
      openPalette();
      return;
    }
    const p = palette();
    const inPalette = p && !p.hidden;
    const results = inPalette ? document.getElementById("palette-results")
      : (event.target.id === "global-search-input" ? document.getElementById("search-suggestions") : null);
    if (event.key === "Escape" && inPalette) { closePalette(); return; }
    if (!results) return;
    if (event.key === "ArrowDown") { event.preventDefault(); moveSelection(results, 1); }
    if (event.key === "ArrowUp") { event.preventDefault(); moveSelection(results, -1); }
    if (event.key === "Enter") {
      const selected = results.querySelector(".suggestion.selected") || (inPalette && results.querySelector(".suggestion"));
      if (selected) { event.preventDefault(); window.location.href = selected.getAttribute("href"); }
    }
  });

  document.addEventListener("click", function (event) {
    const p = palette();
    if (p && !p.hidden && event.target === p) closePalette();
    if (event.target.closest("[data-open-palette]")) openPalette();
    if (event.target.closest("[data-print]")) window.print();
  });

  // <form data-confirm="Question?">: submitted only once the user confirms.
  document.addEventListener("submit", function (event) {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  }, true);

  // <select data-autosubmit>: picking a value submits its form.
  document.addEventListener("change", function (event) {
    const field = event.target.closest("[data-autosubmit]");
    if (field && field.form) field.form.requestSubmit();
  });

  // <form data-reset-after-swap-into="ID">: cleared once its htmx request succeeded and
  // was swapped into #ID (an error response re-renders the form instead).
  document.addEventListener("htmx:afterRequest", function (event) {
    const form = event.detail.elt;
    const into = form instanceof HTMLFormElement ? form.dataset.resetAfterSwapInto : null;
    if (into && event.detail.successful && event.detail.target && event.detail.target.id === into) {
      form.reset();
    }
  });
})();
