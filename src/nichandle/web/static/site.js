// A few lines that make flows nicer; every form works without them.
"use strict";
document.addEventListener("change", async (event) => {
  const target = event.target;
  // The state field follows the country: swapped for the country's list (or a text input).
  if (target.matches && target.matches("select[data-states]")) {
    const field = target.form && target.form.querySelector("#state-field");
    if (!field) return;
    const response = await fetch(`${target.dataset.states}?country=${encodeURIComponent(target.value)}`,
      { credentials: "same-origin" });
    if (response.ok) field.outerHTML = await response.text();
  }
  if (target.matches && target.matches("select[data-autosubmit]")) target.form.requestSubmit();
});
document.addEventListener("submit", (event) => {
  const message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
