// The business console's small comforts: add and remove hours ranges and special dates, keep a
// day's "closed" box in step with its ranges, confirm a cancellation. The forms work without it.
"use strict";

function rangeFor(day) {
  const template = document.getElementById("range-template");
  const html = template.innerHTML.replaceAll("DAY_", day + "_").replaceAll("DAY ", day + " ");
  const holder = document.createElement("span");
  holder.innerHTML = html.trim();
  return holder.firstElementChild;
}

function syncClosed(row) {
  const closed = row.querySelector("input[type=checkbox]");
  const filled = Array.from(row.querySelectorAll(".range input")).some((input) => input.value);
  if (filled) closed.checked = false;
}

document.addEventListener("click", (event) => {
  const target = event.target;
  if (!(target instanceof HTMLElement)) return;
  if (target.classList.contains("add-range")) {
    const row = target.closest("tr");
    target.before(rangeFor(row.dataset.day));
    row.querySelector("input[type=checkbox]").checked = false;
  } else if (target.classList.contains("remove-range")) {
    const row = target.closest("tr");
    target.closest(".range").remove();
    if (!row.querySelector(".range")) row.querySelector("input[type=checkbox]").checked = true;
  } else if (target.classList.contains("remove-row")) {
    target.closest("tr").remove();
  } else if (target.id === "add-date") {
    const body = document.querySelector("#special-days tbody");
    const last = body.lastElementChild;
    const copy = last.cloneNode(true);
    copy.querySelectorAll("input").forEach((input) => { input.value = ""; });
    body.append(copy);
  }
});

document.addEventListener("input", (event) => {
  const row = event.target instanceof HTMLElement ? event.target.closest("tr[data-day]") : null;
  if (row) syncClosed(row);
});

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.classList.contains("confirm")) {
    const label = form.querySelector("button").textContent;
    if (!window.confirm(label + "?")) event.preventDefault();
  }
});
