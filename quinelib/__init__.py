"""quinelib: the helper package of *Neural Network Quines, an interactive book*.

One module per idea, in the order the book needs them:

- ``checks``   clear errors for bad inputs
- ``params``   parameters <-> one flat vector theta; F(theta) for any nn.Module
- ``models``   quine networks (chapter 1: the seed's tanh MLP)
- ``solvers``  Newton's method and regeneration, returning a SolveResult
- ``plots``    the book's plotly renderer, colour-blind-safe palette, figures
- ``widgets``  live ipywidgets explorers with a static stand-in for the book
"""

from . import plots, widgets  # noqa: F401  (plots sets up the renderer and palette once)
from .checks import QuineInputError
from .models import QuineMLP, probe_input
from .params import as_function, assign_, flatten, layout, num_params, unflatten
from .solvers import SolveResult, jacobian, newton, regenerate, spectrum

__version__ = "0.1.0"

__all__ = [
    "QuineInputError", "QuineMLP", "probe_input", "as_function", "assign_", "flatten", "layout",
    "num_params", "unflatten", "SolveResult", "jacobian", "newton", "regenerate", "spectrum",
]
