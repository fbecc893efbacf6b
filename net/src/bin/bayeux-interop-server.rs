//! Our Bayeux endpoint as a process, for the benchmark (the same service channels as the
//! official server's test script). Prints `LISTENING <port> <transports> ack` once listening.
//!
//! Usage: bayeux-interop-server [--port N] [--timeout-ms MS] [--cors]
//! (`--cors`: answer CORS from any origin, for browser test pages only.)

use bayeux_net::interop;

fn arg(name: &str) -> Option<u64> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1)?.parse().ok()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let config = interop::benchmark_config(arg("--timeout-ms").unwrap_or(20_000));
    let transports = config.transports.join(",");
    let port = arg("--port").unwrap_or(0) as u16;
    let cors = std::env::args().any(|a| a == "--cors");
    let (addr, _bayeux) = interop::serve_on(("127.0.0.1", port), config, cors).await?;
    println!("LISTENING {} {transports} ack", addr.port());
    std::future::pending::<()>().await;
    Ok(())
}
