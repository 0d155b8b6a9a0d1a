"""The chapters' architecture diagrams, drawn as SVG from the sizes each chapter's parameters cell sets.

    python -m tools.diagrams            write book/figures/*.svg
    python -m tools.diagrams --check    exit 1 (naming them) if a committed SVG differs from what this writes

Each diagram reads its chapter's ``parameters`` cell (the defaults a reader runs) and counts the weights of
the model the chapter builds with ``quinelib``, so a change of a chapter's sizes shows in its drawing once
this is rerun (and ``tests/test_diagrams.py`` fails until it is).  Trainable parts are coloured boxes,
fixed (non-trainable) parts grey with dashed outlines, data white.  Every SVG carries a <title> and a
<desc> (the alt text), on its own light panel so that it reads in the site's dark mode too.
"""

from __future__ import annotations

import ast
import html
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "book" / "figures"
FONT = "DejaVu Sans, Arial, sans-serif"
KINDS = {  # fill, stroke, dash
    "trainable": ("#d6ebf7", "#0072B2", None),
    "fixed": ("#eeeeee", "#777777", "5 4"),
    "data": ("#ffffff", "#333333", None),
    "solver": ("#fbe3cf", "#D55E00", None),
}


def parameters(chapter: int) -> dict:
    """The literal defaults of chapter N's parameters cell (``smoke = env_flag(...)`` and the like skipped)."""
    path = next((ROOT / "notebooks").glob(f"{chapter:02d}_*.ipynb"))
    cell = next(c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
    out = {}
    for node in ast.parse(cell.source).body:
        if not isinstance(node, ast.Assign):
            continue
        try:
            value = ast.literal_eval(node.value)
        except ValueError:
            continue
        for target in node.targets:
            if isinstance(target, ast.Name):
                out[target.id] = value
            elif isinstance(target, ast.Tuple) and isinstance(value, tuple):
                out.update({t.id: v for t, v in zip(target.elts, value)})
    return out


def n(x: int) -> str:
    return f"{x:,}"


@dataclass
class Canvas:
    width: int
    height: int
    title: str
    desc: str
    parts: list = field(default_factory=list)
    boxes: dict = field(default_factory=dict)

    def box(self, key, x, y, w, h, lines, kind="trainable"):
        fill, stroke, dash = KINDS[kind]
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="8" fill="{fill}" stroke="{stroke}" '
                          f'stroke-width="1.6"{dashed}/>')
        top = y + h / 2 - 9 * (len(lines) - 1)
        for k, line in enumerate(lines):
            weight = ' font-weight="bold"' if k == 0 else ""
            size = 14 if k == 0 else 12.5
            self.text(x + w / 2, top + 18 * k + 5, line, size=size, extra=weight)
        self.boxes[key] = (x, y, w, h)

    def text(self, x, y, s, size=13, anchor="middle", extra="", colour="#222222"):
        self.parts.append(f'<text x="{x:g}" y="{y:g}" font-size="{size}" text-anchor="{anchor}" fill="{colour}"'
                          f'{extra}>{html.escape(s)}</text>')

    def arrow(self, a, b, label=None, via=None, colour="#333333", dash=None):
        """From box a to box b: right edge to left edge on one row, else bottom to top (or through ``via``)."""
        ax, ay, aw, ah = self.boxes[a]
        bx, by, bw, bh = self.boxes[b]
        if via is not None:
            points = via
        elif abs((ay + ah / 2) - (by + bh / 2)) < 1 and bx > ax:
            points = [(ax + aw, ay + ah / 2), (bx, by + bh / 2)]
        elif by > ay:
            points = [(ax + aw / 2, ay + ah), (bx + bw / 2, by)]
        else:
            points = [(ax + aw, ay + ah / 2), (bx, by + bh / 2)]
        d = " ".join(f"{'M' if k == 0 else 'L'}{x:g},{y:g}" for k, (x, y) in enumerate(points))
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.8"{dashed} '
                          f'marker-end="url(#arrow)"/>')
        if label:
            (x0, y0), (x1, y1) = points[len(points) // 2 - 1], points[len(points) // 2]
            self.text((x0 + x1) / 2, (y0 + y1) / 2 - 7, label, size=12, colour=colour)

    def legend(self, y, kinds=("trainable", "fixed", "data")):
        names = {"trainable": "trainable (part of θ)", "fixed": "fixed, not trained", "data": "input / output",
                 "solver": "solver"}
        x = 20
        for kind in kinds:
            fill, stroke, dash = KINDS[kind]
            dashed = f' stroke-dasharray="{dash}"' if dash else ""
            self.parts.append(f'<rect x="{x}" y="{y}" width="22" height="14" rx="3" fill="{fill}" stroke="{stroke}"'
                              f' stroke-width="1.4"{dashed}/>')
            self.text(x + 30, y + 12, names[kind], size=12, anchor="start")
            x += 40 + 7.2 * len(names[kind])

    def svg(self) -> str:
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
                f'viewBox="0 0 {self.width} {self.height}" font-family="{FONT}" role="img">\n'
                f'<title>{html.escape(self.title)}</title>\n<desc>{html.escape(self.desc)}</desc>\n'
                '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
                'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#333333"/></marker></defs>\n'
                f'<rect x="0" y="0" width="{self.width}" height="{self.height}" rx="10" fill="#fcfcfc" '
                'stroke="#dddddd"/>\n')
        return head + "\n".join(self.parts) + "\n</svg>\n"


def _mlp_row(c, p, y, P, norm):
    """The probe-input quine of chapters 1 and 2 on one row, probe to output; returns its trainable boxes' keys."""
    hidden = p["hidden"]
    c.box("x", 20, y, 92, 64, ["probe z", f"{p['in_features']} numbers"], "data")
    widths = [p["in_features"], *hidden]
    x, keys = 130, []
    for k, (a, b) in enumerate(zip(widths, widths[1:])):
        lines = [f"layer {k + 1}", f"{a} → {b}, tanh"] + (["then normalise"] if norm else [])
        c.box(f"h{k}", x, y, 118, 64, lines)
        keys.append(f"h{k}")
        x += 136
    c.box("proj", x, y, 132, 64, ["α · Π", f"fixed, {hidden[-1]} × {n(P)}"], "fixed")
    c.box("out", x + 150, y, 860 - x - 170, 64, ["F(θ)", f"{n(P)} outputs"], "data")
    for a, b in zip(["x", *keys, "proj"], [*keys, "proj", "out"]):
        c.arrow(a, b)
    return keys


def ch1() -> tuple[str, str, str]:
    import quinelib as q

    p = parameters(1)
    model = q.QuineMLP(in_features=p["in_features"], hidden=tuple(p["hidden"]), alpha=p["alpha"], seed=0)
    r, P = p["hidden"][-1], model.P
    desc = (f"The probe-input quine of chapter 1: a fixed probe input z of {p['in_features']} numbers passes through "
            f"{len(p['hidden'])} trainable tanh layers of widths {', '.join(map(str, p['hidden']))}; a fixed random "
            f"projection Pi, scaled by alpha, turns the last {r} activations into {n(P)} outputs, which must equal the "
            f"network's own {n(P)} weights and biases theta.")
    c = Canvas(860, 250, "Chapter 1: the probe-input quine", desc)
    keys = _mlp_row(c, p, 40, P, norm=False)
    ox, oy, ow, oh = c.boxes["out"]
    c.arrow("out", keys[0], via=[(ox + ow / 2, oy + oh), (ox + ow / 2, 150), (c.boxes[keys[0]][0] + 59, 150),
                                 (c.boxes[keys[0]][0] + 59, oy + oh + 2)], colour="#D55E00", dash="6 4")
    c.text(430, 170, f"a quine: F(θ) = θ, all {n(P)} weights and biases printed exactly", colour="#D55E00")
    c.legend(212)
    return "ch1_probe_quine.svg", desc, c.svg()


def ch2() -> tuple[str, str, str]:
    import quinelib as q

    p = parameters(2)
    model = q.QuineMLP(in_features=p["in_features"], hidden=tuple(p["hidden"]), alpha=p["alpha"], seed=0,
                       norm="instance")
    r, P = p["hidden"][-1], model.P
    desc = (f"Chapter 2's network: the probe-input quine of chapter 1 with a parameter-free normalisation after every "
            f"tanh layer: the layer's {r} activations have their mean mu subtracted and are divided by "
            f"sqrt(sigma^2 + epsilon), their standard deviation softened by epsilon, with no trainable scale or shift. The fixed projection then gives {n(P)} outputs, and the "
            f"quine solves F(theta) = theta; every quine is alpha u Pi for a u of only {r} numbers.")
    c = Canvas(860, 300, "Chapter 2: parameter-free normalisation", desc)
    keys = _mlp_row(c, p, 40, P, norm=True)
    c.box("norm", 130, 150, 420, 64, ["normalise (no parameters)", "h ↦ (h − μ) / √(σ² + ε), over the layer's units"],
          "fixed")
    hx, hy, hw, hh = c.boxes[keys[-1]]
    c.arrow(keys[-1], "norm", via=[(hx + hw / 2, hy + hh), (hx + hw / 2, 150)], colour="#777777", dash="3 3")
    c.text(575, 176, "θ = 0 is still a quine, but the", size=12.5, anchor="start")
    c.text(575, 194, "normalisation makes it repel", size=12.5, anchor="start")
    c.text(575, 240, f"every quine: θ = α u Π, u of {r} numbers", size=12.5, anchor="start", colour="#D55E00")
    c.legend(262)
    return "ch2_normalisation.svg", desc, c.svg()


def ch3() -> tuple[str, str, str]:
    from quinelib.index_quine import IndexQuine

    p = parameters(3)
    d, w = p["d"], p["width"]
    model = IndexQuine(d=d, hidden=(w, w), seed=0)
    P, act = model.P, model.activation_name.upper()
    desc = (f"Chang and Lipson's queryable-index quine (chapter 3): a weight index c, from 0 to {n(P - 1)}, selects "
            f"row c of a fixed random embedding E ({n(P)} by {d}); two trainable {act} layers of {w} units (no "
            f"biases) and one output unit give f(c), the network's guess for its own weight theta_c. Asked for every c, it "
            f"prints all {n(P)} weights.")
    c = Canvas(860, 250, "Chapter 3: the queryable-index quine", desc)
    c.box("i", 20, 40, 100, 64, ["index c", f"0 … {n(P - 1)}"], "data")
    c.box("E", 140, 40, 140, 64, ["row c of E", f"fixed, {n(P)} × {d}"], "fixed")
    c.box("h1", 300, 40, 130, 64, ["layer 1", f"{d} → {w}, {act}"])
    c.box("h2", 450, 40, 130, 64, ["layer 2", f"{w} → {w}, {act}"])
    c.box("o", 600, 40, 110, 64, ["output", f"{w} → 1"])
    c.box("t", 730, 40, 110, 64, ["f(c)", "one number"], "data")
    for a, b in zip("i E h1 h2 o".split(), "E h1 h2 o t".split()):
        c.arrow(a, b)
    c.text(430, 150, f"no biases; asked for every c, the network prints its own {n(P)} weights:", size=12.5)
    c.text(430, 172, "a quine when f(c) = θ_c for every index c", colour="#D55E00")
    c.legend(212)
    return "ch3_index_lookup.svg", desc, c.svg()


def ch4() -> tuple[str, str, str]:
    from quinelib.aux_quine import AuxQuine

    p = parameters(4)
    d, cu, iu, hid = p["d"], p["coord_units"], p["image_units"], p["hidden"]
    model = AuxQuine(d=d, coord_units=cu, image_units=iu, hidden=(hid,), seed=0)
    P, pixels = model.P, model.n_pixels
    desc = (f"The auxiliary quine of chapter 4 has a split first layer. A weight query, coordinate c, reads row c of a "
            f"fixed embedding E ({d} wide) through {cu} coordinate units; an image query, a digit of {pixels} "
            f"pixels, goes through {iu} image units. Both feed one shared hidden layer of {hid} units and one output "
            f"layer of 1 + 10 units: the predicted weight theta_c and ten class scores. The network must print all "
            f"{n(P)} of its weights, those of the image path included.")
    c = Canvas(860, 330, "Chapter 4: the auxiliary quine's split first layer", desc)
    c.box("c", 20, 30, 110, 64, ["coordinate c", f"0 … {n(P - 1)}"], "data")
    c.box("E", 150, 30, 130, 64, ["row c of E", f"fixed, {d} wide"], "fixed")
    c.box("ci", 300, 30, 140, 64, ["coord_in", f"{d} → {cu}"])
    c.box("x", 20, 150, 110, 64, ["digit image", f"{pixels} pixels"], "data")
    c.box("ii", 300, 150, 140, 64, ["image_in", f"{pixels} → {iu}"])
    c.box("s", 480, 90, 130, 64, ["shared layer", f"{cu + iu} → {hid}, half silent"])
    c.box("head", 640, 90, 90, 64, ["head", f"{hid} → 1 + 10"])
    c.box("w", 750, 30, 95, 64, ["f(c)", "the weight"], "data")
    c.box("y", 750, 150, 95, 64, ["10 logits", "the digit"], "data")
    c.arrow("c", "E")
    c.arrow("E", "ci")
    c.arrow("x", "ii")
    c.arrow("ci", "s", via=[(440, 62), (460, 62), (460, 112), (480, 112)])
    c.arrow("ii", "s", via=[(440, 182), (460, 182), (460, 132), (480, 132)])
    c.arrow("s", "head")
    c.arrow("head", "w", via=[(730, 112), (740, 112), (740, 62), (750, 62)])
    c.arrow("head", "y", via=[(730, 132), (740, 132), (740, 182), (750, 182)])
    c.text(430, 250, f"one weight vector θ of {n(P)} numbers answers both questions; a weight query leaves the image",
           size=12.5)
    c.text(430, 268, "units silent, an image query the coordinate units", size=12.5)
    c.legend(292)
    return "ch4_auxiliary_split.svg", desc, c.svg()


def ch5() -> tuple[str, str, str]:
    from quinelib import weightpred as wp

    p = parameters(5)
    spec = wp.MLPSpec(p["n_in"], p["n_hidden"], p["n_out"])
    U = spec.unknowns
    pool = wp.AttentionPool(p["n_in"] + p["n_out"], U, seeds=4, hidden=p["set_hidden"])  # as the chapter builds it
    seeds, width = pool.seeds.shape
    lo, hi = p["pairs_range"]
    desc = (f"Chapter 5's inverse weight predictors. A set of {lo} to {hi} input/output pairs (x, y) of an unknown "
            f"{p['n_in']}-{p['n_hidden']}-{p['n_out']} ReLU network is encoded pair by pair by one shared network phi "
            f"into {width} numbers each. Deep Sets averages the codes into one vector of {width} and decodes it with "
            f"psi into the {U} weights. Attention pooling lets {seeds} learned query vectors each attend over the "
            f"codes, flattens the {seeds} results into {seeds * width} numbers and decodes them into the {U} weights.")
    c = Canvas(860, 300, "Chapter 5: Deep Sets and attention pooling", desc)
    for row, y, name in ((0, 30, "Deep Sets"), (1, 150, "attention pooling")):
        c.box(f"p{row}", 20, y, 120, 64, ["pairs (x, y)", f"{lo} to {hi} of them"], "data")
        c.box(f"f{row}", 160, y, 120, 64, ["φ on each pair", f"{p['n_in'] + p['n_out']} → … → {width}"])
        if row == 0:
            c.box("pool0", 300, y, 170, 64, ["mean over pairs", f"{width} numbers"], "fixed")
            c.box("r0", 490, y, 170, 64, ["ψ", f"{width} → {U}"])
        else:
            c.box("pool1", 300, y, 170, 64, [f"{seeds} learned queries", f"attend: {seeds} × {width} = {seeds * width}"])
            c.box("r1", 490, y, 170, 64, ["ψ", f"{seeds * width} → {U}"])
        c.box(f"w{row}", 680, y, 160, 64, [f"{U} weights", name], "data")
        for a, b in ((f"p{row}", f"f{row}"), (f"f{row}", f"pool{row}"), (f"pool{row}", f"r{row}"),
                     (f"r{row}", f"w{row}")):
            c.arrow(a, b)
    c.text(430, 240, "both ignore the order of the pairs; only attention weighs each pair by its content", size=12.5)
    c.legend(262, ("trainable", "fixed", "data"))
    return "ch5_set_pooling.svg", desc, c.svg()


def ch6() -> tuple[str, str, str]:
    from quinelib import gallery

    p = parameters(6)
    labels = {"blog": "blog network", "blog-norm": "blog + normalisation", "coordinate": "coordinate query",
              "index": "index quine", "recurrent": "recurrent"}
    sizes = {}
    for name in p["architectures"]:
        model, inputs, _ = gallery.build(name, 0)
        sizes[name] = sum(t.numel() for t in model.parameters())
    desc = ("Chapter 6's one equation: each of five architectures (" +
            ", ".join(f"{labels[a]} with P = {n(sizes[a])}" for a in p["architectures"]) +
            ") is a map from its weights theta to its output F(theta). One call of solve_exact solves "
            "F(theta) = theta with Levenberg-Marquardt: straight on the reduced problem when the readout is fixed, "
            "otherwise after a warm start (L-BFGS, or alternating regeneration and RMSprop) with a dense Jacobian "
            "from jacfwd up to P = 3,000 and matrix-free beyond, LSQR on Jacobian-vector products. It returns an "
            "exact quine, and deflation sends the next call to a different one.")
    c = Canvas(860, 420, "Chapter 6: one solver for every architecture", desc)
    for k, name in enumerate(p["architectures"]):
        c.box(name, 20, 20 + 66 * k, 210, 52, [labels[name], f"P = {n(sizes[name])}"])
    c.box("F", 280, 150, 128, 64, ["θ ↦ F(θ)", "module or function"], "data")
    for name in p["architectures"]:
        x, y, w, h = c.boxes[name]
        c.arrow(name, "F", via=[(x + w, y + h / 2), (258, y + h / 2), (258, 182), (280, 182)])
    c.box("warm", 450, 40, 190, 58, ["warm start", "L-BFGS or alternating"], "solver")
    c.box("lm", 450, 130, 190, 100, ["Levenberg–Marquardt", "reduction: fixed readout", "dense: jacfwd, P ≤ 3,000",
                                    "else LSQR on jvp, vjp"], "solver")
    c.box("q", 690, 150, 150, 64, ["θ*", "F(θ*) = θ*, ρ ≤ 1e-12"], "data")
    c.arrow("F", "warm", via=[(408, 182), (428, 182), (428, 69), (450, 69)])
    c.arrow("warm", "lm")
    c.arrow("F", "lm", via=[(408, 205), (450, 205)])  # a fixed readout goes straight to the reduced problem
    c.arrow("lm", "q", via=[(640, 182), (690, 182)])
    qx, qy, qw, qh = c.boxes["q"]
    c.arrow("q", "warm", via=[(qx + qw / 2, qy), (qx + qw / 2, 20), (545, 20), (545, 40)], colour="#D55E00",
            dash="6 4")
    c.text(765, 236, "deflation: the next call", size=12, colour="#D55E00")
    c.text(765, 252, "finds a different quine", size=12, colour="#D55E00")
    c.text(545, 300, "solve_exact(F, θ0, inputs=…): one call, the path chosen from the model and P", size=12.5)
    c.legend(380, ("trainable", "solver", "data"))
    return "ch6_one_equation.svg", desc, c.svg()


DIAGRAMS = (ch1, ch2, ch3, ch4, ch5, ch6)


def diagrams() -> dict[str, tuple[str, str]]:
    """{file name: (alt text, SVG text)} for every chapter, in chapter order."""
    return {name: (alt, svg) for name, alt, svg in (make() for make in DIAGRAMS)}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    check = "--check" in argv
    stale = []
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (_, svg) in diagrams().items():
        path = OUT / name
        if check:
            if not path.is_file() or path.read_text() != svg:
                stale.append(name)
        else:
            path.write_text(svg)
    if stale:
        print(f"stale diagrams (run: python -m tools.diagrams): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
