// Plotly figures follow the page's light/dark switch.
// pydata-sphinx-theme sets <html data-theme="light|dark"> (its "auto" mode resolves to one of the two).
// The figures are drawn with the book's light template; in dark mode each is relaid out with dark colours,
// and the light values it had are kept on the element so that switching back restores them exactly.
(function () {
  var DARK = {
    paper: "#14181e", plot: "#1b2028", font: "#ced6dd", grid: "#3a424c", line: "#6b7580", legend: "rgba(0,0,0,0)"
  };

  function axes(layout) {
    return Object.keys(layout).filter(function (k) { return /^[xy]axis\d*$/.test(k); });
  }

  function lightValues(gd) {
    // what the figure itself asked for (undefined means plotly's template default)
    var full = gd._fullLayout || {};
    var keep = {
      "paper_bgcolor": full.paper_bgcolor, "plot_bgcolor": full.plot_bgcolor,
      "font.color": full.font && full.font.color,
      "legend.bgcolor": full.legend && full.legend.bgcolor,
      "title.font.color": full.title && full.title.font && full.title.font.color
    };
    axes(full).forEach(function (a) {
      keep[a + ".gridcolor"] = full[a].gridcolor;
      keep[a + ".linecolor"] = full[a].linecolor;
      keep[a + ".zerolinecolor"] = full[a].zerolinecolor;
      keep[a + ".tickfont.color"] = full[a].tickfont && full[a].tickfont.color;
      keep[a + ".title.font.color"] = full[a].title && full[a].title.font && full[a].title.font.color;
    });
    // relayout ignores undefined but resets null to plotly's default: an axis without a grid (a bar chart's
    // categories) has no gridcolor, and restoring it must remove the dark one, not keep it
    Object.keys(keep).forEach(function (k) {
      if (keep[k] === undefined) {
        keep[k] = null;
      }
    });
    return keep;
  }

  function darkValues(gd) {
    var full = gd._fullLayout || {};
    var dark = {
      "paper_bgcolor": DARK.paper, "plot_bgcolor": DARK.plot, "font.color": DARK.font,
      "legend.bgcolor": DARK.legend, "title.font.color": DARK.font
    };
    axes(full).forEach(function (a) {
      dark[a + ".gridcolor"] = DARK.grid;
      dark[a + ".linecolor"] = DARK.line;
      dark[a + ".zerolinecolor"] = DARK.line;
      dark[a + ".tickfont.color"] = DARK.font;
      dark[a + ".title.font.color"] = DARK.font;
    });
    return dark;
  }

  function apply(gd, mode) {
    if (!window.Plotly || !gd._fullLayout) {
      return;
    }
    if ((gd.dataset.quinebookMode || "light") === mode) {
      return;
    }
    if (!gd.quinebookLight) {
      gd.quinebookLight = lightValues(gd);
    }
    gd.dataset.quinebookMode = mode;
    window.Plotly.relayout(gd, mode === "dark" ? darkValues(gd) : gd.quinebookLight);
  }

  function mode() {
    return document.documentElement.dataset.theme === "dark" ? "dark" : "light";
  }

  function applyAll() {
    document.querySelectorAll(".js-plotly-plot").forEach(function (gd) { apply(gd, mode()); });
  }

  new MutationObserver(applyAll).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  // figures are drawn by inline scripts as the page is parsed; catch every one, also those drawn late
  document.addEventListener("DOMContentLoaded", applyAll);
  window.addEventListener("load", function () {
    applyAll();
    document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
      if (gd.on) {
        gd.on("plotly_afterplot", function () { apply(gd, mode()); });
      }
    });
  });
  window.quinebookPlotlyTheme = { apply: applyAll, mode: mode };
})();
