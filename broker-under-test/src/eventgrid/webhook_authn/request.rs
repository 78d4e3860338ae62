//! CONNECT → the webhook's request body: the documented JSON (`clientId`, `userName`, `password`
//! base64, `authenticationMethod`, `authenticationData` base64, `clientCertificate` PEM,
//! `clientCertificateChain` PEM), plus the CONNECT's user properties as `userProperties` (an
//! emulator extension, see the module above). Absent CONNECT fields are left out of the JSON.

use crate::codec::{Connect, Property};
use base64::Engine;
use rustls_pki_types::CertificateDer;
use serde::Serialize;
use std::collections::BTreeMap;

/// The body the broker POSTs to the webhook for one CONNECT.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookRequest {
    /// CONNECT ClientId (may be empty: the broker assigns one after authentication).
    pub client_id: String,
    /// CONNECT User Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// CONNECT Password, base64 (standard alphabet, padded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// v5 Authentication Method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_method: Option<String>,
    /// v5 Authentication Data, base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_data: Option<String>,
    /// The TLS client certificate (leaf), PEM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<String>,
    /// The other certificates the client presented, PEM blocks concatenated in the order sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_certificate_chain: Option<String>,
    /// v5 CONNECT User Properties in order, each a one-key object (`[{"site":"north"}]`, the shape
    /// Event Grid's HTTP Publish uses for `mqtt-user-properties`); left out when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub user_properties: Vec<BTreeMap<String, String>>,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn pem_block(der: &CertificateDer<'_>) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new("CERTIFICATE", der.as_ref().to_vec()), config)
}

impl WebhookRequest {
    /// The request for `connect`, whose TLS peer presented `certs` (leaf first; empty on plain TCP).
    pub fn new(connect: &Connect, certs: &[CertificateDer<'static>]) -> WebhookRequest {
        let props = &connect.properties;
        let authentication_data = props.0.iter().find_map(|p| match p {
            Property::AuthenticationData(d) => Some(b64(d)),
            _ => None,
        });
        let (leaf, chain) = match certs.split_first() {
            Some((leaf, rest)) => (Some(pem_block(leaf)), rest),
            None => (None, &[][..]),
        };
        WebhookRequest {
            client_id: connect.client_id.clone(),
            user_name: connect.username.clone(),
            password: connect.password.as_deref().map(b64),
            authentication_method: props.authentication_method(),
            authentication_data,
            client_certificate: leaf,
            client_certificate_chain: (!chain.is_empty()).then(|| chain.iter().map(pem_block).collect()),
            user_properties: props.user_properties().into_iter().map(|(k, v)| BTreeMap::from([(k, v)])).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Connect, Properties, ProtocolVersion};
    use bytes::Bytes;

    #[test]
    fn documented_fields_and_encodings() {
        let mut c = Connect::new(ProtocolVersion::V5, "sensor1");
        c.username = Some("sensor1".into());
        c.password = Some(Bytes::from_static(b"s3cret\xff"));
        c.properties = Properties::new()
            .with(Property::AuthenticationMethod("SAS".into()))
            .with(Property::AuthenticationData(Bytes::from_static(b"\x00\x01token")))
            .with(Property::UserProperty("site".into(), "north".into()))
            .with(Property::UserProperty("site".into(), "south".into()));
        let certs = [CertificateDer::from(vec![1u8, 2, 3]), CertificateDer::from(vec![4u8]), CertificateDer::from(vec![5u8])];
        let json = serde_json::to_value(WebhookRequest::new(&c, &certs)).unwrap();
        assert_eq!(json["clientId"], "sensor1");
        assert_eq!(json["userName"], "sensor1");
        assert_eq!(json["password"], "czNjcmV0/w==");
        assert_eq!(json["authenticationMethod"], "SAS");
        assert_eq!(json["authenticationData"], "AAF0b2tlbg==");
        assert_eq!(json["clientCertificate"], "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n");
        assert_eq!(
            json["clientCertificateChain"],
            "-----BEGIN CERTIFICATE-----\nBA==\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nBQ==\n-----END CERTIFICATE-----\n"
        );
        assert_eq!(json["userProperties"], serde_json::json!([{"site": "north"}, {"site": "south"}]));
    }

    #[test]
    fn absent_fields_are_left_out() {
        let c = Connect::new(ProtocolVersion::V311, "");
        let json = serde_json::to_value(WebhookRequest::new(&c, &[])).unwrap();
        assert_eq!(json, serde_json::json!({"clientId": ""}));
    }
}
