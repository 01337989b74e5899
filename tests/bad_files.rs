//! The topology error corpus: every `tests/bad/*.yaml` must fail to load with the error its
//! header promises (conventions in `tests/common/corpus.rs`).

mod common;

use std::path::Path;

use common::corpus;
use topolab::topology::Topology;

/// What `validate` does: load (parse, check) and compile. What it accepts, `up` builds.
fn validate(path: &Path) -> Result<(), topolab::topology::TopologyError> {
    let t = Topology::load(path)?;
    topolab::compile::compile(&t, &t.name).map(|_| ())
}

#[test]
fn every_bad_file_fails_where_its_header_says() {
    corpus::fails_where_headers_say("tests/bad", 30, validate);
}

#[test]
fn every_error_has_a_hint() {
    corpus::every_error_has_a_hint("tests/bad", validate);
}

/// Splits a lab may not make (`tests/bad_shards/`, `# shards: N` in the header): pins out
/// of range (with their line and column), the management network across machines, link
/// MTUs over the underlay's, more shards than nodes. Errors without a place in the file
/// (`# at: 0:0`) are the planner's own.
#[test]
fn every_bad_split_fails_where_its_header_says() {
    corpus::fails_where_headers_say("tests/bad_shards", 6, |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let shards: u32 = text
            .lines()
            .find_map(|l| l.strip_prefix("# shards:"))
            .expect("a `# shards: N` header")
            .trim()
            .parse()
            .unwrap();
        let t = Topology::load(path)?;
        let machines = topolab::compile::shard::default_machines(shards, 9000).unwrap();
        match topolab::compile::shard::plan_shards(&t, &t.name, &machines) {
            Ok(_) => Ok(()),
            Err(topolab::compile::shard::PlanShardsError::Topology(e)) => Err(e),
            Err(topolab::compile::shard::PlanShardsError::Shard(e)) => {
                Err(topolab::topology::TopologyError::new(
                    topolab::topology::ErrorKind::BadValue,
                    &t.source,
                    Default::default(),
                    e.to_string(),
                ))
            }
        }
    });
}

/// `machines.yaml` mistakes (`tests/bad_machines/`), each with line, column and a hint.
#[test]
fn every_bad_machines_file_fails_where_its_header_says() {
    corpus::fails_where_headers_say("tests/bad_machines", 8, |p| {
        topolab::compile::machines::load(p)
    });
    corpus::every_error_has_a_hint("tests/bad_machines", |p| {
        topolab::compile::machines::load(p)
    });
}

#[test]
fn missing_file_is_an_io_error() {
    let e = Topology::load(Path::new("/nonexistent/topolab/lab.yaml")).expect_err("no such file");
    assert_eq!(e.kind, topolab::topology::ErrorKind::Io);
    assert_eq!((e.line, e.column), (0, 0));
}

#[test]
fn devices_fifos_and_huge_files_are_refused_before_reading() {
    let e = Topology::load(Path::new("/dev/zero")).expect_err("a device");
    assert_eq!(e.kind, topolab::topology::ErrorKind::Io);
    assert!(
        e.message().contains("not a regular file"),
        "{}",
        e.one_line()
    );
    let e = topolab::scenario::load(Path::new("/dev/zero")).expect_err("a device");
    assert!(
        e.message().contains("not a regular file"),
        "{}",
        e.one_line()
    );

    let dir = std::env::temp_dir().join(format!("topolab-bad-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("fifo.yaml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let fifo_err = Topology::load(&fifo).expect_err("a FIFO");
    let big = dir.join("big.yaml");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(topolab::topology::MAX_FILE_BYTES + 1)
        .unwrap();
    let big_err = Topology::load(&big).expect_err("too large");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        fifo_err
            .message()
            .contains("not a regular file (it is a FIFO)"),
        "{}",
        fifo_err.one_line()
    );
    assert!(
        big_err.message().contains("the limit is 16777216 bytes"),
        "{}",
        big_err.one_line()
    );
}
