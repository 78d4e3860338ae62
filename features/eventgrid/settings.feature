@eventgrid @tls @reference-only
Feature: Event Grid namespace settings: the documented ones and the switches for undocumented behaviour
  `maximumClientSessionsPerAuthenticationName` and `alternativeAuthenticationNameSources` are
  documented namespace properties (eventgrid-model.md §1); `qos0Denied`, `v311PublishDenied`,
  `retain` and `legacyNoWill` choose between readings of what Event Grid leaves undocumented or
  changed over time (§8 #2, #3, #7, #13; fixtures/namespaces/README.md). Each rule's namespace
  differs from the defaults in that setting only.

  Background:
    Given the certificates:
      | name    | issuer | cn          | san                 |
      | sensor1 | self   |             |                     |
      | sensor2 | self   |             |                     |
      | watcher | self   |             |                     |
      | dev     | ca     | dev-subject | dns:dev.example.com |

  Rule: qos0Denied: disconnect

    Background:
      Given an Event Grid namespace with:
        """
        name: qos0-disconnect
        settings:
          qos0Denied: disconnect
        caCertificates:
          - { name: test-ca, file: ca.pem }
        clients:
          - { name: sensor1, attributes: { type: sensor }, clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of sensor1>"] } }
          - { name: sensor2, attributes: { type: sensor }, clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of sensor2>"] } }
          - { name: watcher, attributes: { type: observer }, clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of watcher>"] } }
        clientGroups:
          - { name: sensors, query: "attributes.type = 'sensor'" }
          - { name: watchers, query: "attributes.type = 'observer'" }
        topicSpaces:
          - { name: lwtPub, topicTemplates: ["clients/${client.authenticationName}/status"] }
          - { name: everything, topicTemplates: ["#"] }
          - { name: harnessProbe, topicTemplates: ["lwt-harness/probe/${client.authenticationName}"] }
        permissionBindings:
          - { name: sensorsPub, clientGroupName: sensors, topicSpaceName: lwtPub, permission: Publisher }
          - { name: watchersSub, clientGroupName: watchers, topicSpaceName: everything, permission: Subscriber }
          - { name: probePub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Publisher }
          - { name: probeSub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Subscriber }
        """
      And actuator "watcher" subscribed to "clients/#" at QoS 1

    @v5 @must @MQTT-3.3.5-2 @EG-AUTHZ-publish
    Scenario: An unauthorized QoS 0 PUBLISH gets DISCONNECT 0x87 and reaches no one
      When "sensor1" tries to publish "forged" on "clients/sensor2/status" at QoS 0
      Then the publish of "sensor1" makes the broker send DISCONNECT 0x87
      And "watcher" receives nothing on "clients/#" for 1 second

  Rule: v311PublishDenied: ackAndDrop

    Background:
      Given an Event Grid namespace with:
        """
        name: v311-ack-and-drop
        settings:
          v311PublishDenied: ackAndDrop
        caCertificates:
          - { name: test-ca, file: ca.pem }
        clients:
          - { name: sensor1, attributes: { type: sensor }, clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of sensor1>"] } }
          - { name: sensor2, attributes: { type: sensor }, clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of sensor2>"] } }
          - { name: watcher, attributes: { type: observer }, clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of watcher>"] } }
        clientGroups:
          - { name: sensors, query: "attributes.type = 'sensor'" }
          - { name: watchers, query: "attributes.type = 'observer'" }
        topicSpaces:
          - { name: lwtPub, topicTemplates: ["clients/${client.authenticationName}/status"] }
          - { name: everything, topicTemplates: ["#"] }
          - { name: harnessProbe, topicTemplates: ["lwt-harness/probe/${client.authenticationName}"] }
        permissionBindings:
          - { name: sensorsPub, clientGroupName: sensors, topicSpaceName: lwtPub, permission: Publisher }
          - { name: watchersSub, clientGroupName: watchers, topicSpaceName: everything, permission: Subscriber }
          - { name: probePub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Publisher }
          - { name: probeSub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Subscriber }
        """
      And actuator "watcher" subscribed to "clients/#" at QoS 1

    @v311 @must @MQTT-3.3.5-2 @EG-AUTHZ-publish
    Scenario: An unauthorized MQTT 3.1.1 PUBLISH is acknowledged, dropped, and the connection stays
      When "sensor1" tries to publish "forged" on "clients/sensor2/status" at QoS 1
      Then the publish of "sensor1" is acknowledged with reason code 0x00
      And "watcher" receives nothing on "clients/#" for 1 second
      When "sensor1" tries to publish "online" on "clients/sensor1/status" at QoS 1
      Then the publish of "sensor1" is acknowledged with reason code 0x00
      And "watcher" has received "online" on "clients/sensor1/status"

  Rule: retain: unsupported (the service before the 2025 retain preview)

    Background:
      Given an Event Grid namespace with:
        """
        name: retain-unsupported
        settings:
          retain: unsupported
        caCertificates:
          - { name: test-ca, file: ca.pem }
        clients:
          - { name: sensor1, attributes: { type: sensor }, clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of sensor1>"] } }
          - { name: sensor2, attributes: { type: sensor }, clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of sensor2>"] } }
          - { name: watcher, attributes: { type: observer }, clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of watcher>"] } }
        clientGroups:
          - { name: sensors, query: "attributes.type = 'sensor'" }
          - { name: watchers, query: "attributes.type = 'observer'" }
        topicSpaces:
          - { name: lwtPub, topicTemplates: ["clients/${client.authenticationName}/status"] }
          - { name: everything, topicTemplates: ["#"] }
          - { name: harnessProbe, topicTemplates: ["lwt-harness/probe/${client.authenticationName}"] }
        permissionBindings:
          - { name: sensorsPub, clientGroupName: sensors, topicSpaceName: lwtPub, permission: Publisher }
          - { name: watchersSub, clientGroupName: watchers, topicSpaceName: everything, permission: Subscriber }
          - { name: probePub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Publisher }
          - { name: probeSub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Subscriber }
        """

    @v5 @must @MQTT-3.2.2-13 @EG-LIMIT-retain
    Scenario: A retained will is refused with 0x9A (Retain not supported)
      Given sensor "sensor1" with retained will "offline" on "clients/sensor1/status" at QoS 1
      When "sensor1" tries to connect
      Then "sensor1" is refused with reason code 0x9A

    @v5 @must @EG-LIMIT-retain
    Scenario: CONNACK says retain is not available
      When "sensor1" connects
      Then the CONNACK of "sensor1" carries retain-available 0

    @v311 @must @EG-LIMIT-retain
    Scenario: MQTT 3.1.1: a retained will is refused
      Given sensor "sensor1" with retained will "offline" on "clients/sensor1/status" at QoS 1
      When "sensor1" tries to connect
      Then "sensor1" is refused with reason code 0x05 or disconnected without CONNACK

  Rule: legacyNoWill (Event Grid before Last Will support, 2023)

    Background:
      Given an Event Grid namespace with:
        """
        name: legacy-no-will
        settings:
          legacyNoWill: true
        caCertificates:
          - { name: test-ca, file: ca.pem }
        clients:
          - { name: sensor1, attributes: { type: sensor }, clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of sensor1>"] } }
          - { name: sensor2, attributes: { type: sensor }, clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of sensor2>"] } }
          - { name: watcher, attributes: { type: observer }, clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of watcher>"] } }
        clientGroups:
          - { name: sensors, query: "attributes.type = 'sensor'" }
          - { name: watchers, query: "attributes.type = 'observer'" }
        topicSpaces:
          - { name: lwtPub, topicTemplates: ["clients/${client.authenticationName}/status"] }
          - { name: everything, topicTemplates: ["#"] }
          - { name: harnessProbe, topicTemplates: ["lwt-harness/probe/${client.authenticationName}"] }
        permissionBindings:
          - { name: sensorsPub, clientGroupName: sensors, topicSpaceName: lwtPub, permission: Publisher }
          - { name: watchersSub, clientGroupName: watchers, topicSpaceName: everything, permission: Subscriber }
          - { name: probePub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Publisher }
          - { name: probeSub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Subscriber }
        """

    @v5 @must @EG-WILL-legacy
    Scenario: A CONNECT with a will gets CONNACK 0x83
      Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
      When "sensor1" tries to connect
      Then "sensor1" is refused with reason code 0x83

    @v311 @must @EG-WILL-legacy
    Scenario: MQTT 3.1.1: a CONNECT with a will is refused
      Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
      When "sensor1" tries to connect
      Then "sensor1" is refused with reason code 0x05 or disconnected without CONNACK

    @v5 @must @EG-WILL-legacy
    Scenario: A CONNECT without a will is accepted
      Given sensor "sensor1" without a will
      When "sensor1" tries to connect
      Then "sensor1" is accepted

  Rule: alternativeAuthenticationNameSources

    Background:
      Given an Event Grid namespace with:
        """
        name: alt-name-sources
        settings:
          alternativeAuthenticationNameSources: [ClientCertificateUri, ClientCertificateDns]
        caCertificates:
          - { name: test-ca, file: ca.pem }
        clients:
          - { name: sensor1, attributes: { type: sensor }, clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of sensor1>"] } }
          - { name: sensor2, attributes: { type: sensor }, clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of sensor2>"] } }
          - { name: watcher, attributes: { type: observer }, clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of watcher>"] } }
          - { name: dns-device, authenticationName: dev.example.com, clientCertificateAuthentication: { validationScheme: DnsMatchesAuthenticationName } }
        clientGroups:
          - { name: sensors, query: "attributes.type = 'sensor'" }
          - { name: watchers, query: "attributes.type = 'observer'" }
        topicSpaces:
          - { name: lwtPub, topicTemplates: ["clients/${client.authenticationName}/status"] }
          - { name: everything, topicTemplates: ["#"] }
          - { name: harnessProbe, topicTemplates: ["lwt-harness/probe/${client.authenticationName}"] }
        permissionBindings:
          - { name: sensorsPub, clientGroupName: sensors, topicSpaceName: lwtPub, permission: Publisher }
          - { name: watchersSub, clientGroupName: watchers, topicSpaceName: everything, permission: Subscriber }
          - { name: probePub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Publisher }
          - { name: probeSub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Subscriber }
        """

    @v5 @must @EG-AUTH-name-sources
    Scenario: Without a username the first listed certificate field present names the client
      # dev has no URI SAN, so its DNS SAN dev.example.com names it.
      Given "device" presents certificate "dev"
      And "device" sends no username
      When "device" tries to connect
      Then "device" is accepted

    @v5 @must @EG-AUTH-name-sources
    Scenario: Without a username and without any of the listed certificate fields the client is refused
      # sensor2's certificate has a subject CN (not a listed source) and no URI or DNS SAN.
      Given "device" presents certificate "sensor2"
      And "device" sends no username
      When "device" tries to connect
      Then "device" is refused with reason code 0x86

  Rule: Sessions belong to one authentication name (maximumClientSessionsPerAuthenticationName: 1)

    Background:
      Given an Event Grid namespace with:
        """
        name: sessions
        settings:
          maximumClientSessionsPerAuthenticationName: 1
        caCertificates:
          - { name: test-ca, file: ca.pem }
        clients:
          - { name: sensor1, attributes: { type: sensor }, clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of sensor1>"] } }
          - { name: sensor2, attributes: { type: sensor }, clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of sensor2>"] } }
          - { name: watcher, attributes: { type: observer }, clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of watcher>"] } }
        clientGroups:
          - { name: sensors, query: "attributes.type = 'sensor'" }
          - { name: watchers, query: "attributes.type = 'observer'" }
        topicSpaces:
          - { name: lwtPub, topicTemplates: ["clients/${client.authenticationName}/status"] }
          - { name: everything, topicTemplates: ["#"] }
          - { name: harnessProbe, topicTemplates: ["lwt-harness/probe/${client.authenticationName}"] }
        permissionBindings:
          - { name: sensorsPub, clientGroupName: sensors, topicSpaceName: lwtPub, permission: Publisher }
          - { name: watchersSub, clientGroupName: watchers, topicSpaceName: everything, permission: Subscriber }
          - { name: probePub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Publisher }
          - { name: probeSub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Subscriber }
        """

    @v5 @must @EG-AUTH-sessions
    Scenario: A session name another authentication name holds is not authorized
      Given "sensor1" uses client id "shared-session"
      And "sensor1" is connected
      And "sensor2" uses client id "shared-session"
      When "sensor2" tries to connect
      Then "sensor2" is refused with reason code 0x87

    @v5 @must @EG-AUTH-sessions
    Scenario: A second session of the same authentication name exceeds the quota
      Given "sensor1" uses client id "session-a"
      And "sensor1" is connected
      And "sensor1-again" presents certificate "sensor1"
      And "sensor1-again" uses username "sensor1"
      And "sensor1-again" uses client id "session-b"
      When "sensor1-again" tries to connect
      Then "sensor1-again" is refused with reason code 0x97

    @v5 @must @MQTT-3.1.4-3 @EG-WILL-takeover
    Scenario: A session taken over by the same authentication name publishes the old connection's will
      Given actuator "watcher" subscribed to "clients/#" at QoS 1
      And sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
      And "sensor1" is connected
      When "sensor1" is taken over by a new connection with clean start 1
      Then "watcher" receives "offline" on "clients/sensor1/status" within 2 seconds
      And "watcher" has received exactly 1 message on "clients/#"
