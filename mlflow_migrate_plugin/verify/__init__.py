"""Proof, after a migration, that the destination holds what the source held.

Pairs each source object with its destination counterpart through the source identity the
import recorded (:mod:`.pairing`), reads both as plain views (:mod:`.views`, artifacts as sizes
and sha256 by :mod:`.artifacts`), maps the destination's ids back to the source's and compares
field by field (:mod:`.diff`) by the import's own rules (:mod:`.runs`, :mod:`.experiments`,
:mod:`.models`). The result is a :class:`~.findings.Verification`.
"""

from .findings import Finding, ObjectResult, Verification

__all__ = ["Finding", "ObjectResult", "Verification"]
