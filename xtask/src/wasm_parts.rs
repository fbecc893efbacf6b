//! A wasm module taken apart for the size breakdown (`cargo xtask bench size`): its function
//! bodies with their names (the name section a copy keeps) and its data segments, and what each
//! group of them adds to the module once compressed.
//!
//! Raw bytes mislead about what gzip ships: the many near-identical instances of one generic
//! function (serde's readers, Yew's elements) compress against each other, while unique code
//! and tables compress little. A group's **gzip share** is what the module's code and data lose,
//! gzipped, when that group is left out: the bytes it really costs, given the rest.

use std::io::Write;
use std::process::{Command, Stdio};

/// Reads one unsigned LEB128 number at `at`, moving `at` past it.
fn leb128(bytes: &[u8], at: &mut usize) -> Result<usize, String> {
    let mut value = 0usize;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(*at).ok_or("a wasm module ends inside a number")?;
        *at += 1;
        value |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("a wasm number is too long".into())
}

/// The byte range of a length-prefixed vector (a name, a body) at `at`, moving `at` past it.
pub fn prefixed<'a>(bytes: &'a [u8], at: &mut usize) -> Result<&'a [u8], String> {
    let len = leb128(bytes, at)?;
    let part = at
        .checked_add(len)
        .and_then(|end| bytes.get(*at..end))
        .ok_or("a wasm vector runs past its section")?;
    *at += len;
    Ok(part)
}

/// A module's sections as (id, contents), in order.
pub fn sections(module: &[u8]) -> Result<Vec<(u8, &[u8])>, String> {
    if module.get(..8) != Some(b"\0asm\x01\0\0\0".as_slice()) {
        return Err("not a wasm module (version 1)".into());
    }
    let mut out = Vec::new();
    let mut at = 8;
    while at < module.len() {
        let id = module[at];
        at += 1;
        out.push((id, prefixed(module, &mut at)?));
    }
    Ok(out)
}

/// A module's function bodies, each with its name (`None` where the module names none), and
/// its data section.
pub struct Parts<'a> {
    pub functions: Vec<(Option<String>, &'a [u8])>,
    pub data: &'a [u8],
}

/// How many functions a module imports (they come first in the function index space).
fn imported_functions(imports: &[u8]) -> Result<usize, String> {
    let mut at = 0;
    let mut functions = 0;
    for _ in 0..leb128(imports, &mut at)? {
        prefixed(imports, &mut at)?;
        prefixed(imports, &mut at)?;
        let kind = *imports.get(at).ok_or("an import ends early")?;
        at += 1;
        match kind {
            0 => {
                leb128(imports, &mut at)?;
                functions += 1;
            }
            // A table: its element type, then its limits.
            1 => {
                at += 1;
                limits(imports, &mut at)?;
            }
            2 => limits(imports, &mut at)?,
            // A global: its value type and mutability.
            3 => at += 2,
            // A tag: its attribute and type.
            4 => {
                at += 1;
                leb128(imports, &mut at)?;
            }
            other => return Err(format!("an import of unknown kind {other}")),
        }
    }
    Ok(functions)
}

fn limits(bytes: &[u8], at: &mut usize) -> Result<(), String> {
    let flags = leb128(bytes, at)?;
    leb128(bytes, at)?;
    if flags & 1 == 1 {
        leb128(bytes, at)?;
    }
    Ok(())
}

/// The function names of a `name` custom section's contents (after its own name), by index.
fn function_names(names: &[u8]) -> Result<Vec<(usize, String)>, String> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < names.len() {
        let id = names[at];
        at += 1;
        let sub = prefixed(names, &mut at)?;
        if id == 1 {
            let mut i = 0;
            for _ in 0..leb128(sub, &mut i)? {
                let index = leb128(sub, &mut i)?;
                let name = prefixed(sub, &mut i)?;
                out.push((index, String::from_utf8_lossy(name).into_owned()));
            }
        }
    }
    Ok(out)
}

/// Takes a module apart into its named function bodies and its data.
pub fn parts(module: &[u8]) -> Result<Parts<'_>, String> {
    let mut imported = 0;
    let mut bodies = Vec::new();
    let mut data: &[u8] = &[];
    let mut names = Vec::new();
    for (id, contents) in sections(module)? {
        match id {
            2 => imported = imported_functions(contents)?,
            10 => {
                let mut at = 0;
                for _ in 0..leb128(contents, &mut at)? {
                    bodies.push(prefixed(contents, &mut at)?);
                }
            }
            11 => data = contents,
            0 => {
                let mut at = 0;
                if prefixed(contents, &mut at)? == b"name" {
                    names = function_names(&contents[at..])?;
                }
            }
            _ => {}
        }
    }
    let mut functions: Vec<(Option<String>, &[u8])> =
        bodies.into_iter().map(|body| (None, body)).collect();
    for (index, name) in names {
        if let Some(f) = index
            .checked_sub(imported)
            .and_then(|i| functions.get_mut(i))
        {
            f.0 = Some(name);
        }
    }
    Ok(Parts { functions, data })
}

/// The length of `bytes` compressed by `gzip -9`.
pub fn gzip_len(bytes: &[u8]) -> Result<u64, String> {
    let mut gzip = Command::new("gzip")
        .args(["-9", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("gzip: {e}"))?;
    let mut stdin = gzip.stdin.take().ok_or("gzip: no stdin")?;
    let input = bytes.to_vec();
    // Written from a thread of its own: gzip's output fills its pipe while it reads.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = gzip.wait_with_output().map_err(|e| format!("gzip: {e}"))?;
    writer
        .join()
        .map_err(|_| "gzip: the writer panicked".to_owned())?
        .map_err(|e| format!("gzip: {e}"))?;
    if !out.status.success() {
        return Err(format!("gzip: {}", out.status));
    }
    Ok(out.stdout.len() as u64)
}

/// Each group's gzip share (see the module's doc): `group` names the group of a function
/// (`None` for an unnamed one); the data section is the group `data`. Returns (group, gzip
/// share) for every group.
pub fn gzip_shares(
    parts: &Parts,
    group: impl Fn(Option<&str>) -> String,
) -> Result<Vec<(String, u64)>, String> {
    let groups: Vec<String> = parts
        .functions
        .iter()
        .map(|(name, _)| group(name.as_deref()))
        .collect();
    // The code and data with one group left out (`None`: the whole of them).
    let without = |left_out: Option<&str>| -> Vec<u8> {
        let mut bytes = Vec::new();
        for (g, (_, body)) in groups.iter().zip(&parts.functions) {
            if Some(g.as_str()) != left_out {
                bytes.extend_from_slice(body);
            }
        }
        if left_out != Some("data") {
            bytes.extend_from_slice(parts.data);
        }
        bytes
    };
    let whole = gzip_len(&without(None))?;
    let mut names: Vec<&str> = groups.iter().map(String::as_str).collect();
    names.push("data");
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|g| {
            Ok((
                g.to_owned(),
                whole.saturating_sub(gzip_len(&without(Some(g)))?),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{gzip_shares, parts};

    /// A module importing one function and defining two, named `a::f` and `b::g`, with one
    /// data segment.
    fn module() -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        let section = |m: &mut Vec<u8>, id: u8, contents: &[u8]| {
            m.push(id);
            m.push(contents.len() as u8);
            m.extend_from_slice(contents);
        };
        // type: () -> ()
        section(&mut m, 1, &[1, 0x60, 0, 0]);
        // import "m" "i" func 0
        section(&mut m, 2, &[1, 1, b'm', 1, b'i', 0, 0]);
        // two functions of type 0
        section(&mut m, 3, &[2, 0, 0]);
        // bodies: no locals, `end`; no locals, `nop`, `end`
        section(&mut m, 10, &[2, 2, 0, 0x0b, 3, 0, 0x01, 0x0b]);
        // one active segment at 0: "hi"
        section(&mut m, 11, &[1, 0, 0x41, 0, 0x0b, 2, b'h', b'i']);
        let mut names = vec![4, b'n', b'a', b'm', b'e'];
        let sub = [
            2, 1, 4, b'a', b':', b':', b'f', 2, 4, b'b', b':', b':', b'g',
        ];
        names.push(1);
        names.push(sub.len() as u8);
        names.extend_from_slice(&sub);
        section(&mut m, 0, &names);
        m
    }

    #[test]
    fn bodies_are_named_past_the_imported_functions() {
        let m = module();
        let p = parts(&m).unwrap();
        let names: Vec<_> = p
            .functions
            .iter()
            .map(|(n, b)| (n.clone(), b.len()))
            .collect();
        assert_eq!(
            names,
            [(Some("a::f".to_owned()), 2), (Some("b::g".to_owned()), 3)]
        );
        assert_eq!(p.data, [1, 0, 0x41, 0, 0x0b, 2, b'h', b'i']);
    }

    #[test]
    fn every_group_and_the_data_get_a_share() {
        let m = module();
        let p = parts(&m).unwrap();
        let crate_of = |name: Option<&str>| {
            name.and_then(|n| n.split("::").next())
                .unwrap_or("unnamed")
                .to_owned()
        };
        let shares = gzip_shares(&p, crate_of).unwrap();
        let groups: Vec<&str> = shares.iter().map(|(g, _)| g.as_str()).collect();
        assert_eq!(groups, ["a", "b", "data"]);
        // `b::g` holds the one instruction that is not an `end`: leaving it out saves bytes.
        assert!(shares[1].1 > 0, "{shares:?}");
    }

    #[test]
    fn a_file_that_is_not_wasm_is_refused() {
        assert!(parts(b"\0asm\x02\0\0\0").is_err());
        assert!(parts(b"hello").is_err());
    }
}
