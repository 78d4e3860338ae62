@v5
Feature: 5.0 takeover: the old connection is closed and its will follows the will rules
  A CONNECT with the client id of a connected client makes the broker close the old connection (MUST,
  MQTT-3.1.4-3), sending it DISCONNECT 0x8E (Session taken over) first "as described in section 4.13",
  where a server DISCONNECT before the close is a SHOULD; the old will "is published as described in
  3.1.2.5": with no will delay it goes out because the connection closed. Rows 10-13 of the decision
  table (decision-table.feature) cover the will delay and session cases.

  Background:
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @MQTT-3.1.4-3 @must
  Scenario: The old connection is closed
    Given "sensor1" is connected
    When "sensor1" is taken over by a new connection with clean start 1
    Then the broker closes the connection of "sensor1"

  @MQTT-3.1.4-3 @should
  Scenario: The old connection is told why first: DISCONNECT 0x8E (4.13: SHOULD)
    Given "sensor1" is connected
    When "sensor1" is taken over by a new connection with clean start 1
    Then the broker closes the connection of "sensor1" with DISCONNECT 0x8E

  @MQTT-3.1.4-3 @MQTT-3.1.2-8 @must @quick
  Scenario: The taken-over connection's will (no delay) is published once
    emqx #10551 (3.1.1) and #18565 (5.0): the will of the replaced connection was dropped.
    Given "sensor1" is connected
    When "sensor1" is taken over by a new connection with clean start 1
    Then "actuator1" receives "offline" on "clients/sensor1/status" exactly once

  @MQTT-3.1.4-3 @MQTT-3.1.2-8 @must
  Scenario: The new connection's own will is armed: dropping it later publishes that will once more
    Given "sensor1" is connected
    When "sensor1" is taken over by a new connection with clean start 1 carrying the same will
    Then "actuator1" receives "offline" on "clients/sensor1/status" exactly once
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" exactly once
