use super::*;

fn block(trailers: bool, limit: u32, fields: &[(&str, &str)]) -> Block {
    let mut b = Block::new(trailers, limit, HeaderMap::new());
    for (n, v) in fields {
        b.field(n.as_bytes(), Bytes::copy_from_slice(v.as_bytes()));
    }
    b
}

fn request(fields: &[(&str, &str)]) -> Result<RequestHead, Refusal> {
    block(false, 32 * 1024, fields).into_request()
}

const GET: [(&str, &str); 4] =
    [(":method", "GET"), (":scheme", "https"), (":authority", "example.com"), (":path", "/a?b=c")];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut v = GET.to_vec();
    v.extend_from_slice(extra);
    v
}

fn malformed(fields: &[(&str, &str)]) -> &'static str {
    match request(fields) {
        Err(Refusal::Malformed(why)) => why,
        other => panic!("expected malformed, got {other:?}"),
    }
}

#[test]
fn a_plain_get_becomes_an_absolute_uri_with_host_added() {
    let head = request(&with(&[("accept", "*/*")])).expect("valid");
    assert_eq!(head.method, Method::GET);
    assert_eq!(head.uri, "https://example.com/a?b=c");
    assert_eq!(head.uri.path(), "/a");
    assert_eq!(head.headers["host"], "example.com");
    assert_eq!(head.headers["accept"], "*/*");
    assert_eq!(head.headers.len(), 2);
    assert_eq!(head.content_length, None);
    assert!(!head.too_large);
}

#[test]
fn without_authority_the_uri_is_origin_form_and_host_is_kept() {
    let head = request(&[(":method", "GET"), (":scheme", "http"), (":path", "/x"), ("host", "h.example")])
        .expect("valid");
    assert_eq!(head.uri, "/x");
    assert_eq!(head.uri.scheme(), None);
    assert_eq!(head.headers["host"], "h.example");
}

#[test]
fn host_agreeing_with_authority_after_normalization_is_kept_as_sent() {
    let head = request(&[
        (":method", "GET"),
        (":scheme", "http"),
        (":authority", "Example.com"),
        (":path", "/"),
        ("host", "example.COM:80"),
    ])
    .expect("valid");
    assert_eq!(head.headers["host"], "example.COM:80");
    assert_eq!(head.uri.authority().map(|a| a.as_str()), Some("Example.com"));
}

#[test]
fn host_naming_another_entity_is_malformed() {
    assert_eq!(malformed(&with(&[("host", "example.com.different")])), "host differs from :authority");
    assert_eq!(malformed(&with(&[("host", "example.com:8443")])), "host differs from :authority");
}

#[test]
fn options_asterisk() {
    let head =
        request(&[(":method", "OPTIONS"), (":scheme", "http"), (":authority", "a.example"), (":path", "*")])
            .expect("valid");
    assert_eq!(head.uri, "*");
    assert_eq!(head.headers["host"], "a.example");
    assert_eq!(
        malformed(&[(":method", "GET"), (":scheme", "http"), (":path", "*")]),
        ":path * without OPTIONS"
    );
}

#[test]
fn missing_or_empty_pseudo_headers_are_malformed() {
    assert_eq!(malformed(&GET[1..]), "missing :method");
    assert_eq!(malformed(&[GET[0], GET[2], GET[3]]), "missing :scheme or :path");
    assert_eq!(malformed(&GET[..3]), "missing :scheme or :path");
    assert_eq!(malformed(&[GET[0], GET[1], GET[2], (":path", "")]), "empty or relative :path");
    assert_eq!(malformed(&[GET[0], GET[1], GET[2], (":path", "a/b")]), "empty or relative :path");
}

#[test]
fn repeated_unknown_and_response_pseudo_headers_are_malformed() {
    let mut twice = vec![(":method", "POST"), (":method", "POST")];
    twice.extend_from_slice(&GET[1..]);
    assert_eq!(malformed(&twice), "repeated :method");
    let mut again = GET.to_vec();
    again.push((":path", "/"));
    assert_eq!(malformed(&again), "repeated pseudo-header field");
    let mut status = GET.to_vec();
    status.push((":status", "200"));
    assert_eq!(malformed(&status), "unknown or response pseudo-header field");
    assert_eq!(malformed(&[(":protocol", "websocket")]), "unknown or response pseudo-header field");
}

#[test]
fn pseudo_headers_after_regular_fields_are_malformed() {
    assert_eq!(
        malformed(&[
            (":method", "POST"),
            (":path", "/"),
            ("content-type", "a/b"),
            (":authority", "example.com")
        ]),
        "pseudo-header field after a regular field"
    );
}

#[test]
fn field_names_must_be_lowercase_tokens() {
    assert_eq!(malformed(&with(&[("UPPERCASE", "oh no")])), "uppercase field name");
    assert_eq!(malformed(&with(&[("space force", "oh no")])), "invalid field name");
    assert_eq!(malformed(&with(&[("\x01invalid", "oh no")])), "invalid field name");
    assert_eq!(malformed(&with(&[("\x7finvalid", "oh no")])), "invalid field name");
    assert_eq!(malformed(&with(&[("inválid", "oh no")])), "invalid field name");
    assert_eq!(malformed(&with(&[("invalid:field", "oh no")])), "invalid field name");
    assert_eq!(malformed(&with(&[("", "x")])), "invalid field name");
}

#[test]
fn field_values_without_nul_cr_lf_or_edge_whitespace() {
    for v in ["oh\nno", "oh\rno", "oh\0no"] {
        assert_eq!(malformed(&with(&[("invalid-value", v)])), "invalid field value");
    }
    for v in [" oh no", "oh no\t", "\toh", "oh "] {
        assert_eq!(
            malformed(&with(&[("invalid-value", v)])),
            "field value with leading or trailing whitespace"
        );
    }
    let head = request(&with(&[("x", "inner  space\tand tab"), ("empty", "")])).expect("valid");
    assert_eq!(head.headers["x"], "inner  space\tand tab");
    assert_eq!(head.headers["empty"], "");
}

#[test]
fn connection_specific_fields_are_malformed() {
    for name in ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"] {
        assert_eq!(malformed(&with(&[(name, "x")])), "connection-specific field", "{name}");
    }
}

#[test]
fn te_only_trailers() {
    let head = request(&with(&[("te", "trailers")])).expect("valid");
    assert_eq!(head.headers["te"], "trailers");
    assert_eq!(malformed(&with(&[("te", "not-trailers")])), "te other than trailers");
    assert_eq!(malformed(&with(&[("te", "trailers, deflate")])), "te other than trailers");
}

#[test]
fn content_length_parsed_and_repeats_must_agree() {
    let head = request(&with(&[("content-length", "42")])).expect("valid");
    assert_eq!(head.content_length, Some(42));
    let head = request(&with(&[("content-length", "7"), ("content-length", "7")])).expect("valid");
    assert_eq!(head.content_length, Some(7));
    for bad in [
        &[("content-length", "7"), ("content-length", "8")][..],
        &[("content-length", "-1")],
        &[("content-length", "")],
        &[("content-length", "99999999999999999999999")],
    ] {
        assert_eq!(malformed(&with(bad)), "invalid or conflicting content-length");
    }
}

#[test]
fn cookies_are_joined() {
    let head = request(&with(&[("cookie", "a=b"), ("x", "1"), ("cookie", "c=d"), ("cookie", "e=f")]))
        .expect("valid");
    assert_eq!(head.headers.get_all("cookie").iter().count(), 1);
    assert_eq!(head.headers["cookie"], "a=b; c=d; e=f");
    let head = request(&with(&[("cookie", "only=one")])).expect("valid");
    assert_eq!(head.headers["cookie"], "only=one");
}

#[test]
fn connect_takes_only_method_and_authority() {
    let head = request(&[(":method", "CONNECT"), (":authority", "example.com:443")]).expect("valid");
    assert_eq!(head.method, Method::CONNECT);
    assert_eq!(head.uri.authority().map(|a| a.as_str()), Some("example.com:443"));
    assert_eq!(head.headers["host"], "example.com:443");
    assert_eq!(
        malformed(&[(":method", "CONNECT"), (":scheme", "https"), (":authority", "example.com:443")]),
        "CONNECT with :scheme or :path"
    );
    assert_eq!(
        malformed(&[(":method", "CONNECT"), (":path", "/"), (":authority", "example.com:443")]),
        "CONNECT with :scheme or :path"
    );
    assert_eq!(malformed(&[(":method", "CONNECT")]), "CONNECT without :authority");
}

#[test]
fn userinfo_in_authority_is_malformed() {
    assert_eq!(
        malformed(&[GET[0], GET[1], (":authority", "u:p@example.com"), GET[3]]),
        ":authority with userinfo"
    );
}

#[test]
fn over_the_list_size_fields_are_dropped_and_the_request_marked() {
    // The four pseudo-headers cost 7+3+32 + 7+5+32 + 10+11+32 + 5+6+32 = 182.
    let fields = with(&[("a", "1"), ("b", "2")]);
    let head = block(false, 182 + 2 * 34, &fields).into_request().expect("valid");
    assert!(!head.too_large);
    assert_eq!(head.headers["b"], "2");
    let head = block(false, 182 + 34, &fields).into_request().expect("still a request");
    assert!(head.too_large);
    assert_eq!(head.headers["a"], "1");
    assert_eq!(head.headers.get("b"), None, "the field crossing the limit is dropped");
    assert_eq!(head.headers["host"], "example.com");
}

#[test]
fn problems_after_the_limit_are_not_looked_at() {
    let fields = with(&[("big", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), ("BAD", "1")]);
    let head = block(false, 200, &fields).into_request().expect("passed on for a 431");
    assert!(head.too_large);
}

#[test]
fn trailers_are_regular_fields_only() {
    let t = block(true, 1024, &[("x-checksum", "abc"), ("x-more", "1")]).into_trailers().expect("valid");
    assert_eq!(t["x-checksum"], "abc");
    assert_eq!(t.len(), 2);
    assert_eq!(
        block(true, 1024, &[(":method", "POST")]).into_trailers().err(),
        Some(Refusal::Malformed("pseudo-header field in trailers"))
    );
    assert_eq!(
        block(true, 1024, &[("X", "1")]).into_trailers().err(),
        Some(Refusal::Malformed("uppercase field name"))
    );
    assert_eq!(block(true, 40, &[("x", "0123456789")]).into_trailers().err(), Some(Refusal::TooLarge));
}

#[test]
fn authority_normalization() {
    let http = Scheme::HTTP;
    let https = Scheme::HTTPS;
    assert!(same_authority(b"a.example:80", b"A.example", Some(&http)));
    assert!(same_authority(b"a.example:", b"a.example", Some(&http)));
    assert!(same_authority(b"a.example:443", b"a.example", Some(&https)));
    assert!(!same_authority(b"a.example:443", b"a.example", Some(&http)));
    assert!(!same_authority(b"a.example", b"b.example", Some(&http)));
}
