// Wafa console: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var body = document.body;
  var lang = (body && body.dataset.lang) || "en";

  // Mobile menu.
  var toggle = document.querySelector(".menu-toggle");
  var nav = document.getElementById("nav");
  if (toggle && nav) {
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") === "true";
      toggle.setAttribute("aria-expanded", String(!open));
      nav.classList.toggle("open", !open);
    });
  }

  // Selects that apply themselves.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { if (s.form) s.form.submit(); });
  });

  // Confirmations before destructive actions.
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.dataset.confirm)) e.preventDefault();
    });
  });

  // "Back" links.
  document.querySelectorAll("a[data-back]").forEach(function (a) {
    a.addEventListener("click", function (e) {
      if (window.history.length > 1) { e.preventDefault(); window.history.back(); }
    });
  });

  // Copy buttons.
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var el = document.getElementById(b.dataset.copy);
      if (!el) return;
      var text = el.textContent.trim();
      var done = function () {
        var old = b.textContent;
        b.textContent = "✓";
        setTimeout(function () { b.textContent = old; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () {});
      } else {
        var r = document.createRange();
        r.selectNodeContents(el);
        var sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(r);
        try { document.execCommand("copy"); done(); } catch (e) { /* selected for manual copy */ }
      }
    });
  });

  // Live delivery log: refresh the table every 5 s while the box is ticked.
  document.querySelectorAll("input[data-live]").forEach(function (box) {
    var target = document.getElementById(box.dataset.target);
    if (!target) return;
    setInterval(function () {
      if (!box.checked || document.hidden) return;
      fetch(box.dataset.live, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) target.innerHTML = html; })
        .catch(function () {});
    }, 5000);
  });

  // Import progress: poll the job until it finishes, then open the result.
  var job = document.querySelector("[data-job]");
  if (job && !job.querySelector(".error")) {
    var bar = job.querySelector("progress");
    var doneEl = job.querySelector("[data-rows-done]");
    var totalEl = job.querySelector("[data-rows-total]");
    var fmt = new Intl.NumberFormat(lang === "ar" ? "ar" : "en");
    var poll = function () {
      fetch("/imports/jobs/" + job.dataset.job + "?format=json", { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          if (bar) { bar.max = Math.max(s.rows_total, 1); bar.value = s.rows_done; }
          if (doneEl) doneEl.textContent = fmt.format(s.rows_done);
          if (totalEl) totalEl.textContent = fmt.format(s.rows_total);
          if (s.done) { window.location.href = "/imports/jobs/" + job.dataset.job; return; }
          setTimeout(poll, 500);
        })
        .catch(function () { setTimeout(poll, 2000); });
    };
    setTimeout(poll, 300);
  }
})();
