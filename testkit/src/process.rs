//! A server in a child process: its own process group (so what it starts goes with it), its
//! first line of stdout as its announcement, killed when dropped.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

/// A running child that announced itself.
#[derive(Debug)]
pub struct Announced {
    child: Child,
    /// The first line it printed, trimmed.
    pub line: String,
}

impl Announced {
    /// Starts `cmd` in its own process group and reads its first line of stdout (stderr is
    /// the test's). An error names the command.
    pub fn spawn(cmd: &mut Command) -> Result<Announced, String> {
        let name = format!("{:?}", cmd.get_program());
        let mut child = cmd
            .process_group(0)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let mut line = String::new();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        if let Err(e) = BufReader::new(stdout).read_line(&mut line) {
            let _ = child.kill();
            return Err(format!("{name}: {e}"));
        }
        Ok(Announced {
            child,
            line: line.trim().to_owned(),
        })
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9` of the whole group, and waits for the child.
    pub fn kill(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Announced {
    fn drop(&mut self) {
        self.kill();
    }
}
