@v311
Feature: 3.1.1 will size and fan-out: large wills intact, overlapping subscribers
  A will is published as its client would have published it (MQTT-3.1.2-8), whatever its size: the
  largest payload MQTT allows (Binary Data, 65,535 bytes) arrives byte for byte. Several
  observers with overlapping wildcard filters each get the will once; one client with overlapping
  filters gets it once, or once per matching subscription (3.3.5: "MAY deliver further copies"), and
  one copy at the highest QoS of the matching subscriptions (MQTT-3.3.5-1).

  Background:
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1

  @MQTT-3.1.2-8 @must
  Scenario: A will with the largest payload MQTT allows (65,535 bytes) is delivered byte for byte
    Given actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And the will of "sensor1" has a payload of 65535 bytes
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives the will of "sensor1" intact on "clients/sensor1/status" within 3 seconds

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

  @MQTT-3.3.5-1 @must
  Scenario: One observer with two overlapping filters gets the will once or once per subscription
    Given actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And actuator "actuator1" also subscribed to "clients/#" at QoS 1
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" at least once and at most 2 times

  @MQTT-3.3.5-1 @must
  Scenario: One observer with overlapping filters at QoS 0 and 1 gets a copy at QoS 1
    Given actuator "actuator1" subscribed to "clients/#" at QoS 0
    And actuator "actuator1" also subscribed to "clients/+/status" at QoS 1
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives a copy of "offline" on "clients/sensor1/status" at QoS 1
