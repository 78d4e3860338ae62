@v311
Feature: 3.1.1 will validation: a CONNECT with inconsistent will fields is refused, its will never published
  A non-conformant CONNECT is closed without CONNACK (MQTT-3.1.4-1): Will Flag 1 needs a Will Topic and
  a Will Message (MQTT-3.1.2-9); Will Flag 0 needs Will QoS 0 and Will Retain 0 (MQTT-3.1.2-11/-13/-15);
  Will QoS 3 is invalid (MQTT-3.1.2-14); the Will Topic is a well-formed UTF-8 Topic Name without
  wildcards and at least one character long (MQTT-3.1.3-10, MQTT-4.7.1-1, MQTT-4.7.3-1). A refused
  CONNECT is not processed further (MQTT-3.1.4-5), so its will is never published.

  Background:
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @MQTT-3.1.2-9 @MQTT-3.1.4-1 @must
  Scenario: Will Flag 1 with the Will Message missing: closed without CONNACK, nothing published
    mosquitto #704: CONNACK 0 for a Will Flag without a Will Message.
    When "sensor1" tries to connect with the will payload cut off
    Then "sensor1" is disconnected without CONNACK
    And "actuator1" receives nothing on "clients/+/status" for 1 second

  @MQTT-3.1.2-13 @MQTT-3.1.2-11 @MQTT-3.1.4-1 @must
  Scenario Outline: Will Flag 0 with Will QoS <qos>: closed without CONNACK
    Given sensor "sensor2" without a will
    When "sensor2" tries to connect with will flag 0 and will QoS <qos>
    Then "sensor2" is disconnected without CONNACK

    Examples:
      | qos |
      | 1   |
      | 2   |

  @MQTT-3.1.2-15 @MQTT-3.1.2-11 @MQTT-3.1.4-1 @must
  Scenario: Will Flag 0 with Will Retain 1: closed without CONNACK
    Given sensor "sensor2" without a will
    When "sensor2" tries to connect with will flag 0 and will retain 1
    Then "sensor2" is disconnected without CONNACK

  @MQTT-3.1.2-14 @MQTT-3.1.4-1 @must
  Scenario: Will QoS 3: closed without CONNACK, nothing published
    When "sensor1" tries to connect with will QoS 3
    Then "sensor1" is disconnected without CONNACK
    And "actuator1" receives nothing on "clients/+/status" for 1 second

  @MQTT-3.1.3-10 @MQTT-3.1.4-1 @must
  Scenario Outline: A Will Topic that is not a valid UTF-8 string (<what>): closed without CONNACK
    When "sensor1" tries to connect with byte <byte> at the end of its will topic
    Then "sensor1" is disconnected without CONNACK
    And "actuator1" receives nothing on "clients/+/status" for 1 second

    Examples:
      | what                       | byte |
      | U+0000, MQTT-1.5.3-2       | 0x00 |
      | ill-formed UTF-8, 1.5.3-1  | 0xFF |

  @MQTT-4.7.1-1 @MQTT-3.1.4-1 @must
  Scenario Outline: A Will Topic with a wildcard (<topic>) is refused
    A wildcard is not allowed in a Topic Name (MQTT-4.7.1-1); 3.1.1 does not say whether that makes the
    CONNECT non-conformant (close without CONNACK, MQTT-3.1.4-1) or a will the server does not accept
    (return code 0x05, as mosquitto does): both readings are accepted.
    Given sensor "sensor2" with will "offline" on "<topic>" at QoS 0
    When "sensor2" tries to connect
    Then "sensor2" is refused with reason code 0x05 or disconnected without CONNACK
    And "actuator1" receives nothing on "clients/+/status" for 1 second

    Examples:
      | topic            |
      | clients/#        |
      | clients/+/status |

  @MQTT-4.7.3-1 @MQTT-3.1.4-1 @must
  Scenario: An empty Will Topic is refused
    A Topic Name has at least one character (MQTT-4.7.3-1); as for wildcards, a close without CONNACK
    and return code 0x05 are both accepted.
    Given the will of "sensor1" has an empty topic
    When "sensor1" tries to connect
    Then "sensor1" is refused with reason code 0x05 or disconnected without CONNACK

  @MQTT-3.1.3-8 @MQTT-3.1.4-5 @MQTT-3.2.2-5 @must
  Scenario: A refused CONNECT (empty client id with Clean Session 0) is closed and never publishes its will
    MQTT-3.1.3-8: CONNACK 0x02 (identifier rejected), then the close (MQTT-3.2.2-5); the will was never
    accepted.
    Given "sensor1" has an empty client id
    And "sensor1" keeps its session
    When "sensor1" tries to connect
    Then "sensor1" is refused with reason code 0x02
    And "actuator1" receives nothing on "clients/+/status" for 1 second
