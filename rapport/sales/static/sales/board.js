// The kanban board's drag and drop. A card dropped on another column submits the card's
// own "Move to" form with that column's stage, so the keyboard path (the form) and the
// mouse path (this script) are the same request: htmx posts it and swaps the board back
// with the new totals; without htmx the form posts normally. No inline script (CSP).
(function () {
  "use strict";
  let dragged = null;

  document.addEventListener("dragstart", function (event) {
    const card = event.target.closest && event.target.closest(".deal-card[draggable]");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.deal);
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    document.querySelectorAll(".board-column.drop-target").forEach(function (c) {
      c.classList.remove("drop-target");
    });
  });

  document.addEventListener("dragover", function (event) {
    const column = event.target.closest && event.target.closest(".board-column");
    if (!column || !dragged) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    document.querySelectorAll(".board-column.drop-target").forEach(function (c) {
      if (c !== column) c.classList.remove("drop-target");
    });
    column.classList.add("drop-target");
  });

  document.addEventListener("drop", function (event) {
    const column = event.target.closest && event.target.closest(".board-column");
    if (!column || !dragged) return;
    event.preventDefault();
    const form = dragged.querySelector("form.deal-card-move");
    const select = form && form.querySelector("select[name=stage]");
    column.classList.remove("drop-target");
    if (!select || select.value === column.dataset.stage) return;
    select.value = column.dataset.stage;
    dragged.classList.add("saving");
    form.requestSubmit();
  });
})();
