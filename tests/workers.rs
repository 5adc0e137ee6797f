//! `--workers N`: every sample capture (and the real ones) gives the same report with 1, 2 and
//! 4 flow-sharded workers as with one engine, byte for byte, the flow table's peak included.
//! No sample capture hits a cap, which the workers split between them.

mod support;

use ctxscope::check::find_captures;
use ctxscope::config::Config;
use ctxscope::engine::Engine;
use ctxscope::model::Report;
use ctxscope::run;
use std::path::{Path, PathBuf};

fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("a report serialises")
}

#[test]
fn any_number_of_workers_gives_the_same_report() {
    let captures = find_captures(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("captures"))
        .expect("the sample captures are read");
    assert!(captures.len() >= 60, "only {} captures", captures.len());
    let mut flows = 0;
    for capture in &captures {
        let settings = capture.with_extension("toml");
        let config = Config::load(settings.exists().then_some(settings.as_path()), &[])
            .expect("the capture's settings load");
        let mut engine = Engine::new(config.clone());
        if run::read_file(&mut engine, capture, &capture.display().to_string(), false).is_err() {
            // A file that does not open is an error with any number of workers.
            for workers in [1, 2, 4] {
                assert!(
                    run::analyse_files(&config, std::slice::from_ref(capture), workers, false)
                        .is_err()
                );
            }
            continue;
        }
        let one = engine.finish();
        flows += one.flows.len();
        for workers in [1, 2, 4] {
            let sharded =
                run::analyse_files(&config, std::slice::from_ref(capture), workers, false)
                    .expect("the capture opens");
            assert!(
                json(&sharded) == json(&one),
                "{} differs with {workers} workers",
                capture.display()
            );
        }
    }
    assert!(flows > 500, "only {flows} flows over the captures");
}

#[test]
fn files_read_in_turn_are_one_capture_for_the_workers_too() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("captures");
    let files = [
        dir.join("scan/syn_scan.pcap"),
        dir.join("ica/basic_session.pcap"),
    ];
    let mut engine = Engine::new(Config::default());
    for f in &files {
        run::read_file(&mut engine, f, &f.display().to_string(), false).expect("opens");
    }
    let one = engine.finish();
    let sharded = run::analyse_files(&Config::default(), &files, 2, false).expect("opens");
    assert_eq!(one.sources.len(), 2);
    assert!(json(&sharded) == json(&one));
}

/// A file larger than the reader's 1 MiB window: packets are walked across window boundaries
/// (a record split by one starts the next window), and the report is still one engine's.
/// A generated 5 MB farm in a temporary folder of its own (`name`): the folder and the file.
fn farm_of_5mb(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("ctxscope-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let farm = dir.join("farm.pcap");
    let generated = std::process::Command::new(env!("CARGO_BIN_EXE_ctxscope"))
        .args(["generate", "--farm"])
        .arg(&farm)
        .args(["--size", "5M", "--seed", "7"])
        .output()
        .expect("ctxscope generate runs");
    assert!(generated.status.success(), "{generated:?}");
    (dir, farm)
}

#[test]
fn a_file_read_over_many_windows_gives_one_engines_report() {
    let (dir, farm) = farm_of_5mb("workers");
    let mut engine = Engine::new(Config::default());
    run::read_file(&mut engine, &farm, &farm.display().to_string(), false).expect("opens");
    let one = engine.finish();
    assert!(
        one.capture.packets > 10_000,
        "{} packets",
        one.capture.packets
    );
    for workers in [2, 3] {
        let sharded = run::analyse_files(
            &Config::default(),
            std::slice::from_ref(&farm),
            workers,
            false,
        )
        .expect("opens");
        assert!(
            json(&sharded) == json(&one),
            "differs with {workers} workers"
        );
    }
    std::fs::remove_dir_all(&dir).expect("the temporary folder goes");
}

/// What a file's reading told its observer; it stops the reading at progress call `stop_at`.
#[derive(Default)]
struct Recorder {
    packets: u64,
    at: Vec<(u64, u64)>,
    stop_at: Option<usize>,
}

impl run::FileObserver for Recorder {
    fn packet(&mut self, _: &ctxscope::capture::Packet<'_>) {
        self.packets += 1;
    }

    fn progress(&mut self, _: &mut run::Reader<'_>, _: u64, at: Option<(u64, u64)>) -> bool {
        self.at.extend(at);
        self.stop_at != Some(self.at.len())
    }
}

fn read_with(farm: &Path, observer: &mut Recorder) -> Report {
    std::thread::scope(|scope| {
        let mut reader = run::Reader::start(scope, &Config::default(), 2);
        reader.file(farm, observer).expect("opens");
        reader.finish().expect("no worker dies")
    })
}

/// The reader's observer (the progress bar of `report`, the TUI's loader) sees every packet,
/// progress at every window up to the file's size, and stops the reading when it says so.
#[test]
fn the_file_observer_sees_every_packet_and_the_progress_and_can_stop() {
    let (dir, farm) = farm_of_5mb("observer");
    let size = std::fs::metadata(&farm).expect("the farm").len();
    let mut whole = Recorder::default();
    let report = read_with(&farm, &mut whole);
    assert_eq!(whole.packets, report.capture.packets);
    assert!(whole.at.len() >= 4, "{:?}", whole.at);
    assert!(whole.at.iter().all(|&(_, total)| total == size));
    assert!(
        whole.at.windows(2).all(|w| w[0].0 < w[1].0),
        "{:?}",
        whole.at
    );
    assert!(whole.at.iter().all(|&(done, _)| done <= size));

    let mut stopped = Recorder {
        stop_at: Some(2),
        ..Recorder::default()
    };
    let partial = read_with(&farm, &mut stopped);
    assert_eq!(stopped.at.len(), 2, "no progress after the stop");
    assert_eq!(stopped.packets, partial.capture.packets);
    assert!(
        partial.capture.packets > 0 && partial.capture.packets < report.capture.packets,
        "{} of {} packets",
        partial.capture.packets,
        report.capture.packets
    );
    std::fs::remove_dir_all(&dir).expect("the temporary folder goes");
}
