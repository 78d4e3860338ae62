@v311
Feature: 3.1.1 takeover: a second connection with the same client id closes the first, whose will is due
  The broker MUST disconnect the existing client (MQTT-3.1.4-2). That close is not a DISCONNECT, so the
  old connection's will is published (MQTT-3.1.2-8). Brokers diverge for persistent sessions
  (mosquitto publishes only if either side is clean); the spec favours publishing.

  Background:
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @MQTT-3.1.4-2 @must
  Scenario: A takeover closes the old connection
    Given "sensor1" is connected
    When "sensor1" is taken over by a new connection with clean start 1
    Then the broker closes the connection of "sensor1"

  @MQTT-3.1.4-2 @MQTT-3.1.2-8 @must @quick
  Scenario Outline: The will of a taken-over clean session is published once (new Clean Session <new>)
    emqx #10551: the will of the replaced connection was not published.
    Given "sensor1" is connected
    When "sensor1" is taken over by a new connection with clean start <new>
    Then "actuator1" receives "offline" on "clients/sensor1/status" exactly once

    Examples:
      | new |
      | 1   |
      | 0   |

  @MQTT-3.1.4-2 @MQTT-3.1.2-8 @must @quick
  Scenario Outline: The will of a taken-over persistent session is published once (new Clean Session <new>)
    Reference 2.8: mosquitto clears this will when neither side is clean; the takeover close is not a
    DISCONNECT, so MQTT-3.1.2-8 requires it.
    Given "sensor1" keeps its session
    And "sensor1" is connected
    When "sensor1" is taken over by a new connection with clean start <new>
    Then "actuator1" receives "offline" on "clients/sensor1/status" exactly once

    Examples:
      | new |
      | 1   |
      | 0   |
