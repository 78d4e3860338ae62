@eventgrid @tls @reference-only
Feature: Event Grid's failing requests and per-request limits (issue 12)
  What the reference broker does with requests Event Grid documents as limited or failing
  (eventgrid-model.md §5 and §9, SUP25 "MQTT v5 departures"): 10 topic filters per SUBSCRIBE, a
  client PUBACK with a failure reason code "terminates the connection", User Properties on
  PUBACK / DISCONNECT / AUTH make "such a request fail", client ids assigned to empty ones are
  unique, and refusals tell unauthenticated callers nothing about the registry. Where Event Grid
  documents the rule but not the reason code, the scenario is tagged @reference-choice and the
  choice is in fixtures/namespaces/README.md ("Requests Event Grid fails").

  Background:
    Given the certificates:
      | name      | issuer |
      | sensor1   | self   |
      | sensor2   | self   |
      | watcher   | self   |
      | ghost     | self   |
      | disabled1 | self   |

  Rule: The namespace with default settings (terse reason strings)

    Background:
      Given an Event Grid namespace with:
        """
        name: requests-test
        clients:
          - name: sensor1
            attributes: { type: sensor }
            clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of sensor1>"] }
          - name: sensor2
            attributes: { type: sensor }
            clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of sensor2>"] }
          - name: watcher
            attributes: { type: observer }
            clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of watcher>"] }
          - name: disabled1
            state: Disabled
            attributes: { type: sensor }
            clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of disabled1>"] }
        clientGroups:
          - { name: sensors, query: "attributes.type = 'sensor'" }
          - { name: watchers, query: "attributes.type = 'observer'" }
        topicSpaces:
          - { name: own-tree, topicTemplates: ["clients/${client.authenticationName}/#"] }
          - { name: everything, topicTemplates: ["#"] }
          - { name: harnessProbe, topicTemplates: ["lwt-harness/probe/${client.authenticationName}"] }
        permissionBindings:
          - { name: sensorsPub, clientGroupName: sensors, topicSpaceName: own-tree, permission: Publisher }
          - { name: watchersSub, clientGroupName: watchers, topicSpaceName: everything, permission: Subscriber }
          - { name: probePub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Publisher }
          - { name: probeSub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Subscriber }
        """

    @v5 @must @MQTT-3.1.3-6 @EG-SEC-assigned-id
    Scenario: Empty client ids with clean start 0 get different assigned ids and no session
      Given "sensor1" has an empty client id
      And "sensor1" keeps its session
      And "sensor2" has an empty client id
      And "sensor2" keeps its session
      When "sensor1" connects
      And "sensor2" connects
      Then "sensor2" resumes no session
      And "sensor1" resumes no session
      And "sensor1" and "sensor2" were assigned different client ids

    @v5 @should @reference-choice @EG-LIMIT-filters-per-subscribe
    Scenario: Eleven filters in one SUBSCRIBE fail every filter with 0x97, ten are granted
      When "watcher" tries to subscribe to "a/1, a/2, a/3, a/4, a/5, a/6, a/7, a/8, a/9, a/10" at QoS 1
      And "watcher" tries to subscribe to "b/1, b/2, b/3, b/4, b/5, b/6, b/7, b/8, b/9, b/10, b/11" at QoS 1
      Then the subscriptions of "watcher" are answered with "10 × 0x01, 11 × 0x97"

    @v311 @should @reference-choice @EG-LIMIT-filters-per-subscribe
    Scenario: MQTT 3.1.1: eleven filters in one SUBSCRIBE fail every filter with 0x80
      When "watcher" tries to subscribe to "b/1, b/2, b/3, b/4, b/5, b/6, b/7, b/8, b/9, b/10, b/11" at QoS 1
      Then the subscriptions of "watcher" are answered with "11 × 0x80"

    @v5 @should @reference-choice @EG-LIMIT-puback
    Scenario: A PUBACK with a failure reason code ends the connection with DISCONNECT 0x83
      When "watcher" tries to subscribe to "clients/#" at QoS 1
      And "sensor1" tries to publish "x" on "clients/sensor1/status" at QoS 1
      And "watcher" answers the next delivery with PUBACK 0x80
      Then the answer of "watcher" makes the broker send DISCONNECT 0x83

    @v5 @should @reference-choice @EG-LIMIT-user-properties
    Scenario: A PUBACK with a User Property ends the connection with DISCONNECT 0x83
      When "watcher" tries to subscribe to "clients/#" at QoS 1
      And "sensor1" tries to publish "x" on "clients/sensor1/status" at QoS 1
      And "watcher" answers the next delivery with a PUBACK carrying user property "k" = "v"
      Then the answer of "watcher" makes the broker send DISCONNECT 0x83

    @v5 @must @EG-LIMIT-puback
    Scenario: A PUBACK 0x10 (success range) keeps the connection
      When "watcher" tries to subscribe to "clients/#" at QoS 1
      And "sensor1" tries to publish "x" on "clients/sensor1/status" at QoS 1
      And "watcher" answers the next delivery with PUBACK 0x10
      Then the answer of "watcher" leaves the connection open

    @v5 @should @reference-choice @EG-LIMIT-user-properties
    Scenario: DISCONNECT 0x00 with a User Property fails and the will is published
      # 0xE0, remaining length 9, reason 0x00, properties (7 bytes): User Property "k" = "v".
      Given actuator "watcher" subscribed to "clients/#" at QoS 1
      And sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
      When "sensor1" connects
      And "sensor1" sends the DISCONNECT bytes "E0 09 00 07 26 00 01 6B 00 01 76"
      Then "watcher" receives "offline" on "clients/sensor1/status" within 2 seconds

    @v5 @should @reference-choice @EG-SEC-disclosure
    Scenario: Refusals do not tell an unauthenticated caller whether a name exists
      Given "ghost" uses username "ghost-name"
      When "ghost" tries to connect
      Then "ghost" is refused with reason code 0x86
      And the refusal of "ghost" does not mention "ghost-name"

    @v5 @should @reference-choice @EG-SEC-disclosure
    Scenario: Refusals do not tell that a client is disabled or which thumbprint was expected
      Given "sensor2" uses username "sensor1"
      When "disabled1" tries to connect
      And "sensor2" tries to connect
      Then "disabled1" is refused with reason code 0x87
      And the refusal of "disabled1" does not mention "disabled"
      And "sensor2" is refused with reason code 0x86
      And the refusal of "sensor2" does not mention "thumbprint"

  Rule: A namespace that asks for diagnostics gets the full reasons

    Background:
      Given an Event Grid namespace with:
        """
        name: diagnostics-test
        settings: { diagnostics: true }
        clients:
          - name: sensor1
            clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ["<thumbprint of sensor1>"] }
        """

    @v5 @should @reference-choice @EG-SEC-disclosure
    Scenario: With diagnostics: true the refusal names the unknown authentication name
      Given "ghost" uses username "ghost-name"
      When "ghost" tries to connect
      Then "ghost" is refused with reason code 0x86
      And the refusal of "ghost" mentions "ghost-name"
