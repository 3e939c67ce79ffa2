// Switchboard's page chrome: the colour theme and the collapsible navigation.
// Loaded in <head> without defer, so a saved theme applies before the first paint (no flash of the
// other theme). A file, not an inline script: the Content-Security-Policy allows scripts from 'self' only.
(function () {
  "use strict";
  var KEY = "switchboard-theme";
  var root = document.documentElement;
  var darkQuery = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function saved() {
    try { return localStorage.getItem(KEY); } catch (e) { return null; }  // storage may be disabled
  }

  // No saved choice: no data-theme, so Pico follows prefers-color-scheme.
  var choice = saved();
  if (choice === "dark" || choice === "light") root.setAttribute("data-theme", choice);
  root.classList.add("js");  // the CSS collapses the menu only when this script can open it

  function currentTheme() {
    var theme = root.getAttribute("data-theme");
    if (theme) return theme;
    return darkQuery && darkQuery.matches ? "dark" : "light";
  }

  function setUpThemeToggle() {
    var toggle = document.getElementById("theme-toggle");
    if (!toggle) return;
    function show() { toggle.setAttribute("aria-pressed", String(currentTheme() === "dark")); }
    toggle.hidden = false;
    show();
    toggle.addEventListener("click", function () {
      var next = currentTheme() === "dark" ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try { localStorage.setItem(KEY, next); } catch (e) { /* the choice lasts for this page only */ }
      show();
    });
    if (darkQuery && darkQuery.addEventListener) darkQuery.addEventListener("change", show);
  }

  // A button that shows and hides the list it controls (aria-controls): the menu on narrow screens, the
  // account's entries everywhere. Escape closes the last one opened and gives its button the focus back.
  var open = [];
  function disclosure(toggleId, closeOnClickOutside) {
    var toggle = document.getElementById(toggleId);
    var panel = toggle && document.getElementById(toggle.getAttribute("aria-controls"));
    if (!panel) return;
    function setOpen(isOpen) {
      toggle.setAttribute("aria-expanded", String(isOpen));
      panel.classList.toggle("open", isOpen);
      open = open.filter(function (item) { return item.toggle !== toggle; });
      if (isOpen) open.push({ toggle: toggle, close: function () { setOpen(false); } });
    }
    toggle.addEventListener("click", function () {
      setOpen(toggle.getAttribute("aria-expanded") !== "true");
    });
    if (closeOnClickOutside) {
      document.addEventListener("click", function (event) {
        if (toggle.getAttribute("aria-expanded") === "true" && !toggle.contains(event.target) && !panel.contains(event.target)) {
          setOpen(false);
        }
      });
    }
  }
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !open.length) return;
    var last = open[open.length - 1];
    last.close();
    last.toggle.focus();
  });

  // The menu entry of the section this page belongs to: the longest link path the page's path starts with.
  function markCurrentSection() {
    var path = window.location.pathname, best = null, bestLength = 0;
    document.querySelectorAll(".site-menu a[href]").forEach(function (link) {
      var linkPath = new URL(link.href, window.location.href).pathname;
      var matches = linkPath === path || (linkPath !== "/" && path.indexOf(linkPath) === 0);
      if (matches && linkPath.length > bestLength) { best = link; bestLength = linkPath.length; }
    });
    if (best) best.setAttribute("aria-current", "page");
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpThemeToggle();
    disclosure("nav-toggle", false);
    disclosure("account-toggle", true);
    markCurrentSection();
  });
})();
