@eventgrid @tls @reference-only @webhook
Feature: Event Grid webhook authentication decides who connects, under which name, until when
  With custom webhook authentication the namespace POSTs each CONNECT's client id, username,
  password (base64), authentication method and data, and client certificate to a webhook, which
  answers allow (with the clientAuthenticationName, attributes and an optional expiration) or
  deny. The name and attributes then drive client groups, topic spaces and the will's
  authorization like a registered client's. Documented codes: a deny is "Not authorized" (v5 0x87,
  v3.1.1 0x05); a webhook that times out or fails is "Server unavailable" (v5 0x88, v3.1.1 0x03).
  Undocumented choices of the reference broker (fixtures/namespaces/README.md, "Webhook
  authentication"): a malformed answer, HTTP 500 or a close without answer is a failure too, and
  at the expiration the broker ends the connection with DISCONNECT 0xA0 (Maximum connect time),
  which is not a normal disconnect, so the will is published. Each scenario gets its own reference
  broker and its own webhook (the harness's `lwt-harness webhook`), which allows sensor1 and
  actuator1 and denies mallory.

  Background:
    Given an authentication webhook that allows:
      | client    | name      | attributes                 |
      | sensor1   | sensor1   | type=sensor, floor=3       |
      | actuator1 | actuator1 | type=actuator              |
    And the webhook denies "mallory" because "token revoked"
    And an Event Grid namespace using the webhook with:
      """
      name: webhook-test
      webHookAuthentication:
        endpointUrl: <webhook>
        timeoutMs: 500
      clientGroups:
        - { name: sensors, query: attributes.type = "sensor" }
        - { name: actuators, query: attributes.type = "actuator" }
      topicSpaces:
        - name: lwtPub
          topicTemplates: ["clients/${client.authenticationName}/status"]
        - name: lwtSub
          topicTemplates: ["clients/+/status"]
        - name: harnessProbe
          topicTemplates: ["lwt-harness/probe/${client.authenticationName}"]
      permissionBindings:
        - { name: sensorsPub, clientGroupName: sensors, topicSpaceName: lwtPub, permission: Publisher }
        - { name: actuatorsSub, clientGroupName: actuators, topicSpaceName: lwtSub, permission: Subscriber }
        - { name: probePub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Publisher }
        - { name: probeSub, clientGroupName: "$all", topicSpaceName: harnessProbe, permission: Subscriber }
      """
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1

  @v5 @must @EG-WEBHOOK-allow
  Scenario: The webhook allows sensor1 as "sensor1" with attributes, and its will reaches clients/+/status
    Given "sensor1" uses password "s3cret"
    And "sensor1" is connected
    Then the webhook was asked about "sensor1" with its client id, username and password
    When "sensor1" resets its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 2 seconds

  @v311 @must @EG-WEBHOOK-allow
  Scenario: MQTT 3.1.1: the webhook's name and attributes authorize the will as well
    Given "sensor1" speaks MQTT 3.1.1
    And "sensor1" is connected
    When "sensor1" loses its connection without DISCONNECT
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 2 seconds

  @v5 @must @EG-WEBHOOK-deny
  Scenario: A client the webhook denies is not authorized
    Given sensor "mallory" with will "offline" on "clients/mallory/status" at QoS 1
    When "mallory" tries to connect
    Then "mallory" is refused with reason code 0x87
    And "actuator1" receives nothing on "clients/+/status" for 1 second

  @v311 @must @EG-WEBHOOK-deny
  Scenario: MQTT 3.1.1: a client on no allow list is not authorized
    Given sensor "eve" without a will
    And "eve" speaks MQTT 3.1.1
    When "eve" tries to connect
    Then "eve" is refused with reason code 0x05

  @v5 @must @EG-WEBHOOK-unavailable
  Scenario: A webhook that is down makes the server unavailable
    Given the webhook is down
    When "sensor1" tries to connect
    Then "sensor1" is refused with reason code 0x88

  @v311 @must @EG-WEBHOOK-unavailable
  Scenario: MQTT 3.1.1: a webhook slower than the namespace's timeout makes the server unavailable
    Given the webhook answers after 2000 ms
    And "sensor1" speaks MQTT 3.1.1
    When "sensor1" tries to connect
    Then "sensor1" is refused with reason code 0x03

  @v5 @must @EG-WEBHOOK-unavailable @reference-choice
  Scenario Outline: A webhook that fails with <failure> makes the server unavailable
    Given the webhook fails with <failure>
    When "sensor1" tries to connect
    Then "sensor1" is refused with reason code 0x88

    Examples:
      | failure   |
      | 500       |
      | malformed |
      | close     |

  @v5 @must @EG-WEBHOOK-expiration @reference-choice
  Scenario: At the webhook's expiration the connection ends and the will is published
    Given the webhook lets "sensor1" in for 2 seconds
    And "sensor1" is connected
    Then the broker ends the connection of "sensor1" with DISCONNECT 0xA0 within 3 seconds
    And "actuator1" receives "offline" on "clients/sensor1/status" within 3 seconds
    And the life-cycle event for "sensor1" says "ClientAuthenticationError"
