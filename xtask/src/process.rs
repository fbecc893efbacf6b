//! Running child processes: plain, or with output teed and captured under a time limit.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Formats a command for logs.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd` with inherited stdio; an error unless it exits 0.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    println!("$ {}", describe(cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {}: {e}", describe(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", describe(cmd)))
    }
}

/// First line of a command's stdout, if it runs and exits 0.
pub fn first_line(program: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_owned()
    })
}

/// What a captured run produced.
pub struct Captured {
    pub success: bool,
    pub text: String,
    pub timed_out: bool,
}

/// Runs `cmd` in its own process group, echoing its stdout and stderr as they come and
/// keeping a copy. After `limit` the whole group is killed (a hung browser cannot eat the CI
/// budget), and the same happens to anything the command left behind when it exits.
pub fn run_captured(cmd: &mut Command, limit: Duration) -> Result<Captured, String> {
    println!("$ {}", describe(cmd));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", describe(cmd)))?;
    let text = Arc::new(Mutex::new(String::new()));
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|stream| {
        let text = text.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                println!("{line}");
                let mut t = text.lock().unwrap();
                t.push_str(&line);
                t.push('\n');
            }
        })
    })
    .collect();
    let pgid = child.id();
    let deadline = Instant::now() + limit;
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if Instant::now() > deadline {
            timed_out = true;
            eprintln!(
                "xtask: {} exceeded {}s: killing it",
                describe(cmd),
                limit.as_secs()
            );
            kill_group(pgid);
            break child.wait().map_err(|e| e.to_string())?;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Browsers or drivers orphaned by a crashed test would keep the pipes open: end them.
    kill_group(pgid);
    for r in readers {
        let _ = r.join();
    }
    let text = std::mem::take(&mut *text.lock().unwrap());
    Ok(Captured {
        success: status.success() && !timed_out,
        text,
        timed_out,
    })
}

fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

/// Sums `test result: ... N passed; M failed` lines (cargo test, wasm-bindgen-test-runner).
pub fn count_tests(text: &str) -> (u32, u32) {
    let mut passed = 0;
    let mut failed = 0;
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            continue;
        };
        for part in rest.split([';', '.']) {
            let mut words = part.split_whitespace();
            if let (Some(n), Some(what)) = (words.next(), words.next()) {
                match (n.parse::<u32>(), what) {
                    (Ok(n), "passed") => passed += n,
                    (Ok(n), "failed") => failed += n,
                    _ => {}
                }
            }
        }
    }
    (passed, failed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_cargo_and_runner_summaries() {
        let text = "running 2 tests\n\
            test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\
            test result: FAILED. 3 passed; 1 failed; 0 ignored\n\
            something else 9 passed\n";
        assert_eq!(super::count_tests(text), (5, 1));
    }
}
