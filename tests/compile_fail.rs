//! Tenant scoping holds at compile time: code outside the crate cannot build
//! a tenant-owned repository without a scope, nor hand a tenant id to a
//! scoped method.
//!
//! Each case in `tests/compile_fail/` is compiled by `rustc` against the very
//! library this test binary links (its rlib and dependencies, in the `deps`
//! folder beside this binary), so nothing is built twice. A harness that
//! builds the cases with cargo in a target folder of its own compiles the
//! whole dependency tree again: half of a cold test run on two cores.
//!
//! The errors a case produces (code, message, where in the case, and the
//! notes) must equal the `.stderr` file beside it. `PIERRE_BLESS=1` writes
//! those files from the current compiler's output instead; review the diff.

#![allow(
    clippy::unwrap_used,
    reason = "a test that cannot go on fails by panicking"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use serde_json::Value;

/// The folder of the cases, relative to the package root (the working
/// directory of every compilation, so that paths in messages stay short).
const CASES: &str = "tests/compile_fail";

#[test]
fn tenant_scoping_is_enforced_by_the_compiler() {
    let harness = Harness::find();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(CASES)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 7, "the cases are missing: {cases:?}");

    let bless = std::env::var_os("PIERRE_BLESS").is_some_and(|value| value == "1");
    let mut failures = String::new();
    for case in &cases {
        let expected_path = case.with_extension("stderr");
        let output = harness.compile(case);
        let case_name = case.display();
        if output.status.success() {
            writeln!(failures, "{case_name}: compiled, but must not").unwrap();
            continue;
        }
        let errors = errors_of(&output);
        if bless {
            std::fs::write(&expected_path, &errors).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if errors != expected {
            writeln!(
                failures,
                "{case_name}: the errors differ from {}\n--- expected\n{expected}--- actual\n{errors}",
                expected_path.display()
            )
            .unwrap();
        }
    }
    // An expectation with no case would be a check that silently stopped.
    for entry in std::fs::read_dir(CASES).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "stderr")
            && !path.with_extension("rs").exists()
        {
            writeln!(failures, "{}: no case beside it", path.display()).unwrap();
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

/// The compiler and the library build to check the cases against.
struct Harness {
    rustc: PathBuf,
    deps: PathBuf,
    library: PathBuf,
    out: PathBuf,
}

impl Harness {
    /// Finds the rustc of the toolchain that built this binary and the
    /// library rlib it linked.
    fn find() -> Self {
        // Cargo names itself in `CARGO`; the rustc beside it is the one that
        // built the rlibs (a different compiler cannot read them).
        let rustc = std::env::var_os("RUSTC")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let cargo = PathBuf::from(std::env::var_os("CARGO").unwrap_or_default());
                let beside = cargo.with_file_name("rustc");
                if beside.is_file() {
                    beside
                } else {
                    PathBuf::from("rustc")
                }
            });
        let exe = std::env::current_exe().unwrap();
        let deps = exe.parent().unwrap().to_path_buf();
        // A folder per run, so that two runs at once do not share outputs.
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("compile_fail-{}", std::process::id()));
        std::fs::create_dir_all(&out).unwrap();
        let mut harness = Self {
            rustc,
            deps,
            library: PathBuf::new(),
            out,
        };
        harness.library = harness.linked_library(&exe);
        harness
    }

    /// The `libpierre_db-*.rlib` this binary was linked with. Several builds
    /// can sit side by side (other feature sets, other workspace members'
    /// features); the one linked here has this binary's features and is the
    /// newest that is not newer than the binary itself.
    fn linked_library(&self, exe: &Path) -> PathBuf {
        let built = modified(exe);
        let mut candidates: Vec<(SystemTime, PathBuf)> = std::fs::read_dir(&self.deps)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| {
                let name = path.file_name().unwrap().to_string_lossy();
                name.starts_with("libpierre_db-") && name.ends_with(".rlib")
            })
            .map(|path| (modified(&path), path))
            .filter(|(time, _)| *time <= built)
            .collect();
        candidates.sort_by_key(|candidate| std::cmp::Reverse(candidate.0));

        let probe = self.out.join("probe.rs");
        std::fs::write(
            &probe,
            format!(
                "const _: () = assert!(matches!(pierre_db::internals::FEATURES, [{}, {}, {}, {}]));\nfn main() {{}}\n",
                cfg!(feature = "sqlite"),
                cfg!(feature = "postgres"),
                cfg!(feature = "adopt"),
                cfg!(feature = "metrics"),
            ),
        )
        .unwrap();
        let mut refused = String::new();
        for (_, candidate) in &candidates {
            let output = self.rustc(&probe, candidate);
            if output.status.success() {
                return candidate.clone();
            }
            writeln!(refused, "{}: {}", candidate.display(), errors_of(&output)).unwrap();
        }
        panic!(
            "no build of the library in {} matches this test binary's features:\n{refused}",
            self.deps.display()
        );
    }

    /// Type-checks one case against the library (no code is generated).
    fn compile(&self, case: &Path) -> Output {
        self.rustc(case, &self.library)
    }

    fn rustc(&self, source: &Path, library: &Path) -> Output {
        Command::new(&self.rustc)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "--edition",
                "2024",
                "--crate-type",
                "bin",
                "--emit",
                "metadata",
            ])
            // `--verbose` names types in full in the message itself, rather
            // than in a file of its own under a random name.
            .args(["--error-format", "json", "-A", "warnings", "--verbose"])
            .arg("--out-dir")
            .arg(&self.out)
            .arg("-L")
            .arg(format!("dependency={}", self.deps.display()))
            .arg("--extern")
            .arg(format!("pierre_db={}", library.display()))
            .arg(source)
            .output()
            .unwrap()
    }
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

/// The errors of a compilation, one block each: the code and message, the
/// primary location and its label, then the notes and help (without the
/// compiler's source excerpts, whose paths and line numbers in dependencies
/// differ between machines).
fn errors_of(output: &Output) -> String {
    let mut rendered = String::new();
    for line in String::from_utf8_lossy(&output.stderr).lines() {
        let Ok(diagnostic) = serde_json::from_str::<Value>(line) else {
            // Not a diagnostic: the compiler could not even start.
            writeln!(rendered, "{line}").unwrap();
            continue;
        };
        if diagnostic["level"] != "error" {
            continue;
        }
        let message = diagnostic["message"].as_str().unwrap_or_default();
        match diagnostic["code"]["code"].as_str() {
            Some(code) => writeln!(rendered, "error[{code}]: {message}").unwrap(),
            None => writeln!(rendered, "error: {message}").unwrap(),
        }
        let spans = diagnostic["spans"].as_array().cloned().unwrap_or_default();
        for span in spans.iter().filter(|span| span["is_primary"] == true) {
            write!(
                rendered,
                "  --> {}:{}:{}",
                span["file_name"].as_str().unwrap_or_default(),
                span["line_start"],
                span["column_start"]
            )
            .unwrap();
            match span["label"].as_str() {
                Some(label) => writeln!(rendered, ": {label}").unwrap(),
                None => rendered.push('\n'),
            }
        }
        for child in diagnostic["children"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let level = child["level"].as_str().unwrap_or_default();
            let text = child["message"].as_str().unwrap_or_default();
            let text = text.replace('\n', "\n          ");
            writeln!(rendered, "  = {level}: {text}").unwrap();
        }
        rendered.push('\n');
    }
    rendered
}
