//! The layering of `src/`, checked: no module imports one that imports it
//! back (directly or through others), and each top-level module imports
//! only modules of the layers below it (ARCHITECTURE.md, "Layers").
//!
//! It reads the source, not the compiled crate: every path that starts
//! with `crate::`, `super::`, `self::` or a child module's name, in `use`
//! items and in code, is an import of the module file it names (a name
//! re-exported with `pub use` counts as the module that defines it).
//! Inline `#[cfg(test)] mod … { }` blocks are left out: a test module is a
//! leaf that nothing imports, so it cannot close a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules from the bottom up; a module may import only modules
/// of earlier rows.
const LAYERS: &[&[&str]] = &[
    &["domain", "metrics"],
    &["cluster"],
    &["store"],
    &["wire"],
    &["replies"],
    &["runtime"],
    &["idempotency"],
    &["actors"],
    &["shows"],
    &["ops"],
    &["engine"],
    &["config"],
    &["http"],
    &["in_process"],
];

/// Directories of `src/` that hold the `boxoffice` binary's own modules
/// (declared in main.rs), not the library's: outside the layers.
const BINARY_DIRS: &[&str] = &["cli"];

/// A module by its path below the crate root (`["store", "codec"]`).
type ModPath = Vec<String>;

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let graph = Graph::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let cycles = graph.cycles();
    assert!(
        cycles.is_empty(),
        "import cycles between modules of src/:\n{}",
        cycles
            .iter()
            .map(|cycle| cycle.join(" -> "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn top_level_modules_import_only_lower_layers() {
    let graph = Graph::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let layer_of = |top: &str| LAYERS.iter().position(|row| row.contains(&top));
    let mut wrong = Vec::new();
    for (from, to) in graph.top_level_edges() {
        match (layer_of(&from), layer_of(&to)) {
            (Some(a), Some(b)) if b < a => {}
            (None, _) => wrong.push(format!("{from} is in no layer")),
            (_, None) => wrong.push(format!("{to} is in no layer")),
            _ => wrong.push(format!("{from} imports {to}, which is not below it")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_reader_sees_paths_groups_children_and_reexports() {
    let code = "use crate::a::{b::C, d};\nuse super::e;\nfn f() { child::g(); crate::h::i(); }\n\
                #[cfg(test)]\nmod tests { use crate::z::Z; }\nconst S: &str = \"crate::y\";\n\
                // crate::x\nfn l<'a>(c: char) -> bool { c == '{' }\n";
    let paths = import_paths(&strip(code), &["child".to_string()]);
    let shown: BTreeSet<String> = paths.iter().map(|p| p.join("::")).collect();
    let expected: BTreeSet<String> = [
        "crate::a::b::C",
        "crate::a::d",
        "super::e",
        "self::child::g",
        "crate::h::i",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(shown, expected);
}

struct Graph {
    /// Module -> the modules it imports.
    edges: BTreeMap<ModPath, BTreeSet<ModPath>>,
}

impl Graph {
    fn read(src: &Path) -> Graph {
        let mut files = BTreeMap::new();
        collect_files(src, src, &mut files);
        let modules: BTreeSet<ModPath> = files.keys().cloned().collect();
        let texts: BTreeMap<ModPath, String> = files
            .iter()
            .map(|(module, path)| {
                let text = std::fs::read_to_string(path).expect("read a source file");
                (module.clone(), strip(&text))
            })
            .collect();
        let reexports = reexports(&texts, &modules);
        let mut edges = BTreeMap::new();
        for (module, text) in &texts {
            if module.is_empty() {
                continue; // lib.rs and main.rs only declare and start
            }
            let children = children(module, &modules);
            let imported: BTreeSet<ModPath> = import_paths(text, &children)
                .iter()
                .filter_map(|path| {
                    let absolute = absolute(module, path)?;
                    resolve(&absolute, &modules, &reexports)
                })
                .filter(|target| target != module && !target.is_empty())
                .collect();
            edges.insert(module.clone(), imported);
        }
        Graph { edges }
    }

    /// Every cycle found by a depth-first search, each as module names.
    fn cycles(&self) -> Vec<Vec<String>> {
        let mut found = Vec::new();
        let mut done = BTreeSet::new();
        for start in self.edges.keys() {
            let mut stack = vec![start.clone()];
            self.search(&mut stack, &mut done, &mut found);
        }
        found
    }

    fn search(
        &self,
        stack: &mut Vec<ModPath>,
        done: &mut BTreeSet<ModPath>,
        found: &mut Vec<Vec<String>>,
    ) {
        let here = stack.last().expect("not empty").clone();
        if done.contains(&here) {
            return;
        }
        for next in self.edges.get(&here).into_iter().flatten() {
            if let Some(at) = stack.iter().position(|m| m == next) {
                let mut cycle: Vec<String> = stack[at..].iter().map(|m| m.join("::")).collect();
                cycle.push(next.join("::"));
                found.push(cycle);
            } else {
                stack.push(next.clone());
                self.search(stack, done, found);
                stack.pop();
            }
        }
        done.insert(here);
    }

    fn top_level_edges(&self) -> BTreeSet<(String, String)> {
        self.edges
            .iter()
            .flat_map(|(from, tos)| tos.iter().map(move |to| (from[0].clone(), to[0].clone())))
            .filter(|(from, to)| from != to)
            .collect()
    }
}

fn collect_files(src: &Path, dir: &Path, files: &mut BTreeMap<ModPath, PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("a directory entry").path();
        if dir == src
            && path
                .file_name()
                .is_some_and(|name| BINARY_DIRS.contains(&&*name.to_string_lossy()))
        {
            continue;
        }
        if path.is_dir() {
            collect_files(src, &path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(src).expect("below src/");
            let mut module: ModPath = relative
                .with_extension("")
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect();
            if matches!(
                module.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                module.pop();
            }
            files.insert(module, path);
        }
    }
}

fn children(module: &ModPath, modules: &BTreeSet<ModPath>) -> Vec<String> {
    modules
        .iter()
        .filter(|m| m.len() == module.len() + 1 && m.starts_with(module))
        .map(|m| m[module.len()].clone())
        .collect()
}

/// A path read in `module` as a path from the crate root.
fn absolute(module: &ModPath, path: &[String]) -> Option<ModPath> {
    let mut base: ModPath = match path.first()?.as_str() {
        "crate" => Vec::new(),
        "self" => module.clone(),
        "super" => module[..module.len().checked_sub(1)?].to_vec(),
        _ => return None,
    };
    for segment in &path[1..] {
        if segment == "super" {
            base.pop()?;
        } else {
            base.push(segment.clone());
        }
    }
    Some(base)
}

/// The module file a root path lands in: its longest prefix that is a
/// module, or the module that defines the name re-exported there.
fn resolve(
    path: &ModPath,
    modules: &BTreeSet<ModPath>,
    reexports: &BTreeMap<ModPath, ModPath>,
) -> Option<ModPath> {
    let found = (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| modules.contains(prefix))?;
    if let Some(name) = path.get(found.len()) {
        let mut named = found.clone();
        named.push(name.clone());
        if let Some(defining) = reexports.get(&named) {
            return Some(defining.clone());
        }
    }
    Some(found)
}

/// `module::Name` -> the module that defines `Name`, for every `pub use`.
fn reexports(
    texts: &BTreeMap<ModPath, String>,
    modules: &BTreeSet<ModPath>,
) -> BTreeMap<ModPath, ModPath> {
    let mut found = BTreeMap::new();
    for (module, text) in texts {
        let children = children(module, modules);
        for statement in text.split(';') {
            let statement = statement.trim();
            let Some(at) = statement
                .find("pub use ")
                .or(statement.find("pub(crate) use "))
            else {
                continue;
            };
            if statement[..at].contains('{') {
                continue;
            }
            for path in import_paths(&statement[at..], &children) {
                let Some(name) = path.last().filter(|n| *n != "self" && *n != "*") else {
                    continue;
                };
                if let Some(defining) =
                    absolute(module, &path).and_then(|p| resolve(&p, modules, &BTreeMap::new()))
                {
                    let mut named = module.clone();
                    named.push(name.clone());
                    found.insert(named, defining);
                }
            }
        }
    }
    found
}

/// Source without comments, string and char literals, and inline
/// `#[cfg(test)]` modules.
fn strip(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && is_raw_start(&chars, i) {
            i = skip_raw_string(&chars, i);
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && next == Some('\\') {
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 3;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    drop_test_modules(&out)
}

fn is_raw_start(chars: &[char], at: usize) -> bool {
    let before_is_ident = at > 0 && (chars[at - 1].is_alphanumeric() || chars[at - 1] == '_');
    let mut i = at + 1;
    while chars.get(i) == Some(&'#') {
        i += 1;
    }
    !before_is_ident && chars.get(i) == Some(&'"')
}

fn skip_raw_string(chars: &[char], at: usize) -> usize {
    let mut i = at + 1;
    let mut hashes = 0;
    while chars[i] == '#' {
        hashes += 1;
        i += 1;
    }
    i += 1;
    while i < chars.len() {
        if chars[i] == '"' && (0..hashes).all(|k| chars.get(i + 1 + k) == Some(&'#')) {
            return i + 1 + hashes;
        }
        i += 1;
    }
    i
}

fn drop_test_modules(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let head = after.trim_start();
        let is_inline_module = head.split_once('{').is_some_and(|(before, _)| {
            before.trim_start_matches("pub ").trim().starts_with("mod ") && !before.contains(';')
        });
        if !is_inline_module {
            out.push_str("#[cfg(test)]");
            rest = after;
            continue;
        }
        let open = after.find('{').expect("a module body");
        let mut depth = 0;
        let mut end = after.len();
        for (i, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Every path of `text` that starts at `crate`, `super`, `self` or one of
/// `children` (read as `self::child`), with `{…}` groups expanded.
fn import_paths(text: &str, children: &[String]) -> Vec<Vec<String>> {
    let tokens = tokenize(text);
    let mut paths = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let starts = matches!(tokens[i].as_str(), "crate" | "super" | "self")
            || children.contains(&tokens[i]);
        let after_separator = i > 0 && tokens[i - 1] == "::";
        if starts && !after_separator && tokens.get(i + 1).map(String::as_str) == Some("::") {
            let mut prefix = vec![tokens[i].clone()];
            if children.contains(&tokens[i]) {
                prefix.insert(0, "self".to_string());
            }
            i = read_path(&tokens, i + 2, prefix, &mut paths);
        } else {
            i += 1;
        }
    }
    paths
}

/// Reads the rest of a path after `prefix::`; returns the next token index.
fn read_path(
    tokens: &[String],
    mut i: usize,
    mut prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    loop {
        match tokens.get(i).map(String::as_str) {
            Some("{") => {
                i += 1;
                loop {
                    match tokens.get(i).map(String::as_str) {
                        Some("}") => return i + 1,
                        Some(",") => i += 1,
                        None => return i,
                        Some(_) => i = read_path(tokens, i, prefix.clone(), out),
                    }
                }
            }
            Some(word) if is_ident(word) || word == "*" => {
                prefix.push(word.to_string());
                i += 1;
                if tokens.get(i).map(String::as_str) == Some("::") {
                    i += 1;
                    continue;
                }
                if tokens.get(i).map(String::as_str) == Some("as") {
                    i += 2;
                }
                out.push(prefix);
                return i;
            }
            _ => {
                out.push(prefix);
                return i;
            }
        }
    }
}

fn is_ident(word: &str) -> bool {
    word.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && word.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Identifiers, `::`, and single punctuation characters.
fn tokenize(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push("::".to_string());
            i += 2;
        } else if !c.is_whitespace() {
            tokens.push(c.to_string());
            i += 1;
        } else {
            i += 1;
        }
    }
    tokens
}
