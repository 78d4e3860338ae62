@v5
Feature: 5.0 will size and fan-out: large wills intact, the Maximum Packet Size, overlapping subscribers
  A will is published as its client would have published it (MQTT-3.1.2-8), whatever its size: the
  largest will payload MQTT allows (Binary Data, 65,535 bytes) arrives byte for byte. A broker's
  Maximum Packet Size bounds the CONNECT carrying the will: a CONNECT of exactly that size does not
  exceed it and is accepted, its will delivered; one byte over is refused (0x95) or closed, and its
  will is never published. Real brokers' limits (mosquitto: none by default, 256 MiB by the
  protocol) are beyond any CONNECT a will payload can fill, so these two run on a reference broker
  configured with a 4 KiB limit (@reference-only). A will bigger than a subscriber's own
  Maximum Packet Size is not sent to that subscriber (MQTT-3.1.2-24) and discarded for it alone
  (MQTT-3.1.2-25). Several observers with overlapping wildcard filters each get the will once; one
  client with overlapping filters gets it once, or once per matching subscription (3.3.4: "MAY
  deliver further copies"), and one copy at the highest QoS of the matching subscriptions
  (MQTT-3.3.4-2).

  Background:
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1

  @MQTT-3.1.2-8 @must
  Scenario: A will with the largest payload MQTT allows (65,535 bytes) is delivered byte for byte
    Given actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And the will of "sensor1" has a payload of 65535 bytes
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives the will of "sensor1" intact on "clients/sensor1/status" within 3 seconds

  @MQTT-3.1.2-8 @must @reference-only
  Scenario: A will whose CONNECT is exactly the broker's Maximum Packet Size is accepted and delivered intact
    Given a reference broker configured with "max_packet_size: 4096"
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And the will of "sensor1" makes its CONNECT 4096 bytes long
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives the will of "sensor1" intact on "clients/sensor1/status" within 1 second

  @MQTT-3.1.4-1 @must @reference-only
  Scenario: A will CONNECT one byte over the broker's Maximum Packet Size is refused and its will never published
    mosquitto #2022: message_size_limit was not applied to the will payload.
    Given a reference broker configured with "max_packet_size: 4096"
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And the will of "sensor1" makes its CONNECT 4097 bytes long
    When "sensor1" tries to connect
    Then "sensor1" is refused with reason code 0x95 or disconnected without CONNACK
    And "actuator1" receives nothing on "clients/+/status" for 1 second

  @MQTT-3.1.2-24 @must
  Scenario: A will larger than a subscriber's Maximum Packet Size is not sent to it
    Given actuator "small" with maximum packet size 512 subscribed to "clients/+/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And the will of "sensor1" has a payload of 2048 bytes
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives the will of "sensor1" intact on "clients/sensor1/status" within 1 second
    And "small" is sent nothing on "clients/+/status" within 1 second

  @MQTT-3.1.2-25 @must
  Scenario: A will too large for one subscriber is discarded for it alone: its connection goes on
    Given actuator "small" with maximum packet size 512 subscribed to "clients/+/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And the will of "sensor1" has a payload of 2048 bytes
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives the will of "sensor1" intact on "clients/sensor1/status" within 1 second
    And the broker keeps the connection of "small" open

  @MQTT-3.1.2-8 @must
  Scenario: Three observers with overlapping wildcard filters each get the will exactly once
    Given actuator "plus" subscribed to "clients/+/status" at QoS 1
    And actuator "hash" subscribed to "clients/#" at QoS 1
    And actuator "exact" subscribed to "clients/sensor1/status" at QoS 1
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "plus" receives "offline" on "clients/sensor1/status" only once in 2 seconds
    And "hash" receives "offline" on "clients/sensor1/status" only once in 2 seconds
    And "exact" receives "offline" on "clients/sensor1/status" only once in 2 seconds

  @MQTT-3.3.4-2 @must
  Scenario: One observer with two overlapping filters gets the will once or once per subscription
    Given actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And actuator "actuator1" also subscribed to "clients/#" at QoS 1
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" at least once and at most 2 times

  @MQTT-3.3.4-2 @must
  Scenario: One observer with overlapping filters at QoS 0 and 1 gets a copy at QoS 1
    Given actuator "actuator1" subscribed to "clients/#" at QoS 0
    And actuator "actuator1" also subscribed to "clients/+/status" at QoS 1
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives a copy of "offline" on "clients/sensor1/status" at QoS 1
