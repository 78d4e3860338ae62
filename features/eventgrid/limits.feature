@eventgrid @tls @reference-only
Feature: The Event Grid profile's limits
  Event Grid's documented departures from the MQTT spec and its quotas (eventgrid-model.md §5):
  maximum QoS 1, will delay ≤ 300 s, keep-alive ≤ 1,160 s, 512 KiB packets, topics ≤ 256 bytes and
  8 levels, 50 subscriptions per session, session expiry ≤ the namespace maximum (1 h by default),
  10 topic aliases, no user properties on CONNECT. Where the spec has a reason code for the
  refusal, the scenario asks for it. (A will delay above 300 s is clamped; proving that would take
  five minutes, so no scenario does.)

  Background:
    Given the certificates:
      | name    | issuer |
      | sensor1 | self   |
      | sensor2 | self   |
      | watcher | self   |
    And an Event Grid namespace with:
      """
      name: limits-test
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

  @v5 @must @MQTT-3.2.2-12 @EG-LIMIT-qos
  Scenario: A QoS 2 will is refused with 0x9B (QoS not supported)
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 2
    When "sensor1" tries to connect
    Then "sensor1" is refused with reason code 0x9B

  @v311 @must @EG-LIMIT-qos
  Scenario: MQTT 3.1.1: a QoS 2 will is refused
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 2
    When "sensor1" tries to connect
    Then "sensor1" is refused with reason code 0x05 or disconnected without CONNACK

  @v5 @must @EG-LIMIT-qos
  Scenario: A QoS 1 will is accepted, and CONNACK announces the profile's limits
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    When "sensor1" connects
    Then the CONNACK of "sensor1" carries maximum-qos 1
    And the CONNACK of "sensor1" carries maximum-packet-size 524288
    And the CONNACK of "sensor1" carries topic-alias-maximum 10

  @v5 @must @MQTT-3.3.1-4 @EG-LIMIT-qos
  Scenario: A QoS 2 PUBLISH is refused with DISCONNECT 0x9B
    When "sensor1" tries to publish "x" on "clients/sensor1/status" at QoS 2
    Then the publish of "sensor1" makes the broker send DISCONNECT 0x9B

  @v5 @must @EG-LIMIT-qos
  Scenario: A QoS 2 subscription is granted at QoS 1
    When "watcher" tries to subscribe to "clients/+/status" at QoS 2
    Then the subscriptions of "watcher" are answered with "0x01"

  @v5 @must @EG-LIMIT-keep-alive
  Scenario: A keep-alive above 1,160 s is lowered with Server Keep Alive
    Given "sensor1" has keep-alive 2000 seconds
    When "sensor1" connects
    Then "sensor1" is told to keep alive every 1160 seconds

  @v5 @must @EG-LIMIT-session-expiry
  Scenario: A session expiry above the namespace maximum (1 h) is lowered in CONNACK
    Given "sensor1" has session expiry 7200 seconds
    When "sensor1" connects
    Then the CONNACK of "sensor1" carries session-expiry-interval 3600

  @v5 @must @EG-LIMIT-user-properties
  Scenario: User properties on CONNECT make the request fail
    Given "sensor1" sends user property "site" = "plant-1" on CONNECT
    When "sensor1" tries to connect
    Then "sensor1" is refused with reason code 0x83

  @v5 @must @EG-LIMIT-topic
  Scenario: A topic of 8 levels is published
    Given actuator "watcher" subscribed to "clients/#" at QoS 1
    When "sensor1" tries to publish "x" on "clients/sensor1/a/b/c/d/e/f" at QoS 1
    Then the publish of "sensor1" is acknowledged with reason code 0x00
    And "watcher" has received "x" on "clients/sensor1/a/b/c/d/e/f"

  @v5 @must @EG-LIMIT-topic
  Scenario: A topic of 9 levels is refused with DISCONNECT 0x90
    Given actuator "watcher" subscribed to "clients/#" at QoS 1
    When "sensor1" tries to publish "x" on "clients/sensor1/a/b/c/d/e/f/g" at QoS 1
    Then the publish of "sensor1" makes the broker send DISCONNECT 0x90
    And "watcher" receives nothing on "clients/#" for 1 second

  @v5 @must @EG-LIMIT-topic
  Scenario: A topic longer than 256 bytes is refused with DISCONNECT 0x90
    When "sensor1" tries to publish "x" on "clients/sensor1/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" at QoS 1
    Then the publish of "sensor1" makes the broker send DISCONNECT 0x90

  @v5 @must @EG-LIMIT-topic
  Scenario: A topic filter of 9 levels is refused with 0x8F
    When "watcher" tries to subscribe to "a/b/c/d/e/f/g/h/#, a/b/c/d/e/f/g/#" at QoS 1
    Then the subscriptions of "watcher" are answered with "0x8F, 0x01"

  @v5 @must @EG-LIMIT-subscriptions
  Scenario: The 51st subscription of a session is refused with 0x97 (quota exceeded)
    When "watcher" subscribes to 51 filters "limits/<n>" one at a time at QoS 1
    Then the subscriptions of "watcher" are answered with "50 × 0x01, 0x97"

  @v311 @must @EG-LIMIT-subscriptions
  Scenario: MQTT 3.1.1: the 51st subscription of a session is refused with 0x80
    When "watcher" subscribes to 51 filters "limits/<n>" one at a time at QoS 1
    Then the subscriptions of "watcher" are answered with "50 × 0x01, 0x80"

  @v5 @must @EG-LIMIT-user-properties
  Scenario: User properties on SUBSCRIBE make every filter of it fail with 0x83
    When "watcher" tries to subscribe to "clients/+/status, clients/#" at QoS 1 with user property "app" = "dashboard"
    Then the subscriptions of "watcher" are answered with "0x83, 0x83"

  @v5 @must @EG-LIMIT-user-properties
  Scenario: User properties on PUBLISH and on the will are fine
    Given actuator "watcher" subscribed to "clients/#" at QoS 1
    And sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And the will of "sensor1" has user property "reason" = "power"
    When "sensor1" connects
    And "sensor1" resets its connection
    Then "watcher" receives "offline" on "clients/sensor1/status" within 2 seconds
    And the delivered will carries user properties "reason=power"
    When "sensor2" tries to publish "up" on "clients/sensor2/status" at QoS 1 with user property "site" = "plant-1"
    Then the publish of "sensor2" is acknowledged with reason code 0x00
    And "watcher" has received "up" on "clients/sensor2/status"

  @v5 @must @EG-LIMIT-retain
  Scenario: A retained will is accepted (retain preview) and kept for later subscribers
    Given sensor "sensor1" with retained will "offline" on "clients/sensor1/status" at QoS 1
    When "sensor1" connects
    And "sensor1" resets its connection
    Then a new actuator "watcher" subscribing to "clients/sensor1/status" receives "offline" retained

  @v5 @must @EG-LIMIT-packet-size
  Scenario: A will with the largest payload MQTT allows (65,535 bytes) is accepted
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And the will of "sensor1" has a payload of 65535 bytes
    When "sensor1" tries to connect
    Then "sensor1" is accepted

  @v5 @must @EG-LIMIT-packet-size
  Scenario: A PUBLISH just under 512 KiB is delivered
    Given actuator "watcher" subscribed to "clients/#" at QoS 1
    When "sensor1" tries to publish 520000 bytes on "clients/sensor1/blob" at QoS 1
    Then the publish of "sensor1" is acknowledged with reason code 0x00
    And "watcher" has received exactly 1 message on "clients/sensor1/blob"

  @v5 @must @EG-LIMIT-packet-size
  Scenario: A PUBLISH larger than 512 KiB closes the connection and reaches no one
    # The broker may send DISCONNECT 0x95 first, but it closes while the PUBLISH is still arriving,
    # so TCP may drop that DISCONNECT: only the close is certain on the wire.
    Given actuator "watcher" subscribed to "clients/#" at QoS 1
    When "sensor1" tries to publish 530000 bytes on "clients/sensor1/blob" at QoS 1
    Then the publish of "sensor1" makes the broker close the connection
    And "watcher" receives nothing on "clients/#" for 1 second
