//! The RTT on each side of the capture point against tshark's `tcp.analysis.ack_rtt`, split by
//! the ACK's sender: per connection and side, the same sample count and a median within 1 ms or
//! 10% of tshark's (the median of both is the nearest-rank one, the lower of the middle two).
//!
//! Over every sample capture and the real ones; over generated ICA sessions with a round trip,
//! random impairments (reordering, retransmissions, drops, tiny segments) and jitter added on
//! either side; and over the real ICA session with delay added on the client's side, then on the
//! server's. Each capture goes to a file that both read. Connections are matched by their two
//! endpoints and, for endpoints used again, by order (tshark's stream numbers would shift past a
//! UDP flow).

mod support;

use ctxscope_dissectors::Dir;
use ctxscope_generator::ica::{Client, LongSession, Protection, Shape};
use ctxscope_generator::rewrite::{self, Packet, Side};
use ctxscope_generator::scenarios::TcpCapture;
use ctxscope_generator::tcp::ImpairProfile;
use ctxscope_generator::{BASE_TIME, Link, Rng, TcpConversation};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A connection (its endpoints, sorted, and which connection between them it is) and the
/// sender of the ACKs.
type Key = ((String, String), usize, String);

fn require_tshark() {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "tshark is needed: .ci/setup installs it");
}

fn pair(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

/// Numbers connections between the same endpoints in order of appearance.
#[derive(Default)]
struct Ordinals(BTreeMap<(String, String), usize>);

impl Ordinals {
    fn next(&mut self, pair: &(String, String)) -> usize {
        let n = self.0.entry(pair.clone()).or_default();
        *n += 1;
        *n
    }
}

/// tshark's `ack_rtt` samples in milliseconds, per connection and ACK sender; None when tshark
/// stops at damage in the file (ctxscope reads on past it).
fn tshark_samples(capture: &Path) -> Option<BTreeMap<Key, Vec<f64>>> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(capture)
        .args(["-Y", "tcp", "-T", "fields"])
        .args([
            "-e",
            "tcp.stream",
            "-e",
            "ip.src",
            "-e",
            "ipv6.src",
            "-e",
            "tcp.srcport",
        ])
        .args(["-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport"])
        .args(["-e", "tcp.analysis.ack_rtt"])
        .output()
        .expect("tshark runs");
    if !out.status.success() {
        return None;
    }
    let endpoint = |ip4: &str, ip6: &str, port: &str| {
        let ip: IpAddr = if ip4.is_empty() { ip6 } else { ip4 }
            .parse()
            .expect("an address");
        SocketAddr::new(ip, port.parse().expect("a port")).to_string()
    };
    let mut streams: BTreeMap<u64, ((String, String), usize)> = BTreeMap::new();
    let mut ordinals = Ordinals::default();
    let mut samples: BTreeMap<Key, Vec<f64>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [stream, src4, src6, sport, dst4, dst6, dport, rtt] = f[..] else {
            panic!("{}: unexpected tshark line {line:?}", capture.display());
        };
        if stream.is_empty() || sport.is_empty() || dport.is_empty() {
            continue; // a TCP header tshark could not read (the malformed captures)
        }
        let src = endpoint(src4, src6, sport);
        let conn = pair(&src, &endpoint(dst4, dst6, dport));
        let stream: u64 = stream.parse().expect("a stream number");
        let (conn, n) = streams
            .entry(stream)
            .or_insert_with(|| {
                let n = ordinals.next(&conn);
                (conn, n)
            })
            .clone();
        if !rtt.is_empty() {
            let ms = rtt.parse::<f64>().expect("seconds") * 1000.0;
            samples.entry((conn, n, src)).or_default().push(ms);
        }
    }
    Some(samples)
}

/// One side as ctxscope reports it.
#[derive(Clone, Copy, Debug)]
struct Ours {
    samples: u64,
    median_ms: f64,
}

fn ctxscope_sides(capture: &Path) -> BTreeMap<Key, Ours> {
    let report = support::json_report(capture);
    let mut ordinals = Ordinals::default();
    let mut sides = BTreeMap::new();
    for flow in report["flows"].as_array().into_iter().flatten() {
        let (client, server) = (flow["client"].as_str(), flow["server"].as_str());
        let (Some(client), Some(server)) = (client, server) else {
            continue; // not a TCP connection
        };
        let conn = pair(client, server);
        let n = ordinals.next(&conn);
        for (key, sender) in [("rtt_client_side", client), ("rtt_server_side", server)] {
            let side = &flow[key];
            if side.is_null() {
                continue;
            }
            let ours = Ours {
                samples: side["samples"].as_u64().expect("samples"),
                median_ms: side["median_ms"].as_f64().expect("median_ms"),
            };
            sides.insert((conn.clone(), n, sender.to_string()), ours);
        }
    }
    sides
}

/// The nearest-rank median: the `ceil(n / 2)`-th smallest.
fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len().div_ceil(2) - 1]
}

/// Per side compared: ACK sender, tshark's count and median, ours.
struct Compared {
    sender: String,
    theirs: (usize, f64),
    ours: (u64, f64),
}

/// Compares every side of every connection of `capture`, panicking on a difference; None if
/// tshark could not read the whole file.
fn try_compare(capture: &Path) -> Option<Vec<Compared>> {
    let theirs = tshark_samples(capture)?;
    let ours = ctxscope_sides(capture);
    let name = capture.display();
    let mut rows = Vec::new();
    for (key, samples) in &theirs {
        let Some(side) = ours.get(key) else {
            panic!(
                "{name}: {key:?} has {} tshark samples, none here",
                samples.len()
            );
        };
        let tshark_median = median(samples);
        assert_eq!(
            side.samples,
            samples.len() as u64,
            "{name}: {key:?}: sample count"
        );
        let tolerance = (tshark_median * 0.1).max(1.0);
        assert!(
            (side.median_ms - tshark_median).abs() <= tolerance,
            "{name}: {key:?}: median {} ms, tshark {tshark_median} ms",
            side.median_ms
        );
        rows.push(Compared {
            sender: key.2.clone(),
            theirs: (samples.len(), tshark_median),
            ours: (side.samples, side.median_ms),
        });
    }
    for key in ours.keys() {
        assert!(
            theirs.contains_key(key),
            "{name}: {key:?} has samples here, none in tshark"
        );
    }
    Some(rows)
}

fn compare(capture: &Path) -> Vec<Compared> {
    try_compare(capture)
        .unwrap_or_else(|| panic!("{}: tshark cannot read it all", capture.display()))
}

fn print(label: &str, rows: &[Compared]) {
    for r in rows {
        println!(
            "{label:<40} acks from {:<24} tshark {:>5} samples, median {:>9.3} ms | ctxscope {:>5}, {:>9.3} ms",
            r.sender, r.theirs.0, r.theirs.1, r.ours.0, r.ours.1
        );
    }
}

/// A scratch folder for this test binary's captures.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ctxscope-rtt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn write_packets(name: &str, packets: &[Packet]) -> PathBuf {
    let path = scratch(name);
    let file = std::fs::File::create(&path).expect("temp file");
    rewrite::write_pcap(packets, &Link::ethernet(), file).expect("written");
    path
}

/// Like `rewrite::delay`, with a new random one-way delay up to `max_one_way` at each turn:
/// the delayed side answers late by a varying amount (jitter), and everything after with it.
fn jitter(
    packets: &[Packet],
    client: IpAddr,
    side: Side,
    max_one_way: Duration,
    rng: &mut Rng,
) -> Vec<Packet> {
    let mut shift = Duration::ZERO;
    let mut previous_from_delayed = None;
    packets
        .iter()
        .map(|p| {
            let from_delayed = (p.src.ip() == client) == (side == Side::Client);
            if from_delayed && previous_from_delayed == Some(false) {
                let micros = rng.between(0, max_one_way.as_micros() as usize * 2);
                shift += Duration::from_micros(micros as u64);
            }
            previous_from_delayed = Some(from_delayed);
            Packet {
                ts: p.ts.plus(shift),
                ..p.clone()
            }
        })
        .collect()
}

#[test]
fn the_sample_and_real_captures_agree_with_tshark() {
    require_tshark();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let captures = ctxscope::check::find_captures(&root.join("captures")).expect("captures/");
    let mut sides = 0;
    for capture in &captures {
        let label = capture.strip_prefix(&root).unwrap_or(capture).display();
        let Some(rows) = try_compare(capture) else {
            println!("{label:<40} skipped: tshark stops at the damage");
            assert!(
                label.to_string().starts_with("captures/malformed/"),
                "{label}"
            );
            continue;
        };
        print(&label.to_string(), &rows);
        sides += rows.len();
    }
    assert!(sides > 100, "only {sides} sides with samples");
    // The real session, as the shared captures' notes give it.
    let rows = compare(&support::real_capture("trex-citrix-full.pcap"));
    let counts: Vec<(&str, usize)> = rows.iter().map(|r| (&r.sender[..], r.theirs.0)).collect();
    assert_eq!(counts, [("21.0.0.25:31578", 48), ("22.0.0.7:1494", 40)]);
}

#[test]
fn impaired_sessions_with_jitter_agree_with_tshark() {
    require_tshark();
    let client = Client {
        name: "WKS0001",
        build: 2410,
        application: "Desktop",
        logon: None,
    };
    let profile = ImpairProfile {
        reorder: 0.1,
        retransmit: 0.05,
        partial_retransmit: 0.05,
        overlap_same: 0.05,
        drop: 0.03,
        tiny_segments: 0.02,
        ..ImpairProfile::default()
    };
    // Round trips of a LAN, a WAN and a long-haul link.
    let round_trips = [1, 30, 180];
    let conversations: Vec<TcpConversation> = (0..6u16)
        .map(|i| {
            let steps = LongSession::new(
                &client,
                Protection::Clear,
                u64::from(i),
                Shape {
                    rounds: 20,
                    ..Shape::default()
                },
            );
            let rtt = Duration::from_millis(round_trips[usize::from(i) % 3]);
            steps.fold(
                TcpConversation::v4(
                    SocketAddrV4::new([10, 3, 0, 1].into(), 40_000 + i),
                    SocketAddrV4::new([10, 1, 10, 5].into(), 1494),
                )
                .start(BASE_TIME.plus(Duration::from_millis(u64::from(i) * 7)))
                .rtt(rtt)
                .mss(536)
                .seed(u64::from(i))
                .impair_randomly(profile)
                .handshake(),
                TcpConversation::step,
            )
        })
        .collect();
    let impaired = scratch("impaired.pcap");
    let bytes = TcpCapture::pcap(conversations).to_bytes().expect("capture");
    std::fs::write(&impaired, bytes).expect("written");
    let rows = compare(&impaired);
    print("generated, impaired", &rows);
    assert_eq!(rows.len(), 12, "both sides of every session");

    let packets = support::read_packets(&impaired);
    let client_ip: IpAddr = [10, 3, 0, 1].into();
    let mut rng = Rng::new(14);
    for (side, max) in [(Side::Client, 40), (Side::Server, 8)] {
        let jittered = jitter(
            &packets,
            client_ip,
            side,
            Duration::from_millis(max),
            &mut rng,
        );
        let path = write_packets(&format!("jitter-{side:?}.pcap"), &jittered);
        let rows = compare(&path);
        print(&format!("generated, impaired, {side:?} jitter"), &rows);
        assert_eq!(rows.len(), 12);
    }
}

#[test]
fn the_real_session_with_delay_on_either_side_agrees_with_tshark() {
    require_tshark();
    let real = support::real_capture("trex-citrix-full.pcap");
    let packets = support::read_packets(&real);
    let client: IpAddr = [21, 0, 0, 25].into();
    let medians = |rows: &[Compared]| -> [f64; 2] {
        let of = |dir: Dir| {
            let sender = if dir == Dir::ToServer {
                "21.0.0.25"
            } else {
                "22.0.0.7"
            };
            rows.iter()
                .find(|r| r.sender.starts_with(sender))
                .map_or(f64::NAN, |r| r.ours.1)
        };
        [of(Dir::ToServer), of(Dir::ToClient)]
    };
    let before = medians(&compare(&real));
    for (side, one_way) in [(Side::Client, 40), (Side::Server, 15)] {
        let delayed = rewrite::delay(&packets, client, side, Duration::from_millis(one_way));
        let path = write_packets(&format!("delay-{side:?}.pcap"), &delayed);
        let rows = compare(&path);
        print(
            &format!("trex-citrix-full, {one_way} ms {side:?} side"),
            &rows,
        );
        // The delayed side's median moves by the added round trip, the other's stays.
        let after = medians(&rows);
        let (moved, still) = match side {
            Side::Client => (0, 1),
            Side::Server => (1, 0),
        };
        let added = 2.0 * one_way as f64;
        assert!(
            (after[moved] - before[moved] - added).abs() <= added * 0.1,
            "{side:?}: {before:?} -> {after:?}"
        );
        assert!(
            (after[still] - before[still]).abs() <= 0.1,
            "{side:?}: {before:?} -> {after:?}"
        );
    }
}
