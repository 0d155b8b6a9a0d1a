"""quinelib: the helper package of *Neural Network Quines, an interactive book*.

One module per idea, in the order the book needs them:

- ``checks``   clear errors for bad inputs
- ``budgets``  the chapters' compute budgets in reference units, and the reference workload
- ``params``   parameters <-> one flat vector theta; F(theta) for any nn.Module (``functional``, ``as_function``)
- ``record``   run plumbing: the result records, progress bars, the optimiser factory, the one L-BFGS loop
- ``models``   quine networks (chapter 1: the seed's tanh MLP; chapter 2: with normalisation)
- ``norm``     parameter-free normalisation and its closed-form Jacobian (chapter 2)
- ``solvers``  Newton, regeneration, the training loops, Levenberg-Marquardt (single and batched),
               all returning a SolveResult
- ``existence`` do non-zero quines exist? a census over alpha and a contraction bound (chapter 1)
- ``exact``    exact quines of any network in one call: readout reduction, dense or matrix-free
               Levenberg-Marquardt, deflation, the census of distinct quines, stability
- ``homotopy`` the fixed-point homotopy: a bounded path from a start to a fixed point of F, by arclength (chapter 6)
- ``io``       save a quine with its probe and architecture; load it back exactly
- ``index_quine``  Chang & Lipson's queryable-index quine, the paper's training and L-BFGS (chapter 3)
- ``metrics``  L_SR, the relative error L_SR / sum theta^2, R^2, weight RMS
- ``aux_quine``  the auxiliary quine: replicate yourself and classify digits; L-BFGS and paper-style (chapter 4)
- ``data``     digits with no download (scikit-learn's), and a real MNIST IDX reader (chapter 4)
- ``weightpred``  networks that read other networks: random MLPs, forward and inverse predictors (chapter 5)
- ``zoo``      a zoo of networks trained from different initialisations on one task, in one batched run (chapter 5)
- ``arccos``   closed forms for bias-free ReLU networks under Gaussian inputs: the exact functional loss (chapter 5)
- ``plots``    the book's plotly renderer, colour-blind-safe palette, figures
- ``widgets``  live ipywidgets explorers with a static stand-in for the book
- ``notebook``  the chapters' small helpers: switches, timing, the bench tables, ``show_source``

The book's own tooling (student copies, the Colab cells, the diagrams) lives in ``tools/``, outside this package.
"""

from . import arccos, budgets, exercise, existence, gallery, metrics, plots, record, weightpred, widgets, zoo  # noqa: F401  (plots sets up the renderer and palette once)
from .aux_quine import AuxQuine
from .checks import QuineInputError
from .exact import (
    QuineCensus,
    damped_step_dense,
    damped_step_matrix_free,
    find_quines,
    readout_reduction,
    solve_exact,
    stability,
)
from .homotopy import fixed_point_homotopy
from .index_quine import IndexQuine
from .io import QuineFileError, load_quine, save_quine
from .models import CoordinateQuine, QuineMLP, RecurrentQuine, probe_input
from .norm import ParamFreeNorm, norm_jacobian, normalise
from .params import as_function, assign_, flatten, functional, layout, num_params, unflatten
from .solvers import (
                      SolveResult,
                      jacobian,
                      levenberg_marquardt,
                      make_optimiser,
                      newton,
                      nontrivial_floor,
                      regenerate,
                      spectrum,
                      train,
)

__version__ = "0.1.0"

__all__ = [
    "QuineInputError", "QuineMLP", "CoordinateQuine", "RecurrentQuine", "probe_input", "as_function", "functional", "assign_", "flatten", "layout",
    "num_params", "unflatten", "SolveResult", "jacobian", "newton", "regenerate", "spectrum", "train",
    "levenberg_marquardt", "readout_reduction", "solve_exact", "ParamFreeNorm", "norm_jacobian", "normalise",
    "QuineFileError", "save_quine", "load_quine", "IndexQuine", "AuxQuine", "metrics", "make_optimiser", "nontrivial_floor",
    "QuineCensus", "find_quines", "stability", "damped_step_dense", "damped_step_matrix_free",
    "fixed_point_homotopy",
]
