//! The original server's `_sqlx_migrations` ledger: which of its
//! migrations a database holds, and whether this version can take it over.

/// The original's migrations this project mirrors: `20250120000001` …
/// `20250120000021`, without `…016` (the original has no such file).
pub(crate) const MIRRORED: [i64; 20] = {
    let mut versions = [0i64; 20];
    let mut i = 0;
    let mut n = 1;
    while i < 20 {
        if n != 16 {
            versions[i] = 20_250_120_000_000 + n;
            i += 1;
        }
        n += 1;
    }
    versions
};

/// One row of the ledger: the version and whether it succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) version: i64,
    pub(crate) success: bool,
}

/// What the ledger says, when it is one this version can adopt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Versions after the mirrored ones: the original's later migrations.
    pub(crate) later: Vec<i64>,
}

/// Checks the ledger: every mirrored version present and successful, no
/// version this project does not know among them, later versions (and
/// whether they failed) reported. Each problem is a sentence; all are
/// returned, not only the first.
pub(crate) fn judge(entries: &[Entry]) -> Result<Verdict, Vec<String>> {
    let mut problems = Vec::new();
    let last = MIRRORED[MIRRORED.len() - 1];
    for version in MIRRORED {
        match entries.iter().find(|e| e.version == version) {
            None => problems.push(format!(
                "its ledger lacks the original's migration {version}: migrate it with the \
                 original server first"
            )),
            Some(entry) if !entry.success => problems.push(format!(
                "the original's migration {version} failed in it (_sqlx_migrations.success = 0): \
                 repair it with the original server first"
            )),
            Some(_) => {}
        }
    }
    let mut later = Vec::new();
    for entry in entries {
        if entry.version > last {
            if !entry.success {
                problems.push(format!(
                    "the original's later migration {} failed in it (_sqlx_migrations.success = 0)",
                    entry.version
                ));
            }
            later.push(entry.version);
        } else if !MIRRORED.contains(&entry.version) {
            problems.push(format!(
                "its ledger holds migration {}, which is none of the original's 20 this version \
                 knows",
                entry.version
            ));
        }
    }
    later.sort_unstable();
    if problems.is_empty() {
        Ok(Verdict { later })
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "a test that cannot go on fails by panicking"
    )]

    use super::*;

    fn ledger(versions: &[i64]) -> Vec<Entry> {
        versions
            .iter()
            .map(|&version| Entry {
                version,
                success: true,
            })
            .collect()
    }

    #[test]
    fn the_twenty_mirrored_versions_skip_sixteen() {
        assert_eq!(MIRRORED[0], 20_250_120_000_001);
        assert_eq!(MIRRORED[14], 20_250_120_000_015);
        assert_eq!(MIRRORED[15], 20_250_120_000_017);
        assert_eq!(MIRRORED[19], 20_250_120_000_021);
    }

    #[test]
    fn a_complete_ledger_is_adopted_and_later_versions_are_reported() {
        assert_eq!(judge(&ledger(&MIRRORED)).unwrap().later, Vec::<i64>::new());
        let mut with_later = MIRRORED.to_vec();
        with_later.push(20_260_206_000_001);
        assert_eq!(
            judge(&ledger(&with_later)).unwrap().later,
            vec![20_260_206_000_001]
        );
    }

    #[test]
    fn missing_failed_and_unknown_versions_are_each_named() {
        let mut entries = ledger(&MIRRORED[1..]);
        entries[3].success = false;
        entries.push(Entry {
            version: 20_250_120_000_016,
            success: true,
        });
        let problems = judge(&entries).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("lacks the original's migration 20250120000001"));
        assert!(problems[1].contains("migration 20250120000005 failed"));
        assert!(problems[2].contains("holds migration 20250120000016"));
    }
}
