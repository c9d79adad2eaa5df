//! Encoding of request bodies, query strings and path segments.
//!
//! Stripe reads `application/x-www-form-urlencoded` bodies in its bracket notation
//! (`line_items[0][price]=...`). The pairs come from the core's `to_form()` in a fixed order and are
//! encoded here without reordering, so one request always encodes to the same bytes: a retry
//! re-sends exactly what the first attempt sent.

/// Encodes ordered `(name, value)` pairs as `application/x-www-form-urlencoded` text.
///
/// Brackets are percent-encoded (`line_items%5B0%5D%5Bprice%5D=price_1`) and spaces become `+`,
/// as `form_urlencoded` does. The order of `pairs` is kept.
pub fn encode_form(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .finish()
}

/// Encodes one path segment (an object id), so a stray `/`, `?` or `%` in an id can never change
/// which endpoint is called. Only RFC 3986 unreserved characters are left as they are.
pub fn path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn brackets_are_encoded_and_the_order_is_kept() {
        let body = encode_form(&pairs(&[
            ("mode", "subscription"),
            ("line_items[0][price]", "price_base"),
            ("metadata[note]", "a b&c=d"),
        ]));
        assert_eq!(
            body,
            "mode=subscription&line_items%5B0%5D%5Bprice%5D=price_base&metadata%5Bnote%5D=a+b%26c%3Dd"
        );
    }

    #[test]
    fn an_empty_form_encodes_to_an_empty_body() {
        assert_eq!(encode_form(&[]), "");
    }

    #[test]
    fn path_segments_cannot_escape_their_place() {
        assert_eq!(path_segment("cus_ABC123"), "cus_ABC123");
        assert_eq!(path_segment("a/b?c%d e"), "a%2Fb%3Fc%25d%20e");
        assert_eq!(path_segment("é"), "%C3%A9");
    }
}
