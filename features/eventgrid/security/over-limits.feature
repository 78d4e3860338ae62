@security @eventgrid @tls
Feature: Attacker: oversized and over-limit requests
  Event Grid's documented limits (eventgrid-model.md §5 and §9; the quotas page and mqtt-support):
  the broker must not grant more than a limit allows. Where Event Grid documents the limit but not
  the reason code, the scenario checks only what is documented (at most N granted, the
  connection ends); the reference broker's exact codes are in features/eventgrid/requests.feature.

  Background:
    Given the Event Grid walkthrough namespace

  @v5 @must @EG-LIMIT-filters-per-subscribe
  Scenario: Eleven filters in one SUBSCRIBE: at most ten are granted
    # Event Grid (quotas: 10 topic filters per SUBSCRIBE).
    When "actuator1" tries to subscribe to "clients/a1/status, clients/a2/status, clients/a3/status, clients/a4/status, clients/a5/status, clients/a6/status, clients/a7/status, clients/a8/status, clients/a9/status, clients/a10/status, clients/a11/status" at QoS 1
    Then at most 10 of the subscriptions of "actuator1" are granted

  @v5 @must @EG-LIMIT-subscriptions
  Scenario: Fifty-one subscriptions: at most fifty are granted
    # Event Grid (quotas: 50 subscriptions per session).
    When "actuator1" subscribes to 51 filters "clients/s<n>/status" one at a time at QoS 1
    Then at most 50 of the subscriptions of "actuator1" are granted

  @v5 @must @EG-LIMIT-user-properties
  Scenario: A SUBSCRIBE with a User Property grants nothing
    # Event Grid (mqtt-support): user properties on SUBSCRIBE are not supported; such a request fails.
    When "actuator1" tries to subscribe to "clients/+/status" at QoS 1 with user property "k" = "v"
    Then at most 0 of the subscriptions of "actuator1" are granted

  @v5 @must @EG-LIMIT-user-properties
  Scenario: A CONNECT with a User Property is refused
    # Event Grid (mqtt-support): user properties on CONNECT are not supported; such a request fails.
    Given "sensor1" sends user property "k" = "v" on CONNECT
    When "sensor1" tries to connect
    Then "sensor1" is not accepted

  @v5 @must @EG-LIMIT-puback
  Scenario: A PUBACK with a failure reason code ends the connection
    # Event Grid (mqtt-support): a PUBACK with a non-success reason code terminates the connection.
    When "actuator1" tries to subscribe to "clients/+/status" at QoS 1
    And "sensor1" tries to publish "up" on "clients/sensor1/status" at QoS 1
    And "actuator1" answers the next delivery with PUBACK 0x80
    Then the answer of "actuator1" makes the broker close the connection

  @v5 @should @reference-choice @EG-LIMIT-user-properties
  Scenario: A PUBACK with a User Property ends the connection
    # Event Grid (mqtt-support): user properties on PUBACK make the request fail; the reference
    # broker reads "fail" for an acknowledgement as ending the connection (DISCONNECT 0x83).
    When "actuator1" tries to subscribe to "clients/+/status" at QoS 1
    And "sensor1" tries to publish "up" on "clients/sensor1/status" at QoS 1
    And "actuator1" answers the next delivery with a PUBACK carrying user property "k" = "v"
    Then the answer of "actuator1" makes the broker close the connection

  @v5 @must @EG-LIMIT-keep-alive
  Scenario: A keep-alive above 1,160 s is lowered with Server Keep Alive
    # Event Grid (mqtt-support: Keep Alive maximum 1,160 s).
    Given "sensor1" has keep-alive 65535 seconds
    When "sensor1" connects
    Then "sensor1" is told to keep alive every 1160 seconds

  @v5 @must @EG-LIMIT-packet-size
  Scenario: A PUBLISH larger than 512 KiB closes the connection
    # Event Grid (mqtt-support: Maximum Packet Size 512 KiB); MQTT 5.0 §3.2.2.3.6: a packet above the
    # announced Maximum Packet Size is a protocol error that ends the connection.
    When "sensor1" tries to publish 530000 bytes on "clients/sensor1/status" at QoS 1
    Then the publish of "sensor1" makes the broker close the connection

  @v311 @must @EG-LIMIT-qos
  Scenario: MQTT 3.1.1: a QoS 2 PUBLISH closes the connection
    # Event Grid (mqtt-support, 3.1.1): a PUBLISH with QoS 2 fails and closes the connection.
    When "sensor1" tries to publish "up" on "clients/sensor1/status" at QoS 2
    Then the publish of "sensor1" makes the broker close the connection
