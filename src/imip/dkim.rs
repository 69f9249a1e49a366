//! DKIM signing (RFC 6376) with relaxed/relaxed canonicalisation, for
//! rsa-sha256 and ed25519-sha256 (RFC 8463) keys, done with `ring` (already
//! used by rustls) so no second crypto library is pulled in.

use std::path::Path;

use base64ct::{Base64, Encoding};
use ring::digest::{SHA256, digest};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use tokio_rustls::rustls::pki_types::PrivateKeyDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;

use super::ImipError;

/// The headers signed, when present (From always is).
const SIGNED: [&str; 8] = [
    "from",
    "to",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
];

/// A loaded signing key.
pub(crate) enum DkimKey {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl DkimKey {
    /// Reads a PEM key: PKCS#1 RSA, PKCS#8 RSA or PKCS#8 Ed25519.
    pub fn load(path: &Path) -> Result<Self, ImipError> {
        let pem = std::fs::read(path)
            .map_err(|e| ImipError::Io(format!("reading dkim_key {}: {e}", path.display())))?;
        Self::from_pem(&pem)
    }

    pub fn from_pem(pem: &[u8]) -> Result<Self, ImipError> {
        let bad = |m: &str| ImipError::Config(format!("dkim_key: {m}"));
        let der = PrivateKeyDer::from_pem_slice(pem).map_err(|e| bad(&e.to_string()))?;
        match der {
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der())
                .map(DkimKey::Rsa)
                .map_err(|e| bad(&e.to_string())),
            PrivateKeyDer::Pkcs8(k) => {
                let der = k.secret_pkcs8_der();
                if let Ok(rsa) = RsaKeyPair::from_pkcs8(der) {
                    return Ok(DkimKey::Rsa(rsa));
                }
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                    .map(DkimKey::Ed25519)
                    .map_err(|_| bad("neither an RSA nor an Ed25519 key"))
            }
            _ => Err(bad("only RSA and Ed25519 keys are supported")),
        }
    }

    fn algorithm(&self) -> &'static str {
        match self {
            DkimKey::Rsa(_) => "rsa-sha256",
            DkimKey::Ed25519(_) => "ed25519-sha256",
        }
    }

    fn signature(&self, data: &[u8]) -> Result<Vec<u8>, ImipError> {
        match self {
            DkimKey::Rsa(key) => {
                let mut sig = vec![0; key.public().modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), data, &mut sig)
                    .map_err(|_| ImipError::Build("RSA signing failed".into()))?;
                Ok(sig)
            }
            // RFC 8463: Ed25519 signs the SHA-256 hash of the data.
            DkimKey::Ed25519(key) => Ok(key.sign(digest(&SHA256, data).as_ref()).as_ref().to_vec()),
        }
    }

    /// Returns `message` with a DKIM-Signature header in front.
    pub fn sign(
        &self,
        message: &[u8],
        domain: &str,
        selector: &str,
        time: i64,
    ) -> Result<Vec<u8>, ImipError> {
        let token = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        };
        if !token(domain) || !token(selector) {
            return Err(ImipError::Build(format!(
                "cannot DKIM-sign for domain {domain:?} with selector {selector:?}"
            )));
        }
        let (head, body) = split(message);
        let headers = header_fields(head);
        let body_hash = Base64::encode_string(digest(&SHA256, &body_relaxed(body)).as_ref());

        let mut names = Vec::new();
        let mut signed = Vec::new();
        for name in SIGNED {
            // The last instance of a header is the one signed first (5.4.2).
            if let Some(field) = headers
                .iter()
                .rev()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                names.push(name);
                signed.extend_from_slice(&header_relaxed(&field.1));
                signed.extend_from_slice(b"\r\n");
            }
        }
        let dkim = format!(
            "DKIM-Signature: v=1; a={}; c=relaxed/relaxed; d={domain}; s={selector};\r\n\tt={time}; h={};\r\n\tbh={body_hash};\r\n\tb=",
            self.algorithm(),
            names.join(":")
        );
        signed.extend_from_slice(&header_relaxed(dkim.as_bytes()));
        let sig = Base64::encode_string(&self.signature(&signed)?);

        let mut out = Vec::with_capacity(message.len() + dkim.len() + sig.len() + 16);
        out.extend_from_slice(dkim.as_bytes());
        for (i, chunk) in sig.as_bytes().chunks(72).enumerate() {
            if i > 0 {
                out.extend_from_slice(b"\r\n\t");
            }
            out.extend_from_slice(chunk);
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(message);
        Ok(out)
    }
}

/// Header block (with its final CRLF) and body of a message.
fn split(message: &[u8]) -> (&[u8], &[u8]) {
    match message.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(p) => (&message[..p + 2], &message[p + 4..]),
        None => (message, &[]),
    }
}

/// (name, whole field including continuation lines, without the final CRLF).
fn header_fields(head: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut fields: Vec<(String, Vec<u8>)> = Vec::new();
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if let Some(last) = fields.last_mut() {
                last.1.extend_from_slice(b"\r\n");
                last.1.extend_from_slice(line);
            }
        } else {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            fields.push((
                String::from_utf8_lossy(name).trim().to_string(),
                line.to_vec(),
            ));
        }
    }
    fields
}

/// Relaxed header canonicalisation (3.4.2), without the final CRLF.
fn header_relaxed(field: &[u8]) -> Vec<u8> {
    let colon = field.iter().position(|&b| b == b':').unwrap_or(field.len());
    let name = field[..colon].trim_ascii().to_ascii_lowercase();
    let value = field.get(colon + 1..).unwrap_or_default();
    let mut out = name;
    out.push(b':');
    let mut space = false;
    let mut started = false;
    for &b in value {
        match b {
            b'\r' | b'\n' => {}
            b' ' | b'\t' => space = true,
            _ => {
                if space && started {
                    out.push(b' ');
                }
                space = false;
                started = true;
                out.push(b);
            }
        }
    }
    out
}

/// Relaxed body canonicalisation (3.4.4).
fn body_relaxed(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut empty_run = 0usize;
    let mut lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    // A trailing CRLF ends the last line; it does not start an empty one.
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut canon = Vec::with_capacity(line.len());
        let mut space = false;
        for &b in line {
            if b == b' ' || b == b'\t' {
                space = true;
            } else {
                if space {
                    canon.push(b' ');
                }
                space = false;
                canon.push(b);
            }
        }
        if canon.is_empty() {
            empty_run += 1;
        } else {
            for _ in 0..empty_run {
                out.extend_from_slice(b"\r\n");
            }
            empty_run = 0;
            out.extend_from_slice(&canon);
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaxed_canonicalisation() {
        assert_eq!(
            header_relaxed(b"Subject :  Hello \r\n\t world  "),
            b"subject:Hello world".to_vec()
        );
        assert_eq!(header_relaxed(b"X-A: a : b"), b"x-a:a : b".to_vec());
        assert_eq!(body_relaxed(b"a  b \r\n\r\n\r\n"), b"a b\r\n".to_vec());
        assert_eq!(body_relaxed(b""), b"".to_vec());
        assert_eq!(body_relaxed(b"x\r\n \r\ny"), b"x\r\n\r\ny\r\n".to_vec());
    }
}
