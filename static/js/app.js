// Small progressive enhancements; every page works without JavaScript.
"use strict";

document.addEventListener("submit", (event) => {
  // <form data-confirm="Really?"> asks before submitting.
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

document.addEventListener("htmx:responseError", (event) => {
  // Show a server-side refusal (409 conflict, 400 validation) in place instead of failing silently.
  const detail = event.detail;
  if (detail && detail.xhr && detail.target && detail.xhr.status >= 400 && detail.xhr.status < 500) {
    detail.target.innerHTML = detail.xhr.responseText;
  }
});
