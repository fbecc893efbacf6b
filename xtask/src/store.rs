//! Store readiness, written by `cargo xtask dist` beside the zips: what AMO asks for when an
//! add-on ships compiled code (wasm) — the source archive and the instructions that rebuild
//! the same package from it, with the exact tool versions of this build — and the listing text
//! both stores show. The texts live in `store/`; this fills in the versions and packs the source.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::{first_line, run as run_cmd};
use crate::setup::Tools;
use crate::Paths;

/// The files `dist` writes for the stores.
pub struct StoreFiles {
    pub source_archive: PathBuf,
    pub build_instructions: PathBuf,
    pub listing: PathBuf,
}

impl StoreFiles {
    pub fn of(paths: &Paths, version: &str) -> StoreFiles {
        StoreFiles {
            source_archive: paths
                .dist
                .join(format!("cobrowse-agent-source-{version}.tar.gz")),
            build_instructions: paths
                .dist
                .join(format!("cobrowse-agent-{version}-BUILD.md")),
            listing: paths
                .dist
                .join(format!("cobrowse-agent-{version}-listing.md")),
        }
    }
}

/// The versions of everything that shapes the package's bytes, one `name: version` per line.
fn tool_versions(paths: &Paths, tools: &Tools) -> String {
    let version = |program: &Path, args: &[&str]| {
        first_line(program, args).unwrap_or_else(|| "(not found)".to_owned())
    };
    // `-dirty` when the working tree differs from the commit.
    let git_commit = Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=40"])
        .current_dir(&paths.root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "(not a git checkout)".to_owned());
    [
        ("source commit", git_commit),
        ("rustc", version(Path::new("rustc"), &["--version"])),
        ("cargo", version(Path::new("cargo"), &["--version"])),
        ("wasm-bindgen", version(&tools.wasm_bindgen, &["--version"])),
        (
            "wasm-opt (npm binaryen)",
            version(&tools.npm_bin.join("wasm-opt"), &["--version"]),
        ),
        ("node", version(Path::new("node"), &["--version"])),
        ("npm", version(Path::new("npm"), &["--version"])),
        (
            "web-ext",
            version(&tools.npm_bin.join("web-ext"), &["--version"]),
        ),
    ]
    .iter()
    .map(|(name, v)| format!("- {name}: `{v}`\n"))
    .collect()
}

/// Writes the build instructions and listing (from `store/`, versions filled in) and the source
/// archive of every file git tracks or would track, plus the instructions. Outside a git checkout (e.g. building
/// from the archive itself) there is nothing to pack: the archive is skipped, and says so.
pub fn write(paths: &Paths, tools: &Tools, version: &str) -> Result<StoreFiles, String> {
    let files = StoreFiles::of(paths, version);
    let read = |name: &str| {
        std::fs::read_to_string(paths.root.join("store").join(name))
            .map_err(|e| format!("store/{name}: {e}"))
    };
    let instructions = read("BUILD.md")?
        .replace("{version}", version)
        .replace("{tools}", &tool_versions(paths, tools));
    std::fs::write(&files.build_instructions, instructions).map_err(|e| e.to_string())?;
    std::fs::write(
        &files.listing,
        read("listing.md")?.replace("{version}", version),
    )
    .map_err(|e| e.to_string())?;

    // Tracked files and new ones not ignored: the working tree this build compiled.
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(&paths.root)
        .output()
        .ok()
        .filter(|o| o.status.success());
    let Some(listed) = listed else {
        println!("xtask: not a git checkout: no source archive written");
        return Ok(files);
    };
    let mut names: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .split('\0')
        .filter(|n| !n.is_empty())
        // A tracked file deleted in the working tree is not part of this build.
        .filter(|n| paths.root.join(n).exists())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    if let Some(odd) = names.iter().find(|n| n.contains('\n')) {
        return Err(format!("a tracked file name holds a newline: {odd:?}"));
    }
    let list = paths.dist.join(".source-files");
    std::fs::write(&list, names.join("\n") + "\n").map_err(|e| e.to_string())?;
    let instructions_name = files
        .build_instructions
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("build instructions have no file name")?;
    let packed = run_cmd(
        Command::new("tar")
            .arg("--create")
            .arg("--gzip")
            .arg("--file")
            .arg(&files.source_archive)
            .arg("--owner=0")
            .arg("--group=0")
            .arg("--numeric-owner")
            .arg(format!("--transform=s,^,cobrowse-agent-{version}/,"))
            .arg("-C")
            .arg(&paths.root)
            .arg("--files-from")
            .arg(&list)
            .arg("-C")
            .arg(&paths.dist)
            .arg(instructions_name),
    );
    let _ = std::fs::remove_file(&list);
    packed?;
    println!(
        "xtask: wrote {}, {} and {}",
        files.source_archive.display(),
        files.build_instructions.display(),
        files.listing.display()
    );
    Ok(files)
}

/// The entries of a `.tar.gz`.
pub fn archive_entries(archive: &Path) -> Result<Vec<String>, String> {
    let out = Command::new("tar")
        .arg("--list")
        .arg("--gzip")
        .arg("--file")
        .arg(archive)
        .output()
        .map_err(|e| format!("tar --list: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "tar --list {}: {}",
            archive.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// What a reviewer needs in the source archive is there, and nothing built or downloaded is.
pub fn check_source_archive(paths: &Paths, version: &str) -> Result<(), String> {
    let files = StoreFiles::of(paths, version);
    let entries = archive_entries(&files.source_archive)?;
    let prefix = format!("cobrowse-agent-{version}/");
    let instructions = format!("cobrowse-agent-{version}-BUILD.md");
    let needed = [
        "Cargo.toml",
        "Cargo.lock",
        "package.json",
        "package-lock.json",
        "manifest.json",
        "xtask/src/main.rs",
        "extension/background/background.js",
        "store/BUILD.md",
        instructions.as_str(),
    ];
    let missing: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|n| !entries.iter().any(|e| *e == format!("{prefix}{n}")))
        .collect();
    let unwanted: Vec<&String> = entries
        .iter()
        .filter(|e| {
            let rest = e.strip_prefix(&prefix).unwrap_or(e);
            !e.starts_with(&prefix)
                || ["node_modules/", "target/", "dist/", ".git/"]
                    .iter()
                    .any(|d| rest.starts_with(d))
        })
        .collect();
    if missing.is_empty() && unwanted.is_empty() {
        println!(
            "source archive: {} files, the build instructions and every build input present",
            entries.len()
        );
        Ok(())
    } else {
        Err(format!(
            "source archive {}: missing {missing:?}, should not hold {unwanted:?}",
            files.source_archive.display()
        ))
    }
}

/// `cargo xtask screenshots`: builds the extension and the server, then shoots the popup and
/// the options page in headless Chromium, both themes, into `docs/screenshots/`.
pub fn screenshots(paths: &Paths) -> Result<(), String> {
    let tools = crate::setup::ensure_build_tools(paths)?;
    crate::dist::build(paths, &tools)?;
    run_cmd(
        Command::new("cargo")
            .args([
                "build",
                "-p",
                "cobrowse-server",
                "-p",
                "cobrowse-agent",
                "--bin",
                "cobrowse-server",
                "--example",
                "screenshots",
            ])
            .current_dir(&paths.root)
            .env("CARGO_TARGET_DIR", &paths.target),
    )?;
    run_cmd(
        tools.browsers_for(
            Command::new(paths.target.join("debug/examples/screenshots"))
                .current_dir(&paths.root)
                .env(
                    "COBROWSE_SERVER",
                    paths.target.join("debug/cobrowse-server"),
                )
                .env("COBROWSE_DIST", &paths.dist)
                .env("COBROWSE_SCREENSHOTS", paths.root.join("docs/screenshots")),
        ),
    )
}
