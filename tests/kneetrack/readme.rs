//! README's scenario reference is the key table (`scenario::keys`): each block between
//! `<!-- keys:begin SECTION... -->` and `<!-- keys:end -->` is what
//! `kneetrack keys --markdown SECTION...` prints, so the README cannot drift from the checks.

use std::collections::BTreeMap;
use std::path::Path;

use kneetrack::scenario::keys;

use super::bin;

const BEGIN: &str = "<!-- keys:begin";
const END: &str = "<!-- keys:end -->";

/// A README block: the sections its marker names, and the text between the markers.
struct Block {
    sections: Vec<String>,
    /// Byte range of the text between the begin marker's line and the end marker.
    body: std::ops::Range<usize>,
}

fn blocks(readme: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = readme[from..].find(BEGIN).map(|i| i + from) {
        let line_end = readme[i..].find('\n').map_or(readme.len(), |n| i + n + 1);
        let marker = &readme[i..line_end];
        let sections = marker[BEGIN.len()..]
            .trim()
            .trim_end_matches("-->")
            .split_whitespace()
            .map(String::from)
            .collect();
        let end = readme[line_end..]
            .find(END)
            .map(|n| line_end + n)
            .unwrap_or_else(|| panic!("README.md: `{}` has no `{END}`", marker.trim()));
        out.push(Block {
            sections,
            body: line_end..end,
        });
        from = end;
    }
    out
}

/// What a block holds: a blank line, the markdown table, a blank line.
fn generated(sections: &[String]) -> String {
    let selected = keys::select(sections).unwrap_or_else(|e| panic!("README.md marker: {e}"));
    format!("\n{}\n", keys::markdown(&selected))
}

/// Each block of README.md is the key table's markdown for its sections, every key is in
/// exactly one block, and `kneetrack keys --markdown SECTION...` prints that markdown.
/// `KNEETRACK_UPDATE_README=1` rewrites the blocks instead of failing.
#[test]
fn readme_scenario_reference_is_the_key_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let blocks = blocks(&readme);
    assert!(
        blocks.len() >= 2,
        "README.md has no `{BEGIN} SECTION… -->` blocks"
    );

    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for b in &blocks {
        for k in keys::select(&b.sections).unwrap() {
            *seen.entry(k.key).or_default() += 1;
        }
    }
    for k in keys::KEYS {
        let n = seen.get(k.key).copied().unwrap_or(0);
        assert_eq!(n, 1, "README.md lists `{}` in {n} key blocks", k.key);
    }

    let mut fixed = String::new();
    let mut at = 0;
    let mut stale = Vec::new();
    for b in &blocks {
        let want = generated(&b.sections);
        let have = &readme[b.body.clone()];
        if have != want {
            let first = have
                .lines()
                .zip(want.lines())
                .find(|(h, w)| h != w)
                .map(|(h, w)| format!("README: {h}\n    table:  {w}"))
                .unwrap_or_else(|| "(rows added or removed)".into());
            stale.push(format!("  `{}`: {first}", b.sections.join(" ")));
        }
        fixed += &readme[at..b.body.start];
        fixed += &want;
        at = b.body.end;
    }
    fixed += &readme[at..];
    if !stale.is_empty() {
        if std::env::var_os("KNEETRACK_UPDATE_README").is_some() {
            std::fs::write(&path, fixed).unwrap();
            return;
        }
        panic!(
            "README.md's scenario reference differs from the key table (src/scenario/keys.rs) \
             in {} block(s):\n{}\nRegenerate the blocks with\n  \
             KNEETRACK_UPDATE_README=1 cargo test --test kneetrack readme\n\
             (or paste `kneetrack keys --markdown SECTION...` between each block's markers); \
             change a key's text in src/scenario/keys.rs, not in the README.",
            stale.len(),
            stale.join("\n")
        );
    }

    for b in &blocks {
        let o = bin()
            .arg("keys")
            .arg("--markdown")
            .args(&b.sections)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(
            format!("\n{}\n", String::from_utf8(o.stdout).unwrap()),
            generated(&b.sections)
        );
    }
}

/// `kneetrack keys` prints every key as aligned text (one section on request); an unknown
/// section is a one-line usage error, exit 2.
#[test]
fn keys_prints_the_table_and_refuses_unknown_sections() {
    let o = bin().arg("keys").output().unwrap();
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.starts_with("key "), "{out}");
    for k in keys::KEYS {
        assert!(out.lines().any(|l| l.starts_with(k.key)), "{}", k.key);
    }
    assert!(out.contains("* parametric knee only"), "{out}");
    let o = bin().args(["keys", "dynamic"]).output().unwrap();
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains("dynamic.dt_s") && !out.contains("gait.speed_mps"),
        "{out}"
    );
    let o = bin().args(["keys", "dynamics"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("`dynamics`") && err.contains("sections: scenario"),
        "{err}"
    );
}
