//! The resources themselves, as JSON values in Kubernetes' API shapes (core/v1 ConfigMap,
//! Secret, Service; batch/v1 Job; k6-operator's k6.io/v1alpha1 TestRun), and their YAML.

use anyhow::{anyhow, Context as _};
use base64::Engine as _;
use rand::Rng as _;
use serde_json::{json, Map, Value};
use std::fmt::Write as _;
use std::path::Path;

/// The coordinator's port (k6's REST API has 6565; the coordinator the next one).
pub const COORDINATOR_PORT: u16 = 6566;
/// Where the archive's ConfigMap is mounted in the coordinator's pod.
const ARCHIVE_DIR: &str = "/archive";
/// The archive's key in its ConfigMap, so its file name in the mounted directory.
const ARCHIVE_FILE: &str = "archive.tar";
/// The token's key in its Secret.
const TOKEN_KEY: &str = "token";
/// The longest suffix a name gets (`-coordinator`): a Service's name, like a label value, has
/// at most 63 characters.
const LONGEST_SUFFIX: &str = "-coordinator";

/// What the resources describe.
pub struct Test {
    pub name: String,
    pub namespace: Option<String>,
    pub image: String,
    pub instances: u32,
    /// The archive, as `brunt archive` writes it.
    pub archive: Vec<u8>,
    /// `brunt run` flags, passed on as given.
    pub run_flags: Vec<String>,
}

impl Test {
    /// `metadata` of the resource called `name`, with the test's namespace and labels.
    fn metadata(&self, name: &str, component: &str) -> Value {
        let mut m = json!({"name": name, "labels": self.labels(component)});
        if let Some(ns) = &self.namespace {
            m["namespace"] = ns.clone().into();
        }
        m
    }

    /// The recommended `app.kubernetes.io` labels; `kubectl get all -l
    /// app.kubernetes.io/instance=NAME` lists the test's resources.
    fn labels(&self, component: &str) -> Value {
        json!({
            "app.kubernetes.io/name": "brunt",
            "app.kubernetes.io/instance": self.name,
            "app.kubernetes.io/component": component,
        })
    }

    fn archive_configmap(&self, name: &str) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": self.metadata(name, "archive"),
            "binaryData": {
                ARCHIVE_FILE: base64::engine::general_purpose::STANDARD.encode(&self.archive),
            },
        })
    }
}

/// A random token: 32 bytes from the thread's CSPRNG, in hex.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().fold(String::with_capacity(64), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// A DNS-1123 label: at most 63 of `a-z`, `0-9` and `-`, starting and ending alphanumeric.
pub fn check_label(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 63 {
        return Err(format!(
            "not a DNS-1123 label: it must have 1 to 63 characters, not {}",
            s.len()
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "not a DNS-1123 label: '{c}' is not one of a-z, 0-9 and '-'"
        ));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("not a DNS-1123 label: it must start and end with a letter or digit".into());
    }
    Ok(())
}

/// A name for the test's resources: a DNS-1123 label that starts with a letter (it names a
/// Service) and leaves room for the longest suffix.
pub fn check_name(s: &str) -> Result<(), String> {
    check_label(s)?;
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("it must start with a letter (it names the coordinator's Service)".into());
    }
    let max = 63 - LONGEST_SUFFIX.len();
    if s.len() > max {
        return Err(format!(
            "it has {} characters; at most {max}, so that '{s}{LONGEST_SUFFIX}' is a valid name",
            s.len()
        ));
    }
    Ok(())
}

/// The name a script gives when `--name` is not: its file stem, lowercased, other characters as
/// `-` (`Checkout_Flow.js` gives `checkout-flow`).
pub fn name_from(script: &Path) -> anyhow::Result<String> {
    let stem = script
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let mut name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    name = name.trim_matches('-').to_string();
    name.truncate(63 - LONGEST_SUFFIX.len());
    let name = name.trim_end_matches('-').to_string();
    check_name(&name).map_err(|e| {
        anyhow!(
            "{}: no resource name can be made from the file name ({e}); give one with --name",
            script.display()
        )
    })?;
    Ok(name)
}

/// The resources of a coordinated run on a plain cluster: the archive's ConfigMap, the token's
/// Secret, the coordinator's Service and Job, and the agents' Indexed Job.
pub fn plain(t: &Test, token: &str) -> Vec<Value> {
    let archive = format!("{}-archive", t.name);
    let secret = format!("{}-token", t.name);
    let coordinator = format!("{}-coordinator", t.name);
    let token_env = json!({
        "name": "BRUNT_COORDINATOR_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": secret, "key": TOKEN_KEY}},
    });
    let mut coordinator_args: Vec<String> = vec![
        "coordinator".into(),
        "--instances".into(),
        t.instances.to_string(),
        "--listen".into(),
        format!("0.0.0.0:{COORDINATOR_PORT}"),
        format!("{ARCHIVE_DIR}/{ARCHIVE_FILE}"),
    ];
    coordinator_args.extend(t.run_flags.iter().cloned());
    let coordinator_job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": t.metadata(&coordinator, "coordinator"),
        "spec": {
            // A failed coordinator is the test's verdict, not something to retry.
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": t.labels("coordinator")},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "coordinator",
                        "image": t.image,
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["brunt"],
                        "args": coordinator_args,
                        "env": [token_env],
                        "ports": [{"name": "coordinator", "containerPort": COORDINATOR_PORT, "protocol": "TCP"}],
                        "readinessProbe": {
                            "httpGet": {"path": "/v1/coordinator/health", "port": COORDINATOR_PORT},
                            "periodSeconds": 2,
                        },
                        "volumeMounts": [{"name": "archive", "mountPath": ARCHIVE_DIR, "readOnly": true}],
                    }],
                    "volumes": [{"name": "archive", "configMap": {"name": archive}}],
                },
            },
        },
    });
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": t.metadata(&coordinator, "coordinator"),
        "spec": {
            "selector": t.labels("coordinator"),
            "ports": [{"name": "coordinator", "port": COORDINATOR_PORT, "targetPort": COORDINATOR_PORT, "protocol": "TCP"}],
        },
    });
    let agents = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": t.metadata(&format!("{}-agent", t.name), "agent"),
        "spec": {
            "completionMode": "Indexed",
            "completions": t.instances,
            "parallelism": t.instances,
            // A lost instance is the coordinator's to judge (--on-instance-loss), not retried.
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": t.labels("agent")},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "agent",
                        "image": t.image,
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["brunt"],
                        "args": [
                            "agent",
                            "--coordinator", format!("http://{coordinator}:{COORDINATOR_PORT}"),
                            "--instance-index", "$(JOB_COMPLETION_INDEX)",
                        ],
                        "env": [
                            // Set by the Job controller too; stated so `$(...)` above expands.
                            {
                                "name": "JOB_COMPLETION_INDEX",
                                "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}},
                            },
                            token_env,
                        ],
                    }],
                },
            },
        },
    });
    vec![
        t.archive_configmap(&archive),
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": t.metadata(&secret, "token"),
            "type": "Opaque",
            "stringData": {TOKEN_KEY: token},
        }),
        service,
        coordinator_job,
        agents,
    ]
}

/// k6-operator's `TestRun` (k6.io/v1alpha1) with the brunt image for its initializer and runners,
/// and the archive's ConfigMap it runs. Each runner judges thresholds on its own share, as k6's
/// runners do under k6-operator.
pub fn operator(t: &Test) -> Vec<Value> {
    let archive = format!("{}-archive", t.name);
    let mut spec = Map::new();
    spec.insert("parallelism".into(), t.instances.into());
    spec.insert(
        "script".into(),
        json!({"configMap": {"name": archive, "file": ARCHIVE_FILE}}),
    );
    spec.insert("runner".into(), json!({"image": t.image}));
    if !t.run_flags.is_empty() {
        // `arguments` is split at whitespace (every k6-operator version); `args`, exact argv,
        // exists from k6-operator v1.6.0 on.
        if t.run_flags
            .iter()
            .any(|f| f.contains(char::is_whitespace) || f.is_empty())
        {
            spec.insert("args".into(), json!(t.run_flags));
        } else {
            spec.insert("arguments".into(), t.run_flags.join(" ").into());
        }
    }
    vec![
        t.archive_configmap(&archive),
        json!({
            "apiVersion": "k6.io/v1alpha1",
            "kind": "TestRun",
            "metadata": t.metadata(&t.name, "testrun"),
            "spec": spec,
        }),
    ]
}

/// The documents as one multi-document YAML, each starting with `apiVersion`, `kind` and
/// `metadata` as Kubernetes' own manifests do (the rest in name order).
pub fn to_yaml(docs: &[Value]) -> anyhow::Result<String> {
    let mut out = String::new();
    for d in docs {
        let mut doc = serde_yaml_ng::Mapping::new();
        let fields = d.as_object().into_iter().flatten();
        let (head, rest): (Vec<_>, Vec<_>) =
            fields.partition(|(k, _)| matches!(k.as_str(), "apiVersion" | "kind" | "metadata"));
        for key in ["apiVersion", "kind", "metadata"] {
            if let Some((k, v)) = head.iter().find(|(k, _)| k.as_str() == key) {
                doc.insert(k.as_str().into(), serde_yaml_ng::to_value(v)?);
            }
        }
        for (k, v) in rest {
            doc.insert(k.as_str().into(), serde_yaml_ng::to_value(v)?);
        }
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(&doc).context("writing YAML")?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(flags: &[&str]) -> Test {
        Test {
            name: "checkout".into(),
            namespace: Some("load".into()),
            image: "registry.example.com/brunt:1".into(),
            instances: 4,
            archive: b"tar".to_vec(),
            run_flags: flags.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn names_are_dns_1123_labels_that_leave_room_for_suffixes() {
        assert!(check_name("checkout-2").is_ok());
        assert!(check_name("Checkout").unwrap_err().contains("'C'"));
        assert!(check_name("-a").unwrap_err().contains("start and end"));
        assert!(check_name("2fa")
            .unwrap_err()
            .contains("start with a letter"));
        assert!(check_name("").is_err());
        assert!(check_name(&"a".repeat(52))
            .unwrap_err()
            .contains("at most 51"));
        assert_eq!(
            name_from(Path::new("/x/Checkout_Flow.test.js")).unwrap(),
            "checkout-flow-test"
        );
        assert!(name_from(Path::new("/x/__.js"))
            .unwrap_err()
            .to_string()
            .contains("--name"));
    }

    #[test]
    fn agents_claim_their_index_and_find_the_coordinator_by_its_service() {
        let docs = plain(&test(&["--vus", "10"]), "secret");
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["ConfigMap", "Secret", "Service", "Job", "Job"]);
        let coordinator = &docs[3]["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            coordinator["args"],
            json!([
                "coordinator",
                "--instances",
                "4",
                "--listen",
                "0.0.0.0:6566",
                "/archive/archive.tar",
                "--vus",
                "10"
            ])
        );
        assert_eq!(
            coordinator["readinessProbe"]["httpGet"]["path"],
            "/v1/coordinator/health"
        );
        let agents = &docs[4]["spec"];
        assert_eq!(
            (
                &agents["completionMode"],
                &agents["completions"],
                &agents["parallelism"]
            ),
            (&json!("Indexed"), &json!(4), &json!(4))
        );
        assert_eq!(
            agents["template"]["spec"]["containers"][0]["args"],
            json!([
                "agent",
                "--coordinator",
                "http://checkout-coordinator:6566",
                "--instance-index",
                "$(JOB_COMPLETION_INDEX)"
            ])
        );
        assert_eq!(docs[1]["stringData"]["token"], "secret");
        assert_eq!(
            docs[2]["spec"]["selector"],
            docs[3]["spec"]["template"]["metadata"]["labels"]
        );
        assert!(docs.iter().all(|d| d["metadata"]["namespace"] == "load"));
        assert_eq!(docs[0]["binaryData"]["archive.tar"], "dGFy");
    }

    #[test]
    fn a_testrun_passes_flags_as_arguments_or_exact_args() {
        let docs = operator(&test(&["--vus", "10"]));
        let spec = &docs[1]["spec"];
        assert_eq!(spec["arguments"], "--vus 10");
        assert_eq!(spec["runner"]["image"], "registry.example.com/brunt:1");
        assert_eq!(spec["parallelism"], 4);
        assert_eq!(
            spec["script"]["configMap"],
            json!({"name": "checkout-archive", "file": "archive.tar"})
        );
        let docs = operator(&test(&["--tag", "team=a b"]));
        assert_eq!(docs[1]["spec"]["args"], json!(["--tag", "team=a b"]));
        assert!(docs[1]["spec"].get("arguments").is_none());
    }

    #[test]
    fn each_document_starts_with_its_kind() {
        let yaml = to_yaml(&plain(&test(&[]), "t")).unwrap();
        for doc in yaml.split("---\n").skip(1) {
            assert!(doc.starts_with("apiVersion: "), "{doc}");
            assert!(doc.lines().nth(1).unwrap().starts_with("kind: "), "{doc}");
            assert!(
                doc.lines().nth(2).unwrap().starts_with("metadata:"),
                "{doc}"
            );
        }
    }

    #[test]
    fn tokens_are_random() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
