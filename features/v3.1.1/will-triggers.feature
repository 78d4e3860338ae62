@v311
Feature: 3.1.1 will triggers: a connection that ends without DISCONNECT publishes the will
  A sensor's will "offline" is stored with its network connection and is published when that
  connection ends for any reason other than a DISCONNECT (MQTT-3.1.2-8, section 3.1.2.5): the sensor
  closes or resets its socket, the network between them is cut, or the broker closes the connection
  for a protocol error. Keep-alive expiry is in keep-alive.feature.

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

  @MQTT-3.1.2-8 @must
  Scenario Outline: The broker closes the connection after a protocol error by the sensor (<violation>)
    Given "sensor1" is connected
    When "sensor1" <violation>
    Then the broker closes the connection of "sensor1"
    And "actuator1" receives "offline" on "clients/sensor1/status" within 2 seconds

    Examples:
      | violation                     |
      | sends a second CONNECT        |
      | sends a packet of reserved type 0 |
      | sends a malformed PUBLISH     |

  @MQTT-3.1.2-8 @should
  Scenario: The will is published promptly, within 500 ms of the close (3.1.2.5: SHOULD)
    Given "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 0.5 seconds

  @MQTT-3.1.2-8 @must
  Scenario: Five sensors dropping together each publish their own will, once
    Given 5 connected sensors "node" with will "offline" on "clients/node<n>/status" at QoS 1
    When the 5 sensors "node" close their connections
    Then "actuator1" receives "offline" once from each of the 5 sensors "node" within 2 seconds

  @MQTT-3.1.2-8 @may @restart @serial @quick
  Scenario: A graceful broker restart publishes the will of a connected sensor, or defers it (3.1.2.5: MAY)
    The reference broker keeps no state across restarts, so it publishes the wills of connected
    sensors while shutting down, before it closes the actuators (mosquitto #477).
    Given "sensor1" is connected
    When the broker restarts
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 3 seconds
