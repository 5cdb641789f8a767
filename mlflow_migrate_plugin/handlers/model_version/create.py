"""Model version creates that keep their number when the network loses the answer.

MLflow numbers a new version max+1 over every number the model ever used, deleted versions
included. When MLflow's client retries a create whose first try the server had committed, the
retry makes a second version with the next number; deleting it burns that number for good, and
every later version would shift by one. So the tool sends this one POST itself, through MLflow's
HTTP helper with MLflow's retries off, and retries it only after asking the server whether the
lost try committed: every version the tool creates carries its source identity
(:data:`idmap.SOURCE_MODEL_VERSION`, or for a placeholder a token in :data:`idmap.ATTEMPT`), and
the live version with it is the one the lost answer would have named.

A store this process opens itself cannot lose an answer. A Databricks registry goes through
the Databricks SDK, which retries on its own: there the create is MLflow's, unchanged. Should a
search by token ever find two versions (a proxy that retries), the lower, expected number is
kept and the later one deleted; that number stays burned (MLflow never hands it out again), and
the next version's shift is reported by the version writer's warning.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from mlflow.exceptions import MlflowException, RestException
from mlflow.prompt.constants import IS_PROMPT_TAG_KEY

from ... import capabilities, idmap
from ...endpoint import Endpoint

_log = logging.getLogger(__name__)

CREATE_PATH = "/api/2.0/mlflow/model-versions/create"
TRIES = 4
BACKOFF = 1.0  # seconds, doubled at each try, plus up to as much again of jitter


def create(
    dst: Endpoint,
    name: str,
    source: str,
    run_id: str | None,
    tags: dict[str, str],
    description: str | None,
    model_id: str | None,
    identity_key: str = idmap.SOURCE_MODEL_VERSION,
):
    """Create one version of ``name``; a lost answer never makes a second one.

    ``identity_key`` is the tag that tells this version apart (a prompt version's is
    :data:`idmap.SOURCE_PROMPT_VERSION`); without it a token of this call is used."""
    key = identity_key
    if key not in tags:
        key, tags = idmap.ATTEMPT, {**tags, idmap.ATTEMPT: idmap.new_attempt()}
    identity = (key, tags[key])
    if not capabilities.is_http(dst.registry_uri):
        return dst.client.create_model_version(
            name, source, run_id, tags=tags, description=description, model_id=model_id,
            await_creation_for=0,
        )  # fmt: skip
    body = _request(name, source, run_id, tags, description, model_id)
    for attempt in range(TRIES):
        try:
            return _post_once(dst, body)
        except RestException:
            raise  # the server answered: a refusal, not a lost answer
        except MlflowException:
            found = _keep_first(dst, name, identity, IS_PROMPT_TAG_KEY in tags)
            if found is not None:
                _log.info("version %s of %s: its create committed, the answer was lost",
                          found.version, name)  # fmt: skip
                return found
            if attempt == TRIES - 1:
                raise
            delay = BACKOFF * 2**attempt
            time.sleep(delay + random.uniform(0, delay))
    raise AssertionError("unreachable")  # pragma: no cover


def _request(name, source, run_id, tags, description, model_id) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "source": source,
        "tags": [{"key": k, "value": v} for k, v in tags.items()],
    }
    for key, value in (("run_id", run_id), ("description", description), ("model_id", model_id)):
        if value:
            body[key] = value
    return body


def _post_once(dst: Endpoint, body: dict):
    """POST the create through MLflow's HTTP helper, with the credentials MLflow would use,
    and no retry: a failure is for :func:`create` to look into."""
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.protos.model_registry_pb2 import CreateModelVersion
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.proto_json_utils import parse_dict
    from mlflow.utils.rest_utils import http_request, verify_rest_response

    response = http_request(
        get_default_host_creds(dst.registry_uri), CREATE_PATH, "POST", max_retries=0, json=body
    )
    response = verify_rest_response(response, CREATE_PATH)
    proto = CreateModelVersion.Response()
    parse_dict(js_dict=response.json(), message=proto)
    return ModelVersion.from_proto(proto.model_version)


def _keep_first(dst: Endpoint, name: str, identity: tuple[str, str], prompt: bool = False):
    """The live version of ``name`` whose tag ``identity[0]`` is ``identity[1]``, None if there
    is none; if a retry made more than one, the later ones are deleted."""
    client = dst.client
    key, value = identity
    clause = f"{idmap.equals('name', name)} and {idmap.equals(f'tags.`{key}`', value)}"
    if prompt:  # MLflow's search leaves prompt versions out unless it is asked for them
        clause += f" and tags.`{IS_PROMPT_TAG_KEY}` = 'true'"
    found = client.search_model_versions(clause)
    found = sorted(
        (v for v in found if v.name == name and (v.tags or {}).get(key) == value),
        key=lambda v: int(v.version),
    )
    for extra in found[1:]:
        _log.info("deleting version %s of %s, a copy made by a retried create", extra.version, name)
        client.delete_model_version(name, extra.version)
    return found[0] if found else None
