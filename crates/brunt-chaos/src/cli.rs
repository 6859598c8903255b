//! `brunt proxy` (the server) and `brunt chaos` (a client like toxiproxy-cli).

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::{Map, Value};

use crate::client::{Client, NewProxy, NewToxic, ProxyChanges, ToxicChanges, ToxicInfo};
use crate::ServerOptions;

/// `brunt proxy`: serve the Toxiproxy-compatible API and its proxies.
#[derive(Args, Debug, Clone)]
pub struct ProxyArgs {
    /// Address of the control API.
    #[arg(long, default_value = "127.0.0.1:8474")]
    pub listen: String,
    /// Toxiproxy JSON config: an array of proxies, each with optional toxics.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Seed for all random choices, to reproduce a run's faults.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

/// `brunt chaos`: drive a fault proxy (brunt's or Toxiproxy) from the shell.
#[derive(Args, Debug, Clone)]
pub struct ChaosArgs {
    /// API address, host[:port] or http://host[:port].
    #[arg(
        long,
        global = true,
        default_value = "127.0.0.1:8474",
        env = "TOXIPROXY_URL"
    )]
    pub host: String,
    #[command(subcommand)]
    pub command: ChaosCommand,
}

/// The `brunt chaos` subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum ChaosCommand {
    /// List proxies.
    List,
    /// Show one proxy and its toxics.
    Inspect {
        /// Proxy name.
        name: String,
    },
    /// Create a proxy.
    Create {
        /// Proxy name.
        name: String,
        /// Address to listen on (port 0 picks one).
        #[arg(long)]
        listen: String,
        /// Address to forward to.
        #[arg(long)]
        upstream: String,
    },
    /// Delete a proxy.
    Delete {
        /// Proxy name.
        name: String,
    },
    /// Enable a disabled proxy or disable an enabled one.
    Toggle {
        /// Proxy name.
        name: String,
    },
    /// Enable all proxies and remove all toxics.
    Reset,
    /// Add, update or remove toxics.
    #[command(subcommand)]
    Toxic(ToxicCommand),
}

/// The `brunt chaos toxic` subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum ToxicCommand {
    /// Add a toxic to a proxy.
    Add {
        /// Proxy name.
        proxy: String,
        /// Toxic type (latency, bandwidth, slow_close, timeout, reset_peer, slicer,
        /// limit_data, loss_rate, slow_connect, http_status, http_latency, http_reset, sse_delay,
        /// sse_cut).
        #[arg(long = "type", short = 't')]
        kind: String,
        /// Toxic name; defaults to <type>_<stream>.
        #[arg(long, short = 'n')]
        name: Option<String>,
        /// Attribute as key=value; repeat for several.
        #[arg(long = "attr", short = 'a', value_name = "KEY=VALUE")]
        attrs: Vec<String>,
        /// Affect client-to-server data.
        #[arg(long, short = 'u', conflicts_with = "downstream")]
        upstream: bool,
        /// Affect server-to-client data (the default).
        #[arg(long, short = 'd')]
        downstream: bool,
        /// Probability in [0, 1] that a connection is affected.
        #[arg(long)]
        toxicity: Option<f32>,
    },
    /// Change a toxic's attributes or toxicity.
    Update {
        /// Proxy name.
        proxy: String,
        /// Toxic name.
        #[arg(long, short = 'n')]
        name: String,
        /// Attribute as key=value; repeat for several.
        #[arg(long = "attr", short = 'a', value_name = "KEY=VALUE")]
        attrs: Vec<String>,
        /// Probability in [0, 1] that a connection is affected.
        #[arg(long)]
        toxicity: Option<f32>,
    },
    /// Remove a toxic.
    Remove {
        /// Proxy name.
        proxy: String,
        /// Toxic name.
        #[arg(long, short = 'n')]
        name: String,
    },
}

/// Runs `brunt proxy` until Ctrl-C or SIGTERM, on a runtime of its own: one
/// thread when the process may use only one CPU (pinned with taskset, a one-CPU
/// container), where a multi-threaded scheduler steals from nobody and only adds
/// its hand-offs to every proxied request; a worker per CPU otherwise.
pub fn proxy(args: ProxyArgs) -> anyhow::Result<()> {
    let one_cpu = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
    let mut runtime = if one_cpu {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    runtime.enable_all().build()?.block_on(run_proxy(args))
}

/// Runs the server until Ctrl-C or SIGTERM.
async fn run_proxy(args: ProxyArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("--listen {}: cannot listen", args.listen))?;
    let server = crate::start(listener, ServerOptions { seed: args.seed }).await?;
    if let Some(path) = &args.config {
        match server.load_config(path).await {
            Ok(n) => eprintln!("loaded {n} proxies from {}", path.display()),
            Err(e) => {
                server.shutdown().await;
                return Err(anyhow::Error::new(e).context("--config"));
            }
        }
    }
    eprintln!(
        "brunt proxy: API on http://{} (seed {})",
        server.api_addr(),
        server.seed()
    );
    wait_for_stop().await;
    server.shutdown().await;
    Ok(())
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs one `brunt chaos` command, printing its result.
pub async fn run_chaos(args: ChaosArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.host).context("--host")?;
    print!("{}", execute(&client, args.command).await?);
    Ok(())
}

/// Carries out a command and returns what to print.
async fn execute(client: &Client, command: ChaosCommand) -> anyhow::Result<String> {
    let mut out = String::new();
    match command {
        ChaosCommand::List => {
            let proxies = client.proxies().await?;
            if proxies.is_empty() {
                out.push_str("no proxies\n");
            } else {
                let _ = writeln!(
                    out,
                    "{:<20} {:<24} {:<24} {:<9} toxics",
                    "name", "listen", "upstream", "enabled"
                );
                for p in proxies.values() {
                    let _ = writeln!(
                        out,
                        "{:<20} {:<24} {:<24} {:<9} {}",
                        p.name,
                        p.listen,
                        p.upstream,
                        p.enabled,
                        p.toxics.len()
                    );
                }
            }
        }
        ChaosCommand::Inspect { name } => {
            let p = client.proxy(&name).await?;
            let _ = writeln!(
                out,
                "Name: {}\tListen: {}\tUpstream: {}\tEnabled: {}",
                p.name, p.listen, p.upstream, p.enabled
            );
            if p.toxics.is_empty() {
                out.push_str("Proxy has no toxics enabled.\n");
            }
            for t in &p.toxics {
                out.push_str(&describe(t));
            }
        }
        ChaosCommand::Create {
            name,
            listen,
            upstream,
        } => {
            let p = client
                .create_proxy(&NewProxy {
                    name,
                    listen,
                    upstream,
                    enabled: None,
                })
                .await?;
            let _ = writeln!(
                out,
                "Created new proxy {} listening on {}",
                p.name, p.listen
            );
        }
        ChaosCommand::Delete { name } => {
            client.delete_proxy(&name).await?;
            let _ = writeln!(out, "Deleted proxy {name}");
        }
        ChaosCommand::Toggle { name } => {
            let p = client.proxy(&name).await?;
            let changes = ProxyChanges {
                enabled: Some(!p.enabled),
                ..Default::default()
            };
            let p = client.update_proxy(&name, &changes).await?;
            let state = if p.enabled { "enabled" } else { "disabled" };
            let _ = writeln!(out, "Proxy {name} is now {state}");
        }
        ChaosCommand::Reset => {
            client.reset().await?;
            out.push_str("Reset all proxies: enabled, toxics removed\n");
        }
        ChaosCommand::Toxic(ToxicCommand::Add {
            proxy,
            kind,
            name,
            attrs,
            upstream,
            downstream: _,
            toxicity,
        }) => {
            let toxic = NewToxic {
                name,
                kind,
                stream: Some(if upstream { "upstream" } else { "downstream" }.into()),
                toxicity: check_toxicity(toxicity)?,
                attributes: parse_attrs(&attrs)?,
            };
            let t = client
                .add_toxic(&proxy, &toxic)
                .await
                .with_context(|| format!("cannot add the {} toxic to proxy {proxy}", toxic.kind))?;
            let _ = writeln!(
                out,
                "Added {} {} toxic '{}' on proxy '{proxy}'",
                t.stream, t.kind, t.name
            );
        }
        ChaosCommand::Toxic(ToxicCommand::Update {
            proxy,
            name,
            attrs,
            toxicity,
        }) => {
            let changes = ToxicChanges {
                toxicity: check_toxicity(toxicity)?,
                attributes: parse_attrs(&attrs)?,
            };
            let t = client
                .update_toxic(&proxy, &name, &changes)
                .await
                .with_context(|| format!("cannot update toxic {name} on proxy {proxy}"))?;
            let _ = writeln!(out, "Updated toxic '{}' on proxy '{proxy}'", t.name);
        }
        ChaosCommand::Toxic(ToxicCommand::Remove { proxy, name }) => {
            client.remove_toxic(&proxy, &name).await?;
            let _ = writeln!(out, "Removed toxic '{name}' on proxy '{proxy}'");
        }
    }
    Ok(out)
}

fn describe(t: &ToxicInfo) -> String {
    let mut s = format!(
        "{}\ttype={}\tstream={}\ttoxicity={:.2}\tattributes=[",
        t.name, t.kind, t.stream, t.toxicity
    );
    if let Value::Object(attrs) = &t.attributes {
        for (k, v) in attrs {
            let _ = write!(s, "\t{k}={v}");
        }
    }
    s.push_str("\t]\n");
    s
}

fn check_toxicity(t: Option<f32>) -> anyhow::Result<Option<f32>> {
    match t {
        Some(v) if !(0.0..=1.0).contains(&v) => {
            bail!("--toxicity {v}: should be a number between 0 and 1")
        }
        _ => Ok(t),
    }
}

/// `key=value` pairs to a JSON object; numbers and booleans keep their type.
fn parse_attrs(attrs: &[String]) -> anyhow::Result<Value> {
    if attrs.is_empty() {
        return Ok(Value::Null);
    }
    let mut map = Map::new();
    for a in attrs {
        let Some((k, v)) = a.split_once('=') else {
            bail!("--attr {a:?}: expected KEY=VALUE");
        };
        if k.is_empty() {
            bail!("--attr {a:?}: empty key");
        }
        let value = if let Ok(i) = v.parse::<i64>() {
            Value::from(i)
        } else if let Ok(f) = v.parse::<f64>() {
            Value::from(f)
        } else if let Ok(b) = v.parse::<bool>() {
            Value::from(b)
        } else {
            Value::from(v)
        };
        map.insert(k.to_string(), value);
    }
    Ok(Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        chaos: ChaosArgs,
    }

    #[test]
    fn toxic_add_parses_like_toxiproxy_cli() {
        let cli = Cli::try_parse_from([
            "brunt",
            "toxic",
            "add",
            "db",
            "--type",
            "latency",
            "--attr",
            "latency=500",
            "--attr",
            "jitter=100",
            "--upstream",
            "--toxicity",
            "0.5",
        ])
        .unwrap();
        let ChaosCommand::Toxic(ToxicCommand::Add {
            proxy,
            kind,
            attrs,
            upstream,
            toxicity,
            ..
        }) = cli.chaos.command
        else {
            panic!("not toxic add");
        };
        assert_eq!(
            (proxy.as_str(), kind.as_str(), upstream, toxicity),
            ("db", "latency", true, Some(0.5))
        );
        assert_eq!(
            parse_attrs(&attrs).unwrap(),
            serde_json::json!({"latency": 500, "jitter": 100})
        );
    }

    #[tokio::test]
    async fn commands_drive_a_live_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = crate::start(listener, ServerOptions::default())
            .await
            .unwrap();
        let client = Client::new(&server.api_addr().to_string()).unwrap();
        let run = |args: &[&str]| {
            let mut argv = vec!["brunt"];
            argv.extend_from_slice(args);
            Cli::try_parse_from(argv).unwrap().chaos.command
        };
        assert_eq!(
            execute(&client, run(&["list"])).await.unwrap(),
            "no proxies\n"
        );
        let out = execute(
            &client,
            run(&[
                "create",
                "db",
                "--listen",
                "127.0.0.1:0",
                "--upstream",
                "127.0.0.1:5432",
            ]),
        )
        .await
        .unwrap();
        assert!(
            out.starts_with("Created new proxy db listening on 127.0.0.1:"),
            "{out}"
        );
        let out = execute(
            &client,
            run(&[
                "toxic",
                "add",
                "db",
                "-t",
                "latency",
                "-a",
                "latency=500",
                "--upstream",
            ]),
        )
        .await
        .unwrap();
        assert_eq!(
            out,
            "Added upstream latency toxic 'latency_upstream' on proxy 'db'\n"
        );
        let out = execute(
            &client,
            run(&[
                "toxic",
                "update",
                "db",
                "-n",
                "latency_upstream",
                "-a",
                "jitter=9",
            ]),
        )
        .await
        .unwrap();
        assert_eq!(out, "Updated toxic 'latency_upstream' on proxy 'db'\n");
        let out = execute(&client, run(&["inspect", "db"])).await.unwrap();
        assert!(
            out.contains("latency_upstream\ttype=latency\tstream=upstream\ttoxicity=1.00"),
            "{out}"
        );
        assert!(
            out.contains("jitter=9") && out.contains("latency=500"),
            "{out}"
        );
        assert!(execute(&client, run(&["list"]))
            .await
            .unwrap()
            .contains("db "));
        assert_eq!(
            execute(&client, run(&["toggle", "db"])).await.unwrap(),
            "Proxy db is now disabled\n"
        );
        assert_eq!(
            execute(&client, run(&["toggle", "db"])).await.unwrap(),
            "Proxy db is now enabled\n"
        );
        let err = execute(&client, run(&["toxic", "add", "db", "-t", "bogus"]))
            .await
            .unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "cannot add the bogus toxic to proxy db: invalid toxic type (HTTP 400)"
        );
        // The server's reason, naming the attribute, as `brunt chaos` prints it.
        let err = execute(
            &client,
            run(&["toxic", "add", "db", "-t", "latency", "-a", "latency=-5"]),
        )
        .await
        .unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "cannot add the latency toxic to proxy db: bad request body: \
             attributes.latency must not be negative, got -5 (HTTP 400)"
        );
        let err = execute(
            &client,
            run(&[
                "toxic",
                "update",
                "db",
                "-n",
                "latency_upstream",
                "-a",
                "jitter=-1",
            ]),
        )
        .await
        .unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "cannot update toxic latency_upstream on proxy db: bad request body: \
             attributes.jitter must not be negative, got -1 (HTTP 400)"
        );
        execute(
            &client,
            run(&["toxic", "remove", "db", "-n", "latency_upstream"]),
        )
        .await
        .unwrap();
        execute(&client, run(&["reset"])).await.unwrap();
        assert_eq!(
            execute(&client, run(&["delete", "db"])).await.unwrap(),
            "Deleted proxy db\n"
        );
        let err = execute(&client, run(&["delete", "db"])).await.unwrap_err();
        assert_eq!(err.to_string(), "proxy not found (HTTP 404)");
        server.shutdown().await;
    }

    #[test]
    fn bad_attr_and_toxicity_name_the_flag() {
        let e = parse_attrs(&["latency".into()]).unwrap_err().to_string();
        assert!(e.contains("--attr"), "{e}");
        let e = check_toxicity(Some(1.5)).unwrap_err().to_string();
        assert!(e.contains("--toxicity"), "{e}");
    }
}
