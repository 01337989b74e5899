//! GraphML, as the Internet Topology Zoo publishes it, as a lab of routers whose links
//! have the rate and the propagation delay of the real network.
//!
//! ```text
//!   <key attr.name="Latitude" for="node" id="d29"/>     key declarations: name → id
//!   <graph>
//!     <data key="d3">Abilene</data>                      graph `Network` → lab name
//!     <node id="0"> <data key="d33">New York</data>      `label` → node name
//!                   <data key="d29">40.71</data> …       `Latitude`, `Longitude` (degrees)
//!     <edge source="0" target="1">                       a link between two routers
//!       <data key="d40">10</data><data key="d41">G</data> `LinkSpeed` × `LinkSpeedUnits`
//!                                                        (or `LinkSpeedRaw`, bit/s) → rate
//! ```
//!
//! - Every node is a `router`, named after its `label` reduced to topolab's name alphabet
//!   (`New York` → `New-York`, `Zürich` → `Zurich`; at most 28 bytes; `-2`, `-3`… when
//!   two labels reduce alike; `n<id>` when nothing is left, as for `東京`). With
//!   [`Options::hosts`], each router also gets a host `<router>-h` linked to it.
//! - Every edge is a link. Its `delay` is the great-circle distance between its ends
//!   (haversine on a sphere of the mean Earth radius, [`EARTH_RADIUS_KM`]) over two thirds
//!   of the speed of light ([`FIBRE_KM_PER_S`], light in fibre), rounded to the
//!   microsecond; no delay when that rounds to zero. A node with links but without both
//!   coordinates is an error at its line: a guessed distance would make a wrong lab.
//! - Everything is read with its position, and every mistake (not XML, no `<graph>`, an
//!   edge to an unknown node, a latitude that is not a number) is reported at its line and
//!   column.
//!
//! [`Options::hosts`]: super::Options::hosts

use std::collections::{BTreeMap, HashMap};

use roxmltree::{Document, Node, ParsingOptions};

use super::{Doc, DocLink, DocNode, Options, err};
use crate::topology::error::{ErrorKind, TopologyError};
use crate::topology::model::{NodeKind, Source, Span};
use crate::topology::names::MAX_LAB_NAME;

/// Mean Earth radius (IUGG), km.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;
/// Two thirds of the speed of light in vacuum (299 792.458 km/s): light in fibre, km/s.
pub const FIBRE_KM_PER_S: f64 = 199_861.639;
/// Longest router name made from a label (a host's `-h` still fits a node name).
const MAX_LABEL_NAME: usize = 28;

/// Great-circle distance between two points given in degrees, km (haversine).
pub fn great_circle_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
}

/// Propagation delay over `km` of fibre, rounded to the microsecond.
pub fn propagation_delay_us(km: f64) -> u64 {
    (km / FIBRE_KM_PER_S * 1e6).round() as u64
}

/// Positions of byte offsets, computed forward from the last one asked (offsets asked in
/// document order cost one pass over the text in all).
struct Cursor<'t> {
    text: &'t str,
    offset: usize,
    line: u32,
    column: u32,
}

impl Cursor<'_> {
    fn span(&mut self, offset: usize, len: usize) -> Span {
        let offset = self.text.floor_char_boundary(offset.min(self.text.len()));
        if offset < self.offset {
            (self.offset, self.line, self.column) = (0, 1, 1);
        }
        for c in self.text[self.offset..offset].chars() {
            if c == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
        self.offset = offset;
        Span {
            offset,
            len,
            line: self.line,
            column: self.column,
        }
    }

    /// Where element `n` starts (its `<name`).
    fn at(&mut self, n: Node<'_, '_>) -> Span {
        let len = n.tag_name().name().len() + 1;
        self.span(n.range().start, len)
    }
}

/// Key ids of the attributes this reader uses, for nodes, edges and the graph.
#[derive(Default)]
struct Keys {
    node: HashMap<String, String>,
    edge: HashMap<String, String>,
    graph: HashMap<String, String>,
}

/// A node's coordinates and where they were written.
struct Site {
    name: String,
    coords: Option<(f64, f64)>,
    at: Span,
}

pub(crate) fn read(source: &Source, options: Options) -> Result<Doc, TopologyError> {
    let text: &str = &source.text;
    let parsing = ParsingOptions {
        allow_dtd: false,
        nodes_limit: 8_000_000,
        ..ParsingOptions::default()
    };
    let xml = Document::parse_with_options(text, parsing).map_err(|e| {
        let pos = e.pos();
        let message = e.to_string();
        let message = match message.rfind(" at ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        let offset = line_col_offset(text, pos.row, pos.col);
        let at = Span {
            offset,
            len: 0,
            line: pos.row,
            column: pos.col,
        };
        err(
            source,
            ErrorKind::Syntax,
            at,
            format!("not well-formed XML: {message}"),
            "a GraphML file is XML: check the tags and quotes near here",
        )
    })?;
    let mut cur = Cursor {
        text,
        offset: 0,
        line: 1,
        column: 1,
    };
    let root = xml.root_element();
    if root.tag_name().name() != "graphml" {
        return Err(err(
            source,
            ErrorKind::Syntax,
            cur.at(root),
            format!("expected `<graphml>`, found `<{}>`", root.tag_name().name()),
            "a GraphML file's root element is `<graphml>`",
        ));
    }
    let keys = keys(root);
    let Some(graph) = children(root, "graph").next() else {
        return Err(err(
            source,
            ErrorKind::MissingField,
            cur.at(root),
            "the GraphML file has no `<graph>`",
            "the nodes and edges are inside `<graph>…</graph>`",
        ));
    };
    let mut doc = Doc::default();
    let name_data = data(graph, &keys.graph, "Network");
    (doc.name, doc.name_at) = match name_data {
        Some((v, n)) => (lab_name(&v), cur.at(n)),
        None => (lab_name(&file_stem(&source.name)), cur.at(graph)),
    };
    doc.notes.push(format!(
        "Link delays: great-circle distance over {FIBRE_KM_PER_S} km/s (2/3 c), Earth \
         radius {EARTH_RADIUS_KM} km."
    ));

    let mut sites: BTreeMap<String, Site> = BTreeMap::new();
    let mut taken: Vec<String> = Vec::new();
    for n in children(graph, "node") {
        let at = cur.at(n);
        let Some(id) = n.attribute("id") else {
            return Err(err(
                source,
                ErrorKind::MissingField,
                at,
                "a `<node>` without `id`",
                "every node has an `id` that edges name as `source` and `target`",
            ));
        };
        let label = data(n, &keys.node, "label").map(|(v, _)| v);
        let base = node_name(label.as_deref().unwrap_or(id), id);
        let name = super::super::service::dedup_name(&base, &taken);
        taken.push(name.clone());
        let lat = number(source, &mut cur, n, &keys.node, "Latitude", 90.0)?;
        let lon = number(source, &mut cur, n, &keys.node, "Longitude", 180.0)?;
        let coords = lat.zip(lon);
        let mut node = DocNode::new(name.clone(), NodeKind::Router, at);
        let shown = label.as_deref().unwrap_or(id);
        node.comment = Some(match coords {
            Some((la, lo)) => format!("{shown} ({la}, {lo})"),
            None => format!("{shown} (no coordinates)"),
        });
        if sites
            .insert(id.to_string(), Site { name, coords, at })
            .is_some()
        {
            return Err(err(
                source,
                ErrorKind::DuplicateName,
                at,
                format!("node id `{id}` is used twice"),
                "node ids are unique in a graph",
            ));
        }
        doc.nodes.push(node);
    }
    for e in children(graph, "edge") {
        let at = cur.at(e);
        let end = |attr: &str| -> Result<&Site, TopologyError> {
            let id = e.attribute(attr).ok_or_else(|| {
                err(
                    source,
                    ErrorKind::MissingField,
                    at,
                    format!("an `<edge>` without `{attr}`"),
                    "an edge names its ends: `<edge source=\"0\" target=\"1\">`",
                )
            })?;
            sites.get(id).ok_or_else(|| {
                err(
                    source,
                    ErrorKind::UnknownNode,
                    at,
                    format!("edge {attr} `{id}` is not a node of the graph"),
                    "an edge's `source` and `target` are `id`s of `<node>`s",
                )
            })
        };
        let (a, b) = (end("source")?, end("target")?);
        let mut link = DocLink::new(a.name.clone(), b.name.clone(), at);
        let (pa, pb) = match (a.coords, b.coords) {
            (Some(pa), Some(pb)) => (pa, pb),
            _ => {
                let missing = if a.coords.is_none() { a } else { b };
                return Err(err(
                    source,
                    ErrorKind::MissingField,
                    missing.at,
                    format!(
                        "node `{}` has links but no `Latitude` and `Longitude`",
                        missing.name
                    ),
                    "a link's delay comes from the distance between its ends: add both \
                     coordinates (degrees) to the node, or remove the node and its edges",
                ));
            }
        };
        let km = great_circle_km(pa.0, pa.1, pb.0, pb.1);
        let us = propagation_delay_us(km);
        link.delay_us = (us > 0).then_some(us);
        link.rate = rate(source, &mut cur, e, &keys.edge)?;
        link.comment = Some(format!("{} – {}: {km:.1} km", a.name, b.name));
        doc.links.push(link);
    }
    if options.hosts {
        let routers: Vec<(String, Span)> =
            doc.nodes.iter().map(|n| (n.name.clone(), n.at)).collect();
        for (router, at) in routers {
            let host = format!("{router}-h");
            doc.nodes
                .push(DocNode::new(host.clone(), NodeKind::Host, at));
            doc.links.push(DocLink::new(host, router, at));
        }
    }
    Ok(doc)
}

/// The `<key>` declarations: `attr.name` → `id`, by what they are `for`.
fn keys(root: Node<'_, '_>) -> Keys {
    let mut k = Keys::default();
    for key in children(root, "key") {
        let (Some(id), Some(name)) = (key.attribute("id"), key.attribute("attr.name")) else {
            continue;
        };
        let maps = match key.attribute("for") {
            Some("node") => vec![&mut k.node],
            Some("edge") => vec![&mut k.edge],
            Some("graph") => vec![&mut k.graph],
            // GraphML's default: the key applies to every element.
            Some("all") | None => vec![&mut k.node, &mut k.edge, &mut k.graph],
            _ => continue,
        };
        for map in maps {
            map.entry(name.to_string())
                .or_insert_with(|| id.to_string());
        }
    }
    k
}

fn children<'a, 'i>(n: Node<'a, 'i>, tag: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == tag)
}

/// The text of `n`'s `<data>` for attribute `name` (through the key ids), and its element.
fn data<'a, 'i>(
    n: Node<'a, 'i>,
    keys: &HashMap<String, String>,
    name: &str,
) -> Option<(String, Node<'a, 'i>)> {
    let id = keys.get(name)?;
    let d = children(n, "data").find(|d| d.attribute("key") == Some(id.as_str()))?;
    let text: String = d
        .descendants()
        .filter(|t| t.is_text())
        .filter_map(|t| t.text())
        .collect();
    Some((text.trim().to_string(), d))
}

/// A number attribute within ±`bound` (degrees), or `None` when absent.
fn number(
    source: &Source,
    cur: &mut Cursor<'_>,
    n: Node<'_, '_>,
    keys: &HashMap<String, String>,
    name: &str,
    bound: f64,
) -> Result<Option<f64>, TopologyError> {
    let Some((v, d)) = data(n, keys, name) else {
        return Ok(None);
    };
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && x.abs() <= bound => Ok(Some(x)),
        _ => Err(err(
            source,
            ErrorKind::BadValue,
            cur.at(d),
            format!("`{name}` must be a number of degrees from -{bound} to {bound}, not `{v}`"),
            "coordinates are decimal degrees, like `40.71`",
        )),
    }
}

/// The edge's rate in bit/s: `LinkSpeed` × `LinkSpeedUnits`, else `LinkSpeedRaw`.
fn rate(
    source: &Source,
    cur: &mut Cursor<'_>,
    e: Node<'_, '_>,
    keys: &HashMap<String, String>,
) -> Result<Option<u64>, TopologyError> {
    let speed = data(e, keys, "LinkSpeed");
    let (value, mult, d) = match (speed, data(e, keys, "LinkSpeedRaw")) {
        (Some((v, d)), _) => {
            let unit = data(e, keys, "LinkSpeedUnits").map(|(u, _)| u);
            let mult = match unit.as_deref().map(str::to_ascii_lowercase).as_deref() {
                None | Some("") => 1.0,
                Some("k") => 1e3,
                Some("m") => 1e6,
                Some("g") => 1e9,
                Some("t") => 1e12,
                Some(other) => {
                    let (_, ud) = data(e, keys, "LinkSpeedUnits").expect("read above");
                    return Err(err(
                        source,
                        ErrorKind::BadUnit,
                        cur.at(ud),
                        format!("unknown `LinkSpeedUnits` `{other}`"),
                        "units are K, M, G or T (bits per second)",
                    ));
                }
            };
            (v, mult, d)
        }
        (None, Some((v, d))) => (v, 1.0, d),
        (None, None) => return Ok(None),
    };
    match value.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x * mult >= 1.0 && x * mult < 1e15 => {
            Ok(Some((x * mult).round() as u64))
        }
        _ => Err(err(
            source,
            ErrorKind::BadValue,
            cur.at(d),
            format!("a link speed must be a positive number, not `{value}`"),
            "like `<data key=\"…\">10</data>` with `LinkSpeedUnits` `G`",
        )),
    }
}

/// A label reduced to `[A-Za-z0-9_.-]`, starting with a letter or digit, at most
/// [`MAX_LABEL_NAME`] bytes; `n<id>` (reduced too) when nothing is left.
fn node_name(label: &str, id: &str) -> String {
    let reduced = reduce(label, MAX_LABEL_NAME);
    if !reduced.is_empty() {
        return reduced;
    }
    let id = reduce(id, MAX_LABEL_NAME - 1);
    format!("n{id}")
}

fn lab_name(text: &str) -> String {
    let name = reduce(text, MAX_LAB_NAME);
    if name.is_empty() {
        "graphml".into()
    } else {
        name
    }
}

/// Other characters become `-` (one for a run), leading non-alphanumerics and trailing
/// `-` go, and the result is cut to `max` bytes.
fn reduce(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(fold) {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let start = out
        .find(|c: char| c.is_ascii_alphanumeric())
        .unwrap_or(out.len());
    let mut out = out[start..].to_string();
    out.truncate(max);
    out.trim_end_matches('-').to_string()
}

/// Common accented Latin letters as their base letter (`é` → `e`, `ß` → `ss`); other
/// characters as they are.
fn fold(c: char) -> impl Iterator<Item = char> {
    let base = match c {
        'à'..='å' => "a",
        'À'..='Å' => "A",
        'ç' | 'ć' | 'č' => "c",
        'Ç' | 'Ć' | 'Č' => "C",
        'è'..='ë' | 'ě' | 'ę' => "e",
        'È'..='Ë' | 'Ě' | 'Ę' => "E",
        'ì'..='ï' => "i",
        'Ì'..='Ï' => "I",
        'ñ' | 'ń' | 'ň' => "n",
        'Ñ' | 'Ń' | 'Ň' => "N",
        'ò'..='ö' | 'ø' | 'ő' => "o",
        'Ò'..='Ö' | 'Ø' | 'Ő' => "O",
        'ù'..='ü' | 'ů' | 'ű' => "u",
        'Ù'..='Ü' | 'Ů' | 'Ű' => "U",
        'ý' | 'ÿ' => "y",
        'Ý' => "Y",
        'ś' | 'š' => "s",
        'Ś' | 'Š' => "S",
        'ź' | 'ż' | 'ž' => "z",
        'Ź' | 'Ż' | 'Ž' => "Z",
        'ł' => "l",
        'Ł' => "L",
        'ř' => "r",
        'Ř' => "R",
        'ß' => "ss",
        _ => "",
    };
    let one = base.is_empty().then_some(c);
    base.chars().chain(one)
}

fn file_stem(name: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    base.split('.').next().unwrap_or(base).to_string()
}

/// The byte offset of 1-based `row`, `col` (characters) in `text`.
fn line_col_offset(text: &str, row: u32, col: u32) -> usize {
    let Some(line) = text
        .split_inclusive('\n')
        .nth(row.saturating_sub(1) as usize)
    else {
        return text.len();
    };
    let start = line.as_ptr() as usize - text.as_ptr() as usize;
    start
        + line
            .chars()
            .take(col.saturating_sub(1) as usize)
            .map(char::len_utf8)
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_matches_known_distances() {
        // Two points one degree of longitude apart on the equator: R·π/180.
        let d = great_circle_km(0.0, 0.0, 0.0, 1.0);
        assert!((d - EARTH_RADIUS_KM * std::f64::consts::PI / 180.0).abs() < 1e-9);
        // Antipodes: half the circumference.
        let d = great_circle_km(0.0, 0.0, 0.0, 180.0);
        assert!((d - EARTH_RADIUS_KM * std::f64::consts::PI).abs() < 1e-6);
        assert_eq!(great_circle_km(10.0, 20.0, 10.0, 20.0), 0.0);
        // 199.861639 km of fibre take exactly one millisecond.
        assert_eq!(propagation_delay_us(199.861639), 1000);
    }

    #[test]
    fn keys_for_all_elements_apply_to_nodes_edges_and_the_graph() {
        let text = r#"<graphml>
  <key attr.name="label" id="l"/>
  <key attr.name="Latitude" for="all" id="la"/>
  <key attr.name="Longitude" for="node" id="lo"/>
  <graph>
    <data key="l">Tiny</data>
    <node id="1"><data key="l">A</data><data key="la">0</data><data key="lo">0</data></node>
    <node id="2"><data key="l">B</data><data key="la">0</data><data key="lo">1</data></node>
    <edge source="1" target="2"/>
  </graph>
</graphml>"#;
        let source = Source {
            name: "t.graphml".into(),
            text: text.into(),
        };
        let doc = read(&source, Options::default()).unwrap_or_else(|e| panic!("{}", e.one_line()));
        let names: Vec<&str> = doc.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["A", "B"]);
        assert_eq!(doc.name, "t", "`Network` names the lab, else the file");
        let us = propagation_delay_us(EARTH_RADIUS_KM * std::f64::consts::PI / 180.0);
        assert_eq!(doc.links[0].delay_us, Some(us));
        assert_eq!(doc.links[0].rate, None);
    }

    #[test]
    fn labels_become_node_names() {
        assert_eq!(node_name("New York", "0"), "New-York");
        assert_eq!(node_name("Zürich", "0"), "Zurich");
        assert_eq!(node_name("Genève", "0"), "Geneve");
        assert_eq!(node_name("Kraków → Łódź", "0"), "Krakow-Lodz");
        assert_eq!(node_name("東京", "3"), "n3");
        assert_eq!(node_name("../../etc/passwd", "0"), "etc-passwd");
        assert_eq!(node_name("  ", "7"), "n7");
        assert_eq!(node_name("", "a/b"), "na-b");
        assert_eq!(node_name(&"x".repeat(99), "0").len(), MAX_LABEL_NAME);
        assert_eq!(lab_name("Abilene Core"), "Abilene-Core");
        assert_eq!(lab_name("éé"), "ee");
        assert_eq!(lab_name("東京"), "graphml");
        assert_eq!(file_stem("dir/Abilene.graphml"), "Abilene");
    }
}
