@v5 @reference-only
Feature: 5.0 broker capabilities and limits applied to the will (reference broker configured per scenario)
  A will above the broker's Maximum QoS is refused with 0x9B (MQTT-3.2.2-12), a retained will without
  retain support with 0x9A (MQTT-3.2.2-13), a will that makes the CONNECT larger than the broker's
  Maximum Packet Size with 0x95 (mosquitto #2022); a refusing CONNACK has Session Present 0
  (MQTT-3.2.2-6), the connection is closed after it (MQTT-3.2.2-7), and the refused will is never
  published (MQTT-3.1.4-6). A PUBLISH above the Maximum QoS makes the broker send DISCONNECT 0x9B, and
  as with every server-sent DISCONNECT the will follows (MQTT-3.1.2-8). A Server Keep Alive replaces
  the client's keep-alive as the base of the 1.5 x rule (MQTT-3.2.2-21/-22, MQTT-3.1.2-22). A broker
  cap on the will delay or the session expiry brings the will forward. These scenarios start their own
  reference broker, so they run only against it.

  @MQTT-3.2.2-12 @MQTT-3.1.4-6 @MQTT-3.2.2-6 @MQTT-3.2.2-7 @must
  Scenario Outline: A will at QoS <will> on a broker with Maximum QoS <max> is refused with 0x9B and never published
    Given a reference broker configured with "max_qos: <max>"
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 0
    And sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS <will>
    When "sensor1" tries to connect
    Then "sensor1" is refused with reason code 0x9B
    And the refusal of "sensor1" has session present 0
    And "actuator1" receives nothing on "clients/+/status" for 1 second

    Examples:
      | max | will |
      | 1   | 2    |
      | 0   | 1    |

  @MQTT-3.2.2-13 @MQTT-3.1.4-6 @MQTT-3.2.2-6 @MQTT-3.2.2-7 @must
  Scenario: A retained will on a broker without retain support is refused with 0x9A and never published
    Given a reference broker configured with "retain_available: false"
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And sensor "sensor1" with retained will "offline" on "clients/sensor1/status" at QoS 1
    When "sensor1" tries to connect
    Then "sensor1" is refused with reason code 0x9A
    And the refusal of "sensor1" has session present 0
    And "actuator1" receives nothing on "clients/+/status" for 1 second

  @MQTT-3.2.2-13 @must
  Scenario: A non-retained will on a broker without retain support is accepted and published
    Given a reference broker configured with "retain_available: false"
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second

  @MQTT-3.1.4-1 @must
  Scenario: A will that makes the CONNECT exceed the Maximum Packet Size is refused with 0x95 and never published
    mosquitto #2022: message_size_limit was not applied to the will payload.
    Given a reference broker configured with "max_packet_size: 256"
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And the will of "sensor1" has a payload of 400 bytes
    When "sensor1" tries to connect
    Then "sensor1" is refused with reason code 0x95 or disconnected without CONNACK
    And "actuator1" receives nothing on "clients/+/status" for 1 second

  @MQTT-3.1.2-22 @MQTT-3.2.2-21 @must
  Scenario: A Server Keep Alive (2 s) replaces the sensor's keep-alive (1 s): will at 1.5 x 2 s
    Given a reference broker configured with "keep_alive_min: 2"
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And "sensor1" has keep-alive 1 second
    And "sensor1" is connected
    When "sensor1" goes silent
    Then "actuator1" receives "offline" on "clients/sensor1/status" after the keep-alive deadline

  @MQTT-3.1.2-8 @must @will-delay
  Scenario: A broker cap on the will delay (1 s) brings a 30 s will forward
    Given a reference broker configured with "max_will_delay: 1"
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And "sensor1" has session expiry 60 seconds
    And the will of "sensor1" has delay 30 seconds
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" between 1 and 1.8 seconds after the fault

  @MQTT-3.1.2-23 @must @will-delay
  Scenario: A broker cap on the session expiry (1 s) ends the session, and so the 30 s will delay, after 1 s
    Given a reference broker configured with "session_expiry_max: 1"
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And "sensor1" has session expiry 60 seconds
    And the will of "sensor1" has delay 30 seconds
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" between 1 and 1.8 seconds after the fault

  @MQTT-3.1.2-8 @must
  Scenario: A PUBLISH above the broker's Maximum QoS: DISCONNECT 0x9B from the broker, and the will
    Given a reference broker configured with "max_qos: 1"
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1
    And sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And "sensor1" is connected
    When "sensor1" publishes "reading" on "clients/sensor1/data" at QoS 2 without waiting for the acknowledgement
    Then the broker closes the connection of "sensor1" with DISCONNECT 0x9B
    And "actuator1" has received "offline" on "clients/sensor1/status"
