// kurz UI: small progressive touches. Every flow works without this file.
"use strict";

document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (!source) return;
  var text = source.value || source.textContent;
  var done = function () {
    var label = button.getAttribute("data-copied") || "Copied";
    var before = button.textContent;
    button.textContent = label;
    button.setAttribute("aria-live", "polite");
    setTimeout(function () { button.textContent = before; }, 1500);
  };
  if (navigator.clipboard && navigator.clipboard.writeText) {
    navigator.clipboard.writeText(text).then(done, function () {
      source.select && source.select();
    });
  } else if (source.select) {
    source.select();
    document.execCommand && document.execCommand("copy");
    done();
  }
});

// Copy buttons are hidden until this script runs: without it, the URL is
// in a selectable field.
document.documentElement.classList.add("js");

// Forms that ask to be confirmed (delete) get a dialog; without script the
// confirmation page does the same.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});

// A select that changes the page (a chart's range) submits its form.
document.addEventListener("change", function (event) {
  if (event.target.matches("[data-autosubmit]")) event.target.form.submit();
});

// A confirmed form says so in its `data-confirmed` field (a link's delete):
// without script that field stays empty and the server asks on a page.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (event.defaultPrevented || !form.hasAttribute("data-confirm")) return;
  form.querySelectorAll("input[data-confirmed]").forEach(function (input) {
    input.value = "1";
  });
});
