//! `cobrowse-server`: the reference server.
//!
//! Usage: cobrowse-server [--listen 127.0.0.1:8700] [--data DIR] [--demo] [--csrf]
//!        [--service NAME]... [--invite-timeout-ms 20000] [--requeue-grace-ms 60000]
//!        [--typing-preview] [--no-notifications-token]

use std::path::PathBuf;
use std::process::ExitCode;

use cobrowse_server::Options;

const USAGE: &str =
    "usage: cobrowse-server [--listen ADDR] [--data DIR] [--demo] [--csrf] [--service NAME]...
                       [--invite-timeout-ms MS] [--requeue-grace-ms MS] [--typing-preview]
                       [--no-notifications-token] [--cobrowse-idle-ms MS]
                       [--cobrowse-grace-ms MS] [--cobrowse-verifications-per-minute N]
                       [--per-address-limit N] [--chat-writes-per-10s N]
                       [--node-modules DIR]
                       [--allow-origin ORIGIN]... [--queue-timeout-ms MS]

  --listen ADDR            address to listen on (default 127.0.0.1:8700)
  --data DIR               where the SQLite database and the log go (default ./cobrowse-data)
  --demo                   seed the demo agents (agent1/agent1, agent2/agent2, agent3/agent3)
  --csrf                   require the CSRF token on writes, as GWS enableCsrfProtection does
  --max-chats N            chats a demo agent may hold at once (default 3)
  --demo-agents N          with --demo, also agent4 … agentN (password = user name), for load
                           tests (default 3)
  --service NAME           a chat service (queue) customers may request; repeatable
                           (default: customer-support)
  --invite-timeout-ms MS   how long an offered chat waits for Accept (default 20000)
  --requeue-grace-ms MS    how long an agent may be disconnected before their chats are
                           re-queued (default 60000)
  --typing-preview         forward the customer's typing preview text to the agent
  --no-notifications-token hand out no CometD WebSocket token on GET /api/v2/me, as Genesys
                           Web Services: browsers then long-poll with Basic or the cookie
  --cobrowse-idle-ms MS    a co-browse nobody joined ends after this (default 300000)
  --cobrowse-grace-ms MS   a co-browse whose customer page is gone this long ends (default 30000)
  --cobrowse-verifications-per-minute N
                           co-browse verifications one agent may ask a minute (default 30)
  --per-address-limit N    chat requests and co-browse creations one client address may make
                           a minute (default 20; lookups of live co-browse sessions: 3×)
  --chat-writes-per-10s N  writes (messages, typing, notices…) one customer chat may make per
                           10 s, counted in fixed 10 s windows (default 30; 1 … 100000)
  --queue-timeout-ms MS    a chat no agent took within this long ends, the customer told to
                           try later (default 1800000: 30 minutes)
  --allow-origin ORIGIN    a web origin (https://desk.example.com) whose pages may use an
                           agent's credentials; repeatable. The server's own origin and
                           browser extensions always may; other origins never
  --node-modules DIR       where npm installed @rrweb/record and @rrweb/replay (default: the
                           checkout's node_modules)
";

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        listen: "127.0.0.1:8700".parse().expect("valid default"),
        data_dir: PathBuf::from("cobrowse-data"),
        demo: false,
        csrf: false,
        notifications_tokens: true,
        invite_timeout_ms: 20_000,
        typing_preview: false,
        services: Vec::new(),
        allow_origins: Vec::new(),
        requeue_grace_ms: 60_000,
        queue_timeout_ms: 30 * 60_000,
        per_address_per_minute: cobrowse_server::customer_api::CHAT_REQUESTS_PER_IP_PER_MINUTE,
        chat_writes_per_10_s: cobrowse_server::customer_api::WRITES_PER_CHAT_PER_10_S,
        max_chats: 3,
        demo_agents: 3,
        cobrowse: cobrowse_server::cobrowse::CobrowseConfig {
            // Installed by npm beside the checkout (cargo xtask runs `npm ci`).
            node_modules: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../node_modules")),
            ..Default::default()
        },
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--listen" => {
                o.listen = value("--listen")?
                    .parse()
                    .map_err(|e| format!("--listen: {e}"))?
            }
            "--data" => o.data_dir = PathBuf::from(value("--data")?),
            "--demo" => o.demo = true,
            "--csrf" => o.csrf = true,
            "--no-notifications-token" => o.notifications_tokens = false,
            "--typing-preview" => o.typing_preview = true,
            "--service" => o.services.push(value("--service")?),
            "--allow-origin" => o.allow_origins.push(value("--allow-origin")?),
            "--demo-agents" => {
                o.demo_agents = value("--demo-agents")?
                    .parse()
                    .map_err(|e| format!("--demo-agents: {e}"))?
            }
            "--max-chats" => {
                o.max_chats = value("--max-chats")?
                    .parse()
                    .map_err(|e| format!("--max-chats: {e}"))?
            }
            "--queue-timeout-ms" => {
                o.queue_timeout_ms = value("--queue-timeout-ms")?
                    .parse()
                    .map_err(|e| format!("--queue-timeout-ms: {e}"))?
            }
            "--requeue-grace-ms" => {
                o.requeue_grace_ms = value("--requeue-grace-ms")?
                    .parse()
                    .map_err(|e| format!("--requeue-grace-ms: {e}"))?
            }
            "--invite-timeout-ms" => {
                o.invite_timeout_ms = value("--invite-timeout-ms")?
                    .parse()
                    .map_err(|e| format!("--invite-timeout-ms: {e}"))?
            }
            "--cobrowse-idle-ms" => {
                o.cobrowse.idle_ms = value("--cobrowse-idle-ms")?
                    .parse()
                    .map_err(|e| format!("--cobrowse-idle-ms: {e}"))?
            }
            "--cobrowse-grace-ms" => {
                o.cobrowse.customer_grace_ms = value("--cobrowse-grace-ms")?
                    .parse()
                    .map_err(|e| format!("--cobrowse-grace-ms: {e}"))?
            }
            "--cobrowse-verifications-per-minute" => {
                o.cobrowse.verifications_per_minute = value("--cobrowse-verifications-per-minute")?
                    .parse()
                    .map_err(|e| format!("--cobrowse-verifications-per-minute: {e}"))?
            }
            "--per-address-limit" => {
                o.per_address_per_minute = value("--per-address-limit")?
                    .parse()
                    .map_err(|e| format!("--per-address-limit: {e}"))?
            }
            "--chat-writes-per-10s" => {
                o.chat_writes_per_10_s = value("--chat-writes-per-10s")?
                    .parse()
                    .ok()
                    .filter(|n| (1..=100_000).contains(n))
                    .ok_or("--chat-writes-per-10s: a number from 1 to 100000")?
            }
            "--node-modules" => o.cobrowse.node_modules = PathBuf::from(value("--node-modules")?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
}

fn init_logs(data_dir: &std::path::Path) {
    use tracing_subscriber::prelude::*;
    let _ = std::fs::create_dir_all(data_dir);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.join("server.log"));
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("COBROWSE_LOG")
            .unwrap_or_else(|_| "info".into())
    };
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(filter());
    let registry = tracing_subscriber::registry().with(stderr);
    match file {
        Ok(f) => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(f)
                    .with_filter(filter()),
            )
            .init(),
        Err(_) => registry.init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("cobrowse-server: {e}");
            }
            eprint!("{USAGE}");
            return if e.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    init_logs(&options.data_dir);
    match cobrowse_server::serve(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cobrowse-server: {e}");
            ExitCode::FAILURE
        }
    }
}
