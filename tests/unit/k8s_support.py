"""Kubernetes manifests checked offline: a small kustomize and the schemas to validate
what it renders.

`render(directory)` builds a kustomization the way `kubectl kustomize` (and so
`kubectl apply -k`, `--dry-run=client`) does, for the features Civic's manifests use:
`resources` (files, and directories with a kustomization of their own), `patches`
(strategic merge or JSON 6902, with or without a `target`), `namespace` and `images`,
applied in kustomize v5's order (api/internal/target/kusttarget_configplugin.go:
patches, then the namespace, then images, each directory's resources built first).
Anything else in a kustomization is refused (`KustomizeError`), so a manifest cannot
come to rely on a feature this renderer would silently skip.

`validate(document)` checks a rendered document against the Kubernetes API's schemas
(the kubernetes-validate package, strict: an unknown field is an error, as with
`kubectl apply --validate=strict`) or, for the operators' custom resources, against
their CRDs' schemas in `k8s_crd_schemas/` made strict the same way. What neither can
check: the CRDs' CEL rules (`x-kubernetes-validations`), which only the API server runs.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

CRD_SCHEMAS = Path(__file__).resolve().parent / "k8s_crd_schemas"
SUPPORTED_FIELDS = {"apiVersion", "kind", "namespace", "resources", "patches", "images"}
# Kinds without a namespace (kustomize's namespace transformer leaves them alone).
CLUSTER_SCOPED = {
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
}
# Lists a strategic merge patch merges item by item, by this key (the Kubernetes API's
# patchMergeKey); any other list in a patch replaces the whole list, as in SMP.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name"}
# Lists whose merge this renderer does not implement: refused in a patch.
UNSUPPORTED_MERGE_LISTS = {"ports", "volumeMounts", "imagePullSecrets", "tolerations"}


class KustomizeError(Exception):
    """The kustomization asks for something kustomize would refuse, or this renderer
    does not do."""


@dataclass
class Resource:
    doc: dict
    # (namespace, name) this resource had before a transformer changed it: kustomize
    # matches patches against the current id and every earlier one.
    previous: list[tuple[str | None, str]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.doc["kind"]

    @property
    def group(self) -> str:
        return group_of(self.doc["apiVersion"])

    @property
    def name(self) -> str:
        return self.doc["metadata"]["name"]

    @property
    def namespace(self) -> str | None:
        return self.doc["metadata"].get("namespace")

    def ids(self) -> list[tuple[str | None, str]]:
        return [(self.namespace, self.name), *self.previous]


def group_of(api_version: str) -> str:
    return api_version.split("/")[0] if "/" in api_version else ""


def effective_namespace(kind: str, namespace: str | None) -> str | None:
    if kind in CLUSTER_SCOPED:
        return None
    return namespace or "default"


# --- rendering ----------------------------------------------------------------------------


def render(directory: str | Path) -> list[dict]:
    """Every document `kubectl apply -k directory` would send, in resource order."""
    return [resource.doc for resource in _build(Path(directory).resolve())]


def load_kustomization(directory: Path) -> dict:
    path = directory / "kustomization.yaml"
    if not path.is_file():
        raise KustomizeError(f"no kustomization.yaml in {directory}")
    kustomization = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(kustomization) - SUPPORTED_FIELDS
    if unknown:
        raise KustomizeError(f"{path}: fields this renderer does not do: {sorted(unknown)}")
    return kustomization


def _build(directory: Path) -> list[Resource]:
    kustomization = load_kustomization(directory)
    resources: list[Resource] = []
    for entry in kustomization.get("resources") or []:
        path = (directory / entry).resolve()
        if path.is_dir():
            resources += _build(path)
        elif path.is_file():
            # kustomize's default load restrictor: a file must be inside the
            # kustomization's directory (another directory is a kustomization of its own).
            if directory not in path.parents:
                raise KustomizeError(f"{path} is outside {directory}")
            resources += [Resource(doc) for doc in _documents(path)]
        else:
            raise KustomizeError(f"{directory}: no such resource {entry!r}")
    seen = set()
    for resource in resources:
        key = (resource.group, resource.kind, resource.namespace, resource.name)
        if key in seen:
            raise KustomizeError(f"{directory}: {key} is there twice")
        seen.add(key)
    for patch in kustomization.get("patches") or []:
        _apply_patch(directory, patch, resources)
    if kustomization.get("namespace"):
        _set_namespace(resources, kustomization["namespace"])
    for image in kustomization.get("images") or []:
        _set_image(resources, image)
    return resources


def _documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _set_namespace(resources: list[Resource], namespace: str) -> None:
    for resource in resources:
        if resource.kind in CLUSTER_SCOPED or resource.namespace == namespace:
            continue
        resource.previous.append((resource.namespace, resource.name))
        resource.doc["metadata"]["namespace"] = namespace


# --- images -------------------------------------------------------------------------------


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest) of an image reference; a registry's port is no tag."""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    tag = None
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        image, tag = image.rsplit(":", 1)
    return image, tag, digest


def pod_specs(doc: dict) -> list[dict]:
    spec = doc.get("spec") or {}
    found = []
    if "containers" in spec:  # a Pod
        found.append(spec)
    template = (spec.get("template") or {}).get("spec")
    if template:
        found.append(template)
    job = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec")
    if job:
        found.append(job)
    return found


def containers_of(doc: dict) -> list[dict]:
    """Every container and init container of a document's pod template(s)."""
    return [
        container
        for spec in pod_specs(doc)
        for key in ("initContainers", "containers")
        for container in spec.get(key) or []
    ]


def _set_image(resources: list[Resource], image: dict) -> None:
    unknown = set(image) - {"name", "newName", "newTag", "digest"}
    if unknown:
        raise KustomizeError(f"images: fields this renderer does not do: {sorted(unknown)}")
    for resource in resources:
        for container in containers_of(resource.doc):
            name, tag, digest = split_image(container["image"])
            if name != image["name"]:
                continue
            name = image.get("newName", name)
            if "digest" in image:
                container["image"] = f"{name}@{image['digest']}"
                continue
            tag = image.get("newTag", tag)
            container["image"] = (
                name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
            )


# --- patches ------------------------------------------------------------------------------


def _apply_patch(directory: Path, entry: dict, resources: list[Resource]) -> None:
    unknown = set(entry) - {"path", "patch", "target"}
    if unknown or ("path" in entry) == ("patch" in entry):
        raise KustomizeError(f"{directory}: a patch needs one of path or patch: {entry}")
    text = (
        (directory / entry["path"]).read_text(encoding="utf-8")
        if "path" in entry
        else entry["patch"]
    )
    documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    target = entry.get("target")
    if len(documents) == 1 and isinstance(documents[0], list):  # JSON 6902
        if target is None:
            raise KustomizeError(f"{directory}: a JSON 6902 patch needs a target: {entry}")
        selected = select(resources, target)
        if not selected:
            raise KustomizeError(f"{directory}: patch target {target} matches nothing")
        for resource in selected:
            for operation in documents[0]:
                json6902(resource.doc, operation)
        return
    if target is not None:
        if len(documents) != 1:
            raise KustomizeError(f"{directory}: one strategic merge patch per target")
        selected = select(resources, target)
        if not selected:
            raise KustomizeError(f"{directory}: patch target {target} matches nothing")
        for resource in selected:
            strategic_merge(resource.doc, documents[0], keep_name=True)
        return
    for patch in documents:
        matches = [resource for resource in resources if _patch_matches(patch, resource)]
        if len(matches) != 1:
            raise KustomizeError(
                f"{directory}: {len(matches)} resources match the patch of "
                f"{patch['kind']} {patch['metadata']['name']} (kustomize needs exactly one)"
            )
        strategic_merge(matches[0].doc, patch)


def _patch_matches(patch: dict, resource: Resource) -> bool:
    """kustomize's GetById: group, kind, name and effective namespace equal to the
    resource's current id or an earlier one."""
    if (group_of(patch["apiVersion"]), patch["kind"]) != (resource.group, resource.kind):
        return False
    wanted = (
        effective_namespace(patch["kind"], patch["metadata"].get("namespace")),
        patch["metadata"]["name"],
    )
    return any(
        (effective_namespace(resource.kind, namespace), name) == wanted
        for namespace, name in resource.ids()
    )


def select(resources: list[Resource], target: dict) -> list[Resource]:
    """kustomize's Select: name and namespace are anchored regular expressions, matched
    against the original or the current value; labelSelector `k=v,k2=v2`."""
    unknown = set(target) - {"group", "version", "kind", "name", "namespace", "labelSelector"}
    if unknown:
        raise KustomizeError(f"target: fields this renderer does not do: {sorted(unknown)}")

    def matches(pattern: str | None, values) -> bool:
        return pattern is None or any(
            re.fullmatch(pattern, value or "") for value in values if value is not None
        )

    labels_wanted = {}
    for term in filter(None, (target.get("labelSelector") or "").split(",")):
        if not re.fullmatch(r"[\w./-]+==?[\w.-]*", term.strip()):
            raise KustomizeError(f"labelSelector: only k=v terms are done, got {term!r}")
        key, value = re.split(r"==?", term.strip(), maxsplit=1)
        labels_wanted[key] = value
    selected = []
    for resource in resources:
        api_version = resource.doc["apiVersion"]
        version = api_version.rsplit("/", 1)[-1]
        namespaces = [
            effective_namespace(resource.kind, namespace) for namespace, _ in resource.ids()
        ]
        if not (
            target.get("kind") in (None, resource.kind)
            and target.get("group") in (None, resource.group)
            and target.get("version") in (None, version)
            and matches(target.get("name"), [name for _, name in resource.ids()])
            and matches(target.get("namespace"), namespaces)
        ):
            continue
        labels = resource.doc["metadata"].get("labels") or {}
        if all(labels.get(key) == value for key, value in labels_wanted.items()):
            selected.append(resource)
    return selected


def strategic_merge(target: dict, patch: dict, keep_name: bool = False) -> None:
    """A strategic merge patch: maps merged, `null` deletes, the lists of MERGE_KEYS
    merged item by item, any other list replaced. With a `target`, kustomize applies
    the patch to every selected resource whatever name the patch carries."""
    patch = copy.deepcopy(patch)
    if keep_name:
        patch.get("metadata", {}).pop("name", None)
    _merge(target, patch)


def _merge(target: dict, patch: dict) -> None:
    for key, value in patch.items():
        if isinstance(key, str) and key.startswith("$"):
            raise KustomizeError(f"patch directives ({key}) are not done")
        if key in UNSUPPORTED_MERGE_LISTS:
            raise KustomizeError(f"merging the list {key!r} is not done")
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        elif isinstance(value, list) and key in MERGE_KEYS and isinstance(target.get(key), list):
            merge_key = MERGE_KEYS[key]
            existing = {item[merge_key]: item for item in target[key]}
            for item in value:
                if item[merge_key] in existing:
                    _merge(existing[item[merge_key]], item)
                else:
                    target[key].append(copy.deepcopy(item))
        else:
            target[key] = copy.deepcopy(value)


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise KustomizeError(f"not a JSON pointer: {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def json6902(doc: dict, operation: dict) -> None:
    """One RFC 6902 operation (add, remove, replace), as kustomize's patchjson6902."""
    op, parts = operation.get("op"), _pointer(operation.get("path", ""))
    if op not in ("add", "remove", "replace"):
        raise KustomizeError(f"JSON patch operation {op!r} is not done")
    parent = doc
    for part in parts[:-1]:
        try:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        except (KeyError, IndexError, ValueError):
            raise KustomizeError(f"{operation['path']}: no such path") from None
    last = parts[-1]
    value = copy.deepcopy(operation.get("value"))
    if isinstance(parent, list):
        if op == "add":
            index = len(parent) if last == "-" else int(last)
            if index > len(parent):
                raise KustomizeError(f"{operation['path']}: index out of range")
            parent.insert(index, value)
            return
        index = int(last)
        if index >= len(parent):
            raise KustomizeError(f"{operation['path']}: index out of range")
        if op == "remove":
            del parent[index]
        else:
            parent[index] = value
        return
    if op in ("remove", "replace") and last not in parent:
        raise KustomizeError(f"{operation['path']}: nothing to {op}")
    if op == "remove":
        del parent[last]
    else:
        parent[last] = value


# --- validation ---------------------------------------------------------------------------


def crd_schema_file(doc: dict) -> Path:
    group, version = doc["apiVersion"].split("/")
    return CRD_SCHEMAS / f"{group}_{version}_{doc['kind']}.json"


def is_custom_resource(doc: dict) -> bool:
    return crd_schema_file(doc).is_file() if "/" in doc["apiVersion"] else False


def validate(doc: dict, kubernetes_version: str) -> None:
    """Raises jsonschema.ValidationError (or kubernetes_validate's errors: no schema for
    the kind) when `doc` is not something the API server accepts as it is."""
    if is_custom_resource(doc):
        _validate_metadata(doc)
        _crd_validator(crd_schema_file(doc)).validate(doc)
    else:
        kubernetes_validate.validate(doc, kubernetes_version, strict=True)


def _validate_metadata(doc: dict) -> None:
    # A CRD's schema leaves metadata to the API server: its ObjectMeta rules here.
    metadata = doc.get("metadata") or {}
    name = metadata.get("name", "")
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) or len(name) > 63:
        raise jsonschema.ValidationError(f"metadata.name {name!r} is not a DNS label")
    for key in ("labels", "annotations"):
        values = metadata.get(key) or {}
        if not all(isinstance(value, str) for value in values.values()):
            raise jsonschema.ValidationError(f"metadata.{key} values must be strings")


@functools.cache
def _crd_validator(path: Path) -> jsonschema.protocols.Validator:
    schema = strict_schema(json.loads(path.read_text(encoding="utf-8")))
    return jsonschema.Draft4Validator(schema)


def strict_schema(node):
    """A CRD's structural OpenAPI schema as JSON Schema, strict: an object with declared
    `properties` takes no other field (the API server would drop it, and
    `kubectl apply --validate=strict` refuses it) unless it preserves unknown fields;
    `nullable` allows null."""
    result = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties"):  # names, each with a schema
            result[key] = {name: strict_schema(schema) for name, schema in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            result[key] = strict_schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            result[key] = [strict_schema(schema) for schema in value]
        else:  # a keyword's value (enum, default, required…): data, left as it is
            result[key] = value
    if (
        node.get("type") == "object"
        and "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        result["additionalProperties"] = False
    if node.get("nullable") and isinstance(node.get("type"), str):
        result["type"] = [node["type"], "null"]
    return result
