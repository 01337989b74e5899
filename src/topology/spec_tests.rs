//! Spec tests: the either-or forms parse, and spans survive inside them (the reason they
//! have hand-written `Deserialize` impls instead of `#[serde(untagged)]`).

use super::*;

fn parse(text: &str) -> Spec {
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::from_str_with_options(text, options).unwrap_or_else(|e| panic!("{e}"))
}

fn at<T>(s: &Spanned<T>) -> (u32, u32) {
    let sp = span(s);
    (sp.line, sp.column)
}

#[test]
fn link_forms_keep_endpoint_spans() {
    let spec = parse(
        "name: x\nlinks:\n  - [h1, \"s1:eth5\"]\n  - endpoints: [r1, r2]\n    loss: {percent: 1%, correlation: 25%}\n",
    );
    let links = spec.links.unwrap();
    let LinkSpec::Short(ends) = &links[0].value else {
        panic!("short form")
    };
    assert_eq!(at(&ends[1]), (3, 10));
    assert_eq!(ends[1].value, "s1:eth5");
    let LinkSpec::Long(long) = &links[1].value else {
        panic!("long form")
    };
    assert_eq!(at(&long.endpoints.value[1]), (4, 21));
    let LossSpec::Long(loss) = &long.loss.as_ref().unwrap().value else {
        panic!("long loss")
    };
    assert_eq!(at(loss.percent.as_ref().unwrap()), (5, 21));
    assert_eq!(loss.correlation.as_ref().unwrap().value.0, "25%");
}

#[test]
fn scalars_accept_numbers_and_strings() {
    let spec = parse(
        "name: x\nlinks:\n  - endpoints: [a, b]\n    delay: 0\n    queue: 100\n    duplicate: 0.5\n    loss: 1%\n",
    );
    let LinkSpec::Long(long) = &spec.links.unwrap()[0].value else {
        panic!()
    };
    assert_eq!(long.delay.as_ref().unwrap().value.0, "0");
    assert_eq!(long.queue.as_ref().unwrap().value.0, "100");
    assert_eq!(long.duplicate.as_ref().unwrap().value.0, "0.5");
    assert!(matches!(&long.loss.as_ref().unwrap().value, LossSpec::Short(s) if s.0 == "1%"));
}

#[test]
fn pools_in_both_forms() {
    let spec = parse(
        "name: x\naddressing:\n  lan4: 10.0.0.0/8\n  lan6: {pool: \"fd00::/48\", prefix: 64}\n",
    );
    let a = spec.addressing.unwrap();
    assert!(matches!(&a.lan4.as_ref().unwrap().value, PoolSpec::Short(s) if s == "10.0.0.0/8"));
    let PoolSpec::Long(long) = &a.lan6.as_ref().unwrap().value else {
        panic!()
    };
    assert_eq!(at(long.prefix.as_ref().unwrap()), (4, 37));
}

#[test]
fn nodes_keep_order_and_null_bodies() {
    let spec = parse("name: x\nnodes:\n  zz:\n  aa: {}\n  mm: {kind: router, run: sleep 1}\n");
    let nodes = spec.nodes.unwrap().0;
    let names: Vec<_> = nodes.iter().map(|(k, _)| k.value.as_str()).collect();
    assert_eq!(names, ["zz", "aa", "mm"]);
    assert!(nodes[0].1.value.is_none());
    assert!(nodes[1].1.value.is_some());
    let run = nodes[2].1.value.as_ref().unwrap().run.as_ref().unwrap();
    assert!(matches!(&run.value, RunSpec::One(RunItem::Short(s)) if s == "sleep 1"));
    assert_eq!(at(&nodes[2].0), (5, 3));
}

#[test]
fn generator_entries_keep_every_key() {
    let spec = parse("name: x\ngenerate:\n  - star: {hosts: 2}\n    mesh: 3\n");
    let entry = &spec.generate.unwrap()[0];
    let keys: Vec<_> = entry
        .value
        .entries
        .iter()
        .map(|(k, v)| (k.value.as_str(), v.is_some()))
        .collect();
    assert_eq!(keys, [("star", true), ("mesh", false)]);
    assert_eq!(at(&entry.value.entries[1].0), (4, 5));
}

#[test]
fn link_level_impairments_copy_to_both() {
    let spec = parse("name: x\nlinks:\n  - {endpoints: [a, b], rate: 1mbit, trace: t.down}\n");
    let LinkSpec::Long(long) = &spec.links.unwrap()[0].value else {
        panic!()
    };
    let both = long.both();
    assert_eq!(both.rate.unwrap().value.0, "1mbit");
    assert_eq!(both.trace.unwrap().value, "t.down");
    assert!(both.delay.is_none());
}
