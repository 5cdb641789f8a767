"""What a Unity Catalog registry accepts: signatures, and no stages.

- Every model version needs a signature with inputs and outputs. MLflow's UC store checks this
  when the version is being created, with a message that names no version:
  :func:`signature_refusal` names it; :func:`require_signature` checks an exported MLmodel
  before anything is created.
- Stages do not exist in Unity Catalog (aliases replace them): a version's stage is not set,
  and a warning says which one was left out.

The registry handlers call these; they hold no client.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ..errors import MigrateError
from ..report import Report
from .tags import warn_once

# Stages that carry meaning; "None" is the absence of a stage.
_NO_STAGE = (None, "", "None")


class MissingSignatureError(MigrateError):
    """A model version bound for Unity Catalog has no (complete) signature."""


def require_signature(mlmodel_file: str | Path, model_name: str, version: str | int) -> None:
    """Raise :class:`MissingSignatureError` unless the MLmodel has input and output signatures.

    The same rule as MLflow's Unity Catalog store, read from the YAML (no numpy needed).
    """
    path = Path(mlmodel_file)
    where = f"model '{model_name}' version {version}"
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise MissingSignatureError(
            f"{where}: no MLmodel file at {path}; Unity Catalog needs the model's signature"
        ) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise MissingSignatureError(f"{where}: cannot read {path} ({exc})") from None
    signature = document.get("signature") if isinstance(document, dict) else None
    if not signature:
        raise MissingSignatureError(
            f"{where} has no signature, and Unity Catalog accepts only models logged with one "
            "(inputs and outputs); log the model again with a signature, or import it into a "
            "workspace registry"
        )
    if not signature.get("outputs"):
        raise MissingSignatureError(
            f"{where} has a signature without outputs, and Unity Catalog needs both inputs and "
            "outputs; log the model again with a full signature"
        )


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


def skip_stage(stage: str | None, model_name: str, version: str | int, report: Report) -> bool:
    """True if ``stage`` must not be set because the registry is Unity Catalog (warns once per
    version); use aliases there instead."""
    if stage in _NO_STAGE:
        return False
    warn_once(
        report,
        f"model '{model_name}' version {version}: stage '{stage}' not set; Unity "
        "Catalog has no stages; use aliases there",
    )
    return True
