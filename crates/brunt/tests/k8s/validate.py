#!/usr/bin/env python3
"""Validates `brunt k8s manifests` output offline, without a cluster or network.

Kubernetes' own kinds (ConfigMap, Secret, Service, Job) are checked against the OpenAPI schemas
that the kubernetes-validate package bundles, strictly (an unknown field fails, as with
`kubectl apply --validate=strict`). k6-operator's TestRun is checked with jsonschema against the
openAPIV3Schema of its CRD (vendored beside this file), made strict the same way: the API server
would drop an unknown field silently, which would lose a setting.

usage: validate.py MANIFESTS.yaml --kubernetes-version 1.30.0 --testrun-schema SCHEMA.yaml
Prints one line per document; exits 1 when one does not validate, 3 when a package is missing.
"""

import argparse
import sys

try:
    import jsonschema
    import kubernetes_validate
    import yaml
except ImportError as e:  # the Rust test skips itself on exit 3
    print(f"missing Python package: {e.name}", file=sys.stderr)
    sys.exit(3)


def strict(schema):
    """Rejects properties a structural schema does not declare (the API server prunes them)."""
    if isinstance(schema, dict):
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        for value in schema.values():
            strict(value)
    elif isinstance(schema, list):
        for value in schema:
            strict(value)
    return schema


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("manifests")
    parser.add_argument("--kubernetes-version", required=True)
    parser.add_argument("--testrun-schema", required=True)
    args = parser.parse_args()
    with open(args.testrun_schema) as f:
        testrun = jsonschema.Draft7Validator(strict(yaml.safe_load(f)))
    with open(args.manifests) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    failed = 0
    for doc in docs:
        what = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        if doc.get("apiVersion") == "k6.io/v1alpha1" and doc.get("kind") == "TestRun":
            errors = [
                f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                for e in testrun.iter_errors(doc)
            ]
        else:
            try:
                kubernetes_validate.validate(doc, args.kubernetes_version, strict=True)
                errors = []
            except kubernetes_validate.ValidationError as e:
                errors = [f"{'.'.join(map(str, e.path)) or '(root)'}: {e.message}"]
            except kubernetes_validate.SchemaNotFoundError as e:
                errors = [str(e)]
        for e in errors:
            print(f"INVALID {what}: {e}")
        if not errors:
            print(f"OK {what}")
        failed += bool(errors)
    sys.exit(1 if failed or not docs else 0)


if __name__ == "__main__":
    main()
