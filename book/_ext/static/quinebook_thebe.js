// Live Code (Thebe) needs the network: it loads Thebe from a CDN and starts a kernel on Binder.
// Offline, sphinx-thebe's button says "Loading thebe from CDN..." for ever; say what is wrong instead.
(function () {
  var MESSAGE = "Live code needs an internet connection (it loads Thebe and starts a kernel on Binder). " +
    "Offline, download this page's notebook (the download button at the top of the page) and run it in Jupyter.";

  function fail() {
    var button = document.querySelector(".thebe-launch-button");
    if (button) {
      button.innerText = "Live code is not available offline";
    }
    if (document.querySelector(".quinebook-thebe-message")) {
      return;
    }
    var note = document.createElement("div");
    note.className = "admonition warning quinebook-thebe-message";
    note.setAttribute("role", "alert");
    note.innerText = MESSAGE;
    var main = document.querySelector("main, article, .bd-article") || document.body;
    main.insertBefore(note, main.firstChild);
  }

  function wrap() {
    if (typeof window.initThebe !== "function" || window.initThebe.quinebookWrapped) {
      return;
    }
    var original = window.initThebe;
    var wrapped = function () {
      original.apply(this, arguments);
      var url = typeof THEBE_JS_URL === "undefined" ? null : THEBE_JS_URL;  // sphinx-thebe's global
      document.querySelectorAll("script").forEach(function (s) {
        if (url && s.src === url) {
          s.addEventListener("error", fail);
        }
      });
      setTimeout(function () {
        if (typeof thebelab === "undefined") {
          fail();
        }
      }, 15000);
    };
    wrapped.quinebookWrapped = true;
    window.initThebe = wrapped;
  }

  // sphinx-thebe's script may arrive before or after this one: try now, when the page is parsed, and when
  // everything has loaded (wrapping twice is prevented by the flag).
  wrap();
  document.addEventListener("DOMContentLoaded", wrap);
  window.addEventListener("load", wrap);
  // a long page can still be parsing when sphinx-thebe's async script has run: check a few times a second
  var tries = 0;
  var timer = setInterval(function () {
    wrap();
    tries += 1;
    if ((window.initThebe && window.initThebe.quinebookWrapped) || tries > 150) {
      clearInterval(timer);
    }
  }, 200);
})();
