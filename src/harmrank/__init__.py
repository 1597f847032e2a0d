"""harmrank: monthly highest-harm and highest-frequency VAWG offender lists.

Decision support for human review; not a finding of guilt.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("harmrank")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"

NOTICE = "Decision support for human review; not a finding of guilt."

__all__ = ["NOTICE", "__version__"]
