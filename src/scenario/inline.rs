//! Cutting an inline `topology:` mapping out of a scenario file, keeping its positions.
//!
//! The inline topology is handed on as text (`TopologyRef::Inline`) and parsed by the
//! topology parser like any topology file. Rather than re-serialize it (which would lose
//! comments, quoting and — worse — every line and column), the text is the scenario file
//! itself with everything outside the mapping turned into spaces. Newlines stay, so every
//! byte keeps its offset and every line its number: an error in the inline topology points
//! at the right line and column of the scenario file.
//!
//! ```text
//!   name: demo            ·····
//!   topology:             ·········
//!     name: lab      ──▶    name: lab       (a root block mapping indented by 2:
//!     nodes: {h1: }         nodes: {h1: }    valid YAML)
//!   steps: …              ·········
//! ```
//!
//! Where the mapping ends: a flow mapping (`{…}`) at its matching brace (quotes and
//! comments respected); a block mapping before the first later line that is indented less
//! than its first key and is neither blank nor a comment, or at a document marker.

/// The file with everything but the mapping starting at byte `start` blanked out, or
/// `None` when the mapping's extent cannot be told (its first key shares a line with
/// something else that is not a flow mapping).
pub fn blank_outside(text: &str, start: usize) -> Option<String> {
    let rest = text.get(start..)?;
    let end = if rest.starts_with('{') {
        start + flow_end(rest)?
    } else {
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let prefix = &text[line_start..start];
        if !prefix.bytes().all(|b| b == b' ') {
            return None;
        }
        block_end(text, start, prefix.len())
    };
    let blanked: Vec<u8> = text
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            if (start..end).contains(&i) || b == b'\n' || b == b'\r' {
                b
            } else {
                b' '
            }
        })
        .collect();
    String::from_utf8(blanked).ok()
}

/// Bytes from the `{` at the start of `s` to just after its matching `}`.
fn flow_end(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'\'' if i == 0 || !bytes[i - 1].is_ascii_alphanumeric() => {
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == b'\'' {
                        if bytes.get(i + 1) == Some(&b'\'') {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    i += 1;
                }
            }
            b'#' if i > 0 && bytes[i - 1].is_ascii_whitespace() => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The byte offset where a block mapping whose first key sits at `start`, indented by
/// `indent` spaces, ends: after its last line that is neither blank nor a comment.
fn block_end(text: &str, start: usize, indent: usize) -> usize {
    let mut offset = text[start..]
        .find('\n')
        .map_or(text.len(), |i| start + i + 1);
    let mut end = offset;
    while offset < text.len() {
        let line_end = text[offset..]
            .find('\n')
            .map_or(text.len(), |i| offset + i + 1);
        let line = text[offset..line_end].trim_end_matches(['\n', '\r']);
        let content = line.trim_start_matches(' ');
        let blank = content.is_empty() || content.starts_with('#');
        let marker = line.starts_with("---") || line.starts_with("...");
        if marker || (!blank && line.len() - content.len() < indent) {
            break;
        }
        if !blank {
            end = line_end;
        }
        offset = line_end;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_mapping_keeps_positions() {
        let text = "name: s\ntopology:\n  name: lab   # c\n\n  # between\n  nodes:\n    h1:\n# top\nsteps: []\n";
        let start = text.find("name: lab").unwrap();
        let out = blank_outside(text, start).unwrap();
        assert_eq!(out.len(), text.len());
        assert_eq!(
            out,
            "       \n         \n  name: lab   # c\n\n  # between\n  nodes:\n    h1:\n     \n         \n"
        );
    }

    #[test]
    fn flow_mapping_to_its_brace() {
        let text =
            "name: s\ntopology: {name: \"a}\", nodes: {h1: }, x: 'it''s }'} # }\nsteps: []\n";
        let start = text.find('{').unwrap();
        let out = blank_outside(text, start).unwrap();
        assert_eq!(
            out.lines().nth(1).unwrap().trim(),
            "{name: \"a}\", nodes: {h1: }, x: 'it''s }'}"
        );
        assert_eq!(out.lines().nth(2).unwrap().trim(), "");
        assert_eq!(blank_outside("{a: {b: 1}", 0), None);
    }

    #[test]
    fn multibyte_text_outside_keeps_offsets() {
        let text = "name: é→\ntopology:\n  name: lab\nsteps: []\n";
        let start = text.find("name: lab").unwrap();
        let out = blank_outside(text, start).unwrap();
        assert_eq!(out.len(), text.len());
        assert_eq!(&out[start..start + 9], "name: lab");
    }

    #[test]
    fn odd_positions_are_refused() {
        assert_eq!(blank_outside("a: b: c", 3), None);
        assert_eq!(blank_outside("abc", 10), None);
    }
}
