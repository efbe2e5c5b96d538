//! The fault proxy of `habit_tests::faults` as a process, to put in front of DynamoDB Local for
//! functions served by `cargo lambda watch` (point their `DYNAMODB_ENDPOINT` at it):
//!
//! ```text
//! fault-proxy --upstream URL [--port N] [--seed S] [--latency MIN-MAX] [--rule OPERATIONS:FAULT:STRIKES ...]
//! fault-proxy --upstream http://127.0.0.1:8000 --port 8001 --rule writes:lose:every=3
//! fault-proxy --upstream http://127.0.0.1:8000 --port 8001 --latency 4-6
//! ```
//! `--latency MIN-MAX` (milliseconds) delays every answer by a uniform draw from that range: an
//! in-region DynamoDB round trip, for `make bench`.
//! Rules as `habit_tests::faults::Rule::parse` reads them. `GET /__faults` on the proxy answers
//! a line of what it injected. `make test` runs the Postman story through it.

use habit_tests::faults::{FaultProxy, Plan, Rule};
use std::{process::ExitCode, time::Duration};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let (mut upstream, mut port, mut seed, mut rules, mut latency) = (None, 0u16, 1u64, Vec::new(), None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        let parsed = match (arg.as_str(), value) {
            ("--upstream", Some(v)) => {
                upstream = Some(v);
                Ok(())
            }
            ("--port", Some(v)) => v.parse().map(|p| port = p).map_err(|_| format!("--port {v:?}")),
            ("--seed", Some(v)) => v.parse().map(|s| seed = s).map_err(|_| format!("--seed {v:?}")),
            ("--rule", Some(v)) => Rule::parse(&v).map(|r| rules.push(r)),
            ("--latency", Some(v)) => v
                .split_once('-')
                .and_then(|(lo, hi)| Some((lo.parse::<u64>().ok()?, hi.parse::<u64>().ok()?)))
                .filter(|(lo, hi)| lo <= hi)
                .map(|(lo, hi)| latency = Some((Duration::from_millis(lo), Duration::from_millis(hi))))
                .ok_or_else(|| format!("--latency {v:?}: expected MIN-MAX milliseconds")),
            (other, _) => Err(format!("unknown or incomplete argument {other:?}")),
        };
        if let Err(e) = parsed {
            eprintln!("fault-proxy: {e}\nusage: fault-proxy --upstream URL [--port N] [--seed S] [--latency MIN-MAX] [--rule OPS:FAULT:STRIKES ...]");
            return ExitCode::from(2);
        }
    }
    let Some(upstream) = upstream else {
        eprintln!("fault-proxy: --upstream URL (DynamoDB Local) is required");
        return ExitCode::from(2);
    };
    let proxy = FaultProxy::start_on(port, &upstream, seed, Plan(rules.clone())).await;
    if let Some((min, max)) = latency {
        proxy.set_latency(min, max);
    }
    println!("fault-proxy: {} in front of {upstream}, rules {rules:?}", proxy.endpoint);
    std::future::pending::<()>().await;
    ExitCode::SUCCESS
}
