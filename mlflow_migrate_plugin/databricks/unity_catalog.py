"""What a Unity Catalog registry refuses: a model version without a full signature.

Every model version needs a signature with inputs and outputs. MLflow's UC store checks this
while the version is being created, with a message that names no version:
:func:`signature_refusal` names it. (Stages, which Unity Catalog does not have, are left out by
:class:`~mlflow_migrate_plugin.handlers.model_version.VersionWriter` with a warning.)
"""

from __future__ import annotations

from ..errors import MigrateError


class MissingSignatureError(MigrateError):
    """A model version bound for Unity Catalog has no (complete) signature."""


# How MLflow's Unity Catalog store words its refusal (client-side, while creating a version).
_MLFLOW_REFUSAL = "Model passed for registration"


def signature_refusal(
    exc: Exception, model_name: str, version: str | int
) -> MissingSignatureError | None:
    """The error to raise instead of MLflow's refusal of a version without a (full) signature,
    naming the version; None if ``exc`` is something else. MLflow's own message names no
    version, and an import creates many."""
    message = str(getattr(exc, "message", exc))
    if not (message.startswith(_MLFLOW_REFUSAL) and "signature" in message):
        return None
    return MissingSignatureError(
        f"model '{model_name}' version {version} has no signature with inputs and outputs, and "
        "Unity Catalog accepts only models logged with one; log the model again with a "
        "signature, or import it into a workspace registry"
    )
