@v5
Feature: 5.0 DISCONNECT reason codes: only 0x00 deletes the will
  DISCONNECT 0x04 "Disconnect with Will Message" asks for the will (3.14.2.1), and so does every other
  reason code but 0x00 (MQTT-3.1.2-8: deleted only by 0x00; HiveMQ CE PR #118). A reason code not in
  the DISCONNECT table is a Malformed Packet (MQTT-3.14.2-1): it is not a 0x00, so the broker closes the
  connection and the will fires. A DISCONNECT 0x00 carrying a property DISCONNECT may not carry is
  malformed too (2.2.2.2), so it does not delete the will either (MQTT-4.13.1-1).

  Background:
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @MQTT-3.1.2-8 @must @quick
  Scenario: DISCONNECT 0x04 (Disconnect with Will Message) publishes the will
    vernemq #1291, rmqtt #514: 0x04 treated as a normal disconnect.
    Given "sensor1" is connected
    When "sensor1" disconnects with reason code 0x04
    Then "actuator1" receives "offline" on "clients/sensor1/status" exactly once

  @MQTT-3.1.2-8 @must
  Scenario Outline: DISCONNECT with the client error code <code> publishes the will
    Given "sensor1" is connected
    When "sensor1" disconnects with reason code <code>
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second

    Examples:
      | code |
      | 0x80 |
      | 0x81 |
      | 0x82 |
      | 0x83 |
      | 0x93 |
      | 0x98 |

  @MQTT-3.14.2-1 @must @quick
  Scenario Outline: DISCONNECT with the reserved reason code <code> is malformed: the will is published
    mosquitto #3743, vernemq #2553, nanomq #2442: a reserved code treated as normal, the will discarded.
    Given "sensor1" is connected
    When "sensor1" disconnects with reason code <code>
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second

    Examples:
      | code |
      | 0x01 |
      | 0x05 |
      | 0x7F |
      | 0xFF |

  @MQTT-4.13.1-1 @must @reference-choice
  Scenario: DISCONNECT 0x00 carrying a Will Delay Interval property is malformed: the will is published
    The broker must close the connection (MQTT-4.13.1-1); whether a malformed DISCONNECT 0x00 was
    "received" and so deleted the will (MQTT-3.1.2-8) the spec does not say: a reference choice.
    Given "sensor1" is connected
    When "sensor1" sends the DISCONNECT bytes "e0 07 00 05 18 00 00 00 01"
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
