@eventgrid @tls @reference-only
Feature: Event Grid authentication: certificate, validation scheme and username decide CONNECT
  Every client presents a certificate in the TLS handshake and its authentication name as
  username (eventgrid-model.md §1). ThumbprintMatch compares the SHA-256 of the leaf with one of
  at most two allowed thumbprints (self-signed is fine); the five *MatchesAuthenticationName
  schemes need a leaf signed by a namespace CA whose subject CN / DNS / URI / IP / email SAN equals
  the authentication name. The validity period counts for every scheme. Refusals: unknown or
  mismatching credentials → v5 0x86 / v3.1.1 0x04; a known client that may not connect (disabled)
  → v5 0x87 / v3.1.1 0x05. Each scenario gets its own reference broker serving this namespace.

  Background:
    Given the certificates:
      | name        | issuer    | cn          | san                  | validity      |
      | thumb-a     | self      |             |                      |               |
      | thumb-b     | self      |             |                      |               |
      | thumb-c     | self      | thumbed     |                      |               |
      | old-thumb   | self      |             |                      | expired       |
      | dev-subject | ca        | dev-subject |                      |               |
      | dev-dns     | ca        | device      | dns:dev.example.com  |               |
      | dev-uri     | ca        | device      | uri:urn:lwt:dev-uri  |               |
      | dev-ip      | ca        | device      | ip:10.1.2.3          |               |
      | dev-email   | ca        | device      | email:dev@example.com |              |
      | rogue       | untrusted | dev-subject |                      |               |
      | dev-old     | ca        | dev-old     |                      | expired       |
      | dev-early   | ca        | dev-early   |                      | not yet valid |
      | off         | self      |             |                      |               |
    And an Event Grid namespace with:
      """
      name: auth-test
      caCertificates:
        - name: test-ca
          file: ca.pem
      clients:
        - name: thumbed
          clientCertificateAuthentication:
            validationScheme: ThumbprintMatch
            allowedThumbprints: ["<thumbprint of thumb-a>", "<thumbprint of thumb-b>"]
        - name: old-thumbed
          clientCertificateAuthentication:
            validationScheme: ThumbprintMatch
            allowedThumbprints: ["<thumbprint of old-thumb>"]
        - name: dev-subject
          clientCertificateAuthentication:
            validationScheme: SubjectMatchesAuthenticationName
        - name: dns-device
          authenticationName: dev.example.com
          clientCertificateAuthentication:
            validationScheme: DnsMatchesAuthenticationName
        - name: uri-device
          authenticationName: "urn:lwt:dev-uri"
          clientCertificateAuthentication:
            validationScheme: UriMatchesAuthenticationName
        - name: ip-device
          authenticationName: "10.1.2.3"
          clientCertificateAuthentication:
            validationScheme: IpMatchesAuthenticationName
        - name: email-device
          authenticationName: dev@example.com
          clientCertificateAuthentication:
            validationScheme: EmailMatchesAuthenticationName
        - name: dev-old
          clientCertificateAuthentication:
            validationScheme: SubjectMatchesAuthenticationName
        - name: dev-early
          clientCertificateAuthentication:
            validationScheme: SubjectMatchesAuthenticationName
        - name: off
          state: Disabled
          clientCertificateAuthentication:
            validationScheme: ThumbprintMatch
            allowedThumbprints: ["<thumbprint of off>"]
      """

  @v5 @must @EG-AUTH-thumbprint
  Scenario: ThumbprintMatch accepts the primary thumbprint
    Given "device" presents certificate "thumb-a"
    And "device" uses username "thumbed"
    When "device" tries to connect
    Then "device" is accepted

  @v5 @must @EG-AUTH-thumbprint
  Scenario: ThumbprintMatch accepts the secondary thumbprint (certificate rotation)
    Given "device" presents certificate "thumb-b"
    And "device" uses username "thumbed"
    When "device" tries to connect
    Then "device" is accepted

  @v311 @must @EG-AUTH-thumbprint
  Scenario: ThumbprintMatch accepts an MQTT 3.1.1 client
    Given "device" presents certificate "thumb-a"
    And "device" uses username "thumbed"
    When "device" tries to connect
    Then "device" is accepted

  @v5 @must @EG-AUTH-subject
  Scenario: SubjectMatchesAuthenticationName accepts a CA-signed certificate whose CN is the name
    Given "device" presents certificate "dev-subject"
    And "device" uses username "dev-subject"
    When "device" tries to connect
    Then "device" is accepted

  @v5 @should @EG-AUTH-subject
  Scenario: The authentication name is looked up ignoring case
    Given "device" presents certificate "dev-subject"
    And "device" uses username "DEV-Subject"
    When "device" tries to connect
    Then "device" is accepted

  @v5 @must @EG-AUTH-dns
  Scenario: DnsMatchesAuthenticationName accepts a certificate with that DNS SAN
    Given "device" presents certificate "dev-dns"
    And "device" uses username "dev.example.com"
    When "device" tries to connect
    Then "device" is accepted

  @v5 @must @EG-AUTH-uri
  Scenario: UriMatchesAuthenticationName accepts a certificate with that URI SAN
    Given "device" presents certificate "dev-uri"
    And "device" uses username "urn:lwt:dev-uri"
    When "device" tries to connect
    Then "device" is accepted

  @v5 @must @EG-AUTH-ip
  Scenario: IpMatchesAuthenticationName accepts a certificate with that IP SAN
    Given "device" presents certificate "dev-ip"
    And "device" uses username "10.1.2.3"
    When "device" tries to connect
    Then "device" is accepted

  @v5 @must @EG-AUTH-email
  Scenario: EmailMatchesAuthenticationName accepts a certificate with that email SAN
    Given "device" presents certificate "dev-email"
    And "device" uses username "dev@example.com"
    When "device" tries to connect
    Then "device" is accepted

  @v5 @must @EG-AUTH-dns
  Scenario: A DNS SAN that is not the authentication name is refused
    Given "device" presents certificate "dev-uri"
    And "device" uses username "dev.example.com"
    When "device" tries to connect
    Then "device" is refused with reason code 0x86

  @v5 @must @EG-AUTH-thumbprint
  Scenario: A certificate whose thumbprint is not allowed is refused, even with the right CN
    Given "device" presents certificate "thumb-c"
    And "device" uses username "thumbed"
    When "device" tries to connect
    Then "device" is refused with reason code 0x86

  @v311 @must @EG-AUTH-thumbprint
  Scenario: A wrong thumbprint refuses an MQTT 3.1.1 client with return code 0x04
    Given "device" presents certificate "thumb-c"
    And "device" uses username "thumbed"
    When "device" tries to connect
    Then "device" is refused with reason code 0x04

  @v5 @must @EG-AUTH-chain
  Scenario: A certificate from a CA the namespace does not know is refused
    Given "device" presents certificate "rogue"
    And "device" uses username "dev-subject"
    When "device" tries to connect
    Then "device" is refused with reason code 0x86

  @v5 @must @EG-AUTH-validity
  Scenario: An expired CA-signed certificate is refused
    Given "device" presents certificate "dev-old"
    And "device" uses username "dev-old"
    When "device" tries to connect
    Then "device" is refused with reason code 0x86

  @v5 @must @EG-AUTH-validity
  Scenario: An expired certificate is refused under ThumbprintMatch too
    Given "device" presents certificate "old-thumb"
    And "device" uses username "old-thumbed"
    When "device" tries to connect
    Then "device" is refused with reason code 0x86

  @v5 @must @EG-AUTH-validity
  Scenario: A certificate that is not valid yet is refused
    Given "device" presents certificate "dev-early"
    And "device" uses username "dev-early"
    When "device" tries to connect
    Then "device" is refused with reason code 0x86

  @v5 @must @EG-AUTH-username
  Scenario: A username naming another client than the certificate is refused
    Given "device" presents certificate "dev-subject"
    And "device" uses username "dev-old"
    When "device" tries to connect
    Then "device" is refused with reason code 0x86

  @v5 @must @EG-AUTH-username
  Scenario: A username no client has is refused
    Given "device" presents certificate "dev-subject"
    And "device" uses username "nobody"
    When "device" tries to connect
    Then "device" is refused with reason code 0x86

  @v5 @must @EG-AUTH-username
  Scenario: Without a username (and no alternative name sources) the client is refused
    Given "device" presents certificate "dev-subject"
    And "device" sends no username
    When "device" tries to connect
    Then "device" is refused with reason code 0x86

  @v5 @must @EG-AUTH-certificate
  Scenario: A client that presents no certificate is refused
    Given "device" presents no certificate
    And "device" uses username "dev-subject"
    When "device" tries to connect
    Then "device" is refused with reason code 0x86

  @v5 @must @EG-AUTH-state
  Scenario: A disabled client is not authorized to connect
    Given "device" presents certificate "off"
    And "device" uses username "off"
    When "device" tries to connect
    Then "device" is refused with reason code 0x87

  @v311 @must @EG-AUTH-state
  Scenario: A disabled MQTT 3.1.1 client is refused with return code 0x05
    Given "device" presents certificate "off"
    And "device" uses username "off"
    When "device" tries to connect
    Then "device" is refused with reason code 0x05
