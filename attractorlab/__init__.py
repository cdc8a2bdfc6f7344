"""attractorlab: biologically plausible learning models and their analysis.

Subpackages
-----------
* ``attractorlab.data``: sha256-checked dataset registry and loaders
* ``attractorlab.results``: atomic netCDF results with provenance
* ``attractorlab.threads``: torch thread settings scoped to a block
* ``attractorlab.experiments``: registered experiments (one module per paper experiment),
  figure makers, demo steps; the only code that imports both models and analysis
* ``attractorlab.models``: spiking dictionary learning (Brian2) and CBAN (PyTorch)
* ``attractorlab.analysis``: receptive fields, attractor states, spike statistics, figures

``AttractorlabWarning`` is the base of every warning the package raises (for example
``SpikingInputWarning``); ``warnings.simplefilter("error", attractorlab.AttractorlabWarning)``
turns them into errors, as the test suite does.
"""

from attractorlab._warnings import AttractorlabWarning

__version__ = "0.1.0"
__all__ = ["__version__", "AttractorlabWarning"]
