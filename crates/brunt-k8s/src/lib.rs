//! `brunt k8s manifests`: the Kubernetes resources of a distributed test, written as one
//! multi-document YAML for `kubectl apply -f` (docs/distributed.md).
//!
//! - A plain cluster ([`resources::plain`]): the test's archive (made as `brunt archive` makes
//!   it) in a ConfigMap, the run's token in a Secret, a coordinator Job with its Service, and an
//!   Indexed Job of N agents, each claiming the segment of its `JOB_COMPLETION_INDEX`. The
//!   cluster schedules, restarts and networks the pods; brunt only says what to run.
//! - k6-operator ([`resources::operator`], `--operator`): a `TestRun` whose runners use the brunt
//!   image, and the ConfigMap with the archive it runs.

mod resources;

use anyhow::{anyhow, bail, Context as _};
use brunt_js::{PrepareError, RunArgs};
use clap::{Args, Parser, Subcommand};
use std::io::Write as _;
use std::path::PathBuf;

/// The image the manifests run when `--image` is not given: the Containerfile's, built as
/// `podman build -t brunt -f Containerfile .`.
pub const DEFAULT_IMAGE: &str = "brunt:latest";

/// A ConfigMap holds at most 1 MiB (etcd's object limit), its keys and metadata included.
const CONFIGMAP_LIMIT: usize = 1024 * 1024 - 16 * 1024;

/// `brunt k8s`: resources for running a test on Kubernetes.
#[derive(Args, Debug)]
pub struct K8sArgs {
    #[command(subcommand)]
    pub command: K8sCommand,
}

#[derive(Subcommand, Debug)]
pub enum K8sCommand {
    /// Write the resources of a test on N instances (a coordinator and an Indexed Job of
    /// agents, or a k6-operator TestRun with --operator) as YAML for `kubectl apply -f`
    Manifests(ManifestArgs),
}

/// `brunt k8s manifests`' flags.
#[derive(Args, Debug)]
pub struct ManifestArgs {
    /// The k6 script, or an archive from `brunt archive`, e.g. `test.js`
    pub script: PathBuf,
    /// How many instances share the test (agents, or k6-operator's parallelism), e.g.
    /// `--instances 4`
    #[arg(long, value_name = "N")]
    pub instances: u32,
    /// The container image with brunt (the repository's Containerfile), e.g.
    /// `--image registry.example.com/brunt:0.1`
    #[arg(long, default_value = DEFAULT_IMAGE)]
    pub image: String,
    /// The namespace of every resource (default: the one `kubectl` applies to)
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// The resources' name (a DNS-1123 label; default: the script's file name, e.g. `checkout`
    /// for `checkout.js`)
    #[arg(long)]
    pub name: Option<String>,
    /// The token the agents present to the coordinator (default: a random one)
    #[arg(long, env = "BRUNT_COORDINATOR_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Write a k6-operator TestRun (runners with the brunt image) instead of brunt's own
    /// coordinator and agents
    #[arg(long)]
    pub operator: bool,
    /// Where to write the YAML, `-` for stdout
    #[arg(short = 'o', long = "output", value_name = "FILE", default_value = "-")]
    pub output: String,
    /// `brunt run` flags after `--`, e.g. `-- --vus 50 --summary-export summary.json`: their
    /// options go into the archive, and the coordinator (k6-operator's runners) gets them as
    /// given
    #[arg(last = true, allow_hyphen_values = true, value_name = "RUN FLAGS")]
    pub run_flags: Vec<String>,
}

/// `brunt k8s ...`
pub fn run(args: K8sArgs) -> anyhow::Result<i32> {
    match args.command {
        K8sCommand::Manifests(m) => manifests(m),
    }
}

/// The run flags parsed as `brunt run` parses them, so that a mistake is caught here and not in
/// the cluster.
#[derive(Parser)]
#[command(name = "brunt run")]
struct RunFlags {
    #[command(flatten)]
    run: RunArgs,
}

/// Writes the manifests; an error names the flag or file at fault.
pub fn manifests(args: ManifestArgs) -> anyhow::Result<i32> {
    if args.instances == 0 {
        bail!("--instances 0: a test needs at least one instance");
    }
    if !args.script.is_file() {
        bail!(
            "{}: no such file (the script or archive to run)",
            args.script.display()
        );
    }
    let name = match &args.name {
        Some(n) => {
            resources::check_name(n).map_err(|e| anyhow!("--name '{n}': {e}"))?;
            n.clone()
        }
        None => resources::name_from(&args.script)?,
    };
    if let Some(ns) = &args.namespace {
        resources::check_label(ns).map_err(|e| anyhow!("--namespace '{ns}': {e}"))?;
    }
    let run = RunFlags::try_parse_from(
        std::iter::once("brunt run".into())
            .chain(args.run_flags.iter().cloned())
            .chain(std::iter::once(args.script.display().to_string())),
    )
    .map_err(|e| {
        let text = e.render().to_string();
        let first = text.lines().next().unwrap_or_default();
        anyhow!(
            "the run flags after `--`: {}",
            first.trim_start_matches("error: ")
        )
    })?
    .run;
    let archive = match brunt_js::pack(run) {
        Ok(bytes) => bytes,
        Err(PrepareError::Exit { code, message }) => {
            brunt_engine::log::error(&message);
            return Ok(code);
        }
        Err(PrepareError::Other(e)) => return Err(e),
    };
    if archive.len() > CONFIGMAP_LIMIT {
        bail!(
            "{}: its archive is {} bytes, more than a ConfigMap holds (1 MiB); keep large data \
             files out of the archive (read them from a volume) or run from a volume claim",
            args.script.display(),
            archive.len()
        );
    }
    let test = resources::Test {
        name,
        namespace: args.namespace.clone(),
        image: args.image.clone(),
        instances: args.instances,
        archive,
        run_flags: args.run_flags.clone(),
    };
    let docs = if args.operator {
        resources::operator(&test)
    } else {
        let token = args.token.clone().unwrap_or_else(resources::random_token);
        if token.is_empty() {
            bail!("--token: the token must not be empty");
        }
        resources::plain(&test, &token)
    };
    let yaml = resources::to_yaml(&docs)?;
    if args.output == "-" {
        std::io::stdout()
            .write_all(yaml.as_bytes())
            .context("writing the manifests to stdout")?;
    } else {
        std::fs::write(&args.output, yaml)
            .with_context(|| format!("--output {}: cannot write the manifests", args.output))?;
    }
    Ok(0)
}
