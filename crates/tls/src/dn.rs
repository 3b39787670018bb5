//! A certificate's subject as an RFC 4514 string, printed the way OpenSSL's
//! `X509_NAME_print_ex(.., XN_FLAG_RFC2253)` prints it, because that is what nginx's
//! `$ssl_client_s_dn` and Apache's `SSL_CLIENT_S_DN` hold and what CGI scripts already parse:
//!
//! - RDNs most specific first (`CN=alice,O=Example,C=DE`), `,` between RDNs and `+` inside a
//!   multi-valued one, no spaces; the attributes of the whole name are walked in reverse, so a
//!   multi-valued RDN is reversed too, as OpenSSL does;
//! - attribute names are OpenSSL's short names (`CN`, `O`, `OU`, `C`, `ST`, `L`, `DC`, `UID`,
//!   `emailAddress`, ...); an attribute it has no name for is the dotted OID with its value as
//!   `#` and the hex of its DER (RFC 4514 §2.4);
//! - string values are converted to UTF-8 and escaped per RFC 4514 §2.4: `\` before
//!   `, + " \ < > ;`, before a leading `#` or space and a trailing space; control characters and
//!   every byte above 0x7F as `\XX` (so `é` is `\C3\A9`, which RFC 4514 allows and OpenSSL does);
//! - values that are not character strings are `#` and the hex of their DER.

use std::fmt::Write;

use rustls::pki_types::CertificateDer;
use x509_parser::der_parser::asn1_rs::{Any, Class, Tag};

/// The subject of a DER certificate as an RFC 4514 string (see the module docs), or `None` if
/// the certificate cannot be parsed.
pub fn subject_dn(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let mut entries = Vec::new();
    for (set, rdn) in parsed.subject().iter_rdn().enumerate() {
        for attr in rdn.iter() {
            entries.push((set, attr));
        }
    }
    let mut out = String::new();
    let mut previous = None;
    for (set, attr) in entries.into_iter().rev() {
        if let Some(p) = previous {
            out.push(if p == set { '+' } else { ',' });
        }
        previous = Some(set);
        let oid = attr.attr_type().to_id_string();
        let name = short_name(&oid);
        out.push_str(name.unwrap_or(&oid));
        out.push('=');
        match (name, text(attr.attr_value())) {
            (Some(_), Some(text)) => escape(&text, &mut out),
            _ => dump(attr.attr_value(), &mut out),
        }
    }
    Some(out)
}

/// OpenSSL's short name for an attribute type (`OBJ_nid2sn`), for the ones seen in certificates.
fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.13" => "description",
        "2.5.4.15" => "businessCategory",
        "2.5.4.17" => "postalCode",
        "2.5.4.41" => "name",
        "2.5.4.42" => "GN",
        "2.5.4.43" => "initials",
        "2.5.4.44" => "generationQualifier",
        "2.5.4.46" => "dnQualifier",
        "2.5.4.65" => "pseudonym",
        "2.5.4.97" => "organizationIdentifier",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "1.3.6.1.4.1.311.60.2.1.1" => "jurisdictionL",
        "1.3.6.1.4.1.311.60.2.1.2" => "jurisdictionST",
        "1.3.6.1.4.1.311.60.2.1.3" => "jurisdictionC",
        _ => return None,
    })
}

/// The value as text if it is a character string OpenSSL prints as one; `None` means dump it.
fn text(value: &Any<'_>) -> Option<String> {
    if value.header.class() != Class::Universal || value.header.constructed() {
        return None;
    }
    let data = value.data;
    match value.header.tag() {
        // UTF8String; invalid UTF-8 is dumped rather than guessed at.
        Tag::Utf8String => String::from_utf8(data.to_vec()).ok(),
        // One byte a character: these are ASCII by definition; T61String is taken as Latin-1,
        // as OpenSSL does.
        Tag::NumericString
        | Tag::PrintableString
        | Tag::T61String
        | Tag::Ia5String
        | Tag::VisibleString
        | Tag::UtcTime
        | Tag::GeneralizedTime => Some(data.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            let units = data.chunks_exact(2);
            if !units.remainder().is_empty() {
                return None;
            }
            char::decode_utf16(units.map(|c| u16::from_be_bytes([c[0], c[1]])))
                .collect::<Result<String, _>>()
                .ok()
        }
        Tag::UniversalString => {
            let units = data.chunks_exact(4);
            if !units.remainder().is_empty() {
                return None;
            }
            units.map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))).collect()
        }
        _ => None,
    }
}

/// RFC 4514 §2.4 escaping, byte by byte over the UTF-8 form, as OpenSSL's RFC 2253 mode does.
fn escape(text: &str, out: &mut String) {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let edge_space = b == b' ' && (i == 0 || i + 1 == bytes.len());
        match b {
            b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';' => {
                out.push('\\');
                out.push(char::from(b));
            }
            b'#' if i == 0 => out.push_str("\\#"),
            _ if edge_space => out.push_str("\\ "),
            0x00..=0x1f | 0x7f..=0xff => {
                let _ = write!(out, "\\{b:02X}");
            }
            _ => out.push(char::from(b)),
        }
    }
}

/// `#` and the hex of the value's DER encoding (tag, length, contents).
fn dump(value: &Any<'_>, out: &mut String) {
    out.push('#');
    let class = match value.header.class() {
        Class::Universal => 0x00,
        Class::Application => 0x40,
        Class::ContextSpecific => 0x80,
        Class::Private => 0xc0,
    };
    let constructed = if value.header.constructed() { 0x20 } else { 0 };
    let mut der = Vec::with_capacity(value.data.len() + 8);
    match value.header.raw_tag() {
        Some(raw) => der.extend_from_slice(raw),
        // Tags below 31 fit in the identifier octet: every string and time type does.
        None => der.push(class | constructed | (value.header.tag().0 as u8 & 0x1f)),
    }
    let len = value.data.len();
    if len < 0x80 {
        der.push(len as u8);
    } else {
        let octets: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
        der.push(0x80 | octets.len() as u8);
        der.extend_from_slice(&octets);
    }
    der.extend_from_slice(value.data);
    for b in der {
        let _ = write!(out, "{b:02X}");
    }
}

#[cfg(test)]
mod tests {
    use super::escape;

    fn esc(s: &str) -> String {
        let mut out = String::new();
        escape(s, &mut out);
        out
    }

    #[test]
    fn rfc4514_specials_are_escaped() {
        assert_eq!(esc("a,b+c\"d\\e<f>g;h"), "a\\,b\\+c\\\"d\\\\e\\<f\\>g\\;h");
        assert_eq!(esc("#x#"), "\\#x#");
        assert_eq!(esc(" a b "), "\\ a b\\ ");
        assert_eq!(esc("a=b"), "a=b");
    }

    #[test]
    fn control_and_non_ascii_bytes_are_hex_pairs() {
        assert_eq!(esc("Ren\u{e9}"), "Ren\\C3\\A9");
        assert_eq!(esc("a\u{0}b\n"), "a\\00b\\0A");
    }
}
