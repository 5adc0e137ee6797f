//! The module graph stays one-way (README "Architecture"). This test reads the sources and
//! collects, for every file, the modules of its own crate that it names (`use` trees and paths
//! starting with `crate::`, `super::` or `self::`), then checks:
//!
//! - `ids` names nothing of the crate, and `model` nothing but `ids`: every layer can write the
//!   model, and the outputs need nothing else;
//! - `output` and `tui` name none of `analysis`, `flow`, `classify`, `reassembly`: they read
//!   the model (the TUI also drives the engine);
//! - the crate's top-level modules form no cycle (so neither do `flow`, `classify`, `model` and
//!   `analysis`);
//! - inside each dissector folder (`dissectors/src/cgp`, ...), no two files name each other,
//!   directly or round a cycle; a name the folder's `mod.rs` imports (a re-export) counts as
//!   the file it comes from.
//!
//! Test code (`#[cfg(test)]` items and the modules they declare) is left out: tests may reach
//! anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

type ModPath = Vec<String>;

/// One source file: its module path and the module paths it names, resolved.
struct File {
    path: PathBuf,
    module: ModPath,
    names: Vec<ModPath>,
}

/// What one crate's sources say about modules.
struct Crate {
    files: Vec<File>,
    /// Per module, the names its `use` items bring in (`pub use child::Name`, ...) -> where
    /// they come from.
    reexports: BTreeMap<ModPath, BTreeMap<String, ModPath>>,
}

#[test]
fn ids_and_model_sit_at_the_bottom() {
    let graph = top_level_graph(&read_crate(Path::new("src")));
    let ids = &graph["ids"];
    assert!(
        ids.is_empty(),
        "ids must name nothing of the crate: {ids:?}"
    );
    let model = &graph["model"];
    assert!(model.contains_key("ids"), "the scan sees model's imports");
    let beyond_ids: Vec<_> = model.iter().filter(|(m, _)| *m != "ids").collect();
    assert!(
        beyond_ids.is_empty(),
        "model must name nothing of the crate but ids: {beyond_ids:?}"
    );
}

#[test]
fn outputs_and_the_tui_read_the_model_not_the_internals() {
    let graph = top_level_graph(&read_crate(Path::new("src")));
    for reader in ["output", "tui"] {
        let named = &graph[reader];
        assert!(
            named.contains_key("model"),
            "the scan sees {reader}'s imports"
        );
        for internal in ["analysis", "flow", "classify", "reassembly"] {
            assert!(
                !named.contains_key(internal),
                "{reader} names {internal} in {:?}; read the model instead",
                named[internal]
            );
        }
    }
}

#[test]
fn the_top_level_modules_form_no_cycle() {
    let graph = top_level_graph(&read_crate(Path::new("src")));
    let edges = graph
        .iter()
        .map(|(m, to)| (m.clone(), to.keys().cloned().collect()))
        .collect();
    if let Some(cycle) = find_cycle(&edges) {
        panic!(
            "the top-level modules form a cycle: {}\n{}",
            cycle.join(" -> "),
            evidence(&graph, &cycle)
        );
    }
    // The edges the README draws are there (the scan sees them).
    for (from, to) in [
        ("model", "ids"),
        ("reassembly", "model"),
        ("classify", "reassembly"),
        ("flow", "classify"),
        ("analysis", "flow"),
        ("engine", "analysis"),
        ("run", "engine"),
        ("check", "engine"),
        ("cli", "engine"),
        ("output", "model"),
        ("tui", "model"),
        ("tui", "engine"),
    ] {
        assert!(graph[from].contains_key(to), "{from} no longer names {to}");
    }
}

#[test]
fn no_dissector_folder_has_files_that_name_each_other() {
    let krate = read_crate(Path::new("dissectors/src"));
    // Every folder below dissectors/src: cgp, flexlm, flexlm/state, ica, ...
    let folders: BTreeSet<ModPath> = krate
        .files
        .iter()
        .filter(|f| f.module.len() >= 2)
        .map(|f| f.module[..f.module.len() - 1].to_vec())
        .collect();
    for d in ["cgp", "flexlm", "ica"] {
        assert!(
            folders.contains(&vec![d.to_string()]),
            "no dissectors/src/{d} among {folders:?}"
        );
    }
    // The scan sees the files' imports: CGP's connection state reads messages with the parser.
    assert!(folder_graph(&krate, &["cgp".to_string()])["state"].contains("parser"));
    for folder in &folders {
        let edges = folder_graph(&krate, folder);
        if let Some(cycle) = find_cycle(&edges) {
            panic!(
                "files of dissectors/src/{} name each other: {}; move what they share into a \
                 lower module",
                folder.join("/"),
                cycle.join(" -> ")
            );
        }
    }
}

#[test]
fn the_scanner_sees_what_it_must() {
    let src = r##"
        //! use crate::commented;
        /* crate::block /* nested */ crate::still_comment */
        fn g<'a>(x: &'a str) -> &'a str { let _ = (r#"crate::raw"#, b"crate::bytes", '\''); x }
        use crate::a::{self, b::C, d::{E as F}};
        use super::{sibling, super::uncle::X};
        #[cfg(test)]
        mod tests { use crate::test_only; }
        #[cfg(test)]
        mod helpers;
        mod inline { use super::super::up; }
        fn f() { let s = "crate::in_string"; let c = '"'; crate::inline_path::call(); }
        pub use child::Name as Alias;
        mod child;
    "##;
    let scan = scan(src, &["m".to_string(), "n".to_string()]);
    let names: Vec<String> = scan.names.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        names,
        [
            "a",
            "a::b::C",
            "a::d::E",
            "m::sibling",
            "uncle::X",
            "m::up",
            "inline_path::call",
            "m::n::child::Name",
        ]
    );
    assert_eq!(scan.test_modules, [vec!["m", "n", "helpers"]]);
    let alias = |name: &str| {
        let found = scan.aliases.iter().find(|(a, _)| a == name);
        found.map(|(_, p)| p.join("::"))
    };
    assert_eq!(alias("Alias").as_deref(), Some("m::n::child::Name"));
    assert_eq!(alias("F").as_deref(), Some("a::d::E"));
    assert_eq!(alias("E"), None);
}

// ---- the top-level graph and the dissector folders

/// Top-level module -> top-level modules it names -> the files that name them.
fn top_level_graph(krate: &Crate) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let tops: BTreeSet<&String> = krate
        .files
        .iter()
        .filter_map(|f| f.module.first())
        .collect();
    let mut graph: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for f in &krate.files {
        let Some(from) = f.module.first() else {
            continue; // the crate root declares the modules
        };
        let named = graph.entry(from.clone()).or_default();
        for to in f.names.iter().filter_map(|n| n.first()) {
            if to != from && tops.contains(to) {
                named
                    .entry(to.clone())
                    .or_default()
                    .insert(f.path.display().to_string());
            }
        }
    }
    graph
}

/// Within the folder module `parent`: each child module (a file, or a folder taken whole) ->
/// the siblings it names.
fn folder_graph(krate: &Crate, parent: &[String]) -> BTreeMap<String, BTreeSet<String>> {
    let depth = parent.len();
    let inside = |f: &&File| f.module.len() > depth && f.module.starts_with(parent);
    let children: BTreeSet<&String> = krate
        .files
        .iter()
        .filter(inside)
        .map(|f| &f.module[depth])
        .collect();
    let imports = krate.reexports.get(parent).cloned().unwrap_or_default();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in krate.files.iter().filter(inside) {
        let from = &f.module[depth];
        for name in &f.names {
            let Some(item) = name.strip_prefix(parent).and_then(|n| n.first()) else {
                continue;
            };
            let to = if children.contains(item) {
                item
            } else {
                // A name the folder's mod.rs imports: the child it comes from.
                match imports.get(item) {
                    Some(p)
                        if p.len() > depth
                            && p.starts_with(parent)
                            && children.contains(&p[depth]) =>
                    {
                        &p[depth]
                    }
                    _ => continue,
                }
            };
            if to != from {
                edges.entry(from.clone()).or_default().insert(to.clone());
            }
        }
    }
    edges
}

/// A cycle in `edges`, as the nodes round it (the first repeated at the end).
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut done, &mut Vec::new()))
}

fn evidence(
    graph: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    cycle: &[String],
) -> String {
    cycle
        .windows(2)
        .map(|w| format!("{} -> {}: {:?}", w[0], w[1], graph[&w[0]][&w[1]]))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---- reading a crate

fn read_crate(root: &Path) -> Crate {
    let mut sources = Vec::new();
    collect(root, &mut sources);
    let mut scanned = Vec::new();
    let mut test_modules = Vec::new();
    let mut reexports: BTreeMap<ModPath, BTreeMap<String, ModPath>> = BTreeMap::new();
    for path in sources {
        let Some(module) = module_of(root, &path) else {
            continue;
        };
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("#[path"),
            "{}: #[path] modules are not followed by this test",
            path.display()
        );
        let scan = scan(&text, &module);
        test_modules.extend(scan.test_modules);
        let own = reexports.entry(module.clone()).or_default();
        own.extend(scan.aliases);
        scanned.push(File {
            path,
            module,
            names: scan.names,
        });
    }
    scanned.retain(|f| !test_modules.iter().any(|t| f.module.starts_with(t)));
    Crate {
        files: scanned,
        reexports,
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`; `lib.rs` is the root; `main.rs` is another
/// crate.
fn module_of(root: &Path, file: &Path) -> Option<ModPath> {
    let rel = file.strip_prefix(root).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    match last.as_str() {
        "main.rs" if parts.is_empty() => None,
        "lib.rs" if parts.is_empty() => Some(parts),
        "mod.rs" => Some(parts),
        name => {
            parts.push(name.strip_suffix(".rs")?.to_string());
            Some(parts)
        }
    }
}

// ---- scanning one file

#[derive(Default)]
struct Scan {
    /// Module paths named, resolved against the file's module (outside crates left out).
    names: Vec<ModPath>,
    /// File modules declared under `#[cfg(test)]`.
    test_modules: Vec<ModPath>,
    /// `use` aliases of the file's own module: name -> resolved path.
    aliases: Vec<(String, ModPath)>,
}

fn scan(src: &str, module: &[String]) -> Scan {
    let toks = tokens(src);
    let declared: BTreeSet<&str> = toks
        .windows(2)
        .filter(|w| w[0] == "mod")
        .map(|w| w[1].as_str())
        .collect();
    let mut out = Scan::default();
    // The module scope, and for each open brace whether it opened an inline module.
    let mut scope: ModPath = module.to_vec();
    let mut braces: Vec<bool> = Vec::new();
    let mut test_item = false;
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i].as_str();
        match t {
            "#" if toks.get(i + 1).is_some_and(|n| n == "[") => {
                let end = matching(&toks, i + 1, "[", "]");
                test_item |= toks[i + 2..end] == ["cfg", "(", "test", ")"];
                i = end + 1;
                continue;
            }
            "pub" => {
                i += 1;
                if toks.get(i).is_some_and(|n| n == "(") {
                    i = matching(&toks, i, "(", ")") + 1;
                }
                continue;
            }
            _ if test_item => {
                test_item = false;
                if t == "mod" && toks.get(i + 2).is_some_and(|n| n == ";") {
                    let mut m = scope.clone();
                    m.push(toks[i + 1].clone());
                    out.test_modules.push(m);
                }
                i = skip_item(&toks, i);
                continue;
            }
            "mod" if toks.get(i + 2).is_some_and(|n| n == "{") => {
                scope.push(toks[i + 1].clone());
                braces.push(true);
                i += 3;
                continue;
            }
            "use" => {
                let mut trees = Vec::new();
                i = use_tree(&toks, i + 1, Vec::new(), &mut trees);
                for (path, alias) in trees {
                    if let Some(p) = resolve(&path, &scope, &declared) {
                        if scope == module && alias != "*" {
                            out.aliases.push((alias, p.clone()));
                        }
                        out.names.push(p);
                    }
                }
                continue;
            }
            "crate" | "super" | "self" if toks.get(i + 1).is_some_and(|n| n == "::") => {
                let mut path = vec![t.to_string()];
                i += 1;
                while toks.get(i).is_some_and(|n| n == "::")
                    && toks.get(i + 1).is_some_and(|n| is_ident(n))
                {
                    path.push(toks[i + 1].clone());
                    i += 2;
                }
                if let Some(p) = resolve(&path, &scope, &declared) {
                    out.names.push(p);
                }
                continue;
            }
            "{" => braces.push(false),
            "}" if braces.pop() == Some(true) => {
                scope.pop();
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Expands a `use` tree from `i` into (path, name it binds); returns the index after it.
fn use_tree(
    toks: &[String],
    mut i: usize,
    mut prefix: Vec<String>,
    out: &mut Vec<(Vec<String>, String)>,
) -> usize {
    loop {
        match toks.get(i).map(String::as_str) {
            Some("{") => {
                i += 1;
                while toks.get(i).is_some_and(|t| t != "}") {
                    i = use_tree(toks, i, prefix.clone(), out);
                    if toks.get(i).is_some_and(|t| t == ",") {
                        i += 1;
                    }
                }
                return skip_semicolon(toks, i + 1);
            }
            Some("*") => {
                prefix.push("*".to_string());
                out.push((prefix, "*".to_string()));
                return skip_semicolon(toks, i + 1);
            }
            Some("::") => i += 1,
            Some("self") if !prefix.is_empty() => {
                let name = prefix.last().cloned().unwrap_or_default();
                return bind(toks, i + 1, prefix, name, out);
            }
            Some(id) if is_ident(id) => {
                prefix.push(id.to_string());
                i += 1;
                if toks.get(i).is_some_and(|t| t == "::") {
                    continue;
                }
                let name = id.to_string();
                return bind(toks, i, prefix, name, out);
            }
            _ => return skip_semicolon(toks, i),
        }
    }
}

/// The end of one use path: an optional `as alias`, then `;` at the top level.
fn bind(
    toks: &[String],
    mut i: usize,
    path: Vec<String>,
    mut name: String,
    out: &mut Vec<(Vec<String>, String)>,
) -> usize {
    if toks.get(i).is_some_and(|t| t == "as") {
        name = toks[i + 1].clone();
        i += 2;
    }
    out.push((path, name));
    skip_semicolon(toks, i)
}

fn skip_semicolon(toks: &[String], i: usize) -> usize {
    if toks.get(i).is_some_and(|t| t == ";") {
        i + 1
    } else {
        i
    }
}

/// An absolute module path for `path` named in module `scope`, or `None` for another crate.
fn resolve(path: &[String], scope: &[String], declared: &BTreeSet<&str>) -> Option<ModPath> {
    let (first, rest) = path.split_first()?;
    let mut base: ModPath = match first.as_str() {
        "crate" => Vec::new(),
        "self" => scope.to_vec(),
        "super" => {
            let ups = 1 + rest.iter().take_while(|p| *p == "super").count();
            let kept = scope.len().checked_sub(ups)?;
            let mut p = scope[..kept].to_vec();
            p.extend(rest.iter().skip(ups - 1).cloned());
            return Some(p).filter(|p| !p.is_empty());
        }
        // A child module declared in this file, named relatively.
        name if declared.contains(name) => {
            let mut p = scope.to_vec();
            p.push(name.to_string());
            p
        }
        _ => return None,
    };
    base.extend(rest.iter().cloned());
    Some(base).filter(|p| !p.is_empty())
}

/// Skips the item starting at `i`: up to its `;`, or through its `{ ... }` block.
fn skip_item(toks: &[String], mut i: usize) -> usize {
    while i < toks.len() {
        match toks[i].as_str() {
            ";" => return i + 1,
            "{" => return matching(toks, i, "{", "}") + 1,
            "(" => i = matching(toks, i, "(", ")"),
            "[" => i = matching(toks, i, "[", "]"),
            _ => {}
        }
        i += 1;
    }
    i
}

/// The index of the bracket that closes the one at `open`.
fn matching(toks: &[String], open: usize, left: &str, right: &str) -> usize {
    let mut depth = 0;
    for (i, t) in toks.iter().enumerate().skip(open) {
        if t == left {
            depth += 1;
        } else if t == right {
            depth -= 1;
            if depth == 0 {
                return i;
            }
        }
    }
    toks.len()
}

fn is_ident(t: &str) -> bool {
    t.starts_with(|c: char| c.is_alphabetic() || c == '_')
}

/// The source as identifiers, `::` and single punctuation characters; comments, strings and
/// character literals are dropped, and so are numbers.
fn tokens(src: &str) -> Vec<String> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if ch == '"' {
            i = skip_string(&c, i + 1, None);
        } else if ch == '\'' {
            if next == Some('\\') {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3; // a character literal
            } else {
                i += 1; // a lifetime
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            // Raw strings: r"..", r#".."#, br"..".
            if (word == "r" || word == "br") && matches!(c.get(i), Some('"' | '#')) {
                let hashes = c[i..].iter().take_while(|&&h| h == '#').count();
                i = skip_string(&c, i + hashes + 1, Some(hashes));
            } else if word == "b" && c.get(i) == Some(&'"') {
                i = skip_string(&c, i + 1, None);
            } else {
                out.push(word);
            }
        } else if ch.is_ascii_digit() {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
        } else if ch == ':' && next == Some(':') {
            out.push("::".to_string());
            i += 2;
        } else {
            out.push(ch.to_string());
            i += 1;
        }
    }
    out
}

/// The index after a string whose body starts at `i`: an ordinary one (with escapes), or a
/// raw one that ends with `"` and `raw_hashes` `#`s.
fn skip_string(c: &[char], mut i: usize, raw_hashes: Option<usize>) -> usize {
    let hashes = raw_hashes.unwrap_or(0);
    while i < c.len() {
        if c[i] == '\\' && raw_hashes.is_none() {
            i += 2;
        } else if c[i] == '"'
            && c[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&h| h == '#')
                .count()
                == hashes
        {
            return i + 1 + hashes;
        } else {
            i += 1;
        }
    }
    i
}
