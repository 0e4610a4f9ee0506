// Small progressive enhancements; every page works without JavaScript.
"use strict";

document.addEventListener("submit", (event) => {
  // <form data-confirm="Really?"> asks before submitting.
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  // Uploads send each file's lastModified: years that log lines leave out are decided against it.
  const lastModified = form instanceof HTMLFormElement ? form.querySelector('input[name="last_modified"]') : null;
  const files = form instanceof HTMLFormElement ? form.querySelector('input[type="file"]') : null;
  if (lastModified instanceof HTMLInputElement && files instanceof HTMLInputElement && files.files) {
    lastModified.value = Array.from(files.files, (file) => String(file.lastModified || "")).join(",");
  }
});

document.addEventListener("change", (event) => {
  // <select data-autosubmit> submits its form when the choice changes.
  const target = event.target;
  if (target instanceof HTMLSelectElement && target.dataset.autosubmit !== undefined && target.form) {
    target.form.requestSubmit();
  }
});

document.addEventListener("keydown", (event) => {
  // Escape inside an inline-edited row cancels the edit.
  if (event.key !== "Escape") {
    return;
  }
  const row = event.target instanceof Element ? event.target.closest("tr.editing") : null;
  const cancel = row ? row.querySelector("a.cancel") : null;
  if (cancel instanceof HTMLElement) {
    event.preventDefault();
    cancel.click();
  }
});

document.addEventListener("htmx:afterSettle", (event) => {
  // After an inline save or cancel, give the keyboard focus back to the row's Edit button.
  // afterSettle, not afterSwap: until htmx settles, a swapped-in row with the same id still
  // carries the old row's attributes (class "editing"), so the check below would skip it.
  const target = event.detail && event.detail.elt;
  if (target instanceof HTMLElement && !target.classList.contains("editing")) {
    const row = document.getElementById(target.id);
    const edit = row ? row.querySelector(".row-actions a") : null;
    if (edit instanceof HTMLElement && document.activeElement === document.body) {
      edit.focus();
    }
  }
});
