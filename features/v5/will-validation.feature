@v5
Feature: 5.0 will validation: a CONNECT with bad will fields is refused, its will never published
  A Malformed Packet or Protocol Error in CONNECT closes the connection, optionally after a CONNACK with a
  reason code of 0x80 or more (MQTT-3.1.4-1, MQTT-3.2.2-7): the Will Topic, Will Payload and Will
  Properties must be present (MQTT-3.1.2-9); Will Flag 0 needs Will QoS 0 and Will Retain 0
  (MQTT-3.1.2-11/-13); Will QoS 3 is malformed (MQTT-3.1.2-12); the Will Topic is well-formed UTF-8
  (MQTT-3.1.3-11) and a valid Topic Name: no wildcards (MQTT-4.7.0-1, 0x90 Topic Name invalid), at least
  one character (MQTT-4.7.3-1, 0x82 as mosquitto). A refused CONNECT's will is never processed
  (MQTT-3.1.4-6).

  Background:
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @MQTT-3.1.2-9 @MQTT-3.1.4-1 @must
  Scenario: Will Flag 1 with the Will Payload missing: refused (0x81) or closed, nothing published
    mosquitto #704: CONNACK 0 for a Will Flag without a Will Message.
    When "sensor1" tries to connect with the will payload cut off
    Then "sensor1" is refused with reason code 0x81 or disconnected without CONNACK
    And "actuator1" receives nothing on "clients/+/status" for 1 second

  @MQTT-3.1.2-11 @MQTT-3.1.4-1 @must
  Scenario Outline: Will Flag 0 with Will QoS <qos>: refused (0x81) or closed
    Given sensor "sensor2" without a will
    When "sensor2" tries to connect with will flag 0 and will QoS <qos>
    Then "sensor2" is refused with reason code 0x81 or disconnected without CONNACK

    Examples:
      | qos |
      | 1   |
      | 2   |

  @MQTT-3.1.2-13 @MQTT-3.1.4-1 @must
  Scenario: Will Flag 0 with Will Retain 1: refused (0x81) or closed
    Given sensor "sensor2" without a will
    When "sensor2" tries to connect with will flag 0 and will retain 1
    Then "sensor2" is refused with reason code 0x81 or disconnected without CONNACK

  @MQTT-3.1.2-12 @MQTT-3.1.4-1 @must
  Scenario: Will QoS 3 is a Malformed Packet: refused (0x81) or closed, nothing published
    When "sensor1" tries to connect with will QoS 3
    Then "sensor1" is refused with reason code 0x81 or disconnected without CONNACK
    And "actuator1" receives nothing on "clients/+/status" for 1 second

  @MQTT-3.1.3-11 @MQTT-3.1.4-1 @must
  Scenario Outline: A Will Topic that is not well-formed UTF-8 (<what>): refused (0x81) or closed
    When "sensor1" tries to connect with byte <byte> at the end of its will topic
    Then "sensor1" is refused with reason code 0x81 or disconnected without CONNACK
    And "actuator1" receives nothing on "clients/+/status" for 1 second

    Examples:
      | what                      | byte |
      | U+0000, MQTT-1.5.4-2      | 0x00 |
      | ill-formed, MQTT-1.5.4-1  | 0xFF |

  @MQTT-4.7.0-1 @MQTT-3.1.4-1 @must
  Scenario Outline: A Will Topic with a wildcard (<topic>): refused (0x90 Topic Name invalid) or closed
    Given sensor "sensor2" with will "offline" on "<topic>" at QoS 0
    When "sensor2" tries to connect
    Then "sensor2" is refused with reason code 0x90 or disconnected without CONNACK
    And "actuator1" receives nothing on "clients/+/status" for 1 second

    Examples:
      | topic            |
      | clients/#        |
      | clients/+/status |

  @MQTT-4.7.3-1 @MQTT-3.1.4-1 @must
  Scenario: An empty Will Topic: refused (0x82 Protocol Error) or closed
    Given the will of "sensor1" has an empty topic
    When "sensor1" tries to connect
    Then "sensor1" is refused with reason code 0x82 or disconnected without CONNACK

  @MQTT-3.1.4-6 @must
  Scenario: A refused CONNECT whose client id is connected processes nothing: no takeover, no will
    Given sensor "sensor2" with will "offline" on "clients/sensor2/status" at QoS 1
    And "sensor2" uses client id "sensor1"
    And "sensor1" is connected
    When "sensor2" tries to connect with will QoS 3
    Then "sensor2" is refused with reason code 0x81 or disconnected without CONNACK
    And "actuator1" receives nothing on "clients/+/status" for 1 second
