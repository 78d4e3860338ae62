@websocket
Feature: Wills over MQTT over WebSockets
  MQTT 5.0 §6 and 3.1.1 §6 carry MQTT in binary WebSocket frames. The WebSocket is the Network
  Connection: a close frame, or the TCP connection under it ending, without an MQTT DISCONNECT first
  is an abrupt end, so the will is published (MQTT-3.1.2-8); so is silence past 1.5 x the keep-alive
  (keep-alive is MQTT's, not WebSocket pings'); DISCONNECT 0x00 followed by a close frame is a normal
  end, so the will is discarded. These scenarios run only against ws:// and wss:// targets
  (cargo test runs them against the reference broker's --bind-ws listener).

  Background:
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @MQTT-3.1.2-8 @must @v5
  Scenario: A close frame without DISCONNECT publishes the will (5.0)
    Given "sensor1" is connected
    When "sensor1" closes its WebSocket without DISCONNECT
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second

  @MQTT-3.1.2-8 @must @v311
  Scenario: A close frame without DISCONNECT publishes the will (3.1.1)
    Given "sensor1" is connected
    When "sensor1" closes its WebSocket without DISCONNECT
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second

  @MQTT-3.1.2-8 @must @v5
  Scenario: The TCP connection under the WebSocket ends with FIN: the will is published
    Given "sensor1" is connected
    When "sensor1" loses its connection without DISCONNECT
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second

  @MQTT-3.1.2-8 @must @v311
  Scenario: The TCP connection under the WebSocket is reset: the will is published
    Given "sensor1" is connected
    When "sensor1" resets its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" exactly once

  @MQTT-3.1.2-24 @must @v311
  Scenario: A silent WebSocket client (the WebSocket stays open, nothing is sent) with keep-alive 1 s: will at 1.5 x keep-alive
    Given "sensor1" has keep-alive 1 second
    And "sensor1" is connected
    When "sensor1" goes silent
    Then "actuator1" receives "offline" on "clients/sensor1/status" after the keep-alive deadline

  @MQTT-3.1.2-22 @must @v5
  Scenario: A silent WebSocket client with keep-alive 2 s (5.0): will at 1.5 x keep-alive
    Given "sensor1" has keep-alive 2 seconds
    And "sensor1" is connected
    When "sensor1" goes silent
    Then "actuator1" receives "offline" on "clients/sensor1/status" after the keep-alive deadline

  @MQTT-3.14.4-3 @must @v5
  Scenario: DISCONNECT 0x00, then a close frame: no will
    Given "sensor1" is connected
    When "sensor1" disconnects normally
    Then "actuator1" receives nothing on "clients/+/status" for 2 seconds
