use super::*;

const BIRD: &str = "BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
device1    Device     ---        up     18:50:01.123  

s1         BGP        ---        up     18:50:02.456  Established   
  BGP state:          Established
    Neighbor address: 10.0.1.2
    Neighbor AS:      65001
  Channel ipv4
    State:          UP
    Table:          master4
    Preference:     100
    Input filter:   ACCEPT
    Output filter:  REJECT
    Routes:         1200 imported, 0 exported, 1200 preferred

s2         BGP        ---        start  18:50:02.456  Passive
  BGP state:          Active
  Channel ipv4
    State:          DOWN
    Routes:         0 imported, 0 exported, 0 preferred

";

#[test]
fn bird_counts_established_sessions_and_imported_routes() {
    assert_eq!(
        parse_bird(BIRD),
        Progress {
            established: 1,
            loc_rib: 1200,
            ..Default::default()
        }
    );
    assert_eq!(parse_bird(""), Progress::default());
    // With a kernel protocol: what it exported is what the kernel holds.
    let kernel = format!(
        "{BIRD}kernel1    Kernel     master4    up     18:50:01.123  \n  Channel ipv4\n    State:          UP\n    Routes:         0 imported, 1150 exported, 0 preferred\n"
    );
    assert_eq!(
        parse_bird(&kernel),
        Progress {
            established: 1,
            loc_rib: 1200,
            fib: Some(1150),
            ..Default::default()
        }
    );
}

#[test]
fn frr_counts_decided_prefixes_by_table_version() {
    let out = r#"{"ipv4Unicast":{"routerId":"10.0.1.1","as":65000,"tableVersion":700,
        "ribCount":1000,"peers":{"10.0.1.2":{"remoteAs":65001,"pfxRcd":1000,"state":"Established"},
        "10.0.2.2":{"remoteAs":65002,"pfxRcd":0,"state":"Active"}}}}"#;
    assert_eq!(
        parse_frr(out).unwrap(),
        Progress {
            established: 1,
            loc_rib: 700,
            fib: None,
            received: Some(1000)
        }
    );
    // The family-specific command answers without the `ipv4Unicast` level.
    let flat = r#"{"tableVersion":5,"ribCount":9,"peers":{}}"#;
    assert_eq!(parse_frr(flat).unwrap().loc_rib, 5);
    assert!(parse_frr("% Unknown command").is_err());
    assert!(parse_frr("{}").is_err());
}

#[test]
fn gobgp_counts_session_state_6_and_destinations() {
    let n = r#"[{"conf":{"neighbor_address":"10.0.1.2"},"state":{"session_state":6}},
               {"conf":{"neighbor_address":"10.0.2.2"},"state":{"session_state":3}}]"#;
    let r = r#"{"num_destination":4242,"num_path":4242}"#;
    assert_eq!(
        parse_gobgp(n, r).unwrap(),
        Progress {
            established: 1,
            loc_rib: 4242,
            ..Default::default()
        }
    );
    // An empty table answers `{}`.
    assert_eq!(parse_gobgp("[]", "{}").unwrap().loc_rib, 0);
}

#[test]
fn topolab_status_detail_gives_loc_rib_and_fib() {
    let d = serde_json::json!({"established": 10, "loc_rib": 7, "fib_installed": 3});
    assert_eq!(
        parse_topolab(&d).unwrap(),
        Progress {
            established: 10,
            loc_rib: 7,
            fib: Some(3),
            received: None
        }
    );
    assert!(parse_topolab(&serde_json::json!({})).is_err());
}

#[test]
fn proc_stat_cpu_is_utime_plus_stime_even_with_spaces_in_the_name() {
    let stat = "1234 (bgp d) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 1000 \
                1000000 200 18446744073709551615";
    assert_eq!(parse_stat_cpu(stat), Some(300));
}

#[test]
fn encoded_tables_parse_back_to_every_route_then_end_of_rib() {
    let (tables, total) = build_tables(2, 300, 3, true);
    assert_eq!(tables.len(), 2);
    // Two seeds, so two different tables; the Loc-RIB holds their union.
    assert!(total > 300 && total <= 600, "{total}");
    let params = SessionParams {
        four_octet_as: true,
        ..Default::default()
    };
    for (i, t) in tables.iter().enumerate() {
        let want: HashSet<IpNet> = sender_routes(i + 1, 300, 3)
            .routes
            .iter()
            .map(|r| r.0)
            .collect();
        let mut rest = &t.bytes[..];
        let mut got = HashSet::new();
        let mut last = None;
        while !rest.is_empty() {
            let len = codec::frame_len(rest, &params).unwrap().unwrap();
            let m = codec::parse(&rest[..len], &params).unwrap();
            rest = &rest[len..];
            if let Message::Update(u) = &m {
                got.extend(u.nlri.iter().map(|n| n.prefix));
                if !u.nlri.is_empty() {
                    let first_as = u.attrs.iter().find_map(|a| match a {
                        Attr::AsPath(s) => s.first().and_then(|s| s.asns.first().copied()),
                        _ => None,
                    });
                    assert_eq!(first_as, Some(t.asn));
                    assert!(u.attrs.contains(&Attr::NextHop(t.addr)));
                }
            }
            last = Some(m);
        }
        assert_eq!(last, Some(Message::Update(Update::default())));
        assert_eq!(got, want);
    }
    let (bare, n) = build_tables(1, 10, 3, false);
    assert!(bare[0].bytes.is_empty());
    assert_eq!(n, 10);
}

#[test]
fn table_has_a_line_per_row_and_says_how_precise_it_is() {
    let row = Row {
        receiver: Receiver::Topolab,
        sender: SenderKind::Codec,
        senders: 1,
        prefixes: 100_000,
        loc_rib_s: Some(0.5),
        fib_s: Some(0.75),
        kernel_routes: Some(100_000),
        peak_rss_mib: 40.0,
        cpu_s: 0.6,
        bytes_per_route: 419.4,
        poll_ms: 50,
        error: None,
    };
    let failed = Row {
        receiver: Receiver::Gobgp,
        loc_rib_s: None,
        fib_s: None,
        error: Some("timeout".into()),
        ..row.clone()
    };
    let t = table(&[row.clone(), failed]);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[1].starts_with("topolab"));
    assert!(lines[1].contains("0.50") && lines[1].contains("0.75") && lines[1].contains("419"));
    assert!(lines[1].contains("100000"));
    assert!(lines[2].contains("(timeout)"));
    assert!(lines[3].contains("50 ms"));
    let json: serde_json::Value = serde_json::to_value([&row]).unwrap();
    assert_eq!(json[0]["receiver"], "topolab");
    assert_eq!(json[0]["loc_rib_s"], 0.5);
    assert_eq!(json[0]["sender"], "codec");
    assert!(json[0].get("error").is_none());
}

#[test]
fn peer_configs_name_every_sender_and_export_nothing() {
    let peers = [
        (sender_addr(1), 65001, receiver_addr(1)),
        (sender_addr(2), 65002, receiver_addr(2)),
    ];
    let b = bird_conf(receiver_addr(1), &peers, false);
    assert!(b.contains("neighbor 10.0.2.2 as 65002;") && b.contains("export none;"));
    assert!(!b.contains("kernel"));
    let k = bird_conf(receiver_addr(1), &peers, true);
    assert!(k.contains("protocol kernel") && k.contains("export all;"));
    let f = frr_conf(receiver_addr(1), &peers);
    assert!(f.contains("neighbor 10.0.1.2 remote-as 65001") && f.contains("route-map NONE out"));
    let g = gobgp_conf(receiver_addr(1), &peers);
    assert!(g.contains("peer-as = 65002") && g.contains("reject-route"));
    let t = topolab_conf(receiver_addr(1), &peers);
    assert_eq!(t.peers.len(), 2);
    assert!(t.peers.iter().all(|p| p.passive));
}
