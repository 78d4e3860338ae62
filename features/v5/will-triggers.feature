@v5
Feature: 5.0 will triggers: every close other than DISCONNECT 0x00 publishes the will
  The will is published after the network connection closes, unless a DISCONNECT 0x00 deleted it
  (MQTT-3.1.2-8). Besides the client closing, resetting or losing its network, every close by the
  broker counts: a Malformed Packet or Protocol Error makes the broker close the connection
  (MQTT-4.13.1-1), sending DISCONNECT with the reason code first when it can (SHOULD), and a reason code
  of 0x80 or more always ends with the close (MQTT-4.13.2-1).

  Background:
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @MQTT-3.1.2-8 @must @quick
  Scenario Outline: The will is published exactly once when the connection ends by <ending>
    Given "sensor1" is connected
    When <fault>
    Then "actuator1" receives "offline" on "clients/sensor1/status" exactly once
    And "actuator1" receives it at QoS 1

    Examples:
      | ending                                         | fault                                        |
      | a close without DISCONNECT (FIN)               | "sensor1" closes its connection              |
      | a network cut (FIN on both sides)              | the network of "sensor1" is cut with FIN     |
      | a broker close for a second CONNECT            | "sensor1" sends a second CONNECT             |
      | a broker close for a packet of reserved type 0 | "sensor1" sends a packet of reserved type 0  |
      | a broker close for a malformed PUBLISH         | "sensor1" sends a malformed PUBLISH          |

    @mutant-no-will-on-reset
    Examples: resets, which reach the broker as an I/O error
      | ending                                         | fault                                        |
      | a reset of the socket (RST)                    | "sensor1" resets its connection              |
      | a network cut (RST on both sides)              | the network of "sensor1" is cut with RST     |

  @MQTT-4.13.1-1 @MQTT-4.13.2-1 @should
  Scenario Outline: The broker sends DISCONNECT <code> for <error>, closes, and the will follows
    Given "sensor1" is connected
    When "sensor1" <violation>
    Then the broker closes the connection of "sensor1" with DISCONNECT <code>
    And "actuator1" receives "offline" on "clients/sensor1/status" within 1 second

    Examples:
      | error                                 | violation                         | code |
      | a second CONNECT (Protocol Error)     | sends a second CONNECT            | 0x82 |
      | a PUBLISH with QoS 3 (Malformed)      | sends a malformed PUBLISH         | 0x81 |

  @MQTT-3.1.2-8 @should
  Scenario: The will is published promptly, within 500 ms of the close (3.1.2.5: SHOULD)
    Given "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 0.5 seconds

  @MQTT-3.1.2-8 @must
  Scenario: A will with an empty payload is published as an empty message
    Given the will of "sensor1" has an empty payload
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "" on "clients/sensor1/status" within 1 second
