//! `brunt k8s manifests`: the YAML validates offline against Kubernetes' OpenAPI schemas
//! (kubernetes-validate, strict) and k6-operator's TestRun CRD (vendored at v1.6.0), its
//! ConfigMap carries an archive that runs without the original files, k6-operator's initializer
//! commands take that archive with brunt as `k6`, and bad input fails with a clear message.

mod common;

use base64::Engine as _;
use common::{brunt, brunt_cmd, stderr};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Kubernetes' version the manifests are checked against (Indexed Jobs are GA since 1.24).
const KUBERNETES_VERSION: &str = "1.30.0";

/// A script with a local module and an opened file, which must all travel in the archive.
fn write_test(dir: &Path) -> PathBuf {
    common::write_archivable_test(dir, "Checkout_Flow.js")
}

/// `brunt k8s manifests` with `args`, without a token from the environment.
fn manifests(args: &[&str]) -> std::process::Output {
    brunt_cmd()
        .args(["k8s", "manifests"])
        .args(args)
        .env_remove("BRUNT_COORDINATOR_TOKEN")
        .output()
        .unwrap()
}

fn documents(yaml: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(yaml).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| <Value as serde::Deserialize>::deserialize(d).unwrap())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} in {docs:?}"))
}

/// The archive in the test's ConfigMap, written to `to`.
fn archive_from(docs: &[Value], configmap: &str, to: &Path) {
    let b64 = find(docs, "ConfigMap", configmap)["binaryData"]["archive.tar"]
        .as_str()
        .unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    std::fs::write(to, bytes).unwrap();
}

/// Runs tests/k8s/validate.py on `yaml`; false when its Python packages are missing (the CI
/// installs them: kubernetes-validate brings jsonschema and PyYAML).
fn validate(yaml: &Path) -> bool {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/k8s");
    let out = Command::new("python3")
        .arg(here.join("validate.py"))
        .arg(yaml)
        .args([
            "--kubernetes-version",
            KUBERNETES_VERSION,
            "--testrun-schema",
        ])
        .arg(here.join("k6-operator-v1.6.0-testrun-schema.yaml"))
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    if out.status.code() == Some(3) {
        eprintln!("schema check skipped: {text}");
        return false;
    }
    assert!(
        out.status.success(),
        "the manifests do not validate:\n{text}"
    );
    true
}

#[test]
fn plain_manifests_validate_and_their_archive_runs_without_the_original_files() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let script = write_test(&src);
    let yaml = dir.path().join("test.yaml");
    let out = manifests(&[
        script.to_str().unwrap(),
        "--instances",
        "3",
        "--namespace",
        "load",
        "--image",
        "registry.example.com/brunt:0.1",
        "-o",
        yaml.to_str().unwrap(),
        "--",
        "--iterations",
        "6",
        "-e",
        "WHO=archived",
        "--summary-export",
        "/tmp/summary.json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let docs = documents(&yaml);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ConfigMap", "Secret", "Service", "Job", "Job"]);
    assert!(docs.iter().all(|d| d["metadata"]["namespace"] == "load"));

    // The coordinator runs the archive with the run flags as given; the agents find it by its
    // Service, with the Secret's token.
    let coordinator = &find(&docs, "Job", "checkout-flow-coordinator")["spec"]["template"]["spec"];
    let container = &coordinator["containers"][0];
    assert_eq!(container["image"], "registry.example.com/brunt:0.1");
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        args,
        [
            "coordinator",
            "--instances",
            "3",
            "--listen",
            "0.0.0.0:6566",
            "/archive/archive.tar",
            "--iterations",
            "6",
            "-e",
            "WHO=archived",
            "--summary-export",
            "/tmp/summary.json"
        ]
    );
    assert_eq!(
        coordinator["volumes"][0]["configMap"]["name"],
        "checkout-flow-archive"
    );
    let service = find(&docs, "Service", "checkout-flow-coordinator");
    assert_eq!(service["spec"]["ports"][0]["port"], 6566);
    let agents = &find(&docs, "Job", "checkout-flow-agent")["spec"];
    assert_eq!(agents["completionMode"], "Indexed");
    assert_eq!(agents["completions"], 3);
    let agent = &agents["template"]["spec"]["containers"][0];
    assert_eq!(agent["args"][2], "http://checkout-flow-coordinator:6566");
    assert_eq!(agent["args"][4], "$(JOB_COMPLETION_INDEX)");
    let token = find(&docs, "Secret", "checkout-flow-token")["stringData"]["token"]
        .as_str()
        .unwrap();
    assert_eq!(token.len(), 64, "a random token when none is given");
    for c in [container, agent] {
        assert!(
            c["env"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["name"] == "BRUNT_COORDINATOR_TOKEN"
                    && e["valueFrom"]["secretKeyRef"]["name"] == "checkout-flow-token"),
            "{c}"
        );
    }

    // The archive runs with its options and -e values after the sources are gone.
    let tar = dir.path().join("archive.tar");
    archive_from(&docs, "checkout-flow-archive", &tar);
    std::fs::remove_dir_all(&src).unwrap();
    let export = dir.path().join("summary.json");
    let out = brunt(&[
        "run",
        "-q",
        "--address",
        "",
        "--summary-export",
        export.to_str().unwrap(),
        tar.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    assert_eq!(s["metrics"]["iterations"]["count"], 6.0, "{s}");
    assert_eq!(s["metrics"]["lines"]["count"], 18.0, "{s}");

    validate(&yaml);
}

#[test]
fn an_operator_testrun_validates_against_the_crd_and_its_initializer_takes_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_test(&dir.path().join("src"));
    let yaml = dir.path().join("testrun.yaml");
    let out = manifests(&[
        script.to_str().unwrap(),
        "--operator",
        "--instances",
        "4",
        "--name",
        "checkout",
        "--image",
        "registry.example.com/brunt:0.1",
        "-o",
        yaml.to_str().unwrap(),
        "--",
        "--vus",
        "2",
        "--iterations",
        "8",
        "-e",
        "WHO=archived",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let docs = documents(&yaml);
    let run = find(&docs, "TestRun", "checkout");
    assert_eq!(run["apiVersion"], "k6.io/v1alpha1");
    let spec = &run["spec"];
    assert_eq!(spec["parallelism"], 4);
    assert_eq!(spec["runner"]["image"], "registry.example.com/brunt:0.1");
    assert_eq!(spec["arguments"], "--vus 2 --iterations 8 -e WHO=archived");
    assert_eq!(spec["script"]["configMap"]["name"], "checkout-archive");
    assert_eq!(spec["script"]["configMap"]["file"], "archive.tar");
    validate(&yaml);

    // k6-operator's initializer, with brunt as `k6`: archive the mounted archive again, then
    // inspect it; its JSON gives the operator the VUs and duration.
    let mounted = dir.path().join("test");
    std::fs::create_dir_all(&mounted).unwrap();
    let tar = mounted.join("archive.tar");
    archive_from(&docs, "checkout-archive", &tar);
    let k6 = dir.path().join("k6");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_brunt"), &k6).unwrap();
    let again = dir.path().join("archive.tar.archived.tar");
    let out = Command::new(&k6)
        .arg("archive")
        .arg(&tar)
        .arg("-O")
        .arg(&again)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = Command::new(&k6)
        .args(["inspect", "--execution-requirements"])
        .arg(&again)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let inspected: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&inspected["maxVUs"], &inspected["iterations"]),
        (&Value::from(2), &Value::from(8)),
        "{inspected}"
    );
    // A runner's run of the archive archived again, with the archived -e value.
    std::fs::remove_dir_all(dir.path().join("src")).unwrap();
    let out = Command::new(&k6)
        .args(["run", "--quiet", "--address", ""])
        .arg(&again)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn bad_input_is_refused_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_test(dir.path());
    let s = script.to_str().unwrap();
    let yaml = dir.path().join("out.yaml");
    let y = yaml.to_str().unwrap();
    for (args, needle) in [
        (
            vec![s, "--instances", "0", "-o", y],
            "--instances 0: a test needs at least one instance",
        ),
        (
            vec!["missing.js", "--instances", "2", "-o", y],
            "missing.js: no such file",
        ),
        (
            vec![s, "--instances", "2", "--name", "Checkout", "-o", y],
            "--name 'Checkout': not a DNS-1123 label: 'C'",
        ),
        (
            vec![s, "--instances", "2", "--name", "a_b", "-o", y],
            "not a DNS-1123 label: '_'",
        ),
        (
            vec![s, "--instances", "2", "--namespace", "Load", "-o", y],
            "--namespace 'Load': not a DNS-1123 label",
        ),
        (
            vec![s, "--instances", "2", "-o", y, "--", "--vus", "many"],
            "the run flags after `--`",
        ),
    ] {
        let out = manifests(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: stderr lacks '{needle}':\n{err}"
        );
        assert!(!yaml.exists(), "{args:?} wrote the manifests");
    }
}

#[test]
fn a_given_token_goes_into_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_test(dir.path());
    let yaml = dir.path().join("out.yaml");
    let out = manifests(&[
        script.to_str().unwrap(),
        "--instances",
        "2",
        "--token",
        "s3cret",
        "-o",
        yaml.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let docs = documents(&yaml);
    assert_eq!(
        find(&docs, "Secret", "checkout-flow-token")["stringData"]["token"],
        "s3cret"
    );
    assert!(find(&docs, "Secret", "checkout-flow-token")["metadata"]
        .get("namespace")
        .is_none());
}
